// `enter` and `run`: a process inside a running container, in every namespace and the cgroup of
// its init (reference §11).
//
// The caller (the CLI process) joins the container's namespaces itself, like nsenter: one
// setns(pidfd, NEWNS|NEWUTS|NEWIPC|NEWNET|NEWPID) on kernels >= 5.8, else one setns per
// /proc/<init>/ns/* file. From then on its paths resolve inside the container, so the container's
// own /etc/passwd, /etc/group, /etc/environment and /dev/ptmx are read and opened by plain paths.
// The container's config (security settings) and --env file are read on the host before that.
// One clone3(CLONE_INTO_CGROUP) then starts the child straight in init's cgroup and in the PID
// namespace; the child joins the cgroup namespace, takes its terminal, gets init's capability
// bounding set and seccomp filter (container/security.hpp), drops to the user and execs. It reports
// a failure as text through a CLOEXEC pipe (never by exception) and exits 126 or 127; the caller
// waits and returns the child's status (128+N for a signal N).
//
// The calling process stays in the container's namespaces afterwards: the CLI calls this last,
// a long-lived caller (the web server) must fork first.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "container/state.hpp"
#include "core/workspace.hpp"

namespace ds::container {

struct AttachResult {
    int exit_code = 0;  // the command's status, 128+N when killed by signal N
    std::string error;  // set when the command could not be started ("x: command not found")
};

struct RunRequest {
    std::vector<std::string> argv;  // non-empty; one argument holding a space runs via /bin/sh -c
    std::string user;               // "" = stay root (no passwd lookup)
    std::string term;               // the caller's $TERM ("" = xterm-256color)
};

// Runs one command with the caller's stdio (no pty) and returns its status. Throws a usage error
// for an unknown user, a runtime error when the container cannot be joined.
AttachResult run_in_container(const Workspace& ws, const ContainerState& state,
                              const RunRequest& request);

struct EnterRequest {
    std::string user = "root";
    std::string term;
};

// A login shell on a pty from the container's own devpts, proxied to the caller's terminal
// (raw mode, restored on every exit path; SIGWINCH resizes the pty). Returns the shell's status.
AttachResult enter_container(const Workspace& ws, const ContainerState& state,
                             const EnterRequest& request);

// --- pure helpers (parsers of the container's files) ----------------------------------------

struct PasswdEntry {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
    std::string home;
    std::string shell;
};
// The /etc/passwd line for `user` (a name, or a number matching no name but a UID).
std::optional<PasswdEntry> find_passwd_entry(std::string_view passwd, std::string_view user);
// `primary` first, then every /etc/group group listing `user` as a member.
std::vector<gid_t> supplementary_groups(std::string_view group, std::string_view user,
                                        gid_t primary);
// The GID of group `name` in /etc/group text.
std::optional<gid_t> find_group_id(std::string_view group, std::string_view name);
// KEY=VALUE lines of /etc/environment ("export " prefix and matching quotes stripped, comments
// and malformed lines skipped), in file order.
std::vector<std::string> parse_environment_file(std::string_view text);
// $TERM for the container: the caller's unless empty or Android recovery garbage (contains '.',
// starts with "bg"), else xterm-256color.
std::string container_term(std::string_view caller_term);
// Host directory of init's cgroup: `container_cgroup` is the host path of the container's cgroup
// (ContainerState::cgroup_path), `init_path` the hierarchy-relative path from /proc/<init>/cgroup.
// nullopt when init_path is not inside the container cgroup.
std::optional<std::string> host_cgroup_dir(std::string_view container_cgroup,
                                           std::string_view init_path);

}  // namespace ds::container
