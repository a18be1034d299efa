#include "cli/config_source.hpp"

#include <sys/stat.h>

#include <cstdlib>

#include "container/state.hpp"
#include "core/error.hpp"
#include "sys/file.hpp"

namespace ds::cli {
namespace {

Config load_file(const std::string& path) {
    auto text = sys::try_read_file(path);
    if (!text) {
        if (sys::path_exists(path)) fail_runtime("cannot read config '" + path + "'");
        return {};
    }
    Config config = parse_config(*text, path);
    // One key for both kinds of rootfs: a file or block device is an image (upstream's rule).
    struct stat st;
    config.rootfs_is_image = !config.rootfs_path.empty() &&
                             ::stat(config.rootfs_path.c_str(), &st) == 0 &&
                             (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
    return config;
}

std::string rootfs_from_command_line(const Invocation& inv) {
    std::string rootfs;
    for (const auto& [opt, value] : inv.overrides)
        if (opt->id == OptionId::rootfs || opt->id == OptionId::rootfs_img) rootfs = value;
    return rootfs;
}

std::string sibling_config(const std::string& rootfs) {
    auto slash = rootfs.rfind('/');
    std::string dir = slash == std::string::npos || slash == 0 ? "" : rootfs.substr(0, slash);
    return dir + "/container.config";
}

}  // namespace

ConfigSource load_config(const Context& ctx) {
    const Invocation& inv = ctx.inv;
    ConfigSource source;
    std::string name = inv.names.size() == 1 ? inv.names[0] : "";
    if (!inv.conf_path.empty()) {
        source.path = inv.conf_path;
        source.config = load_file(source.path);
    } else if (auto rootfs = rootfs_from_command_line(inv); !rootfs.empty()) {
        source.path = sibling_config(rootfs);
        source.config = load_file(source.path);
    } else if (!name.empty()) {
        // Never the running container's /run/droidspaces/container.config: the guest can
        // rewrite it (privileged=full, binds, env_file) and power off just before a start.
        source.config = load_file(ctx.workspace.config_path(name));
    }
    if (inv.reset) reset_config(source.config);
    apply_overrides(inv, source.config);
    if (!name.empty()) source.config.name = name;
    return source;
}

container::StartRequest start_request(ConfigSource source) {
    container::StartRequest request;
    request.config = std::move(source.config);
    request.config_path = std::move(source.path);
    if (const char* term = std::getenv("TERM")) request.term = term;
    return request;
}

std::string resolve_single_name(const Context& ctx) {
    if (ctx.inv.names.size() > 1)
        fail_usage("'" + ctx.inv.command + "' takes one container, got " +
                   std::to_string(ctx.inv.names.size()));
    if (ctx.inv.names.size() == 1) return ctx.inv.names[0];
    if (!ctx.inv.conf_path.empty()) {
        auto config = load_file(ctx.inv.conf_path);
        if (!config.name.empty()) return config.name;
    }
    std::vector<std::string> running;
    for (const auto& name : container::names_with_pidfiles(ctx.workspace))
        if (auto state = container::find_running(ctx.workspace, name))
            running.push_back(state->name);
    if (running.empty()) fail_usage("no containers are running: give --name=NAME");
    if (running.size() > 1) {
        std::string list;
        for (const auto& n : running)
            list += (list.empty() ? "" : ", ") + n;
        fail_usage("several containers are running (" + list + "): give --name=NAME");
    }
    return running[0];
}

}  // namespace ds::cli
