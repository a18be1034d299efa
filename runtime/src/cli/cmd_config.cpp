// `droidspaces config create|edit|show|delete`: the saved config of a container
// (Containers/<name>/container.config) through the request layer, with the same flags and the
// same validation as `start` (--memory=512M, --bind=SRC:DEST, --net=none...).
//
//   -n NAME [FLAGS] config create     a new config; refused when NAME already has one
//   -n NAME [--reset] [FLAGS] config edit
//                                     change the saved config; a running container picks it up
//                                     at its next start or restart
//   -n NAME config show               the saved config (the file, or --json)
//   -n NAME [--purge] config delete   remove the config (and Containers/NAME when empty);
//                                     refused while running; --purge also deletes a rootfs
//                                     installed inside Containers/NAME/ (never one elsewhere)
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace ds::cli {
namespace {

const char* const kUsage = "create|edit|show|delete";

void check_shape(const Context& ctx, const std::string& action) {
    const auto& inv = ctx.inv;
    if (inv.names.size() != 1)
        fail_usage("'config " + action + "' needs one container name: " + ctx.argv0 +
                   " --name=NAME config " + action);
    if (inv.args.size() > 1)
        fail_usage("'config' takes one action (" + std::string(kUsage) + "), got " +
                   quote_value(inv.args[1]) + " as well");
    if (!inv.conf_path.empty())
        fail_usage("'config' works on the workspace copy: -C/--conf is for start and restart");
    bool edits = !inv.overrides.empty();
    if (edits && action != "create" && action != "edit")
        fail_usage("'config " + action + "' takes no config options (" +
                   std::string(inv.overrides.front().first->long_name) + " given)");
    if (inv.reset && action != "edit") fail_usage("--reset applies to 'config edit' only");
    if (inv.purge && action != "delete") fail_usage("--purge applies to 'config delete' only");
}

void print_saved(const Context& ctx, const Config& config, const std::string& verb) {
    std::string path = ctx.workspace.config_path(config.name);
    if (ctx.inv.json)
        print_json(container::config_json(config, path));
    else
        print_info("Config of '" + config.name + "' " + verb + ": " + path);
}

int delete_config(Context& ctx, const std::string& name) {
    auto result = ctx.rt().delete_config({name, ctx.inv.purge});
    if (ctx.inv.json) {
        print_json({{"name", name}, {"removed", result.removed}, {"kept", result.kept}});
        return kExitOk;
    }
    for (const auto& path : result.removed)
        print_info("Removed " + path);
    for (const auto& path : result.kept)
        print_warning("Kept " + path);
    return kExitOk;
}

}  // namespace

int cmd_config(Context& ctx) {
    if (ctx.inv.args.empty())
        fail_usage("'config' needs an action (" + std::string(kUsage) + "): " + ctx.argv0 +
                   " --name=NAME config edit --memory=512M");
    const std::string action = ctx.inv.args[0];
    if (action != "create" && action != "edit" && action != "show" && action != "delete")
        fail_usage("unknown config action " + quote_value(action) + ": expected one of " + kUsage);
    check_shape(ctx, action);
    const std::string& name = ctx.inv.names[0];
    auto& rt = ctx.rt();
    if (action == "create") {
        print_saved(ctx, rt.create_config({name, overrides_as_edits(ctx.inv)}), "created");
    } else if (action == "edit") {
        print_saved(ctx, rt.edit_config({name, ctx.inv.reset, overrides_as_edits(ctx.inv)}),
                    "saved");
    } else if (action == "show") {
        Config config = rt.read_config(name);
        if (ctx.inv.json) {
            print_json(container::config_json(config, ctx.workspace.config_path(name)));
        } else {
            std::string text = serialize_config(config);
            std::fputs(text.c_str(), stdout);
            std::fflush(stdout);
        }
    } else {
        return delete_config(ctx, name);
    }
    return kExitOk;
}

}  // namespace ds::cli
