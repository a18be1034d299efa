// `droidspaces scan`: recover containers the workspace lost track of (records, config from the
// live snapshot) and clean what nothing uses any more (dead records, empty leftover cgroups,
// orphaned mount points). Always exits 0, like upstream, unless the system refuses a write.
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_scan(Context& ctx) {
    print_info("Scanning system for untracked Droidspaces containers...");
    auto result = container::scan_host(ctx.workspace);
    if (ctx.inv.json) {
        print_json(container::to_json(result));
        return kExitOk;
    }
    for (const auto& name : result.synchronized)
        print_info("Synchronized container '" + name + "'.");
    for (const auto& name : result.restored_configs)
        print_info("Restored the config of '" + name + "' from its live snapshot.");
    for (const auto& item : result.cleaned)
        print_info("Cleaned orphaned " + item + ".");
    if (result.synchronized.empty() && result.cleaned.empty()) {
        print_info("No untracked resources found.");
    } else {
        print_info("Scan complete: synchronized " + std::to_string(result.synchronized.size()) +
                   " container(s), cleaned " + std::to_string(result.cleaned.size()) +
                   " orphaned item(s).");
    }
    return kExitOk;
}

}  // namespace ds::cli
