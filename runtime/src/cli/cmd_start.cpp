#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/console.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_start(Context& ctx) {
    if (ctx.inv.names.size() > 1) fail_usage("'start' takes one container name, not a list");
    auto options = start_options(ctx);
    options.console_available = ::isatty(0) && ::isatty(1);
    auto result = ctx.rt().start(options);
    const auto& state = result.state;
    print_info("Container '" + state.name + "' started: init PID " +
               std::to_string(state.init_pid) + " (" + std::string(to_string(state.family)) +
               "), monitor PID " + std::to_string(state.monitor_pid));
    if (result.console_master)
        return container::attach_console(ctx.workspace, state, result.console_master.get());
    print_info("Enter it with: " + ctx.argv0 + " --name='" + state.name + "' enter");
    return kExitOk;
}

}  // namespace ds::cli
