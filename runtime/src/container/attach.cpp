// enter / run. The order of events, in the calling process:
//   1. open init's cgroup directory (host path, before any setns);
//   2. pidfd_open(init) + setns(pidfd, NEWNS|NEWUTS|NEWIPC|NEWNET|NEWPID), or one setns per
//      /proc/<init>/ns/* file on old kernels (all opened first);
//   3. read the container's /etc/passwd, /etc/group, /etc/environment; `enter` opens the
//      container's /dev/ptmx (its devpts instance);
//   4. clone3(CLONE_INTO_CGROUP) (fork + cgroup.procs on old kernels or v1);
// and in the child: setns(CLONE_NEWCGROUP) (after the cgroup move: with nsdelegate the move must
// be seen from the host's cgroup namespace), setsid + TIOCSCTTY for `enter`, setsid alone for `run`
// (the caller's terminal stays its stdio but is not its controlling terminal), the caller's signal
// state back, init's capability bounding set and seccomp filter (apply_security, while still
// root), setgroups/setresgid/setresuid, chdir, execve.
// Before step 1, the container's config and --env file are read on the host (workspace copy).
#include "container/attach.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "container/cgroups.hpp"
#include "container/remount_guard.hpp"
#include "container/security.hpp"
#include "core/config.hpp"
#include "core/env_file.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/pty.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr char kDefaultTerm[] = "xterm-256color";
constexpr gid_t kDefaultTtyGid = 5;

// Joined by the caller; the cgroup namespace is joined by the child (see the top of the file).
constexpr int kCallerNamespaces =
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID;

// --- small text helpers ---------------------------------------------------------------------

// The next line of `text` (without '\n'); consumes it.
std::string_view next_line(std::string_view& text) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    return line;
}

// Field `index` of a `sep`-separated line, "" when there are fewer fields.
std::string_view field(std::string_view line, size_t index, char sep = ':') {
    for (size_t i = 0; i < index; ++i) {
        size_t pos = line.find(sep);
        if (pos == std::string_view::npos) return {};
        line.remove_prefix(pos + 1);
    }
    return line.substr(0, line.find(sep));
}

size_t field_count(std::string_view line, char sep = ':') {
    size_t n = 1;
    for (char c : line)
        n += c == sep;
    return n;
}

template <typename T>
bool parse_number(std::string_view text, T& out) {
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

bool valid_env_key(std::string_view key) {
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
    for (char c : key)
        if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9')))
            return false;
    return true;
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

std::string_view env_value(const std::vector<std::string>& env, std::string_view key) {
    for (const auto& e : env)
        if (e.size() > key.size() && e[key.size()] == '=' && e.compare(0, key.size(), key) == 0)
            return std::string_view(e).substr(key.size() + 1);
    return {};
}

// --- the child ------------------------------------------------------------------------------

// Signal dispositions and mask of the caller before attach changed them; the child puts them back
// before exec so the command inherits exactly what the caller had. Fixed size: no allocation.
class SignalState {
  public:
    static constexpr std::array<int, 12> kSignals = {SIGINT,  SIGQUIT, SIGTERM,  SIGHUP,
                                                     SIGUSR1, SIGUSR2, SIGTSTP,  SIGTTIN,
                                                     SIGTTOU, SIGPIPE, SIGWINCH, SIGCHLD};
    SignalState() {
        for (size_t i = 0; i < kSignals.size(); ++i)
            ::sigaction(kSignals[i], nullptr, &saved_[i]);
        ::sigprocmask(SIG_SETMASK, nullptr, &mask_);
    }
    ~SignalState() { restore(); }
    SignalState(const SignalState&) = delete;
    SignalState& operator=(const SignalState&) = delete;

    void restore() const {
        for (size_t i = 0; i < kSignals.size(); ++i)
            ::sigaction(kSignals[i], &saved_[i], nullptr);
        ::sigprocmask(SIG_SETMASK, &mask_, nullptr);
    }

  private:
    std::array<struct sigaction, kSignals.size()> saved_{};
    sigset_t mask_{};
};

struct ChildPlan {
    int error_fd = -1;
    int cgroup_ns = -1;         // setns(CLONE_NEWCGROUP) target (pidfd or ns file), -1 = none
    int cgroup_procs_dir = -1;  // join by writing "0" to its cgroup.procs (no CLONE_INTO_CGROUP)
    int tty = -1;               // `enter`: controlling terminal and stdio
    // `run`: a session of its own, so the caller's terminal (its stdio) is not the command's
    // controlling terminal: a guest that is not root cannot push input into it with TIOCSTI
    // (root is stopped by the seccomp filter), nor take it over with TIOCSCTTY.
    bool new_session = false;
    const SignalState* signals = nullptr;
    const Config* security = nullptr;  // apply_security(*security) before dropping to the user
    bool set_ids = false;
    uid_t uid = 0;
    gid_t gid = 0;
    const std::vector<gid_t>* groups = nullptr;
    const char* home = "/";
    const char* exec_path = nullptr;  // a file to exec; nullptr = search argv[0] in path_env
    const char* path_env = kDefaultPath;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    // cgroup v1 limit cgroups (container/cgroups.hpp): joined like cgroup_procs_dir.
    const int* limit_dirs = nullptr;
    size_t limit_dir_count = 0;
};

// Appends a C string to a fixed buffer; never overflows.
struct Message {
    char text[768];
    size_t len = 0;
    Message& operator<<(const char* s) {
        while (*s && len + 1 < sizeof text)
            text[len++] = *s++;
        text[len] = 0;
        return *this;
    }
};

[[noreturn]] void child_fail(const ChildPlan& p, int code, const char* what, const char* arg,
                             int err) {
    Message m;
    m << what;
    if (arg && *arg) m << " " << arg;
    if (err) m << ": " << std::strerror(err);
    sys::write_all(p.error_fd, m.text, m.len);
    ::_exit(code);
}

// execve, and for a file without #! the shell, as execvp does.
void exec_file(const char* path, const ChildPlan& p) {
    ::execve(path, p.argv, p.envp);
    if (errno != ENOEXEC) return;
    int argc = 0;
    while (p.argv[argc])
        ++argc;
    if (argc > 254) return;
    char* argv[256];
    argv[0] = const_cast<char*>("/bin/sh");
    argv[1] = const_cast<char*>(path);
    for (int i = 1; i <= argc; ++i)
        argv[i + 1] = p.argv[i];
    ::execve("/bin/sh", argv, p.envp);
    errno = ENOEXEC;
}

// The PATH search of a shell: EACCES remembered, "not found" only when nothing matched.
[[noreturn]] void exec_command(const ChildPlan& p) {
    const char* name = p.argv[0];
    if (std::strchr(name, '/')) {
        exec_file(name, p);
        int err = errno;
        if (err == ENOENT) child_fail(p, 127, name, "", err);
        child_fail(p, 126, "cannot execute", name, err);
    }
    size_t name_len = std::strlen(name);
    bool denied = false;
    char path[4096];
    for (const char* dir = p.path_env;;) {
        const char* end = std::strchr(dir, ':');
        size_t dir_len = end ? static_cast<size_t>(end - dir) : std::strlen(dir);
        if (dir_len + name_len + 2 <= sizeof path && name_len > 0) {
            size_t n = 0;
            if (dir_len == 0) path[n++] = '.';
            std::memcpy(path + n, dir, dir_len);
            n += dir_len;
            path[n++] = '/';
            std::memcpy(path + n, name, name_len + 1);
            exec_file(path, p);
            switch (errno) {
                case EACCES:
                    denied = true;
                    break;
                case ENOENT:
                case ENOTDIR:
                case ESTALE:
                case ELOOP:
                case ENAMETOOLONG:
                    break;
                default:
                    child_fail(p, 126, "cannot execute", path, errno);
            }
        }
        if (!end) break;
        dir = end + 1;
    }
    if (denied) child_fail(p, 126, "cannot execute", name, EACCES);
    Message m;
    m << name << ": command not found";
    sys::write_all(p.error_fd, m.text, m.len);
    ::_exit(127);
}

[[noreturn]] void child_main(const ChildPlan& p) {
    for (size_t i = 0; i < p.limit_dir_count; ++i) {
        int fd = ::openat(p.limit_dirs[i], "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1)
            child_fail(p, 127, "join the container's limit cgroup", "", errno);
        ::close(fd);
    }
    if (p.cgroup_procs_dir >= 0) {
        int fd = ::openat(p.cgroup_procs_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1)
            child_fail(p, 127, "join the container's cgroup", "", errno);
        ::close(fd);
    }
    if (p.cgroup_ns >= 0 && ::setns(p.cgroup_ns, CLONE_NEWCGROUP) != 0)
        child_fail(p, 127, "join the container's cgroup namespace", "", errno);
    if (p.tty >= 0) {
        if (::setsid() < 0) child_fail(p, 127, "setsid", "", errno);
        if (::ioctl(p.tty, TIOCSCTTY, 0) != 0)
            child_fail(p, 127, "make the pty the controlling terminal", "", errno);
        for (int fd = 0; fd < 3; ++fd)
            if (::dup2(p.tty, fd) < 0) child_fail(p, 127, "redirect stdio to the pty", "", errno);
        if (p.tty > 2) ::close(p.tty);
    } else if (p.new_session && ::setsid() < 0) {
        child_fail(p, 127, "setsid", "", errno);
    }
    if (p.signals) p.signals->restore();
    if (p.security) {
        try {
            apply_security(*p.security);
            load_remount_deny_filter(*p.security);  // no monitor listens for these processes
        } catch (const std::exception& e) {
            child_fail(p, 127, "apply capability and seccomp limits:", e.what(), 0);
        }
    }
    if (p.set_ids) {
        if (::setgroups(p.groups->size(), p.groups->data()) != 0)
            child_fail(p, 127, "setgroups", "", errno);
        if (::setresgid(p.gid, p.gid, p.gid) != 0) child_fail(p, 127, "setgid", "", errno);
        if (::setresuid(p.uid, p.uid, p.uid) != 0) child_fail(p, 127, "setuid", "", errno);
    } else {
        ::setgroups(0, nullptr);  // the host's supplementary groups mean nothing inside
    }
    if (::chdir(p.home) != 0 && ::chdir("/") != 0) child_fail(p, 127, "chdir /", "", errno);
    if (!p.exec_path) exec_command(p);
    ::execve(p.exec_path, p.argv, p.envp);
    int err = errno;
    // The login shell of the passwd entry is gone: /bin/sh, as a login shell too.
    char dash_sh[] = "-sh";
    char* sh_argv[] = {dash_sh, nullptr};
    ::execve("/bin/sh", sh_argv, p.envp);
    child_fail(p, 127, "no usable shell: exec", p.exec_path, err);
}

// --- joining --------------------------------------------------------------------------------

struct Joined {
    sys::unique_fd pidfd;       // init's pidfd when setns took it
    sys::unique_fd cgroup_ns;   // /proc/<init>/ns/cgroup on the old-kernel path
    sys::unique_fd cgroup_dir;  // host directory of init's cgroup
    bool cgroup_v2 = false;
    std::vector<sys::unique_fd> limit_dirs;  // cgroup v1 limit cgroups
    std::vector<int> limit_dir_fds;
    int cgroup_ns_target() const { return pidfd ? pidfd.get() : cgroup_ns.get(); }
};

// The host directory of init's cgroup, from one read of /proc/<init>/cgroup: the line whose path
// lies inside the container's cgroup (v2 first, else the v1 name=systemd hierarchy).
std::optional<std::string> init_cgroup_dir(const ContainerState& state, bool& v2) {
    auto text = sys::try_read_file("/proc/" + std::to_string(state.init_pid) + "/cgroup");
    if (!text) return std::nullopt;
    std::optional<std::string> v1_dir;
    for (std::string_view rest = *text; !rest.empty();) {
        std::string_view line = next_line(rest);
        size_t first = line.find(':'), second = line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
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

// Kernels before 5.8 (setns takes no pidfd): open every namespace file first, then setns each.
void join_by_namespace_files(pid_t pid, Joined& joined) {
    struct NsFile {
        const char* name;
        int type;
    };
    // Upstream's order; cgroup is the child's.
    static constexpr NsFile kFiles[] = {{"mnt", CLONE_NEWNS},  {"uts", CLONE_NEWUTS},
                                        {"ipc", CLONE_NEWIPC}, {"pid", CLONE_NEWPID},
                                        {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP}};
    std::string dir = "/proc/" + std::to_string(pid) + "/ns/";
    sys::unique_fd fds[std::size(kFiles)];
    for (size_t i = 0; i < std::size(kFiles); ++i) {
        std::string path = dir + kFiles[i].name;
        fds[i].reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fds[i]) {
            if (kFiles[i].type == CLONE_NEWNS || errno == ESRCH) sys::fail_errno("open " + path);
            continue;  // a namespace type this kernel lacks
        }
        // Already there (the host's netns in --net=host mode): nothing to join.
        struct stat theirs, ours;
        std::string own = std::string("/proc/self/ns/") + kFiles[i].name;
        if (::fstat(fds[i].get(), &theirs) == 0 && ::stat(own.c_str(), &ours) == 0 &&
            theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
            fds[i].reset();
    }
    for (size_t i = 0; i < std::size(kFiles); ++i) {
        if (!fds[i] || kFiles[i].type == CLONE_NEWCGROUP) continue;
        if (::setns(fds[i].get(), kFiles[i].type) != 0)
            sys::fail_errno(std::string("join the container's ") + kFiles[i].name + " namespace");
    }
    joined.cgroup_ns = std::move(fds[std::size(kFiles) - 1]);
}

Joined join_container(const ContainerState& state) {
    Joined joined;
    if (!state.cgroup_path.empty()) {
        if (auto dir = init_cgroup_dir(state, joined.cgroup_v2)) {
            joined.cgroup_dir.reset(::open(dir->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
            if (!joined.cgroup_dir) sys::fail_errno("open the container's cgroup " + *dir);
        }
    }
    joined.limit_dirs = open_limit_cgroups(state.name, sys::host_cgroups());
    for (const auto& fd : joined.limit_dirs)
        joined.limit_dir_fds.push_back(fd.get());
    joined.pidfd = sys::pidfd_open(state.init_pid);
    if (joined.pidfd) {
        if (::setns(joined.pidfd.get(), kCallerNamespaces) == 0) return joined;
        if (errno != EINVAL) sys::fail_errno("join the namespaces of the container's init");
        joined.pidfd.reset();  // before 5.8: setns takes no pidfd
    } else if (errno == ESRCH) {
        fail_usage("container '" + state.name + "' is not running");
    }
    join_by_namespace_files(state.init_pid, joined);
    return joined;
}

// Starts the child in init's cgroup: clone3(CLONE_INTO_CGROUP) on cgroup v2, else fork and let the
// child write itself into cgroup.procs (opened relative to the host-side directory fd).
pid_t spawn(ChildPlan plan, const Joined& joined) {
    plan.cgroup_ns = joined.cgroup_ns_target();
    plan.limit_dirs = joined.limit_dir_fds.data();
    plan.limit_dir_count = joined.limit_dir_fds.size();
    int cgroup = joined.cgroup_dir.get();
    if (cgroup >= 0 && joined.cgroup_v2) {
        pid_t pid = sys::clone_into_cgroup(0, cgroup);
        if (pid == 0) child_main(plan);
        if (pid > 0) return pid;
        // No clone3 (seccomp, kernel < 5.7): the write below does the same.
    }
    plan.cgroup_procs_dir = cgroup;
    pid_t pid = ::fork();
    if (pid == 0) child_main(plan);
    if (pid < 0) sys::fail_errno("fork");
    return pid;
}

int status_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 1;
}

// Reads the child's error report: "" once exec closed the pipe.
std::string read_error(int fd) {
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

struct ErrorPipe {
    sys::unique_fd read_end, write_end;
    ErrorPipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe");
        read_end.reset(fds[0]);
        write_end.reset(fds[1]);
    }
};

// --- who runs it and with what environment --------------------------------------------------

// What the container runs with, read on the host: the workspace copy of its config (the snapshot
// under the container's /run is writable from inside, so it must not decide its own limits) and
// its --env file, re-read as upstream does. Unreadable or broken files leave the defaults: the
// strictest limits and no extra variables (a broken env file must not lock the user out).
struct HostSide {
    Config config;
    EnvVars env;
};

HostSide read_host_side(const Workspace& ws, const ContainerState& state) {
    HostSide host;
    std::string path = ws.config_path(state.name);
    try {
        if (auto text = sys::try_read_file(path)) host.config = parse_config(*text, path);
        if (!host.config.env_file.empty())
            if (auto text = sys::try_read_file(host.config.env_file))
                host.env = parse_env_file(*text, host.config.env_file);
    } catch (const Error&) {
    }
    return host;
}

struct Identity {
    PasswdEntry entry;
    std::vector<gid_t> groups;
    gid_t tty_gid = kDefaultTtyGid;
};

// A file of the container, read by this (host root) process after it joined the container's
// mount namespace, whose root is now ours: resolved inside that root, regular files only and
// size-capped, so a guest's FIFO, /dev/zero link or huge file cannot hang or exhaust `enter`.
std::string read_container_file(std::string_view path) {
    return sys::read_guest_file(std::string("/"), path).value_or("");
}

// Resolved from the container's own files (the caller is in its mount namespace by now).
Identity resolve_identity(const std::string& user) {
    auto passwd = read_container_file("/etc/passwd");
    auto group = read_container_file("/etc/group");
    Identity id;
    if (auto entry = find_passwd_entry(passwd, user)) {
        id.entry = std::move(*entry);
    } else {
        unsigned long number = 0;
        if (!parse_number(std::string_view(user), number) || number > 0xfffffffeUL)
            fail_usage("user '" + user + "' does not exist in the container's /etc/passwd");
        // A bare UID without an entry, as `docker exec -u 1234` allows.
        id.entry = {user, static_cast<uid_t>(number), static_cast<gid_t>(number), "/", "/bin/sh"};
    }
    if (id.entry.home.empty()) id.entry.home = "/";
    id.groups = supplementary_groups(group, id.entry.name, id.entry.gid);
    id.tty_gid = find_group_id(group, "tty").value_or(kDefaultTtyGid);
    return id;
}

// Upstream's clean environment (reference §5.3 step 28) with the --env variables, the user's
// identity, then the container's /etc/environment on top.
std::vector<std::string> build_environment(const std::string& term, const EnvVars& user_env,
                                           const Identity* id, const std::string& shell) {
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
    for (auto& entry : parse_environment_file(read_container_file("/etc/environment")))
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

// `run`: the command is in a session of its own, out of reach of the caller's terminal, so the
// caller forwards every signal it gets. Those its terminal sends (si_code SI_KERNEL: Ctrl+C,
// Ctrl+\, a hangup, a resize) go to the command's process group, as the terminal would have sent
// them; those a process sends (timeout(1), kill) to the command alone. Until the child's setsid
// its group does not exist yet: then the command alone.
std::atomic<pid_t> g_forward_to{0};

void forward_signal(int sig, siginfo_t* info, void*) {
    int saved_errno = errno;
    pid_t pid = g_forward_to.load(std::memory_order_relaxed);
    if (pid > 0 && (info->si_code != SI_KERNEL || ::kill(-pid, sig) != 0)) ::kill(pid, sig);
    errno = saved_errno;
}

// Ctrl+Z: stops the command's group and then the caller the usual way (the shell reports the job
// stopped); when the shell continues the caller, the command continues too.
void forward_stop(int, siginfo_t*, void*) {
    int saved_errno = errno;
    pid_t pid = g_forward_to.load(std::memory_order_relaxed);
    if (pid > 0 && ::kill(-pid, SIGSTOP) != 0) ::kill(pid, SIGSTOP);
    struct sigaction stop = {}, handler = {};
    stop.sa_handler = SIG_DFL;
    ::sigaction(SIGTSTP, &stop, &handler);
    sigset_t tstp;
    sigemptyset(&tstp);
    sigaddset(&tstp, SIGTSTP);
    ::sigprocmask(SIG_UNBLOCK, &tstp, nullptr);
    ::raise(SIGTSTP);  // stopped here until SIGCONT
    ::sigaction(SIGTSTP, &handler, nullptr);
    if (pid > 0 && ::kill(-pid, SIGCONT) != 0) ::kill(pid, SIGCONT);
    errno = saved_errno;
}

constexpr int kForwardedSignals[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};

// No WUNTRACED: Ctrl+Z stops this process and the command alike (forward_stop), and the shell's
// `fg` continues both.
int wait_for_command(pid_t pid) {
    for (;;) {
        int status = 0;
        if (::waitpid(pid, &status, 0) == pid) return status_code(status);
        if (errno != EINTR) sys::fail_errno("wait for the command");
    }
}

bool is_executable_file(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

// --- enter's terminal proxy -----------------------------------------------------------------

class Proxy {
  public:
    // `slave_probe`: a slave fd to watch the shell's input queue, for piped (non-tty) stdin.
    Proxy(sys::unique_fd master, sys::unique_fd slave_probe, pid_t child, int signal_fd)
        : master_(std::move(master)),
          probe_(std::move(slave_probe)),
          child_(child),
          sigfd_(signal_fd) {}

    // Runs until the shell exits (or the caller's terminal goes away); returns its status.
    int run() {
        stdin_tty_ = ::isatty(STDIN_FILENO);
        char buf[16384];
        while (status_ < 0) {
            struct pollfd fds[3] = {
                {sigfd_, POLLIN, 0},
                {master_open_ ? master_.get() : -1,
                 static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0},
                {stdin_open_ && pending_.size() < kMaxPending ? STDIN_FILENO : -1, POLLIN, 0}};
            if (::poll(fds, 3, piped_eof_ ? kEofRetryMs : -1) < 0) {
                if (errno == EINTR) continue;
                sys::fail_errno("poll");
            }
            if (fds[0].revents) handle_signals();
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) drain_master(buf, sizeof buf, false);
            if ((fds[1].revents & POLLOUT) && master_open_) flush_pending();
            if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) read_stdin(buf, sizeof buf);
            if (piped_eof_ && pending_.empty()) send_eof();
        }
        if (master_open_) drain_master(buf, sizeof buf, true);
        return status_;
    }

  private:
    static constexpr size_t kMaxPending = 1 << 16;
    static constexpr int kEofRetryMs = 100;

    // Piped input ended: end the session the way a user would, once the shell has read
    // everything before. A line editor (readline, busybox lineedit: raw mode) gets ^U ^D, which
    // clears a line made dirty by a stale EOF and exits; a canonical-mode reader (dash, read, cat)
    // gets one VEOF once the mode has stayed canonical for a round (a shell starting up or
    // running a command is canonical only briefly; an EOF queued then reaches the next raw-mode
    // read as a NUL, which the ^U above clears).
    void send_eof() {
        auto now = std::chrono::steady_clock::now();
        if (now - last_eof_ < std::chrono::milliseconds(kEofRetryMs)) return;
        int queued = 0;
        termios mode;
        if (!master_open_ || ::ioctl(probe_.get(), FIONREAD, &queued) != 0 || queued > 0 ||
            ::tcgetattr(master_.get(), &mode) != 0)
            return;
        std::string_view keys = "\x15\x04";
        char veof = mode.c_cc[VEOF] ? static_cast<char>(mode.c_cc[VEOF]) : '\x04';
        if (mode.c_lflag & ICANON) {
            if (canonical_eof_sent_) return;
            if (!canonical_seen_) {
                canonical_seen_ = true;
                last_eof_ = now;
                return;
            }
            canonical_eof_sent_ = true;
            keys = std::string_view(&veof, 1);
        } else {
            canonical_seen_ = canonical_eof_sent_ = false;
        }
        last_eof_ = now;
        if (::write(master_.get(), keys.data(), keys.size()) < 0) {
            // The pty is full or gone: the next round tries again.
        }
    }

    void handle_signals() {
        struct signalfd_siginfo info;
        while (::read(sigfd_, &info, sizeof info) == sizeof info) {
            int sig = static_cast<int>(info.ssi_signo);
            if (sig == SIGWINCH) {
                sys::copy_window_size(STDIN_FILENO, master_.get());
            } else if (sig == SIGCHLD) {
                reap(WNOHANG);
            } else if (sig == SIGINT || sig == SIGQUIT) {
                // Not from our terminal (raw mode sends ^C as a byte): pass it to the shell's
                // foreground job.
                pid_t fg = master_open_ ? ::tcgetpgrp(master_.get()) : -1;
                if (fg > 0) ::kill(-fg, sig);
            } else if (sig == SIGTERM || sig == SIGHUP) {
                hang_up(sig);
            }
        }
    }

    void reap(int flags) {
        if (status_ >= 0) return;  // already collected
        int status = 0;
        pid_t r;
        do
            r = ::waitpid(child_, &status, flags);
        while (r < 0 && errno == EINTR);
        if (r == child_)
            status_ = status_code(status);
        else if (r < 0)
            status_ = 1;  // not our child any more: nothing to wait for
    }

    // The caller is going away: hang up the pty (the shell gets SIGHUP) and give it a moment.
    void hang_up(int sig) {
        master_.reset();
        master_open_ = false;
        if (sys::wait_process_exit(child_, std::chrono::seconds(2))) reap(0);
        if (status_ < 0) status_ = 128 + sig;
    }

    // Everything the shell wrote; `final`: the shell is gone, take what is buffered and stop.
    void drain_master(char* buf, size_t size, bool final) {
        for (;;) {
            ssize_t n = ::read(master_.get(), buf, size);
            if (n > 0) {
                sys::write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
                if (!final) return;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            // EAGAIN: nothing more now (a read flushes the kernel's pending pty buffers first).
            // EIO: no slave is open any more; only the exit status is left to collect.
            if (n == 0 || errno != EAGAIN) master_open_ = false;
            return;
        }
    }

    void flush_pending() {
        ssize_t n = ::write(master_.get(), pending_.data(), pending_.size());
        if (n > 0)
            pending_.erase(0, static_cast<size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            pending_.clear();
    }

    void read_stdin(char* buf, size_t size) {
        ssize_t n = ::read(STDIN_FILENO, buf, size);
        if (n > 0) {
            pending_.append(buf, static_cast<size_t>(n));
            flush_pending();
            return;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
        stdin_open_ = false;
        if (stdin_tty_ || !probe_)
            hang_up(SIGHUP);  // the terminal is gone
        else
            piped_eof_ = true;
    }

    sys::unique_fd master_, probe_;
    pid_t child_;
    int sigfd_;
    bool master_open_ = true, stdin_open_ = true, stdin_tty_ = false;
    bool piped_eof_ = false, canonical_seen_ = false, canonical_eof_sent_ = false;
    std::chrono::steady_clock::time_point last_eof_{};
    int status_ = -1;
    std::string pending_;  // input not yet accepted by the pty
};

// Blocks the signals enter handles through a signalfd, ignores terminal-stop signals (tcsetattr
// from a background job); all undone on scope exit.
class EnterSignals {
  public:
    EnterSignals() {
        sigset_t set;
        sigemptyset(&set);
        for (int sig : {SIGWINCH, SIGCHLD, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE})
            sigaddset(&set, sig);
        ::sigprocmask(SIG_BLOCK, &set, nullptr);
        ::signal(SIGTTIN, SIG_IGN);
        ::signal(SIGTTOU, SIG_IGN);
        fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) sys::fail_errno("signalfd");
    }
    const SignalState& saved() const { return saved_; }
    int fd() const { return fd_.get(); }

  private:
    SignalState saved_;  // declared first: restored last
    sys::unique_fd fd_;
};

}  // namespace

// --- pure helpers ---------------------------------------------------------------------------

std::optional<PasswdEntry> find_passwd_entry(std::string_view passwd, std::string_view user) {
    if (user.empty()) return std::nullopt;
    std::optional<PasswdEntry> by_uid;
    uid_t wanted_uid = 0;
    bool numeric = parse_number(user, wanted_uid);
    for (std::string_view rest = passwd; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (line.empty() || line[0] == '#' || field_count(line) < 7) continue;
        PasswdEntry e;
        e.name = field(line, 0);
        if (!parse_number(field(line, 2), e.uid) || !parse_number(field(line, 3), e.gid)) continue;
        e.home = field(line, 5);
        e.shell = field(line, 6);
        if (e.name == user) return e;
        if (numeric && !by_uid && e.uid == wanted_uid) by_uid = std::move(e);
    }
    return by_uid;
}

std::vector<gid_t> supplementary_groups(std::string_view group, std::string_view user,
                                        gid_t primary) {
    std::vector<gid_t> gids = {primary};
    for (std::string_view rest = group; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (line.empty() || line[0] == '#' || field_count(line) < 4) continue;
        gid_t gid = 0;
        if (!parse_number(field(line, 2), gid)) continue;
        for (std::string_view members = field(line, 3); !members.empty();) {
            size_t comma = members.find(',');
            std::string_view member = trim(members.substr(0, comma));
            members.remove_prefix(comma == std::string_view::npos ? members.size() : comma + 1);
            if (member == user) {
                bool known = false;
                for (gid_t g : gids)
                    known = known || g == gid;
                if (!known) gids.push_back(gid);
                break;
            }
        }
    }
    return gids;
}

std::optional<gid_t> find_group_id(std::string_view group, std::string_view name) {
    for (std::string_view rest = group; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        gid_t gid = 0;
        if (field_count(line) >= 3 && field(line, 0) == name && parse_number(field(line, 2), gid))
            return gid;
    }
    return std::nullopt;
}

std::vector<std::string> parse_environment_file(std::string_view text) {
    std::vector<std::string> out;
    for (std::string_view rest = text; !rest.empty();) {
        std::string_view line = trim(next_line(rest));
        if (line.empty() || line[0] == '#') continue;
        if (line.substr(0, 7) == "export ") line = trim(line.substr(7));
        size_t eq = line.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = trim(line.substr(0, eq));
        std::string_view value = trim(line.substr(eq + 1));
        if (!valid_env_key(key)) continue;
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        out.push_back(std::string(key) + "=" + std::string(value));
    }
    return out;
}

std::string container_term(std::string_view caller_term) {
    if (caller_term.empty() || caller_term.find('.') != std::string_view::npos ||
        caller_term.substr(0, 2) == "bg")
        return kDefaultTerm;
    return std::string(caller_term);
}

std::optional<std::string> host_cgroup_dir(std::string_view container_cgroup,
                                           std::string_view init_path) {
    if (container_cgroup.empty() || init_path.size() < 2 || init_path[0] != '/')
        return std::nullopt;
    // The longest leading part of init_path that the container cgroup's host path ends with
    // marks where the hierarchy is mounted: root + init_path is init's directory.
    for (size_t len = init_path.size(); len > 1; len = init_path.rfind('/', len - 1)) {
        std::string_view head = init_path.substr(0, len);
        if (container_cgroup.size() > head.size() &&
            container_cgroup.substr(container_cgroup.size() - head.size()) == head) {
            std::string dir(container_cgroup.substr(0, container_cgroup.size() - head.size()));
            dir += init_path;
            return dir;
        }
    }
    return std::nullopt;
}

// --- operations -----------------------------------------------------------------------------

AttachResult run_in_container(const Workspace& ws, const ContainerState& state,
                              const RunRequest& request) {
    if (request.argv.empty()) fail_usage("'run' needs a command to run");
    HostSide host = read_host_side(ws, state);
    Joined joined = join_container(state);

    std::optional<Identity> id;
    if (!request.user.empty()) id = resolve_identity(request.user);
    auto env = build_environment(request.term, host.env, id ? &*id : nullptr, "");
    auto envp = c_strings(env);
    // Upstream: one argument holding a space is a shell command line.
    std::vector<std::string> args = request.argv;
    if (args.size() == 1 && args[0].find(' ') != std::string::npos)
        args = {"/bin/sh", "-c", args[0]};
    auto argv = c_strings(args);
    std::string path(env_value(env, "PATH"));

    ErrorPipe pipe;
    ChildPlan plan;
    plan.error_fd = pipe.write_end.get();
    plan.path_env = path.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.security = &host.config;
    plan.new_session = true;
    if (id) {
        plan.set_ids = true;
        plan.uid = id->entry.uid;
        plan.gid = id->entry.gid;
        plan.groups = &id->groups;
        plan.home = id->entry.home.c_str();
    }

    SignalState saved;
    sigset_t forwarded;
    sigemptyset(&forwarded);
    struct sigaction forward = {};
    forward.sa_sigaction = forward_signal;
    forward.sa_flags = SA_SIGINFO | SA_RESTART;
    struct sigaction stop = forward;
    stop.sa_sigaction = forward_stop;
    for (int sig : kForwardedSignals)
        sigaddset(&forwarded, sig);
    sigaddset(&forwarded, SIGTSTP);
    // Blocked until the child's PID is known; the child restores the caller's state.
    ::sigprocmask(SIG_BLOCK, &forwarded, nullptr);
    for (int sig : kForwardedSignals)
        ::sigaction(sig, &forward, nullptr);
    ::sigaction(SIGTSTP, &stop, nullptr);
    plan.signals = &saved;

    pid_t pid = spawn(plan, joined);
    g_forward_to.store(pid, std::memory_order_relaxed);
    ::sigprocmask(SIG_UNBLOCK, &forwarded, nullptr);
    pipe.write_end.reset();
    AttachResult result;
    result.error = read_error(pipe.read_end.get());
    result.exit_code = wait_for_command(pid);
    g_forward_to.store(0, std::memory_order_relaxed);
    return result;
}

AttachResult enter_container(const Workspace& ws, const ContainerState& state,
                             const EnterRequest& request) {
    HostSide host = read_host_side(ws, state);
    Joined joined = join_container(state);
    Identity id = resolve_identity(request.user.empty() ? "root" : request.user);
    std::string shell = id.entry.shell;
    if (shell.empty() || !is_executable_file(shell)) shell = "/bin/sh";
    auto env = build_environment(request.term, host.env, &id, shell);
    auto envp = c_strings(env);
    std::string argv0 = "-" + shell.substr(shell.rfind('/') + 1);  // a login shell
    std::vector<std::string> args = {argv0};
    auto argv = c_strings(args);

    // The container's /dev/ptmx (-> pts/ptmx): the slave is /dev/pts/N of its devpts instance.
    sys::Pty pty = sys::open_pty("/dev/ptmx");
    sys::unique_fd slave = sys::open_pty_slave(pty.master.get(), pty.slave_path);
    if (::fchown(slave.get(), id.entry.uid, id.tty_gid) != 0 || ::fchmod(slave.get(), 0620) != 0) {
        // Not fatal: the shell still works on a root-owned tty.
    }
    if (!sys::copy_window_size(STDIN_FILENO, pty.master.get()) &&
        !sys::copy_window_size(STDOUT_FILENO, pty.master.get())) {
        struct winsize size = {};
        size.ws_row = 24;
        size.ws_col = 80;
        ::ioctl(pty.master.get(), TIOCSWINSZ, &size);
    }

    ErrorPipe pipe;
    ChildPlan plan;
    plan.error_fd = pipe.write_end.get();
    plan.tty = slave.get();
    plan.set_ids = true;
    plan.uid = id.entry.uid;
    plan.gid = id.entry.gid;
    plan.groups = &id.groups;
    plan.home = id.entry.home.c_str();
    plan.exec_path = shell.c_str();
    plan.argv = argv.data();
    plan.envp = envp.data();
    plan.security = &host.config;

    EnterSignals signals;
    plan.signals = &signals.saved();
    pid_t pid = spawn(plan, joined);
    // Piped stdin: keep a slave fd to see when the shell has read everything (see Proxy).
    if (::isatty(STDIN_FILENO)) slave.reset();
    pipe.write_end.reset();
    AttachResult result;
    result.error = read_error(pipe.read_end.get());
    if (!result.error.empty()) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        result.exit_code = status_code(status);
        return result;
    }
    int flags = ::fcntl(pty.master.get(), F_GETFL);
    ::fcntl(pty.master.get(), F_SETFL, flags | O_NONBLOCK);
    sys::RawTerminal raw(STDIN_FILENO);
    result.exit_code = Proxy(std::move(pty.master), std::move(slave), pid, signals.fd()).run();
    return result;
}

}  // namespace ds::container
