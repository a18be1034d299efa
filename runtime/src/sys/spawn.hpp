// One way to start a program from a process that may be multi-threaded (the CLI, the monitor,
// later an HTTP server): sys::spawn.
//
// Contract
// - Everything the child uses (path, argv, envp, the fd map, the hook's argument) is built in
//   the parent BEFORE fork. Between fork and exec the child makes only async-signal-safe
//   syscalls: no allocation, no locks, no exceptions, no std::string.
// - Exec failure (and a failed fd set-up or pre-exec hook) is reported through a close-on-exec
//   pipe: spawn() throws one error naming the program, the step and errno, after reaping the
//   child. When spawn() returns, the program is running (the exec succeeded).
// - Descriptors: the child gets exactly `fds` (parent fd -> child fd number, any order, a
//   parent fd may be mapped twice). Every other descriptor is closed (close_range, or a loop up
//   to RLIMIT_NOFILE on kernels before 5.9). Stdin/stdout/stderr that are not mapped are
//   /dev/null unless `inherit_stdio` keeps the parent's.
// - Signals: all signals are blocked in the parent around fork, so no parent handler runs in
//   the child. The child resets every disposition to SIG_DFL and unblocks all signals when
//   `reset_signals` (the default); otherwise it keeps the parent's dispositions and mask.
// - Parent death: the child gets `death_signal` (SIGKILL by default) when the spawning thread
//   ends, with the getppid() race check (a parent that died before prctl is noticed), unless
//   `outlive_parent` (the monitor must outlive the `start` command).
// - The returned Child kills its process (SIGKILL through the pidfd) and reaps it when it is
//   destroyed, unless it was waited for or released: no program outlives an error path.
// - Signals to the child go through its pidfd (pidfd_send_signal, Linux 5.1/5.3); without
//   pidfds, kill() with the PID, which is safe while the child is not reaped (the PID cannot
//   be reused before we reap it).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "sys/fd.hpp"

namespace ds::sys {

// A descriptor of the parent to install as `child_fd` in the child (its close-on-exec flag is
// cleared there).
struct FdMapping {
    int parent_fd;
    int child_fd;
};

// Runs in the child after the descriptors are set up, before exec. Must be async-signal-safe
// (no allocation): unshare, mount, pivot_root, chdir... Returns -1 on success, else a step code
// >= 0 with errno set; spawn() then fails with step_text(code) in its message.
using PreExecHook = int (*)(const void* arg);

struct SpawnOptions {
    std::string path;               // the program to exec (no PATH lookup)
    std::vector<std::string> argv;  // argv[0] included; empty means {path}
    // The environment; nullopt passes the caller's environ as it is at the fork.
    std::optional<std::vector<std::string>> env;
    std::vector<FdMapping> fds;
    bool inherit_stdio = false;   // unmapped 0-2 stay the parent's (else /dev/null)
    bool new_session = false;     // setsid(): no controlling terminal, own process group
    bool reset_signals = true;    // default dispositions, empty mask
    bool outlive_parent = false;  // no parent-death signal
    // Double fork: the program's parent is init (or the nearest subreaper) from the start, so a
    // long-lived caller (a server starting monitors) never holds it as a zombie. Implies
    // outlive_parent. The Child can signal it (pidfd) and wait for it to end, but its exit
    // status belongs to its new parent (wait() returns 0).
    bool detach = false;
    int death_signal = SIGKILL;
    PreExecHook pre_exec = nullptr;
    const void* pre_exec_arg = nullptr;
    const char* (*step_text)(int step) = nullptr;  // names a hook's failed step in errors
};

class Child {
  public:
    Child() = default;
    Child(pid_t pid, unique_fd pidfd, bool detached = false)
        : pid_(pid), pidfd_(std::move(pidfd)), detached_(detached) {}
    Child(Child&& other) noexcept;
    Child& operator=(Child&& other) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    // SIGKILL and reap, unless waited for or released.
    ~Child();

    pid_t pid() const { return pid_; }
    // -1 on kernels without pidfd_open.
    int pidfd() const { return pidfd_.get(); }
    explicit operator bool() const { return pid_ > 0; }

    // Blocks until the child ends; returns its wait status (waitpid's).
    int wait();
    // The wait status when the child ended within `timeout`, else nullopt (still running).
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // Sends `signal`; false when the child is gone (or already reaped) or the kernel refused.
    bool signal(int signal);
    // Gives up ownership: the process is neither killed nor reaped by this object (the caller
    // or init reaps it). Returns the PID.
    pid_t release();

  private:
    void reset();
    pid_t pid_ = -1;
    unique_fd pidfd_;
    bool detached_ = false;  // spawned with `detach`: not our child, never waitpid'ed
};

// Starts the program; throws (naming the program, the step and errno) when it could not be
// executed. See the contract above.
Child spawn(const SpawnOptions& options);

// Convenience: "killed by signal 9" / "exit status 3".
std::string describe_wait_status(int status);

}  // namespace ds::sys
