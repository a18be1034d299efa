// argv -> the request layer's config requests (container/config_source.hpp does the resolving:
// -C FILE, sibling container.config of --rootfs, workspace copy, --reset, the flags).
#pragma once

#include <string>

#include "cli/commands.hpp"
#include "container/config_source.hpp"
#include "container/runtime.hpp"

namespace ds::cli {

// The command line's config request: -n NAME (one), -C FILE, --reset and the config flags.
container::ConfigRequest config_request(const Context& ctx);

// What `start` and `restart` ask for: the config request plus the caller's TERM.
container::StartOptions start_options(const Context& ctx);

// The container a stateful command means: -n NAME, the name in -C FILE, or the only running
// container.
std::string resolve_single_name(Context& ctx);

}  // namespace ds::cli
