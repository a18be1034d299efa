// enter / run in the calling process: everything is read and opened on the host side, then
// one helper process joins the container and starts the command (container/attach_spawn.hpp).
// The order of events:
//   1. the container's config and --env file (workspace copy, host paths);
//   2. init's pidfd (or its /proc/<init>/ns/* files before 5.8), the host directory of its
//      cgroup, and /proc/<init>/root;
//   3. the guest's /etc/passwd, /etc/group, /etc/environment and the login shell, resolved
//      inside that root; argv, envp and the groups built;
//   4. fork the helper with every signal blocked; read the command's PID from the report pipe,
//      reap the helper, read the error pipe until exec closes it.
#include "container/attach.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>

#include "container/android.hpp"
#include "container/attach_spawn.hpp"
#include "container/cgroups.hpp"
#include "container/remount_guard.hpp"
#include "container/security.hpp"
#include "core/config.hpp"
#include "core/env_file.hpp"
#include "core/error.hpp"
#include "core/kernel_version.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr gid_t kDefaultTtyGid = 5;

int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

// --- what the container runs with, read on the host -----------------------------------------

// The workspace copy of its config (the snapshot under the container's /run is writable from
// inside, so it must not decide its own limits) and its --env file, re-read as upstream does.
// Unreadable or broken files leave the defaults: the strictest limits and no extra variables
// (a broken env file must not lock the user out).
struct HostSide {
    Config config;
    EnvVars env;
    SecurityPrograms security;              // init's limits, built here (not after fork)
    std::vector<sock_filter> remount_deny;  // the remount guard's filter
};

HostSide read_host_side(const Workspace& ws, const ContainerState& state) {
    HostSide host;
    std::string path = ws.config_path(state.name);
    try {
        if (auto text = sys::try_read_file(path)) host.config = parse_config(*text, path);
        if (!host.config.env_file.empty())
            if (auto text = sys::try_read_file(host.config.env_file))
                host.env = parse_env_file(*text, host.config.env_file);
        for (auto& var : android::guest_env(host.config))
            host.env.push_back(std::move(var));
    } catch (const Error&) {
    }
    host.security = prepare_security(host.config);
    host.remount_deny = remount_deny_program(host.config);
    return host;
}

// --- the container's init, opened on the host -----------------------------------------------

struct Target {
    sys::unique_fd pidfd;
    bool by_files = false;  // join through ns_files (kernels before 5.8, or no pidfd)
    sys::unique_fd ns_files[5];
    sys::unique_fd cgroup_ns_file;  // old kernels: /proc/<init>/ns/cgroup
    sys::unique_fd cgroup_dir;
    bool cgroup_v2 = false;
    sys::unique_fd root;  // /proc/<init>/root: the guest's files, resolved inside it
    std::vector<sys::unique_fd> limit_dirs;  // cgroup v1 limit cgroups (container/cgroups.hpp)
    std::vector<int> limit_dir_fds;

    JoinFds fds() const {
        JoinFds j;
        bool by_pidfd = pidfd && !by_files;
        j.pidfd = by_pidfd ? pidfd.get() : -1;
        for (int i = 0; i < 5; ++i)
            j.ns_files[i] = ns_files[i].get();
        j.cgroup_ns = by_pidfd ? pidfd.get() : cgroup_ns_file.get();
        j.cgroup_dir = cgroup_dir.get();
        j.cgroup_v2 = cgroup_v2;
        j.limit_dirs = limit_dir_fds.data();
        j.limit_dir_count = limit_dir_fds.size();
        return j;
    }
};

// setns() takes a pidfd from 5.8 on.
bool setns_takes_pidfd() {
    struct utsname u;
    if (::uname(&u) != 0) return false;
    auto version = parse_kernel_release(u.release);
    return version && kernel_at_least(*version, 5, 8);
}

// The host directory of init's cgroup, from one read of /proc/<init>/cgroup: the line whose path
// lies inside the container's cgroup (v2 first, else the v1 name=systemd hierarchy).
std::optional<std::string> init_cgroup_dir(const ContainerState& state, bool& v2) {
    auto text = sys::try_read_file("/proc/" + std::to_string(state.init_pid) + "/cgroup");
    if (!text) return std::nullopt;
    std::optional<std::string> v1_dir;
    std::string_view rest = *text;
    while (!rest.empty()) {
        size_t end = rest.find('\n');
        std::string_view line = rest.substr(0, end);
        rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
        size_t first = line.find(':'), second = line.find(':', first + 1);
        if (first == std::string_view::npos || second == std::string_view::npos) continue;
        std::string_view hierarchy = line.substr(0, first);
        std::string_view controllers = line.substr(first + 1, second - first - 1);
        std::string_view path = line.substr(second + 1);
        if (hierarchy == "0" && controllers.empty()) {
            if (auto dir = host_cgroup_dir(state.cgroup_path, path)) {
                v2 = true;
                return dir;
            }
        } else if (controllers.find("name=systemd") != std::string_view::npos) {
            v1_dir = host_cgroup_dir(state.cgroup_path, path);
        }
    }
    v2 = false;
    return v1_dir;
}

// Kernels before 5.8: every namespace file, opened now; one that is already ours (the host's
// netns in --net=host mode) is left out.
void open_namespace_files(pid_t pid, Target& target) {
    std::string dir = "/proc/" + std::to_string(pid) + "/ns/";
    auto open_ns = [&](const char* name, bool required) {
        std::string path = dir + name;
        sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
            if (required || errno == ESRCH) sys::fail_errno("open " + path);
            return fd;  // a namespace type this kernel lacks
        }
        struct stat theirs, ours;
        std::string own = std::string("/proc/self/ns/") + name;
        if (::fstat(fd.get(), &theirs) == 0 && ::stat(own.c_str(), &ours) == 0 &&
            theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
            fd.reset();
        return fd;
    };
    for (int i = 0; i < 5; ++i)
        target.ns_files[i] = open_ns(kNamespaceFileNames[i], i == 0);
    target.cgroup_ns_file = open_ns("cgroup", false);
    target.by_files = true;
}

Target open_target(const ContainerState& state, JoinMethod method) {
    Target target;
    target.pidfd = sys::pidfd_open(state.init_pid);
    if (!target.pidfd && errno == ESRCH)
        fail_usage("container '" + state.name + "' is not running");
    if (!target.pidfd || method == JoinMethod::namespace_files || !setns_takes_pidfd())
        open_namespace_files(state.init_pid, target);
    if (!state.cgroup_path.empty()) {
        if (auto dir = init_cgroup_dir(state, target.cgroup_v2)) {
            target.cgroup_dir.reset(::open(dir->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!target.cgroup_dir) sys::fail_errno("open the container's cgroup " + *dir);
        }
    }
    // On cgroup v1 the limits live in droidspaces/<name> of each controller: a command that
    // stayed out of them would escape the container's --memory/--cpus/--pids-limit.
    target.limit_dirs = open_limit_cgroups(state.name, sys::host_cgroups());
    for (const auto& fd : target.limit_dirs)
        target.limit_dir_fds.push_back(fd.get());
    target.root = sys::open_tree_root("/proc/" + std::to_string(state.init_pid) + "/root");
    return target;
}

// --- who runs it and with what environment --------------------------------------------------

struct Identity {
    PasswdEntry entry;
    std::vector<gid_t> groups;
    gid_t tty_gid = kDefaultTtyGid;
};

// A file of the guest: resolved inside its root, regular files only and size-capped, so a
// guest's FIFO, /dev/zero link or huge file cannot hang or exhaust the caller. "" when missing.
std::string read_container_file(const Target& target, std::string_view path) {
    return sys::read_guest_file(target.root.get(), path).value_or("");
}

Identity resolve_identity(const Target& target, const std::string& user) {
    auto passwd = read_container_file(target, "/etc/passwd");
    auto group = read_container_file(target, "/etc/group");
    Identity id;
    if (auto entry = find_passwd_entry(passwd, user)) {
        id.entry = std::move(*entry);
    } else if (auto number = numeric_user(user)) {
        // A bare UID without an entry, as `docker exec -u 1234` allows.
        id.entry = {user, *number, static_cast<gid_t>(*number), "/", "/bin/sh"};
    } else {
        fail_usage("user '" + user + "' does not exist in the container's /etc/passwd");
    }
    if (id.entry.home.empty()) id.entry.home = "/";
    id.groups = supplementary_groups(group, id.entry.name, id.entry.gid);
    id.tty_gid = find_group_id(group, "tty").value_or(kDefaultTtyGid);
    return id;
}

// Sets KEY=VALUE in `env`, replacing an earlier KEY.
void set_env(std::vector<std::string>& env, std::string entry) {
    size_t key_len = entry.find('=') + 1;
    for (auto& e : env)
        if (e.compare(0, key_len, entry, 0, key_len) == 0) {
            e = std::move(entry);
            return;
        }
    env.push_back(std::move(entry));
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
    for (const auto& e : env)
        if (e.size() > key.size() && e[key.size()] == '=' && e.compare(0, key.size(), key) == 0)
            return e.substr(key.size() + 1);
    return {};
}

// Upstream's clean environment (reference §5.3 step 28) with the --env variables, the user's
// identity, then the container's /etc/environment on top.
std::vector<std::string> build_environment(const Target& target, const std::string& term,
                                           const EnvVars& user_env, const Identity* id,
                                           const std::string& shell) {
    std::vector<std::string> env = {
        std::string("PATH=") + kDefaultPath,
        "TERM=" + container_term(term),
        "container=droidspaces",
        "LANG=C.UTF-8",
    };
    for (const auto& [key, value] : user_env)
        set_env(env, key + "=" + value);
    set_env(env, "HOME=" + (id ? id->entry.home : std::string("/root")));
    std::string name = id ? id->entry.name : std::string("root");
    set_env(env, "USER=" + name);
    set_env(env, "LOGNAME=" + name);
    if (!shell.empty()) set_env(env, "SHELL=" + shell);
    for (auto& entry : parse_environment_file(read_container_file(target, "/etc/environment")))
        set_env(env, std::move(entry));
    return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (auto& s : strings)
        out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// A regular file with an execute bit, inside the guest's root (as root's access(X_OK) sees it).
bool is_executable_file(const Target& target, const std::string& path) {
    sys::unique_fd fd = sys::open_in_root(target.root.get(), path, O_PATH);
    struct stat st;
    return fd && ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

// --- starting it ----------------------------------------------------------------------------

struct Pipe {
    sys::unique_fd read_end, write_end;
    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe");
        read_end.reset(fds[0]);
        write_end.reset(fds[1]);
    }
};

// Everything until EOF: "" once every write end is closed without a word.
std::string read_all(int fd) {
    std::string text;
    char buf[512];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            text.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return text;
    }
}

void reap_helper(pid_t helper) {
    int status = 0;
    while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
}

// Forks the helper with every signal blocked in this thread (no handler of the caller runs in
// a child, and the child starts with a known mask), then collects the command.
Command launch(CommandPlan plan) {
    Pipe error, report;
    plan.error_fd = error.write_end.get();
    plan.report_fd = report.write_end.get();
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t helper = fork_helper(plan);
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    if (helper < 0) sys::fail_errno("fork", fork_errno);
    error.write_end.reset();
    report.write_end.reset();

    pid_t pid = -1;
    size_t got = 0;
    while (got < sizeof pid) {
        ssize_t n =
            ::read(report.read_end.get(), reinterpret_cast<char*>(&pid) + got, sizeof pid - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    reap_helper(helper);
    if (got != sizeof pid) {
        std::string text = read_all(error.read_end.get());
        fail_runtime(text.empty() ? "the helper process ended before starting the command" : text);
    }
    // The command is our child: its PID cannot be reused before we reap it.
    sys::unique_fd pidfd = sys::pidfd_open(pid);
    return Command(pid, std::move(pidfd), read_all(error.read_end.get()));
}

}  // namespace

// --- Command --------------------------------------------------------------------------------

Command::Command(pid_t pid, sys::unique_fd pidfd, std::string error)
    : pid_(pid), pidfd_(std::move(pidfd)), error_(std::move(error)) {}

Command::Command(Command&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      error_(std::move(other.error_)),
      status_(std::exchange(other.status_, -1)) {}

Command& Command::operator=(Command&& other) noexcept {
    if (this != &other) {
        Command old(std::move(*this));
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::move(other.pidfd_);
        error_ = std::move(other.error_);
        status_ = std::exchange(other.status_, -1);
    }
    return *this;
}

Command::~Command() {
    if (pid_ <= 0 || status_ >= 0) return;
    signal(SIGKILL);
    reap(0);
}

bool Command::signal(int sig) const {
    if (pid_ <= 0 || status_ >= 0) return false;
    if (pidfd_) return ::syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) == 0;
    return ::kill(pid_, sig) == 0;  // our unreaped child: the PID is still its own
}

bool Command::signal_group(int sig) const {
    if (pid_ <= 0 || status_ >= 0) return false;
    // Its group ID is its PID once it called setsid; before that there is no such group.
    return ::kill(-pid_, sig) == 0 || signal(sig);
}

std::optional<int> Command::reap(int flags) {
    if (status_ >= 0) return status_;
    if (pid_ <= 0) return std::nullopt;
    int status = 0;
    pid_t r;
    do
        r = ::waitpid(pid_, &status, flags);
    while (r < 0 && errno == EINTR);
    if (r == pid_)
        status_ = status_code(status);
    else if (r < 0)
        status_ = 1;  // not our child any more (someone reaped it): nothing to wait for
    if (status_ < 0) return std::nullopt;
    return status_;
}

std::optional<int> Command::try_wait() {
    return reap(WNOHANG);
}

int Command::wait() {
    return *reap(0);
}

std::optional<int> Command::wait_for(std::chrono::milliseconds timeout) {
    if (status_ >= 0) return status_;
    bool ended =
        pidfd_ ? sys::wait_readable(pidfd_.get(), timeout) : sys::wait_process_exit(pid_, timeout);
    return ended ? reap(0) : try_wait();
}

// --- operations -----------------------------------------------------------------------------

Command start_command(const Workspace& ws, const ContainerState& state, const RunRequest& request) {
    if (request.argv.empty()) fail_usage("'run' needs a command to run");
    HostSide host = read_host_side(ws, state);
    Target target = open_target(state, request.join);
    std::optional<Identity> id;
    if (!request.user.empty()) id = resolve_identity(target, request.user);
    auto env = build_environment(target, request.term, host.env, id ? &*id : nullptr, "");
    auto envp = c_strings(env);
    // Upstream: one argument holding a space is a shell command line.
    std::vector<std::string> args = request.argv;
    if (args.size() == 1 && args[0].find(' ') != std::string::npos)
        args = {"/bin/sh", "-c", args[0]};
    auto argv = c_strings(args);
    std::string path = env_value(env, "PATH");

    CommandPlan plan;
    plan.join = target.fds();
    for (int fd = 0; fd < 3; ++fd)
        plan.stdio[fd] = request.stdio[static_cast<size_t>(fd)];
    plan.new_session = true;
    plan.security = &host.security;
    plan.remount_deny = &host.remount_deny;
    plan.path_env = path.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    if (id) {
        plan.set_ids = true;
        plan.uid = id->entry.uid;
        plan.gid = id->entry.gid;
        plan.groups = id->groups.data();
        plan.group_count = id->groups.size();
        plan.home = id->entry.home.c_str();
    }
    return launch(plan);
}

AttachResult run_in_container(const Workspace& ws, const ContainerState& state,
                              const RunRequest& request) {
    Command command = start_command(ws, state, request);
    AttachResult result;
    result.error = command.error();
    result.exit_code = command.wait();
    return result;
}

// A regular file inside the guest's root (or no file at all, when `absent_ok`).
bool regular_or_absent(const Target& target, const char* path, bool absent_ok) {
    sys::unique_fd fd = sys::open_in_root(target.root.get(), path, O_PATH);
    struct stat st;
    if (!fd) return absent_ok && errno == ENOENT;
    return ::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode);
}

// The guest's su, where upstream looks for it (NixOS keeps its setuid wrappers apart). Not when
// the account files su reads are something else than files (a FIFO, /dev/zero): su would hang
// on them, and the login falls back to the shell this runtime starts itself.
std::optional<std::string> guest_su(const Target& target) {
    if (!regular_or_absent(target, "/etc/passwd", false) ||
        !regular_or_absent(target, "/etc/group", false) ||
        !regular_or_absent(target, "/etc/environment", true))
        return std::nullopt;
    for (const char* path : {"/bin/su", "/usr/bin/su", "/run/wrappers/bin/su"})
        if (is_executable_file(target, path)) return path;
    return std::nullopt;
}

Command open_terminal(const Workspace& ws, const ContainerState& state, const EnterRequest& request,
                      int console_socket) {
    HostSide host = read_host_side(ws, state);
    Target target = open_target(state, request.join);
    const std::string user = request.user.empty() ? "root" : request.user;
    Identity id = resolve_identity(target, user);
    std::string shell = id.entry.shell;
    const bool shell_usable = !shell.empty() && is_executable_file(target, shell);
    if (!shell_usable) shell = "/bin/sh";
    // A real login, as upstream: `su -l USER` (PAM opens the session: logind, XDG_RUNTIME_DIR,
    // limits), started as root. Without su, or when su could not start the user's shell, that
    // shell is started directly as the user's login shell.
    auto su = shell_usable ? guest_su(target) : std::nullopt;
    Identity runs_as = su ? resolve_identity(target, "root") : id;
    std::string exec_path = su ? *su : shell;
    auto env = build_environment(target, request.term, host.env, &runs_as, su ? "" : shell);
    auto envp = c_strings(env);
    std::vector<std::string> args;
    if (su)
        args = {"su", "-l", id.entry.name};
    else
        args = {"-" + shell.substr(shell.rfind('/') + 1)};  // a login shell
    auto argv = c_strings(args);

    TerminalPlan terminal;
    terminal.console_socket = console_socket;
    terminal.owner = id.entry.uid;
    terminal.tty_gid = id.tty_gid;
    terminal.rows = request.rows ? request.rows : 24;
    terminal.cols = request.cols ? request.cols : 80;

    CommandPlan plan;
    plan.join = target.fds();
    plan.terminal = &terminal;
    plan.security = &host.security;
    plan.remount_deny = &host.remount_deny;
    plan.set_ids = true;
    plan.uid = runs_as.entry.uid;
    plan.gid = runs_as.entry.gid;
    plan.groups = runs_as.groups.data();
    plan.group_count = runs_as.groups.size();
    plan.home = runs_as.entry.home.c_str();
    plan.exec_path = exec_path.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    return launch(plan);
}

}  // namespace ds::container
