// What a container's processes may not do, applied identically to init and to every process
// that `enter` or `run` starts (reference §7): a trimmed capability bounding set and a seccomp
// filter. `--privileged` tags switch parts off.
#pragma once

#include "core/config.hpp"

namespace ds::container {

// Throws on failure (the caller is a child that reports the step).
void apply_security(const Config& config);

}  // namespace ds::container
