#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/state.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_restart(Context& ctx) {
    if (ctx.inv.names.size() > 1) fail_usage("'restart' takes one container name, not a list");
    if (ctx.inv.names.empty()) ctx.inv.names.push_back(resolve_single_name(ctx));
    // Stop with the same deadline rules, then start from the saved config (edits made while it
    // ran take effect) plus anything given on this command line.
    if (container::find_running(ctx.workspace, ctx.inv.names[0])) {
        int status = cmd_stop(ctx);
        if (status != kExitOk) return status;
    }
    return cmd_start(ctx);
}

}  // namespace ds::cli
