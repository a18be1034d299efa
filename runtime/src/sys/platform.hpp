// Facts about the host that decide paths and behaviour.
#pragma once

#include <string>

#include "core/workspace.hpp"

namespace ds::sys {

// Upstream's rule: recovery (/system/bin/recovery) is Linux; /system/build.prop or
// /system/bin/app_process means Android.
bool is_android();
// $DROIDSPACES_HOME, else the platform default.
Workspace detect_workspace();
// "~/x" expanded, made absolute against the cwd, symlinks resolved when the path exists,
// trailing slashes removed. Upstream does this before anything chdirs.
std::string absolute_path(const std::string& path);

}  // namespace ds::sys
