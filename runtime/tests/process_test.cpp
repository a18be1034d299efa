// sys/process: facts about host processes that liveness decisions rest on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "sys/process.hpp"

namespace {

using namespace std::chrono_literals;

// An init that has exited is a zombie until its monitor reaps it; `stop` must not take it for
// a running init (it would escalate to SIGKILL and report "killed").
TEST(ProcessTest, AnExitedUnreapedChildIsAZombieUntilReaped) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(0);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!ds::sys::process_is_zombie(child) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
    EXPECT_TRUE(ds::sys::process_is_zombie(child));
    EXPECT_TRUE(ds::sys::process_start_time(child).has_value());  // still in /proc
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_FALSE(ds::sys::process_is_zombie(child));
}

TEST(ProcessTest, ALiveProcessIsNoZombie) {
    EXPECT_FALSE(ds::sys::process_is_zombie(::getpid()));
}

}  // namespace
