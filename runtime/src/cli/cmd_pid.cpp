#include <cstdio>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_pid(Context& ctx) {
    std::string name = ctx.inv.names.size() == 1 ? ctx.inv.names[0] : resolve_single_name(ctx);
    auto state = ctx.rt().find(name);
    if (ctx.inv.json) {
        print_json({{"name", name}, {"pid", state ? nlohmann::json(state->init_pid) : nullptr}});
    } else {
        std::printf("%s\n", state ? std::to_string(state->init_pid).c_str() : "NONE");
    }
    return state ? kExitOk : kExitUsage;
}

}  // namespace ds::cli
