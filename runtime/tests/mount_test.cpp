// Unit tests for sys/mount's is_mountpoint, in a private mount namespace of a forked child so
// that nothing is ever mounted on the host.
#include "sys/mount.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace ds::sys {
namespace {

// Runs `body` in a child with its own private mount namespace; its exit code: 0 = pass,
// 1..9 = which check failed, 77 = could not set up.
template <typename Body>
int in_private_mount_ns(Body body) {
    pid_t pid = ::fork();
    if (pid < 0) return 77;
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
        ::_exit(body());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

// The bug: is_mountpoint compared st_dev with the parent's, so a bind of a directory onto
// itself (or onto another of the same filesystem) was not seen as a mount point.
TEST(IsMountpoint, SeesABindMountOnTheSameFilesystem) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/ds-mnt-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    std::string dir = tmpl;
    std::string self = dir + "/self", src = dir + "/src", dst = dir + "/dst";
    for (const auto& d : {self, src, dst})
        ASSERT_EQ(::mkdir(d.c_str(), 0755), 0);
    int rc = in_private_mount_ns([&] {
        if (is_mountpoint(self) || is_mountpoint(dst)) return 1;
        if (::mount(self.c_str(), self.c_str(), nullptr, MS_BIND, nullptr) != 0) return 77;
        if (::mount(src.c_str(), dst.c_str(), nullptr, MS_BIND, nullptr) != 0) return 77;
        if (!is_mountpoint(self)) return 2;
        if (!is_mountpoint(dst)) return 3;
        if (is_mountpoint(src)) return 4;  // the source of a bind is not a mount point
        if (!is_mountpoint("/")) return 5;
        return 0;
    });
    for (const auto& d : {self, src, dst})
        ::rmdir(d.c_str());
    ::rmdir(dir.c_str());
    if (rc == 77) GTEST_SKIP() << "cannot make a private mount namespace here";
    EXPECT_EQ(rc, 0);
}

TEST(IsMountpoint, NonDirectoriesAndMissingPathsAreNot) {
    EXPECT_FALSE(is_mountpoint("/nonexistent/ds-path"));
    EXPECT_FALSE(is_mountpoint("/proc/self/exe"));  // a symlink, not followed
}

}  // namespace
}  // namespace ds::sys
