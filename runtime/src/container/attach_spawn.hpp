// The processes behind `enter` and `run`. The caller (the CLI, or a thread of a server) never
// joins the container itself: it forks a helper that does, and the helper starts the command.
//
//   caller --fork--> helper: setns(init's pidfd, MNT|UTS|IPC|NET|PID) (or one setns per
//                    /proc/<init>/ns/* file opened by the caller, before 5.8); `enter`: opens the
//                    container's /dev/ptmx (its own devpts), sends the master over the console
//                    socket (SCM_RIGHTS); then clone3(CLONE_PARENT | CLONE_INTO_CGROUP) (raw
//                    clone(CLONE_PARENT) + a cgroup.procs write on v1 or old kernels): the command
//                    is born a child of the caller, in the container's PID namespace and cgroup;
//                    the helper writes the command's PID to the report pipe and exits.
//   command:         setns(CLONE_NEWCGROUP) (after the cgroup move: with nsdelegate the move must
//                    be seen from the host's cgroup namespace), its terminal or session, default
//                    signal dispositions and an empty mask, every inherited fd above 2 made
//                    CLOEXEC, init's capability bounding set and seccomp filter, setgroups,
//                    setresgid, setresuid, chdir, execve.
//
// Everything either process uses (argv, envp, groups, paths, fds, the seccomp programs) is
// prepared by the caller before fork: the helper and the command make only async-signal-safe
// system calls and never allocate, so a multi-threaded caller is safe. A failure is reported as
// text through the CLOEXEC error pipe (never by exception) and the process exits 127 (126:
// found but not executable).
#pragma once

#include <sched.h>
#include <sys/types.h>

#include <cstddef>

#include <vector>

#include "container/security.hpp"

namespace ds::container {

// The namespace and cgroup handles of the container's init, opened by the caller.
struct JoinFds {
    int pidfd = -1;  // setns(pidfd, kHelperNamespaces) (5.8+); -1: the files below
    int ns_files[5] = {-1, -1, -1, -1, -1};  // mnt, uts, ipc, pid, net; -1 = nothing to join
    int cgroup_ns = -1;               // the command's setns(CLONE_NEWCGROUP) target, -1 = none
    int cgroup_dir = -1;              // host directory of init's cgroup, -1 = stay where we are
    bool cgroup_v2 = false;           // clone3(CLONE_INTO_CGROUP) is possible
    const int* limit_dirs = nullptr;  // cgroup v1 limit cgroups, joined by a cgroup.procs write
    size_t limit_dir_count = 0;
};
// Upstream's order; the cgroup namespace is the command's.
constexpr int kNamespaceFileTypes[5] = {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID,
                                        CLONE_NEWNET};
constexpr const char* kNamespaceFileNames[5] = {"mnt", "uts", "ipc", "pid", "net"};

// The tag byte that comes with the pty master over the console socket (sys::send_fd).
constexpr char kConsoleTag = 'T';

// `enter`: the terminal the helper creates from the container's devpts.
struct TerminalPlan {
    int console_socket = -1;  // receives the master (SCM_RIGHTS)
    uid_t owner = 0;          // the slave is chowned to owner:tty_gid, 0620
    gid_t tty_gid = 5;
    unsigned short rows = 24, cols = 80;
};

struct CommandPlan {
    int error_fd = -1;   // CLOEXEC write end: failure text
    int report_fd = -1;  // CLOEXEC write end: the helper writes the command's pid_t
    JoinFds join;
    const TerminalPlan* terminal = nullptr;  // `enter`: controlling terminal and stdio
    int stdio[3] = {-1, -1, -1};             // `run`: fds for 0, 1, 2 (-1 = the caller's)
    // `run`: a session of its own, so the caller's terminal (its stdio) is not the command's
    // controlling terminal: a guest that is not root cannot push input into it with TIOCSTI
    // (root is stopped by the seccomp filter), nor take it over with TIOCSCTTY.
    bool new_session = false;
    // Init's limits (container/security.hpp), loaded before dropping to the user; nullptr = none.
    const SecurityPrograms* security = nullptr;
    const std::vector<sock_filter>* remount_deny = nullptr;  // remount_deny_program
    bool set_ids = false;  // false: stay root, with no supplementary groups
    uid_t uid = 0;
    gid_t gid = 0;
    const gid_t* groups = nullptr;
    size_t group_count = 0;
    const char* home = "/";
    const char* exec_path = nullptr;  // a file to exec (login shell); nullptr = search argv[0]
    const char* path_env = nullptr;   // PATH for the search
    char* const* argv = nullptr;
    char* const* envp = nullptr;
};

// Forks the helper (see the top of the file); returns its PID (-1 with errno when fork fails).
// The caller blocks every signal around the call, so neither child runs a caller's handler.
pid_t fork_helper(const CommandPlan& plan);

}  // namespace ds::container
