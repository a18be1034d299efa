#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_restart(Context& ctx) {
    if (ctx.inv.names.size() > 1) fail_usage("'restart' takes one container name, not a list");
    if (ctx.inv.names.empty()) ctx.inv.names.push_back(resolve_single_name(ctx));
    // The config as saved in the workspace (edits made while it ran take effect), plus anything
    // given on this command line.
    auto timeout = ctx.inv.timeout_seconds ? std::chrono::seconds(*ctx.inv.timeout_seconds)
                                           : container::kDefaultStopTimeout;
    auto result = ctx.rt().restart(start_options(ctx), timeout);
    print_info("Container '" + result.state.name + "' restarted: init PID " +
               std::to_string(result.state.init_pid));
    return kExitOk;
}

}  // namespace ds::cli
