// The helper and the command of `enter` / `run` (see attach_spawn.hpp). Both run between fork
// and exec in a child of a possibly multi-threaded caller: system calls only, fixed-size
// buffers, no allocation, no exceptions.
#include "container/attach_spawn.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "container/security.hpp"
#include "sys/process.hpp"
#include "sys/seccomp_notify.hpp"

namespace ds::container {
namespace {

constexpr int kHelperNamespaces =
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID;
#ifndef CLOSE_RANGE_CLOEXEC
constexpr unsigned kCloseRangeCloexec = 1U << 2;
#else
constexpr unsigned kCloseRangeCloexec = CLOSE_RANGE_CLOEXEC;
#endif

// Appends C strings to a fixed buffer; never overflows.
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

// The untranslated errno text: strerror may load a locale (allocation, locks) after fork.
const char* error_text(int err) {
    const char* text = ::strerrordesc_np(err);
    return text ? text : "unknown error";
}

[[noreturn]] void child_fail(const CommandPlan& p, int code, const char* what, const char* arg,
                             int err) {
    Message m;
    m << what;
    if (arg && *arg) m << " " << arg;
    if (err) m << ": " << error_text(err);
    sys::write_all(p.error_fd, m.text, m.len);
    ::_exit(code);
}

// --- the command ----------------------------------------------------------------------------

// execve, and for a file without #! the shell, as execvp does.
void exec_file(const char* path, const CommandPlan& p) {
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
[[noreturn]] void exec_command(const CommandPlan& p) {
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
    for (const char* dir = p.path_env ? p.path_env : "";;) {
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

// Every disposition back to the default and nothing blocked: the command must not inherit what
// the caller (a CLI forwarding signals, a server ignoring SIGPIPE) set up for itself. Handlers
// are reset by execve anyway; ignored signals and the mask would not be.
void reset_signals() {
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig)
        ::sigaction(sig, &dfl, nullptr);  // EINVAL for SIGKILL, SIGSTOP and libc's own: fine
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

void take_terminal(const CommandPlan& p, int tty) {
    if (::setsid() < 0) child_fail(p, 127, "setsid", "", errno);
    if (::ioctl(tty, TIOCSCTTY, 0) != 0)
        child_fail(p, 127, "make the pty the controlling terminal", "", errno);
    for (int fd = 0; fd < 3; ++fd)
        if (::dup2(tty, fd) < 0) child_fail(p, 127, "redirect stdio to the pty", "", errno);
    if (tty > 2) ::close(tty);
}

void set_stdio(const CommandPlan& p) {
    for (int fd = 0; fd < 3; ++fd)
        if (p.stdio[fd] >= 0 && p.stdio[fd] != fd && ::dup2(p.stdio[fd], fd) < 0)
            child_fail(p, 127, "redirect stdio", "", errno);
    if (p.new_session && ::setsid() < 0) child_fail(p, 127, "setsid", "", errno);
}

void drop_to_user(const CommandPlan& p) {
    if (!p.set_ids) {
        // Root without -u: the caller's supplementary groups mean nothing inside.
        if (::setgroups(0, nullptr) != 0) child_fail(p, 127, "setgroups", "", errno);
        return;
    }
    if (::setgroups(p.group_count, p.groups) != 0) child_fail(p, 127, "setgroups", "", errno);
    if (::setresgid(p.gid, p.gid, p.gid) != 0) child_fail(p, 127, "setgid", "", errno);
    if (::setresuid(p.uid, p.uid, p.uid) != 0) child_fail(p, 127, "setuid", "", errno);
}

[[noreturn]] void command_main(const CommandPlan& p, int tty, bool join_cgroup_by_write) {
    for (size_t i = 0; i < p.join.limit_dir_count; ++i) {
        int fd = ::openat(p.join.limit_dirs[i], "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1)
            child_fail(p, 127, "join the container's limit cgroup", "", errno);
        ::close(fd);
    }
    if (join_cgroup_by_write && p.join.cgroup_dir >= 0) {
        int fd = ::openat(p.join.cgroup_dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ::write(fd, "0", 1) != 1)
            child_fail(p, 127, "join the container's cgroup", "", errno);
        ::close(fd);
    }
    if (p.join.cgroup_ns >= 0 && ::setns(p.join.cgroup_ns, CLONE_NEWCGROUP) != 0)
        child_fail(p, 127, "join the container's cgroup namespace", "", errno);
    if (tty >= 0)
        take_terminal(p, tty);
    else
        set_stdio(p);
    reset_signals();
    // Whatever the caller left open without CLOEXEC (a server's sockets) never reaches the
    // guest. Best effort: close_range needs 5.11.
    ::syscall(SYS_close_range, 3U, ~0U, kCloseRangeCloexec);
    if (p.security) {
        const char* step = "";
        if (int err = apply_prepared_security(*p.security, &step))
            child_fail(p, 127, step, "", err);
    }
    // The remount guard's filter answers EPERM itself: no monitor listens for these processes.
    if (p.remount_deny && load_seccomp_program(*p.remount_deny) != 0)
        child_fail(p, 127, "seccomp: load the remount guard's filter", "", errno);
    drop_to_user(p);
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

// --- the helper -----------------------------------------------------------------------------

void join_namespaces(const CommandPlan& p) {
    if (p.join.pidfd >= 0) {
        if (::setns(p.join.pidfd, kHelperNamespaces) != 0)
            child_fail(p, 127, "join the namespaces of the container's init", "", errno);
        return;
    }
    for (int i = 0; i < 5; ++i) {
        if (p.join.ns_files[i] < 0) continue;
        if (::setns(p.join.ns_files[i], kNamespaceFileTypes[i]) != 0) {
            Message m;
            m << "join the container's " << kNamespaceFileNames[i] << " namespace";
            child_fail(p, 127, m.text, "", errno);
        }
    }
}

bool is_ptmx(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(5, 2);
}

// "/dev/pts/N" without allocation (kernels before 4.13 have no TIOCGPTPEER).
int open_slave_by_number(int master) {
    unsigned number = 0;
    if (::ioctl(master, TIOCGPTN, &number) != 0) return -1;
    char path[32] = "/dev/pts/";
    char digits[12];
    int n = 0;
    do
        digits[n++] = static_cast<char>('0' + number % 10);
    while ((number /= 10) != 0 && n < 11);
    size_t len = std::strlen(path);
    while (n > 0)
        path[len++] = digits[--n];
    path[len] = 0;
    return ::open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

// In the container's mount namespace: a pty pair of its own devpts (the container's /dev/ptmx,
// a symlink or bind of pts/ptmx). The master goes to the console socket; returns the slave.
// The guest controls /dev/ptmx: anything but the pty multiplexer (5:2) is refused before it is
// opened for reading (no FIFO to block on, no device whose open has an effect).
int open_terminal_here(const CommandPlan& p) {
    const TerminalPlan& t = *p.terminal;
    int probe = ::open("/dev/ptmx", O_PATH | O_CLOEXEC);
    if (probe < 0) child_fail(p, 127, "open the container's /dev/ptmx", "", errno);
    bool ptmx = is_ptmx(probe);
    ::close(probe);
    if (!ptmx) child_fail(p, 127, "the container's /dev/ptmx is not the pty multiplexer", "", 0);
    int master = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0) child_fail(p, 127, "open the container's /dev/ptmx", "", errno);
    if (!is_ptmx(master))
        child_fail(p, 127, "the container's /dev/ptmx is not the pty multiplexer", "", 0);
    int unlock = 0;
    if (::ioctl(master, TIOCSPTLCK, &unlock) != 0) child_fail(p, 127, "unlock the pty", "", errno);
    int slave = ::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0) slave = open_slave_by_number(master);
    if (slave < 0) child_fail(p, 127, "open the pty slave", "", errno);
    if (::fchown(slave, t.owner, t.tty_gid) != 0 || ::fchmod(slave, 0620) != 0) {
        // Not fatal: the shell still works on a root-owned tty.
    }
    struct winsize size = {};
    size.ws_row = t.rows;
    size.ws_col = t.cols;
    if (::ioctl(master, TIOCSWINSZ, &size) != 0)
        child_fail(p, 127, "set the pty's window size", "", errno);
    if (!sys::send_fd(t.console_socket, kConsoleTag, master))
        child_fail(p, 127, "send the terminal to the console socket", "", errno);
    ::close(master);
    return slave;
}

// The command, a child of the caller (CLONE_PARENT) in the PID namespace joined above.
pid_t clone_command(const CommandPlan& p, int tty) {
    if (p.join.cgroup_dir >= 0 && p.join.cgroup_v2) {
        // CLONE_PARENT: exit_signal 0; the command signals the caller with the helper's SIGCHLD.
        pid_t pid = sys::clone_into_cgroup(CLONE_PARENT, p.join.cgroup_dir, 0);
        if (pid == 0) command_main(p, tty, false);
        if (pid > 0) return pid;
        // No clone3 (seccomp, kernel < 5.7): the cgroup.procs write does the same.
    }
    // Raw clone: fork() would run the caller's atfork handlers in the helper.
    pid_t pid = sys::clone_process(CLONE_PARENT);
    if (pid == 0) command_main(p, tty, true);
    return pid;
}

[[noreturn]] void helper_main(const CommandPlan& p) {
    // The caller died: start nothing (its error and report pipes are gone anyway).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    join_namespaces(p);
    int tty = p.terminal ? open_terminal_here(p) : -1;
    pid_t pid = clone_command(p, tty);
    if (pid < 0) child_fail(p, 127, "start the command", "", errno);
    if (!sys::write_all(p.report_fd, &pid, sizeof pid)) ::_exit(127);
    ::_exit(0);
}

}  // namespace

pid_t fork_helper(const CommandPlan& plan) {
    pid_t pid = ::fork();
    if (pid == 0) helper_main(plan);
    return pid;
}

}  // namespace ds::container
