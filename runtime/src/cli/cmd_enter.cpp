#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/attach.hpp"
#include "container/state.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_enter(Context& ctx) {
    if (ctx.inv.args.size() > 1)
        fail_usage("'enter' takes at most one argument (the user), got " +
                   std::to_string(ctx.inv.args.size()));
    std::string name = resolve_single_name(ctx);
    auto state = container::find_running(ctx.workspace, name);
    if (!state) fail_usage("container '" + name + "' is not running");
    container::EnterRequest request;
    if (!ctx.inv.args.empty()) request.user = ctx.inv.args[0];
    if (const char* term = std::getenv("TERM")) request.term = term;
    // From here on this process is inside the container's namespaces: nothing after the call
    // may touch host paths.
    auto result = container::enter_container(ctx.workspace, *state, request);
    if (!result.error.empty()) print_error(result.error);
    return result.exit_code;
}

}  // namespace ds::cli
