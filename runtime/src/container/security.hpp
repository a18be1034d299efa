// What a container's processes may not do, applied identically to init and to every process
// that `enter` or `run` starts (reference §7): empty inheritable and ambient capability sets, a
// trimmed bounding set and the seccomp table (container/security.cpp, one row per rule).
// `--privileged` tags switch parts off: nocaps the bounding set, noseccomp the table.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "core/config.hpp"

namespace ds::container {

// Throws on failure (the caller is a child that reports the step).
void apply_security(const Config& config);

// The same in two steps, for a process forked by a possibly multi-threaded caller (enter/run):
// prepare_security builds the seccomp programs in the caller (libseccomp allocates); the child
// loads them with system calls only.
struct SecurityPrograms {
    bool drop_bounding_set = true;
    bool hardware = false;                 // -H: only CAP_SYS_MODULE leaves the bounding set
    std::vector<sock_filter> table;        // the seccomp table (libseccomp's BPF); empty = none
    std::vector<sock_filter> i386_socket;  // the direct 32-bit x86 socket rules; empty = none
};
// Throws naming the step that failed.
SecurityPrograms prepare_security(const Config& config);
// Async-signal-safe: no allocation. 0, or the errno with `*step` naming what failed.
int apply_prepared_security(const SecurityPrograms& programs, const char** step) noexcept;
// Loads one BPF program (PR_SET_SECCOMP, no no_new_privs: the caller is root with
// CAP_SYS_ADMIN). Async-signal-safe; 0 or the errno. An empty program loads nothing.
int load_seccomp_program(const std::vector<sock_filter>& program) noexcept;
// libseccomp's program for `ctx` (a scmp_filter_ctx), exactly what seccomp_load would load.
// Throws naming `what` on failure.
std::vector<sock_filter> export_seccomp_program(void* ctx, const char* what);

}  // namespace ds::container
