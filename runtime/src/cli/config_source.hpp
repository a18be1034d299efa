// Where a command's container config comes from (upstream order, reference §4.3).
#pragma once

#include <string>

#include "cli/commands.hpp"
#include "container/lifecycle.hpp"
#include "core/config.hpp"

namespace ds::cli {

struct ConfigSource {
    Config config;
    std::string path;  // the user's config file to keep in sync, "" for the workspace copy only
};

// -C FILE; else container.config next to a --rootfs/--rootfs-img given here; else the workspace
// copy for -n NAME (the host's copy is the only source of truth: the guest's /run/droidspaces
// snapshot is never read). Then --reset, then the command line.
ConfigSource load_config(const Context& ctx);

// What `start` and `restart` boot: the loaded config, where to save it, the caller's TERM.
container::StartRequest start_request(ConfigSource source);

// The container a stateful command means: -n NAME, or the only running container.
std::string resolve_single_name(const Context& ctx);

}  // namespace ds::cli
