// What a container's processes may not do, applied identically to init and to every process
// that `enter` or `run` starts (reference §7): empty inheritable and ambient capability sets, a
// trimmed bounding set and the seccomp table (container/security.cpp, one row per rule).
// `--privileged` tags switch parts off: nocaps the bounding set, noseccomp the table.
#pragma once

#include "core/config.hpp"

namespace ds::container {

// Throws on failure (the caller is a child that reports the step).
void apply_security(const Config& config);

}  // namespace ds::container
