// Fault injection for the crash-safety tests (tests/66-crash.bats). Compiled in only with
// -DDS_CRASH_POINTS (the debug binary build-debug/droidspaces that `./build.sh test` builds);
// in the release binary both calls are empty and read no environment.
//
//   DS_CRASH_AT=<stage>  the monitor raises SIGKILL on itself when it reaches <stage>
//   DS_FAULT=<fault>     a named syscall of the monitor fails (signalfd, poll)
#pragma once

#ifdef DS_CRASH_POINTS
#include <signal.h>

#include <cstdlib>
#include <cstring>
#endif

namespace ds::container {

#ifdef DS_CRASH_POINTS
inline void crash_point(const char* stage) {
    const char* at = std::getenv("DS_CRASH_AT");
    if (at && std::strcmp(at, stage) == 0) ::raise(SIGKILL);
}
inline bool fault_injected(const char* fault) {
    const char* f = std::getenv("DS_FAULT");
    return f && std::strcmp(f, fault) == 0;
}
#else
inline void crash_point(const char*) {}
inline bool fault_injected(const char*) {
    return false;
}
#endif

}  // namespace ds::container
