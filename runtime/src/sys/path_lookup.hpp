// One PATH lookup for the runtime's host tools (tar, decompressors, mkfs.ext4, e2fsck).
#pragma once

#include <string>
#include <string_view>

namespace ds::sys {

// The first candidate of core's program_candidates(getenv("PATH"), name) that is a regular
// file executable by us (stat follows symlinks: /bin/tar -> busybox counts), or "" when none.
std::string find_program(std::string_view name);

}  // namespace ds::sys
