#include "cli/commands.hpp"
#include "core/error.hpp"

namespace ds::cli {

int cmd_install(Context& ctx) { fail_usage("'" + ctx.inv.command + "' is not implemented yet"); }

}  // namespace ds::cli
