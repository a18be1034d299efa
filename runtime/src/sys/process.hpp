// Processes: clone into namespaces, pidfds, /proc facts, waiting with deadlines.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "sys/fd.hpp"

namespace ds::sys {

// fork(2) with namespace flags (raw clone: returns 0 in the child, the PID in the parent).
pid_t clone_process(unsigned long namespace_flags);
// clone3 into the cgroup open at `cgroup_fd` (CLONE_INTO_CGROUP, kernel 5.7+, cgroup v2): the child
// is born there, which avoids the slow migration a write to cgroup.procs costs. Like fork:
// 0 in the child, the PID in the parent, -1 with errno when the kernel cannot do it.
// `exit_signal` must be 0 with CLONE_PARENT in `flags` (the kernel refuses anything else; the
// child then signals the caller's parent with its own exit signal). A plain syscall: safe
// between fork and exec.
pid_t clone_into_cgroup(unsigned long flags, int cgroup_fd, int exit_signal = SIGCHLD);
// -1 with errno set when the kernel has no pidfd_open (before 5.3) or the process is gone.
unique_fd pidfd_open(pid_t pid);
// Start time of the process in clock ticks since boot (field 22 of /proc/PID/stat): with the
// PID it identifies a process for good, as runc does.
std::optional<uint64_t> process_start_time(pid_t pid);
// pidfd_send_signal (Linux 5.1): the signal reaches the process the pidfd was opened for, or
// nobody (ESRCH once it has exited). False with errno when not delivered.
bool send_signal(int pidfd, int signal);
// A pidfd for the process `pid` only while it is the one that started at `start_time` (clock
// ticks, /proc/PID/stat): opened first, then the start time checked, so a PID reused by another
// process afterwards cannot be reached through it. Invalid (errno ESRCH) when the process is
// gone or the PID now names another process; on kernels without pidfd_open, invalid with
// errno ENOSYS.
unique_fd open_process(pid_t pid, uint64_t start_time);
// Signals the process `pid` that started at `start_time`, through a pidfd where the kernel has
// them (no PID-reuse race), else with kill() after the same start-time check. A PID whose start
// time changed is never signalled. False when the process is gone or was not signalled.
bool signal_process(pid_t pid, uint64_t start_time, int signal);
bool process_alive(pid_t pid);
// True when `pid` has exited and waits to be reaped (a zombie), or is being torn down.
bool process_is_zombie(pid_t pid);
// A field of /proc/PID/status ("SigCgt", "NSpid"...), or "" when unreadable.
std::string proc_status_field(pid_t pid, const std::string& field);
// True when `signal` is caught or blocked by the process (so sending it will not be dropped).
bool process_handles_signal(pid_t pid, int signal);
std::string boot_id();

// Waits until `fd` is readable or the timeout passes; true when readable.
bool wait_readable(int fd, std::chrono::milliseconds timeout);
// Waits for a (non-child) process to end; true when it ended within the timeout.
bool wait_process_exit(pid_t pid, std::chrono::milliseconds timeout);

// Writes all of `data` to `fd`, retrying on EINTR; false on error.
bool write_all(int fd, const void* data, size_t size);
// Sets the process title seen in ps (argv[0] area) and comm.
void set_process_title(char** argv, const std::string& title);

}  // namespace ds::sys
