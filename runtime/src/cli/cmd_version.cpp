#include "cli/commands.hpp"
#include "cli/output.hpp"

#include <cstdio>

namespace ds::cli {

// Upstream release whose CLI, flags and config files this version stays compatible with.
constexpr const char* kUpstreamCompat = "6.5.0";

int cmd_version(Context& ctx) {
    if (ctx.inv.json) {
        print_json({{"version", DS_VERSION}, {"upstream_compatible", kUpstreamCompat}});
    } else {
        std::printf("v%s (compatible with upstream Droidspaces v%s)\n", DS_VERSION,
                    kUpstreamCompat);
    }
    return 0;
}

}  // namespace ds::cli
