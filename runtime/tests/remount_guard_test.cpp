// Unit tests for container/remount_guard: the pure parts (which calls the filter routes, the
// per-mount equivalent, mountinfo parsing, the host check) and, as root, the whole path in
// throwaway mount namespaces: a "host" process with a private namespace of its own serves a
// "guest" child that loaded the filter, exactly as the monitor serves init.
#include "container/remount_guard.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "sys/seccomp_notify.hpp"

namespace ds::container {
namespace {

// --- pure parts -------------------------------------------------------------------------------

TEST(RemountGuardRule, OnlyRemountsWithoutBindReachTheMonitor) {
    EXPECT_TRUE(is_superblock_remount(MS_REMOUNT));
    EXPECT_TRUE(is_superblock_remount(MS_REMOUNT | MS_RDONLY | MS_NOSUID));
    EXPECT_TRUE(is_superblock_remount(MS_MGC_VAL | MS_REMOUNT | MS_RDONLY));
    EXPECT_FALSE(is_superblock_remount(MS_REMOUNT | MS_BIND | MS_RDONLY));
    EXPECT_FALSE(is_superblock_remount(MS_BIND | MS_REC));
    EXPECT_FALSE(is_superblock_remount(0));
    EXPECT_FALSE(is_superblock_remount(MS_RDONLY | MS_NOSUID));
    EXPECT_FALSE(is_superblock_remount(MS_REC | MS_SHARED));
}

TEST(RemountGuardRule, PerMountEquivalentKeepsOnlyPerMountFlags) {
    EXPECT_EQ(per_mount_remount_flags(MS_REMOUNT | MS_RDONLY),
              static_cast<unsigned long>(MS_REMOUNT | MS_BIND | MS_RDONLY));
    EXPECT_EQ(per_mount_remount_flags(MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                      MS_SYNCHRONOUS | MS_LAZYTIME | MS_SHARED | MS_MANDLOCK),
              static_cast<unsigned long>(MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC |
                                         MS_NOATIME));
    EXPECT_EQ(per_mount_remount_flags(MS_REMOUNT | MS_RELATIME | MS_NODIRATIME),
              static_cast<unsigned long>(MS_REMOUNT | MS_BIND | MS_RELATIME | MS_NODIRATIME));
    // A remount to read-write stays one: every per-mount flag not asked for is cleared.
    EXPECT_EQ(per_mount_remount_flags(MS_REMOUNT),
              static_cast<unsigned long>(MS_REMOUNT | MS_BIND));
}

TEST(RemountGuardMountInfo, ParsesIdDeviceAndUnescapedMountPoint) {
    auto e = parse_mountinfo_line(
        "36 35 98:0 /mnt1 /mnt/my\\040box\\134x rw,noatime master:1 - ext3 /dev/root rw");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->id, 36u);
    EXPECT_EQ(e->major, 98u);
    EXPECT_EQ(e->minor, 0u);
    EXPECT_EQ(e->mount_point, "/mnt/my box\\x");

    e = parse_mountinfo_line("1234 1 0:27 / / rw shared:1 - tmpfs tmpfs rw");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->id, 1234u);
    EXPECT_EQ(e->major, 0u);
    EXPECT_EQ(e->minor, 27u);
    EXPECT_EQ(e->mount_point, "/");

    EXPECT_FALSE(parse_mountinfo_line(""));
    EXPECT_FALSE(parse_mountinfo_line("x 1 0:1 / /"));
    EXPECT_FALSE(parse_mountinfo_line("1 1 01 / /"));
    EXPECT_FALSE(parse_mountinfo_line("1 1 a:b / /"));
    EXPECT_FALSE(parse_mountinfo_line("99999999999999999999 1 0:1 / /"));
}

TEST(RemountGuardMountInfo, HostCheckExemptsOnlyTheContainersOwnImageMount) {
    const char* line = "50 1 7:3 / /data/ds/mnt/box rw - ext4 /dev/loop3 rw";
    // The same superblock at our image mount point: the container's own.
    EXPECT_FALSE(host_line_shares_superblock(line, false, 7, 3, "/data/ds/mnt/box"));
    // Elsewhere (a directory rootfs: no image): the host's.
    EXPECT_TRUE(host_line_shares_superblock(line, false, 7, 3, ""));
    EXPECT_TRUE(host_line_shares_superblock(line, false, 7, 3, "/data/ds/mnt/other"));
    // Another superblock: says nothing.
    EXPECT_FALSE(host_line_shares_superblock(line, false, 7, 4, ""));
    EXPECT_FALSE(host_line_shares_superblock(line, false, 8, 3, ""));
    // Cut short: the mount point may be longer than what we saw, so it is the host's.
    EXPECT_TRUE(host_line_shares_superblock(line, true, 7, 3, "/data/ds/mnt/box"));
    EXPECT_FALSE(host_line_shares_superblock("garbage", false, 7, 3, ""));
}

TEST(RemountGuardPath, RelativeTargetsAreTakenFromTheCallersCwd) {
    EXPECT_EQ(caller_target_path("/srv", "/mnt"), "/mnt");
    EXPECT_EQ(caller_target_path("/srv", "data"), "/srv/data");
    EXPECT_EQ(caller_target_path("/", "data"), "/data");
    EXPECT_EQ(caller_target_path("/srv/", "."), "/srv/.");
    EXPECT_EQ(caller_target_path("", "x"), "/x");
}

// --- as root, in throwaway namespaces -----------------------------------------------------------

bool can_run_namespaced() {
    return ::geteuid() == 0;
}

int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs `body` in a child with a private mount namespace of its own (the test's "host", so
// nothing reaches the real host); returns its exit code.
template <typename F>
int in_private_host(F body) {
    pid_t pid = ::fork();
    if (pid == 0) {
        if (::unshare(CLONE_NEWNS) != 0 ||
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
            ::_exit(90);
        int rc = 91;
        try {
            rc = body();
        } catch (...) {
            rc = 92;
        }
        ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return exit_code(status);
}

// In the test's host: starts a guest that unshares its mount namespace, runs `setup`, loads the
// guard and runs `act`; serves its remounts as the monitor does. Returns the guest's exit code.
template <typename Setup, typename Act>
int serve_guest(const std::string& image_mount, Setup setup, Act act) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return 80;
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(sv[0]);
        if (::unshare(CLONE_NEWNS) != 0) ::_exit(81);
        int rc = setup();
        if (rc != 0) ::_exit(rc);
        try {
            Config config;
            install_remount_guard(config, sv[1]);
        } catch (...) {
            ::_exit(82);
        }
        ::_exit(act());
    }
    ::close(sv[1]);
    sys::unique_fd channel(sv[0]);
    struct pollfd ready = {channel.get(), POLLIN, 0};
    if (::poll(&ready, 1, 5000) != 1) return 83;
    RemountGuard guard(image_mount);
    guard.adopt(channel.get());
    if (guard.poll_fd() < 0) return 84;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
        int fd = guard.poll_fd();
        struct pollfd p = {fd, POLLIN, 0};
        if (fd >= 0 && ::poll(&p, 1, 20) > 0)
            guard.on_ready(p.revents);
        else if (fd < 0)
            ::usleep(20000);
        int status = 0;
        pid_t done;
        while ((done = ::waitpid(-1, &status, WNOHANG)) > 0) {
            if (guard.on_exit(done, status)) continue;
            if (done == pid) return exit_code(status);
        }
    }
    ::kill(pid, SIGKILL);
    return 85;
}

std::string make_temp_dir() {
    char dir[] = "/tmp/ds-remount-test.XXXXXX";
    return ::mkdtemp(dir) ? dir : "";
}

uint64_t fs_size(const std::string& path) {
    struct statfs st;
    if (::statfs(path.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_blocks) * static_cast<uint64_t>(st.f_bsize);
}

bool read_only(const std::string& path) {
    struct statvfs st;
    return ::statvfs(path.c_str(), &st) == 0 && (st.f_flag & ST_RDONLY);
}

class RemountGuardLive : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!can_run_namespaced()) GTEST_SKIP() << "needs root";
        if (!sys::seccomp_notify_supported()) GTEST_SKIP() << "no seccomp user notification";
        dir_ = make_temp_dir();
        ASSERT_FALSE(dir_.empty());
    }
    void TearDown() override {
        if (!dir_.empty()) ::rmdir(dir_.c_str());
    }
    std::string dir_;
};

TEST_F(RemountGuardLive, TheGuestsOwnTmpfsIsRemountedExactly) {
    const std::string dir = dir_;
    int rc = in_private_host([&] {
        return serve_guest(
            "",
            [&] {
                // Mounted in the guest's namespace only: the guest's own filesystem.
                return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") == 0 ? 0 : 10;
            },
            [&] {
                if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT, "size=2m") != 0) return 11;
                return fs_size(dir) == 2u << 20 ? 0 : 12;
            });
    });
    EXPECT_EQ(rc, 0);
}

TEST_F(RemountGuardLive, AHostSuperblockIsRemountedPerMountOnly) {
    const std::string dir = dir_;
    int rc = in_private_host([&] {
        // The test's host mounts it; the guest sees a copy of that mount: one superblock.
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) return 20;
        int guest = serve_guest(
            "", [] { return 0; },
            [&] {
                // Relative to the cwd, as umountroot-like scripts may do.
                if (::chdir(dir.c_str()) != 0) return 21;
                if (::mount(nullptr, ".", nullptr, MS_REMOUNT | MS_RDONLY, "size=3m") != 0)
                    return 22;
                if (::chdir("/") != 0) return 21;
                if (!read_only(dir)) return 23;           // the guest's mount is read-only now
                if (fs_size(dir) != 1u << 20) return 24;  // superblock options untouched
                return 0;
            });
        if (guest != 0) return guest;
        if (read_only(dir)) return 25;  // the host's mount of it is not
        std::string probe = dir + "/written-by-host";
        int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) return 26;
        ::close(fd);
        return 0;
    });
    EXPECT_EQ(rc, 0);
}

TEST_F(RemountGuardLive, TheContainersImageMountCountsAsItsOwn) {
    const std::string dir = dir_;
    int rc = in_private_host([&] {
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") != 0) return 30;
        // Told that `dir` is the container's image mount point: the exact remount happens.
        return serve_guest(
            dir, [] { return 0; },
            [&] {
                if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT, "size=2m") != 0) return 31;
                return fs_size(dir) == 2u << 20 ? 0 : 32;
            });
    });
    EXPECT_EQ(rc, 0);
}

TEST_F(RemountGuardLive, ACallerWithoutCapSysAdminIsRefused) {
    const std::string dir = dir_;
    int rc = in_private_host([&] {
        return serve_guest(
            "", [&] { return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") == 0 ? 0 : 40; },
            [&] {
                // The filter runs before the kernel's own check; the guard must do that check.
                if (::setresuid(65534, 65534, 65534) != 0) return 41;
                if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT, "size=2m") == 0) return 42;
                if (errno != EPERM) return 43;
                return fs_size(dir) == 1u << 20 ? 0 : 44;
            });
    });
    EXPECT_EQ(rc, 0);
}

TEST_F(RemountGuardLive, FspickIsRefusedAndBindRemountsPassUntouched) {
    const std::string dir = dir_;
    int rc = in_private_host([&] {
        return serve_guest(
            "", [&] { return ::mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=1m") == 0 ? 0 : 50; },
            [&] {
#ifdef SYS_fspick
                if (::syscall(SYS_fspick, AT_FDCWD, dir.c_str(), 0) >= 0 || errno != ENOSYS)
                    return 51;
#endif
                // Per-mount remounts never reach the monitor.
                if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY,
                            nullptr) != 0)
                    return 52;
                return read_only(dir) ? 0 : 53;
            });
    });
    EXPECT_EQ(rc, 0);
}

TEST(RemountGuardDeny, EnterAndRunProcessesGetEperm) {
    if (!can_run_namespaced()) GTEST_SKIP() << "needs root";
    pid_t pid = ::fork();
    if (pid == 0) {
        try {
            load_remount_deny_filter(Config{});
        } catch (...) {
            ::_exit(60);
        }
        // A path that does not exist: without the filter the kernel says ENOENT.
        const char* missing = "/nonexistent/ds-remount-test";
        if (::mount(nullptr, missing, nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0 ||
            errno != EPERM)
            ::_exit(61);
        if (::mount(nullptr, missing, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) == 0 ||
            errno != ENOENT)
            ::_exit(62);
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_EQ(exit_code(status), 0);
}

TEST(RemountGuardDeny, NoseccompLoadsNothing) {
    if (!can_run_namespaced()) GTEST_SKIP() << "needs root";
    pid_t pid = ::fork();
    if (pid == 0) {
        Config config;
        config.privileged = "noseccomp";
        load_remount_deny_filter(config);
        const char* missing = "/nonexistent/ds-remount-test";
        if (::mount(nullptr, missing, nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0 ||
            errno != ENOENT)
            ::_exit(70);
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_EQ(exit_code(status), 0);
}

}  // namespace
}  // namespace ds::container
