// `enter` and `run`: a process inside a running container, in every namespace and the cgroup of
// its init (reference §11).
//
// The calling process never joins the container (no setns, no signal disposition, no global
// state): it reads what it needs on the host side, then a helper process joins and starts the
// command as a child of the caller (container/attach_spawn.hpp). Safe to call from any thread
// of a multi-threaded server, as often as needed.
//
// Read on the host before the helper starts: the container's config (security settings) and
// --env file from the workspace; the guest's /etc/passwd, /etc/group, /etc/environment and the
// login shell through /proc/<init>/root, resolved inside the guest's root (sys::read_guest_file:
// regular files only, size-capped).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "container/state.hpp"
#include "core/guest_accounts.hpp"
#include "core/workspace.hpp"
#include "sys/fd.hpp"

namespace ds::container {

// A command started in a container: a child of the calling process. Destroying it while it
// still runs kills it (SIGKILL) and reaps it, so a dropped handle leaves no process behind.
class Command {
  public:
    Command() = default;
    Command(pid_t pid, sys::unique_fd pidfd, std::string error);
    Command(Command&& other) noexcept;
    Command& operator=(Command&& other) noexcept;
    Command(const Command&) = delete;
    Command& operator=(const Command&) = delete;
    ~Command();

    pid_t pid() const { return pid_; }
    // Set when the command could not be started ("x: command not found"); its status (127 or
    // 126) then follows from wait().
    const std::string& error() const { return error_; }
    // To the command (pidfd_send_signal; kill before 5.1). False when it is gone.
    bool signal(int sig) const;
    // To its process group (a `run` command leads its own session), else to the command alone.
    bool signal_group(int sig) const;
    // Its status (128+N for signal N) once it ended, reaped; nullopt while it runs.
    std::optional<int> try_wait();
    // Blocks until it ends; returns its status.
    int wait();
    // Waits up to `timeout` for it to end; its status when it did.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);

  private:
    std::optional<int> reap(int flags);
    pid_t pid_ = -1;
    sys::unique_fd pidfd_;  // invalid before 5.3
    std::string error_;
    int status_ = -1;  // >= 0 once reaped
};

struct AttachResult {
    int exit_code = 0;  // the command's status, 128+N when killed by signal N
    std::string error;  // set when the command could not be started ("x: command not found")
};

// How the helper joins init's namespaces: one setns on its pidfd (5.8+), else one setns per
// /proc/<init>/ns/* file. `namespace_files` takes the old kernels' way everywhere (tests).
enum class JoinMethod { automatic, namespace_files };

struct RunRequest {
    std::vector<std::string> argv;  // non-empty; one argument holding a space runs via /bin/sh -c
    std::string user;               // "" = stay root (no passwd lookup, no groups)
    std::string term;               // the caller's $TERM ("" = xterm-256color)
    std::array<int, 3> stdio = {-1, -1, -1};  // fds > 2 for the command's 0/1/2; -1 = the caller's
    JoinMethod join = JoinMethod::automatic;
};

// Starts one command (its own session, no pty) and returns once it exec'd or failed to.
// Throws a usage error for an unknown user or a container that is not running, a runtime error
// when the container cannot be joined.
Command start_command(const Workspace& ws, const ContainerState& state, const RunRequest& request);
// start_command + wait, for callers that forward no signals.
AttachResult run_in_container(const Workspace& ws, const ContainerState& state,
                              const RunRequest& request);

struct EnterRequest {
    std::string user = "root";
    std::string term;
    unsigned short rows = 24, cols = 80;  // the pty's window size from the start
    JoinMethod join = JoinMethod::automatic;
};

// A login shell on a pty of the container's own devpts. The pty master is sent over
// `console_socket` (a unix socket; SCM_RIGHTS with one tag byte, sys::send_fd; crun's
// --console-socket) before this returns: the caller, or whoever holds the other end (a web
// terminal), takes it with sys::receive_fd (sys/seccomp_notify.hpp) and owns the session. Returns
// the shell, started (or failed, see Command::error). Throws as start_command does.
Command open_terminal(const Workspace& ws, const ContainerState& state, const EnterRequest& request,
                      int console_socket);

}  // namespace ds::container
