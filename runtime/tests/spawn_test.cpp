// sys::spawn: the one way the runtime starts programs (see the contract in sys/spawn.hpp).
#include "sys/spawn.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "sys/process.hpp"

namespace {

using namespace std::chrono_literals;
using ds::sys::FdMapping;
using ds::sys::SpawnOptions;
using ds::sys::unique_fd;

std::pair<unique_fd, unique_fd> make_pipe() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    return {unique_fd(fds[0]), unique_fd(fds[1])};
}

std::string read_all(int fd) {
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

// Runs `sh -c script` with its stdout captured; returns (output, wait status).
std::pair<std::string, int> run_sh(const std::string& script, SpawnOptions o = {}) {
    auto [r, w] = make_pipe();
    o.path = "/bin/sh";
    o.argv = {"sh", "-c", script, "arg0", "first"};
    o.fds.push_back({w.get(), STDOUT_FILENO});
    auto child = ds::sys::spawn(o);
    w.reset();
    std::string out = read_all(r.get());
    return {out, child.wait()};
}

bool gone(pid_t pid) {
    return ds::sys::wait_process_exit(pid, 10s);
}

TEST(SpawnTest, PassesArgvAndTheGivenEnvironmentOnly) {
    SpawnOptions o;
    o.env = std::vector<std::string>{"FOO=bar baz"};
    auto [out, status] = run_sh("echo \"$1|$FOO|${HOME:-unset}\"", o);
    EXPECT_EQ(out, "first|bar baz|unset\n");
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(SpawnTest, ExecFailureNamesTheProgramAndErrno) {
    SpawnOptions o;
    o.path = "/nonexistent/ds-spawn-test-program";
    try {
        ds::sys::spawn(o);
        FAIL() << "spawn of a missing program succeeded";
    } catch (const ds::Error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("/nonexistent/ds-spawn-test-program"), std::string::npos) << what;
        EXPECT_NE(what.find("errno 2"), std::string::npos) << what;
    }
}

TEST(SpawnTest, MapsDescriptorsEvenWhenTheyCrossAndClosesAllOthers) {
    auto [r1, w1] = make_pipe();
    auto [r2, w2] = make_pipe();
    // An inheritable descriptor the child must not get: only close_range/the loop closes it.
    unique_fd leak(::open("/dev/null", O_RDONLY));
    ASSERT_TRUE(leak);
    // w1 -> 4 and w2 -> 3, placed so that a naive dup2 order would clobber one with the other.
    unique_fd a(::fcntl(w1.get(), F_DUPFD_CLOEXEC, 20)), b(::fcntl(w2.get(), F_DUPFD_CLOEXEC, 21));
    SpawnOptions o;
    o.path = "/bin/sh";
    std::string leak_fd = std::to_string(leak.get());
    o.argv = {"sh", "-c",
              "echo one >&4; echo two >&3; if [ -e /proc/self/fd/" + leak_fd +
                  " ]; then echo leaked >&4; fi"};
    o.fds = {{a.get(), 4}, {b.get(), 3}};
    if (leak.get() == 3 || leak.get() == 4) GTEST_SKIP() << "fd numbering collides";
    auto child = ds::sys::spawn(o);
    w1.reset();
    w2.reset();
    a.reset();
    b.reset();
    EXPECT_EQ(read_all(r1.get()), "one\n");
    EXPECT_EQ(read_all(r2.get()), "two\n");
    EXPECT_EQ(child.wait(), 0);
}

TEST(SpawnTest, UnmappedStdioIsDevNull) {
    auto [out, status] = run_sh("readlink /proc/self/fd/0; readlink /proc/self/fd/2");
    EXPECT_EQ(out, "/dev/null\n/dev/null\n");
    EXPECT_EQ(status, 0);
}

TEST(SpawnTest, ResetsSignalDispositionsAndMask) {
    struct sigaction old_term;
    struct sigaction ign = {};
    ign.sa_handler = SIG_IGN;
    ASSERT_EQ(::sigaction(SIGTERM, &ign, &old_term), 0);
    sigset_t usr1, old_mask;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);
    auto [out, status] = run_sh("grep -E '^Sig(Ign|Blk)' /proc/self/status");
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    EXPECT_EQ(out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    EXPECT_EQ(status, 0);
}

TEST(SpawnTest, NewSessionMakesTheChildASessionLeader) {
    SpawnOptions o;
    o.new_session = true;
    auto [out, status] = run_sh("ps -o sid= -p $$ | tr -d ' '; echo $$", o);
    auto nl = out.find('\n');
    ASSERT_NE(nl, std::string::npos) << out;
    EXPECT_EQ(out.substr(0, nl), out.substr(nl + 1, out.size() - nl - 2)) << out;
    EXPECT_EQ(status, 0);
}

TEST(SpawnTest, PreExecHookFailureNamesTheStep) {
    SpawnOptions o;
    o.path = "/bin/true";
    o.pre_exec = [](const void*) -> int {
        errno = EPERM;
        return 7;
    };
    o.step_text = [](int step) -> const char* { return step == 7 ? "step seven" : nullptr; };
    try {
        ds::sys::spawn(o);
        FAIL() << "a failing hook did not fail the spawn";
    } catch (const ds::Error& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("/bin/true"), std::string::npos) << what;
        EXPECT_NE(what.find("step seven"), std::string::npos) << what;
        EXPECT_NE(what.find("errno 1"), std::string::npos) << what;
    }
}

TEST(SpawnTest, PreExecHookRunsInTheChildWithItsArgument) {
    static const char kDir[] = "/";
    SpawnOptions o;
    o.pre_exec = [](const void* arg) -> int {
        return ::chdir(static_cast<const char*>(arg)) == 0 ? -1 : 0;
    };
    o.pre_exec_arg = kDir;
    auto [out, status] = run_sh("pwd", o);
    EXPECT_EQ(out, "/\n");
    EXPECT_EQ(status, 0);
}

TEST(SpawnTest, DestructionKillsAndReapsARunningChild) {
    pid_t pid;
    {
        SpawnOptions o;
        o.path = "/bin/sleep";
        o.argv = {"sleep", "100"};
        auto child = ds::sys::spawn(o);
        pid = child.pid();
        ASSERT_TRUE(ds::sys::process_alive(pid));
    }
    // Reaped, not only killed: no zombie is left behind.
    EXPECT_FALSE(ds::sys::process_alive(pid));
    EXPECT_FALSE(ds::sys::process_start_time(pid).has_value());
}

TEST(SpawnTest, WaitForTimesOutThenSignalEndsTheChild) {
    SpawnOptions o;
    o.path = "/bin/sleep";
    o.argv = {"sleep", "100"};
    auto child = ds::sys::spawn(o);
    EXPECT_FALSE(child.wait_for(20ms).has_value());
    EXPECT_TRUE(child.signal(SIGTERM));
    auto status = child.wait_for(10s);
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(WIFSIGNALED(*status));
    EXPECT_EQ(WTERMSIG(*status), SIGTERM);
    EXPECT_FALSE(child.signal(SIGTERM));  // reaped: nothing to signal
}

// A process that spawns `sleep 100` (dying or not with it) and exits without cleaning up.
pid_t orphan_sleep(bool outlive) {
    auto [r, w] = make_pipe();
    pid_t mid = ::fork();
    if (mid == 0) {
        SpawnOptions o;
        o.path = "/bin/sleep";
        o.argv = {"sleep", "100"};
        o.outlive_parent = outlive;
        auto child = ds::sys::spawn(o);
        pid_t pid = child.release();
        (void)!::write(w.get(), &pid, sizeof pid);
        ::_exit(0);
    }
    w.reset();
    pid_t pid = -1;
    EXPECT_EQ(::read(r.get(), &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
    ::waitpid(mid, nullptr, 0);
    return pid;
}

TEST(SpawnTest, ChildDiesWithItsParentByDefault) {
    pid_t pid = orphan_sleep(false);
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(gone(pid));
}

TEST(SpawnTest, OutliveParentKeepsTheChild) {
    pid_t pid = orphan_sleep(true);
    ASSERT_GT(pid, 0);
    auto start = ds::sys::process_start_time(pid);
    EXPECT_FALSE(ds::sys::wait_process_exit(pid, 100ms));
    ASSERT_TRUE(start.has_value());
    EXPECT_TRUE(ds::sys::signal_process(pid, *start, SIGKILL));
    EXPECT_TRUE(gone(pid));
}

// A server that starts monitors must not collect them as zombies: a detached program is
// init's (or the subreaper's) child from the start.
TEST(SpawnTest, DetachedProgramIsNotOurChildAndLeavesNoZombie) {
    SpawnOptions o;
    o.path = "/bin/sleep";
    o.argv = {"sleep", "100"};
    o.detach = true;
    auto child = ds::sys::spawn(o);
    pid_t pid = child.pid();
    ASSERT_GT(pid, 0);
    EXPECT_NE(std::stoi(ds::sys::proc_status_field(pid, "PPid")), ::getpid());
    errno = 0;
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
    EXPECT_FALSE(child.wait_for(20ms).has_value());
    EXPECT_TRUE(child.signal(SIGTERM));
    EXPECT_TRUE(child.wait_for(10s).has_value());
    EXPECT_TRUE(gone(pid));
}

TEST(SpawnTest, DetachedExecFailureIsStillReported) {
    SpawnOptions o;
    o.path = "/nonexistent/program";
    o.detach = true;
    try {
        ds::sys::spawn(o);
        FAIL() << "spawn of a missing program succeeded";
    } catch (const ds::Error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/program"), std::string::npos)
            << e.what();
    }
}

TEST(ProcessSignalTest, AStaleStartTimeIsNeverSignalled) {
    SpawnOptions o;
    o.path = "/bin/sleep";
    o.argv = {"sleep", "100"};
    auto child = ds::sys::spawn(o);
    auto start = ds::sys::process_start_time(child.pid());
    ASSERT_TRUE(start.has_value());
    EXPECT_FALSE(ds::sys::signal_process(child.pid(), *start + 1, SIGTERM));
    EXPECT_FALSE(child.wait_for(20ms).has_value());  // still running: nothing was sent
    EXPECT_TRUE(ds::sys::signal_process(child.pid(), *start, SIGTERM));
    auto status = child.wait_for(10s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(WIFSIGNALED(*status));
}

}  // namespace
