// enter/run through the library, in this (test) process: a stand-in container (a process in new
// mount, UTS, IPC, net and PID namespaces, the host's files) proves that the caller never joins
// it, that the command does, and that the console socket delivers a working pty master.
#include "container/attach.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "sys/fd.hpp"
#include "sys/seccomp_notify.hpp"

namespace ds::container {
namespace {

std::string link_of(const std::string& path) {
    std::error_code ec;
    return std::filesystem::read_symlink(path, ec).string();
}

// Reads `fd` until `needle` shows up or the deadline passes; returns everything read.
std::string read_until(int fd, const std::string& needle, std::chrono::seconds limit) {
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (text.find(needle) == std::string::npos) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        struct pollfd p = {fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

class AttachTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root: namespaces and setns";
        char dir[] = "/tmp/ds-attach-test-XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        ws_.root = dir;
        ws_.mount_base = ws_.root + "/mnt";
        start_stand_in();
    }

    void TearDown() override {
        hold_.reset();  // the stand-in's init reads EOF and exits
        if (outer_ > 0) {
            if (init_ > 0) ::kill(init_, SIGKILL);
            int status = 0;
            ::waitpid(outer_, &status, 0);
        }
        if (!ws_.root.empty()) std::filesystem::remove_all(ws_.root);
    }

    // outer: unshare(PID), fork init; init (PID 1 of the new namespace): unshare the rest, set
    // a hostname, report, then wait for the test to close `hold`.
    void start_stand_in() {
        int pid_pipe[2], ready_pipe[2], hold_pipe[2];
        ASSERT_EQ(::pipe2(pid_pipe, O_CLOEXEC), 0);
        ASSERT_EQ(::pipe2(ready_pipe, O_CLOEXEC), 0);
        ASSERT_EQ(::pipe2(hold_pipe, O_CLOEXEC), 0);
        outer_ = ::fork();
        ASSERT_GE(outer_, 0);
        if (outer_ == 0) {
            ::close(hold_pipe[1]);
            if (::unshare(CLONE_NEWPID) != 0) ::_exit(1);
            pid_t init = ::fork();
            if (init == 0) {
                if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) != 0 ||
                    ::sethostname("ds-attach-test", 14) != 0)
                    ::_exit(1);
                if (::write(ready_pipe[1], "r", 1) != 1) ::_exit(1);
                char c;
                while (::read(hold_pipe[0], &c, 1) > 0) {
                }
                ::_exit(0);
            }
            if (::write(pid_pipe[1], &init, sizeof init) != sizeof init) ::_exit(1);
            int status = 0;
            ::waitpid(init, &status, 0);
            ::_exit(0);
        }
        ::close(pid_pipe[1]);
        ::close(ready_pipe[1]);
        ::close(hold_pipe[0]);
        hold_.reset(hold_pipe[1]);
        sys::unique_fd pid_read(pid_pipe[0]), ready_read(ready_pipe[0]);
        ASSERT_EQ(::read(pid_read.get(), &init_, sizeof init_), static_cast<ssize_t>(sizeof init_));
        char c = 0;
        ASSERT_EQ(::read(ready_read.get(), &c, 1), 1) << "the stand-in could not unshare";
        state_.name = "attach-test";
        state_.init_pid = init_;
    }

    Workspace ws_;
    ContainerState state_;
    pid_t outer_ = -1, init_ = -1;
    sys::unique_fd hold_;
};

TEST_F(AttachTest, BeforeLinux58TheNamespaceFilesAreJoinedInstead) {
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    sys::unique_fd read_end(out[0]), write_end(out[1]);
    RunRequest request;
    request.argv = {"/bin/sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/uts; hostname"};
    request.stdio = {-1, write_end.get(), -1};
    request.join = JoinMethod::namespace_files;
    Command command = start_command(ws_, state_, request);
    write_end.reset();
    std::string text = read_until(read_end.get(), "\n\n", std::chrono::seconds(20));
    EXPECT_EQ(command.wait(), 0) << command.error();
    std::string expected = link_of("/proc/" + std::to_string(init_) + "/ns/net") + "\n" +
                           link_of("/proc/" + std::to_string(init_) + "/ns/uts") +
                           "\nds-attach-test\n";
    EXPECT_EQ(text, expected);
    EXPECT_NE(link_of("/proc/self/ns/net"), link_of("/proc/" + std::to_string(init_) + "/ns/net"));
}

TEST_F(AttachTest, RunTwiceLeavesTheCallerInItsOwnNamespacesAndSignalState) {
    const char* kinds[] = {"mnt", "net", "uts", "ipc", "pid", "pid_for_children", "cgroup"};
    std::string before[std::size(kinds)];
    for (size_t i = 0; i < std::size(kinds); ++i)
        before[i] = link_of(std::string("/proc/self/ns/") + kinds[i]);
    sigset_t mask_before, mask_after;
    ::sigprocmask(SIG_SETMASK, nullptr, &mask_before);
    struct sigaction pipe_before = {}, pipe_after = {};
    ::sigaction(SIGPIPE, nullptr, &pipe_before);
    std::string init_net = link_of("/proc/" + std::to_string(init_) + "/ns/net");
    ASSERT_NE(init_net, before[1]);

    for (int round = 0; round < 2; ++round) {
        int out[2];
        ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
        sys::unique_fd read_end(out[0]), write_end(out[1]);
        RunRequest request;
        request.argv = {"/bin/sh", "-c", "readlink /proc/self/ns/net; hostname; echo $$"};
        request.stdio = {-1, write_end.get(), -1};
        Command command = start_command(ws_, state_, request);
        write_end.reset();
        EXPECT_EQ(command.error(), "");
        std::string text = read_until(read_end.get(), "\n\n", std::chrono::seconds(20));
        EXPECT_EQ(command.wait(), 0);
        EXPECT_EQ(text.find(init_net + "\nds-attach-test\n"), 0u) << text;
        // In the stand-in's PID namespace: a small PID, not the host's.
        std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
        EXPECT_LT(std::stoi(last), 100) << text;
        for (size_t i = 0; i < std::size(kinds); ++i)
            EXPECT_EQ(link_of(std::string("/proc/self/ns/") + kinds[i]), before[i])
                << "the caller moved into another " << kinds[i] << " namespace";
    }
    ::sigprocmask(SIG_SETMASK, nullptr, &mask_after);
    ::sigaction(SIGPIPE, nullptr, &pipe_after);
    for (int sig = 1; sig < NSIG; ++sig)
        EXPECT_EQ(sigismember(&mask_before, sig), sigismember(&mask_after, sig)) << sig;
    EXPECT_EQ(pipe_before.sa_handler, pipe_after.sa_handler);
}

TEST_F(AttachTest, ThreadsRunCommandsAtTheSameTimeWhileAnotherAllocates) {
    // The server case: several threads start commands while another keeps malloc busy; a child
    // that allocated after fork could deadlock on a lock some thread held at fork time.
    std::atomic<bool> stop{false};
    std::thread allocator([&] {
        while (!stop.load()) {
            std::vector<std::string> junk(64, std::string(512, 'x'));
            junk.clear();
        }
    });
    constexpr int kThreads = 4, kRuns = 5;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kRuns; ++i) {
                RunRequest request;
                request.argv = {"/bin/sh", "-c", "exit " + std::to_string(t + i)};
                if (run_in_container(ws_, state_, request).exit_code == t + i) ++ok;
            }
        });
    for (auto& thread : threads)
        thread.join();
    stop = true;
    allocator.join();
    EXPECT_EQ(ok.load(), kThreads * kRuns);
}

TEST_F(AttachTest, AnUnknownCommandIs127WithItsNameAndAnUnknownUserThrows) {
    RunRequest request;
    request.argv = {"ds-no-such-command-here"};
    AttachResult result = run_in_container(ws_, state_, request);
    EXPECT_EQ(result.exit_code, 127);
    EXPECT_EQ(result.error, "ds-no-such-command-here: command not found");
    request.argv = {"true"};
    request.user = "ds-no-such-user-here";
    EXPECT_THROW(run_in_container(ws_, state_, request), Error);
}

TEST_F(AttachTest, TheConsoleSocketReceivesAWorkingMasterOfTheRequestedSize) {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
    sys::unique_fd ours(pair[0]), theirs(pair[1]);
    EnterRequest request;
    request.rows = 31;
    request.cols = 97;
    Command shell = open_terminal(ws_, state_, request, theirs.get());
    theirs.reset();
    ASSERT_EQ(shell.error(), "");
    sys::unique_fd master;
    EXPECT_EQ(sys::receive_fd(ours.get(), master), 'T');
    ASSERT_TRUE(master);
    std::string line = "stty size; echo got-$((6*7)); exit 3\n";
    ASSERT_EQ(::write(master.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
    std::string text = read_until(master.get(), "got-42", std::chrono::seconds(20));
    EXPECT_NE(text.find("31 97"), std::string::npos) << text;
    EXPECT_NE(text.find("got-42"), std::string::npos) << text;
    auto status = shell.wait_for(std::chrono::seconds(20));
    ASSERT_TRUE(status) << text;
    EXPECT_EQ(*status, 3);
}

TEST_F(AttachTest, ADroppedCommandIsKilledAndReaped) {
    pid_t pid = -1;
    {
        RunRequest request;
        request.argv = {"sleep", "300"};
        Command command = start_command(ws_, state_, request);
        pid = command.pid();
        ASSERT_GT(pid, 0);
        EXPECT_FALSE(command.try_wait());
    }
    errno = 0;
    EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace ds::container
