#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/attach.hpp"
#include "container/state.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_run(Context& ctx) {
    if (ctx.inv.args.empty())
        fail_usage("'run' needs a command: " + ctx.argv0 + " --name=NAME run CMD [ARGS...]");
    std::string name = resolve_single_name(ctx);
    auto state = container::find_running(ctx.workspace, name);
    if (!state) fail_usage("container '" + name + "' is not running");
    container::RunRequest request;
    request.argv = ctx.inv.args;
    request.user = ctx.inv.user;
    if (const char* term = std::getenv("TERM")) request.term = term;
    // From here on this process is inside the container's namespaces: nothing after the call
    // may touch host paths.
    auto result = container::run_in_container(ctx.workspace, *state, request);
    if (!result.error.empty()) print_error(result.error);
    return result.exit_code;
}

}  // namespace ds::cli
