#include <unistd.h>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/console.hpp"
#include "container/lifecycle.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_start(Context& ctx) {
    if (ctx.inv.names.size() > 1) fail_usage("'start' takes one container name, not a list");
    auto request = start_request(load_config(ctx));
    request.foreground = request.config.foreground;
    if (request.foreground && !(::isatty(0) && ::isatty(1))) {
        print_warning(
            "--foreground needs a terminal on stdin and stdout: starting in the background");
        request.foreground = false;
    }
    auto result = container::start_container(ctx.workspace, std::move(request), print_warning);
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
