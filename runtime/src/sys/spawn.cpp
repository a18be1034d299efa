#include "sys/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "core/error.hpp"
#include "sys/process.hpp"
#include "sys/syscall_error.hpp"

extern char** environ;

namespace ds::sys {
namespace {

// What the child reports when it cannot exec: where it stopped, the hook's step, errno.
enum Stage : int { kStageFds = 1, kStageSession, kStageHook, kStageExec, kStageDetach };
struct Report {
    int stage;
    int step;
    int err;
};

// Everything the child reads, prepared before fork: the child only makes syscalls on it.
struct ChildPlan {
    const char* path;
    char* const* argv;
    char* const* envp;  // nullptr: environ as it is at the fork
    const FdMapping* fds;
    size_t fd_count;
    int* scratch;   // fd_count ints: the descriptors parked above every target
    int base;       // above every target and 2
    int report_fd;  // close-on-exec write end of the errno pipe
    int pid_fd;     // detach: close-on-exec write end that carries the grandchild's PID
    pid_t parent;
    bool inherit_stdio, new_session, reset_signals, outlive_parent, detach;
    int death_signal;
    PreExecHook pre_exec;
    const void* pre_exec_arg;
    sigset_t parent_mask;
};

[[noreturn]] void child_fail(int report_fd, int stage, int step) {
    Report r = {stage, step, errno};
    while (::write(report_fd, &r, sizeof r) < 0 && errno == EINTR) {
    }
    ::_exit(127);
}

bool is_target(const ChildPlan& p, int fd) {
    for (size_t i = 0; i < p.fd_count; ++i)
        if (p.fds[i].child_fd == fd) return true;
    return false;
}

// Closes [from, to] (inclusive); close_range where the kernel has it (5.9).
void close_fds(int from, int to) {
    if (from > to) return;
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, static_cast<unsigned>(from), static_cast<unsigned>(to), 0u) == 0)
        return;
#endif
    struct rlimit lim;
    long last = to;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        static_cast<long>(lim.rlim_cur) - 1 < last)
        last = static_cast<long>(lim.rlim_cur) - 1;
    if (last > (1 << 20)) last = 1 << 20;
    for (long fd = from; fd <= last; ++fd)
        ::close(static_cast<int>(fd));
}

// Installs the fd map; returns the (moved) report fd, or -1 with errno set.
int set_up_fds(const ChildPlan& p) {
    // Park every source above all targets first, so installing one never clobbers another.
    for (size_t i = 0; i < p.fd_count; ++i) {
        p.scratch[i] = ::fcntl(p.fds[i].parent_fd, F_DUPFD_CLOEXEC, p.base);
        if (p.scratch[i] < 0) return -1;
    }
    int report = ::fcntl(p.report_fd, F_DUPFD_CLOEXEC, p.base);
    if (report < 0) return -1;
    for (size_t i = 0; i < p.fd_count; ++i)  // dup2 clears close-on-exec on the target
        if (::dup2(p.scratch[i], p.fds[i].child_fd) < 0) return -1;
    if (!p.inherit_stdio) {
        for (int fd = 0; fd < 3; ++fd) {
            if (is_target(p, fd)) continue;
            int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
            if (null < 0) return -1;
            if (null == fd) {
                if (::fcntl(fd, F_SETFD, 0) != 0) return -1;
                continue;
            }
            if (::dup2(null, fd) < 0) return -1;
            ::close(null);
        }
    }
    for (int fd = 3; fd < p.base; ++fd)  // 0-2 are mapped, /dev/null or inherited by now
        if (!is_target(p, fd)) ::close(fd);
    close_fds(p.base, report - 1);
    close_fds(report + 1, ~0u >> 1);
    return report;
}

// detach: forks again and ends the middle process, so the program's parent becomes init (or
// the nearest subreaper) at once and a long-lived caller never holds it as a zombie.
void detach_from_parent(const ChildPlan& p) {
    pid_t grandchild = ::fork();
    if (grandchild < 0) child_fail(p.report_fd, kStageDetach, 0);
    if (grandchild == 0) return;
    while (::write(p.pid_fd, &grandchild, sizeof grandchild) < 0 && errno == EINTR) {
    }
    ::_exit(0);
}

[[noreturn]] void run_child(const ChildPlan& p) {
    int report = p.report_fd;
    if (p.detach) detach_from_parent(p);
    if (p.reset_signals) {
        struct sigaction dfl;
        std::memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; ++sig)
            if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);  // 32, 33 fail
    }
    if (p.new_session && ::setsid() < 0) child_fail(report, kStageSession, 0);
    if (!p.outlive_parent) {
        ::prctl(PR_SET_PDEATHSIG, p.death_signal);
        // The parent may have died before prctl: then nobody would ever send the signal.
        if (::getppid() != p.parent) ::_exit(127);
    }
    report = set_up_fds(p);
    if (report < 0) child_fail(p.report_fd, kStageFds, 0);
    if (p.pre_exec) {
        int step = p.pre_exec(p.pre_exec_arg);
        if (step >= 0) child_fail(report, kStageHook, step);
    }
    sigset_t mask;
    if (p.reset_signals)
        sigemptyset(&mask);
    else
        mask = p.parent_mask;
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    ::execve(p.path, p.argv, p.envp ? p.envp : environ);
    child_fail(report, kStageExec, 0);
}

Report read_report(int fd) {
    Report r = {0, 0, 0};
    size_t got = 0;
    auto* bytes = reinterpret_cast<char*>(&r);
    while (got < sizeof r) {
        ssize_t n = ::read(fd, bytes + got, sizeof r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    if (got != sizeof r) return {0, 0, 0};  // closed by a successful exec
    return r;
}

std::string failure_text(const SpawnOptions& o, const Report& r) {
    std::string why = errno_text(r.err) + " (errno " + std::to_string(r.err) + ")";
    switch (r.stage) {
        case kStageFds:
            return "cannot pass descriptors to " + o.path + ": " + why;
        case kStageSession:
            return "cannot start a session for " + o.path + ": " + why;
        case kStageDetach:
            return "cannot detach " + o.path + " from this process: " + why;
        case kStageHook: {
            const char* step = o.step_text ? o.step_text(r.step) : nullptr;
            return "cannot run " + o.path + ": " +
                   (step ? std::string(step) : "pre-exec step " + std::to_string(r.step)) + ": " +
                   why;
        }
        default:
            return "cannot run " + o.path + ": " + why;
    }
}

int waitpid_retry(pid_t pid, int flags) {
    int status = 0;
    pid_t got;
    while ((got = ::waitpid(pid, &status, flags)) < 0 && errno == EINTR) {
    }
    if (got < 0) return -1;
    return got == 0 ? -2 : status;  // -2: WNOHANG and still running
}

}  // namespace

Child::Child(Child&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      detached_(std::exchange(other.detached_, false)) {}

Child& Child::operator=(Child&& other) noexcept {
    if (this != &other) {
        reset();
        pid_ = std::exchange(other.pid_, -1);
        pidfd_ = std::move(other.pidfd_);
        detached_ = std::exchange(other.detached_, false);
    }
    return *this;
}

Child::~Child() {
    reset();
}

void Child::reset() {
    if (pid_ > 0) {
        signal(SIGKILL);
        if (detached_)
            wait_for(std::chrono::seconds(5));  // its new parent reaps it
        else
            waitpid_retry(pid_, 0);
    }
    pid_ = -1;
    pidfd_.reset();
}

int Child::wait() {
    if (pid_ <= 0) fail_runtime("wait for a child that is not running");
    if (detached_) {
        while (!wait_process_exit(pid_, std::chrono::hours(1))) {
        }
        pid_ = -1;
        pidfd_.reset();
        return 0;
    }
    int status = waitpid_retry(pid_, 0);
    if (status == -1) fail_errno("waitpid " + std::to_string(pid_));
    pid_ = -1;
    pidfd_.reset();
    return status;
}

std::optional<int> Child::wait_for(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) fail_runtime("wait for a child that is not running");
    if (detached_) {
        bool ended =
            pidfd_ ? wait_readable(pidfd_.get(), timeout) : wait_process_exit(pid_, timeout);
        if (!ended) return std::nullopt;
        pid_ = -1;
        pidfd_.reset();
        return 0;  // reaped by its parent, not us: the status is not ours to know
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = waitpid_retry(pid_, WNOHANG);
        if (status == -1) fail_errno("waitpid " + std::to_string(pid_));
        if (status != -2) {
            pid_ = -1;
            pidfd_.reset();
            return status;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (pidfd_) {
            wait_readable(pidfd_.get(), left);  // readable once the child has exited
        } else {
            std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(5)));
        }
    }
}

bool Child::signal(int sig) {
    if (pid_ <= 0) return false;
    if (pidfd_) return send_signal(pidfd_.get(), sig);
    if (detached_) return false;    // without a pidfd its PID may be another process's by now
    return ::kill(pid_, sig) == 0;  // not reaped yet: the PID is still ours
}

pid_t Child::release() {
    pidfd_.reset();
    return std::exchange(pid_, -1);
}

Child spawn(const SpawnOptions& o) {
    // Everything the child touches is built here, before the fork.
    std::vector<std::string> argv_strings = o.argv.empty() ? std::vector{o.path} : o.argv;
    std::vector<char*> argv;
    for (auto& a : argv_strings)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = o.env.value_or(std::vector<std::string>{});
    std::vector<char*> envp;
    for (auto& e : env_strings)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<int> scratch(o.fds.size() + 1);
    int base = 3;
    for (const auto& m : o.fds) {
        if (m.parent_fd < 0 || m.child_fd < 0)
            fail_usage("spawn " + o.path + ": bad descriptor mapping " +
                       std::to_string(m.parent_fd) + " -> " + std::to_string(m.child_fd));
        base = std::max(base, m.child_fd + 1);
    }
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail_errno("pipe2 for " + o.path);
    unique_fd report_read(pipe_fds[0]), report_write(pipe_fds[1]);
    unique_fd pid_read, pid_write;
    if (o.detach) {
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) fail_errno("pipe2 for " + o.path);
        pid_read.reset(pipe_fds[0]);
        pid_write.reset(pipe_fds[1]);
    }

    ChildPlan plan = {};
    plan.path = o.path.c_str();
    plan.argv = argv.data();
    plan.envp = o.env ? envp.data() : nullptr;
    plan.fds = o.fds.data();
    plan.fd_count = o.fds.size();
    plan.scratch = scratch.data();
    plan.base = base;
    plan.report_fd = report_write.get();
    plan.pid_fd = pid_write.get();
    plan.parent = ::getpid();
    plan.inherit_stdio = o.inherit_stdio;
    plan.new_session = o.new_session;
    plan.reset_signals = o.reset_signals;
    plan.outlive_parent = o.outlive_parent || o.detach;
    plan.detach = o.detach;
    plan.death_signal = o.death_signal;
    plan.pre_exec = o.pre_exec;
    plan.pre_exec_arg = o.pre_exec_arg;

    // No handler of ours may run in the child before it resets the dispositions.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, &plan.parent_mask);
    pid_t pid = ::fork();
    if (pid == 0) run_child(plan);
    int fork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &plan.parent_mask, nullptr);
    if (pid < 0) fail_errno("fork for " + o.path, fork_errno);

    Child child;
    if (o.detach) {
        // The middle process writes the program's PID and ends at once.
        waitpid_retry(pid, 0);
        pid_write.reset();
        pid_t grandchild = 0;
        ssize_t n;
        while ((n = ::read(pid_read.get(), &grandchild, sizeof grandchild)) < 0 && errno == EINTR) {
        }
        if (n == sizeof grandchild && grandchild > 0)
            child = Child(grandchild, pidfd_open(grandchild), true);
    } else {
        child = Child(pid, pidfd_open(pid));  // owns the process from here on, even if we throw
    }
    report_write.reset();
    Report r = read_report(report_read.get());
    if (r.stage != 0) {
        if (child) child.wait();
        fail_runtime(failure_text(o, r));
    }
    if (!child) fail_runtime("cannot run " + o.path + ": the detached process did not start");
    return child;
}

std::string describe_wait_status(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    return "wait status " + std::to_string(status);
}

}  // namespace ds::sys
