// `droidspaces scan`: recover containers the workspace lost track of (their records; a lost
// config is reported, never imported from the guest) and clean what nothing uses any more
// (dead records, empty leftover cgroups, orphaned mount points). Always exits 0, like
// upstream, unless the system refuses a write.
#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_scan(Context& ctx) {
    print_info("Scanning system for untracked Droidspaces containers...");
    auto result = ctx.rt().scan();
    if (ctx.inv.json) {
        print_json(container::to_json(result));
        return kExitOk;
    }
    for (const auto& name : result.synchronized)
        print_info("Synchronized container '" + name + "'.");
    for (const auto& name : result.missing_configs)
        print_warning("container '" + name + "' is running but its config " +
                      ctx.workspace.config_path(name) +
                      " is missing: not restored from the guest's copy (the guest can rewrite "
                      "it); save a config again with --rootfs/--rootfs-img at the next start");
    for (const auto& item : result.cleaned)
        print_info("Cleaned orphaned " + item + ".");
    if (result.synchronized.empty() && result.cleaned.empty() && result.missing_configs.empty()) {
        print_info("No untracked resources found.");
    } else {
        print_info("Scan complete: synchronized " + std::to_string(result.synchronized.size()) +
                   " container(s), cleaned " + std::to_string(result.cleaned.size()) +
                   " orphaned item(s).");
    }
    return kExitOk;
}

}  // namespace ds::cli
