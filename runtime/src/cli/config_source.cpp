#include "cli/config_source.hpp"

#include <cstdlib>

namespace ds::cli {

container::ConfigRequest config_request(const Context& ctx) {
    container::ConfigRequest request;
    if (ctx.inv.names.size() == 1) request.name = ctx.inv.names[0];
    request.conf_path = ctx.inv.conf_path;
    request.reset = ctx.inv.reset;
    request.edits = overrides_as_edits(ctx.inv);
    return request;
}

container::StartOptions start_options(const Context& ctx) {
    container::StartOptions options;
    options.config = config_request(ctx);
    if (const char* term = std::getenv("TERM")) options.term = term;
    return options;
}

std::string resolve_single_name(Context& ctx) {
    return ctx.rt().resolve_name(ctx.inv.names, ctx.inv.conf_path, ctx.inv.command);
}

}  // namespace ds::cli
