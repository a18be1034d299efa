// Where a program is looked for: the caller's PATH, then the fixed directories a root tool
// finds its helpers in on Linux distributions and on Android (whose shell PATH often lacks
// them). Pure: the filesystem check is sys::find_program's.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ds {

// The fixed directories searched after PATH, in order.
inline constexpr std::string_view kProgramDirs[] = {
    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
    "/usr/bin",        "/sbin",          "/bin",
    "/system/bin",     "/system/xbin",   "/data/local/Droidspaces/bin"};

// The candidate paths of `name`: each absolute directory of `path_value` (a PATH value, may be
// empty) then of kProgramDirs, each once, joined with `name`. Relative and empty PATH entries
// are skipped (a root tool must not run what the current directory holds). Empty when `name`
// is empty or holds a '/'.
std::vector<std::string> program_candidates(std::string_view path_value, std::string_view name);

}  // namespace ds
