// Turning a failed syscall into an error that names what was attempted, the path and errno.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.hpp"

namespace ds::sys {

inline std::string errno_text(int err) {
    return std::strerror(err);
}

// "mount /x on /y: Permission denied (errno 13)"
[[noreturn]] inline void fail_errno(const std::string& what, int err = errno) {
    fail_runtime(what + ": " + errno_text(err) + " (errno " + std::to_string(err) + ")");
}

}  // namespace ds::sys
