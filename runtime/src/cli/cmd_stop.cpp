#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_stop(Context& ctx) {
    std::vector<std::string> names = ctx.inv.names;
    if (names.empty()) names.push_back(resolve_single_name(ctx));
    auto timeout = ctx.inv.timeout_seconds ? std::chrono::seconds(*ctx.inv.timeout_seconds)
                                           : container::kDefaultStopTimeout;
    int status = kExitOk;
    for (const auto& name : names) {
        try {
            auto result = ctx.rt().stop(name, timeout);
            if (result.forced)
                print_warning("container '" + name + "' did not power off within " +
                              std::to_string(timeout.count()) + " s: killed");
            print_info("Container '" + name + "' stopped (" + std::to_string(result.took.count()) +
                       " ms).");
        } catch (const Error& e) {
            // One container's failure does not stop the others; the worst code wins.
            print_error(e.what());
            if (ctx.inv.json) print_json(error_json(e.kind(), e.what()));
            status = std::max(status, e.exit_code());
        }
    }
    return status;
}

}  // namespace ds::cli
