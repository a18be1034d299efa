// Tests for container/image and sys/loop. The pure parts (superblock magic, e2fsck verdicts,
// mountinfo, mount data, loop names) run anywhere. The ImageIntegration suite runs as root with
// real loop devices and real ext4 images made by mkfs.ext4 in a temp dir; its TearDown fails the
// test when a loop device still backs one of the test's files or a mount under its temp dir is
// left, then cleans up whatever the test left.
#include "container/image.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/loop.hpp"
#include "sys/mount.hpp"
#include "sys/path_lookup.hpp"
#include "test_support.hpp"

namespace ds::container {
namespace {

using sys::unique_fd;

constexpr off_t kImageSize = 64 << 20;

// The exit code and message of what `body` throws (ds::Error), or {-1, ""} when it does not.
template <typename Body>
std::pair<int, std::string> error_of(Body body) {
    try {
        body();
    } catch (const Error& e) {
        return {e.exit_code(), e.what()};
    }
    return {-1, ""};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// --- superblock magic ---------------------------------------------------------------------------

std::string blank_head() {
    return std::string(0x10048, '\0');
}

TEST(ImageSuperblock, FindsTheExtMagicAt0x438) {
    std::string head = blank_head();
    head[0x438] = '\x53';
    head[0x439] = '\xEF';
    EXPECT_EQ(identify_superblock(head), ImageFs::ext4);
    // A file just long enough for the ext superblock is enough.
    EXPECT_EQ(identify_superblock(head.substr(0, 0x43A)), ImageFs::ext4);
}

TEST(ImageSuperblock, FindsTheBtrfsMagicAt0x10040) {
    std::string head = blank_head();
    head.replace(0x10040, 8, "_BHRfS_M");
    EXPECT_EQ(identify_superblock(head), ImageFs::btrfs);
}

TEST(ImageSuperblock, RejectsZerosShortFilesAndByteSwappedMagic) {
    EXPECT_EQ(identify_superblock(blank_head()), std::nullopt);
    EXPECT_EQ(identify_superblock(""), std::nullopt);
    EXPECT_EQ(identify_superblock(std::string(0x439, '\0')), std::nullopt);
    std::string swapped = blank_head();
    swapped[0x438] = '\xEF';
    swapped[0x439] = '\x53';
    EXPECT_EQ(identify_superblock(swapped), std::nullopt);
    std::string truncated_btrfs = blank_head();
    truncated_btrfs.replace(0x10040, 8, "_BHRfS_M");
    EXPECT_EQ(identify_superblock(truncated_btrfs.substr(0, 0x10044)), std::nullopt);
}

TEST(ImageSuperblock, NamesTheFilesystems) {
    EXPECT_STREQ(to_string(ImageFs::ext4), "ext4");
    EXPECT_STREQ(to_string(ImageFs::btrfs), "btrfs");
}

// --- e2fsck verdicts ----------------------------------------------------------------------------

TEST(ImageFsck, CleanIsAnEmptyReport) {
    EXPECT_EQ(e2fsck_verdict("/i.img", 0, "/i.img: clean, 11/16384 files, 9513/65536 blocks\n"),
              "");
}

TEST(ImageFsck, CorrectedErrorsAreTheReport) {
    std::string out =
        "/i.img was not cleanly unmounted, check forced.\n"
        "/i.img: 11/16384 files (0.0% non-contiguous), 9513/65536 blocks\n";
    EXPECT_EQ(e2fsck_verdict("/i.img", 1, out), out.substr(0, out.size() - 1));
    EXPECT_EQ(e2fsck_verdict("/i.img", 2, out), out.substr(0, out.size() - 1));
    EXPECT_EQ(e2fsck_verdict("/i.img", 1, ""), "e2fsck corrected errors");
}

TEST(ImageFsck, UncorrectedErrorsAskForAManualRepair) {
    std::string out =
        "/i.img was not cleanly unmounted, check forced.\n"
        "/i.img: Root inode is not a directory.  \n\n"
        "/i.img: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n"
        "\t(i.e., without -a or -p options)\n";
    auto [code, message] = error_of([&] { e2fsck_verdict("/i.img", 4, out); });
    EXPECT_EQ(code, kExitUsage);
    EXPECT_EQ(message,
              "image /i.img needs a manual repair: Root inode is not a directory.; run: e2fsck -f "
              "/i.img");
    // e2fsck -n aborting on what it may not fix exits 12: still a repair for the user.
    EXPECT_EQ(error_of([&] { e2fsck_verdict("/i.img", 12, out); }).first, kExitUsage);
}

TEST(ImageFsck, OperationalErrorsAreRuntimeErrorsWithTheOutput) {
    std::string out =
        "e2fsck: Superblock checksum does not match superblock while trying to open\n";
    for (int code : {8, 16, 32, 128, 4 | 32}) {
        auto [exit_code, message] = error_of([&] { e2fsck_verdict("/i.img", code, out); });
        EXPECT_EQ(exit_code, kExitRuntime) << code;
        EXPECT_TRUE(contains(message, "Superblock checksum does not match")) << message;
        EXPECT_TRUE(contains(message, "exit " + std::to_string(code))) << message;
    }
}

TEST(ImageFsck, ProblemLineSkipsBoilerplateAndPrefixes) {
    // The prefix is the filesystem's label when it has one.
    EXPECT_EQ(e2fsck_problem("dsroot: Inode 12 has illegal block(s).  \n", "/i.img"),
              "Inode 12 has illegal block(s).");
    EXPECT_EQ(e2fsck_problem("e2fsck 1.47.0 (5-Feb-2023)\n"
                             "i.img contains a file system with errors, check forced.\n"
                             "Pass 1: Checking inodes, blocks, and sizes\n"
                             "Root inode is not a directory.  Clear? no\n",
                             "i.img"),
              "Root inode is not a directory.");
    EXPECT_EQ(e2fsck_problem("/i.img: UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.\n", "/i.img"),
              "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY.");
    EXPECT_EQ(e2fsck_problem("\n\n", "/i.img"), "e2fsck found errors it cannot fix on its own");
}

TEST(ImageFsck, TheCommandQuotesAPathThatNeedsIt) {
    auto message = error_of([] { e2fsck_verdict("/my images/it's.img", 4, "x: bad\n"); }).second;
    EXPECT_TRUE(contains(message, "run: e2fsck -f '/my images/it'\\''s.img'")) << message;
}

// --- mount data and mountinfo -------------------------------------------------------------------

TEST(ImageMountData, Ext4GetsErrorsRemountRoBtrfsNothing) {
    EXPECT_EQ(image_mount_data(ImageFs::ext4, ""), "nodelalloc,errors=remount-ro,init_itable=0");
    EXPECT_EQ(image_mount_data(ImageFs::btrfs, ""), "");
}

TEST(ImageMountData, AddsTheSelinuxContextQuotedWhenItHasCommas) {
    EXPECT_EQ(image_mount_data(ImageFs::btrfs, "u:object_r:vold_data_file:s0"),
              "context=u:object_r:vold_data_file:s0");
    EXPECT_EQ(image_mount_data(ImageFs::ext4, "u:object_r:x:s0:c1,c2"),
              "nodelalloc,errors=remount-ro,init_itable=0,context=\"u:object_r:x:s0:c1,c2\"");
}

constexpr std::string_view kMountinfo =
    "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "30 22 7:3 / /mnt/Droidspaces/deb rw,noatime shared:9 - ext4 /dev/loop3 rw,errors=remount-ro\n"
    "31 30 0:40 / /mnt/Droidspaces/deb rw master:2 - tmpfs tmpfs rw\n"
    "32 22 0:51 / /mnt/with\\040space rw - btrfs /dev/block/loop12 rw\n"
    "garbage line\n"
    "33 22 x:y / /bad rw - ext4 /dev/x rw\n";

TEST(ImageMountinfo, ParsesDeviceTypeAndSource) {
    auto mounts = parse_mountinfo(kMountinfo);
    ASSERT_EQ(mounts.size(), 4u);
    EXPECT_EQ(mounts[1].major, 7u);
    EXPECT_EQ(mounts[1].minor, 3u);
    EXPECT_EQ(mounts[1].mount_point, "/mnt/Droidspaces/deb");
    EXPECT_EQ(mounts[1].fstype, "ext4");
    EXPECT_EQ(mounts[1].source, "/dev/loop3");
    EXPECT_EQ(mounts[3].mount_point, "/mnt/with space");
    EXPECT_EQ(mounts[3].source, "/dev/block/loop12");
}

TEST(ImageMountinfo, TheTopmostMountWins) {
    auto mounts = parse_mountinfo(kMountinfo);
    auto top = top_mount_at(mounts, "/mnt/Droidspaces/deb");
    ASSERT_TRUE(top);
    EXPECT_EQ(top->fstype, "tmpfs");
    EXPECT_FALSE(top_mount_at(mounts, "/mnt/Droidspaces"));
    EXPECT_FALSE(top_mount_at(mounts, "/mnt/Droidspaces/deb/"));
}

TEST(ImageLoopName, ParsesLoopDeviceNames) {
    EXPECT_EQ(sys::parse_loop_name("loop0"), 0);
    EXPECT_EQ(sys::parse_loop_name("/dev/loop12"), 12);
    EXPECT_EQ(sys::parse_loop_name("/dev/block/loop7"), 7);
    EXPECT_EQ(sys::parse_loop_name("loop"), std::nullopt);
    EXPECT_EQ(sys::parse_loop_name("loop-control"), std::nullopt);
    EXPECT_EQ(sys::parse_loop_name("loop0p1"), std::nullopt);
    EXPECT_EQ(sys::parse_loop_name("/dev/vda"), std::nullopt);
    EXPECT_EQ(sys::parse_loop_name("loop12345678901"), std::nullopt);
}

// --- helpers for tests on real files ------------------------------------------------------------

using ds::test::TempDir;

void write_at(const std::string& path, off_t offset, const std::string& bytes) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd) << path;
    ASSERT_EQ(::pwrite(fd.get(), bytes.data(), bytes.size(), offset),
              static_cast<ssize_t>(bytes.size()));
}

void make_sparse_file(const std::string& path, off_t size) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd) << path;
    ASSERT_EQ(::ftruncate(fd.get(), size), 0);
}

bool have_tool(const std::string& name) {
    return std::system(("command -v " + name + " >/dev/null 2>&1").c_str()) == 0;
}

// stdout of a shell command (test-only: fixed commands on our temp paths).
std::string command_output(const std::string& command) {
    std::string out;
    if (FILE* pipe = ::popen(command.c_str(), "r")) {
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0)
            out.append(buf, n);
        ::pclose(pipe);
    }
    return out;
}

TEST(ImageDetect, NamesTheFileOfAnUnknownFilesystem) {
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    std::string zeros = dir.path() + "/zeros.img";
    make_sparse_file(zeros, 1 << 20);
    auto [code, message] = error_of([&] { detect_image_fs(zeros); });
    EXPECT_EQ(code, kExitUsage);
    EXPECT_TRUE(contains(message, zeros)) << message;
    EXPECT_TRUE(contains(message, "only ext4 and btrfs")) << message;

    std::string tiny = dir.path() + "/tiny.img";
    make_sparse_file(tiny, 100);
    EXPECT_EQ(error_of([&] { detect_image_fs(tiny); }).first, kExitUsage);

    auto missing = error_of([&] { detect_image_fs(dir.path() + "/missing.img"); });
    EXPECT_EQ(missing.first, kExitRuntime);
    EXPECT_TRUE(contains(missing.second, "missing.img")) << missing.second;
}

TEST(ImageDetect, ReadsTheMagicOfExtAndBtrfsFiles) {
    TempDir dir;
    ASSERT_FALSE(dir.path().empty());
    std::string ext = dir.path() + "/ext.img";
    make_sparse_file(ext, 1 << 20);
    write_at(ext, 0x438, "\x53\xEF");
    EXPECT_EQ(detect_image_fs(ext), ImageFs::ext4);

    std::string btrfs = dir.path() + "/btrfs.img";
    make_sparse_file(btrfs, 1 << 20);
    write_at(btrfs, 0x10040, "_BHRfS_M");
    bool kernel_btrfs = contains(sys::read_file("/proc/filesystems"), "\tbtrfs\n");
    if (kernel_btrfs) {
        EXPECT_EQ(detect_image_fs(btrfs), ImageFs::btrfs);
    } else {
        auto message = error_of([&] { detect_image_fs(btrfs); }).second;
        EXPECT_TRUE(contains(message, "no btrfs")) << message;
    }
    // check_image leaves btrfs alone.
    EXPECT_EQ(check_image(btrfs, ImageFs::btrfs), "");
}

TEST(ImageTools, FindsTheHostE2fsck) {
    std::string e2fsck = sys::find_program("e2fsck");
    if (!have_tool("e2fsck") && !sys::path_exists("/sbin/e2fsck") &&
        !sys::path_exists("/usr/sbin/e2fsck"))
        GTEST_SKIP() << "no e2fsck on this host";
    ASSERT_FALSE(e2fsck.empty());
    EXPECT_EQ(e2fsck.front(), '/');
    EXPECT_EQ(::access(e2fsck.c_str(), X_OK), 0) << e2fsck;
}

// --- integration: real loop devices and ext4 images (root) --------------------------------------

std::vector<std::string> loops_backing_under(const std::string& prefix) {
    std::vector<std::string> found;
    for (int n : sys::loop_devices())
        if (auto backing = sys::loop_backing_file(n); backing && backing->rfind(prefix, 0) == 0)
            found.push_back("loop" + std::to_string(n) + "=" + *backing);
    return found;
}

std::vector<std::string> mounts_under(const std::string& prefix) {
    std::vector<std::string> found;
    for (const auto& m : parse_mountinfo(sys::read_file("/proc/self/mountinfo")))
        if (m.mount_point.rfind(prefix, 0) == 0) found.push_back(m.mount_point);
    return found;
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ", ") + item;
    return out;
}

bool loop_backs(const std::string& image) {
    return !loops_backing_under(image).empty();
}

class ImageIntegration : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root: loop devices and mount(2)";
        if (!sys::path_exists("/dev/loop-control")) GTEST_SKIP() << "no /dev/loop-control";
        if (!have_tool("mkfs.ext4")) GTEST_SKIP() << "no mkfs.ext4";
        TempDir dir;
        ASSERT_FALSE(dir.path().empty());
        dir_ = dir.release();
    }

    // Proves the test left nothing, then removes whatever it did leave.
    void TearDown() override {
        if (dir_.empty()) return;
        auto loops = loops_backing_under(dir_);
        auto mounts = mounts_under(dir_);
        EXPECT_TRUE(loops.empty()) << "loop devices left: " << joined(loops);
        EXPECT_TRUE(mounts.empty()) << "mounts left: " << joined(mounts);
        for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
            ::umount2(it->c_str(), MNT_DETACH);
        for (int n : sys::loop_devices())
            if (auto b = sys::loop_backing_file(n); b && b->rfind(dir_, 0) == 0)
                sys::detach_loop(n);
        if (mounts_under(dir_).empty()) {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
        }
    }

    std::string path(const std::string& name) const { return dir_ + "/" + name; }

    std::string make_ext4(const std::string& name) {
        std::string image = path(name);
        make_sparse_file(image, kImageSize);
        int rc = std::system(("mkfs.ext4 -q -F " + image + " >/dev/null 2>&1").c_str());
        EXPECT_EQ(rc, 0) << "mkfs.ext4 " << image;
        return image;
    }

    // debugfs -w, which keeps the metadata checksums right (a raw byte write would not).
    void debugfs(const std::string& image, const std::string& request) {
        int rc =
            std::system(("debugfs -w -R '" + request + "' " + image + " >/dev/null 2>&1").c_str());
        ASSERT_EQ(rc, 0) << "debugfs " << request;
    }

    std::string dir_;
};

std::string read_text(const std::string& path) {
    return sys::read_file(path);
}

TEST_F(ImageIntegration, DetectsAndChecksAFreshExt4Image) {
    std::string image = make_ext4("fresh.img");
    EXPECT_EQ(detect_image_fs(image), ImageFs::ext4);
    EXPECT_EQ(check_image(image, ImageFs::ext4), "");
}

TEST_F(ImageIntegration, RejectsAFileOfZerosNamingIt) {
    std::string zeros = path("zeros.img");
    make_sparse_file(zeros, kImageSize);
    auto [code, message] = error_of([&] { detect_image_fs(zeros); });
    EXPECT_EQ(code, kExitUsage);
    EXPECT_TRUE(contains(message, zeros)) << message;
    EXPECT_EQ(error_of([&] { mount_image(zeros, path("mnt"), {}); }).first, kExitUsage);
    EXPECT_FALSE(sys::path_exists(path("mnt")));
}

TEST_F(ImageIntegration, MountWriteUnmountRemount) {
    std::string image = make_ext4("rootfs.img");
    std::string mp = path("mnt/rootfs");
    ImageMount m = mount_image(image, mp, {});
    EXPECT_EQ(m.mount_point, mp);
    EXPECT_FALSE(m.read_only);
    EXPECT_EQ(m.loop_device.rfind("/dev/loop", 0), 0u) << m.loop_device;
    EXPECT_TRUE(sys::is_mountpoint(mp));
    EXPECT_EQ(image_loop_device(image), m.loop_device);
    EXPECT_TRUE(contains(command_output("losetup -a"), image));

    auto n = sys::parse_loop_name(m.loop_device);
    ASSERT_TRUE(n);
    EXPECT_EQ(sys::loop_backing_file(*n), image);
    EXPECT_TRUE(sys::loop_autoclear(*n));
    struct statvfs vfs;
    ASSERT_EQ(::statvfs(mp.c_str(), &vfs), 0);
    EXPECT_TRUE(vfs.f_flag & ST_NOATIME);
    EXPECT_FALSE(vfs.f_flag & ST_RDONLY);
    auto top = top_mount_at(parse_mountinfo(read_text("/proc/self/mountinfo")), mp);
    ASSERT_TRUE(top);
    EXPECT_EQ(top->fstype, "ext4");
    EXPECT_EQ(top->source, m.loop_device);

    sys::write_file_atomic(mp + "/hello", "persisted\n");
    unmount_image(mp);
    EXPECT_FALSE(sys::path_exists(mp));
    EXPECT_FALSE(loop_backs(image));
    EXPECT_FALSE(contains(command_output("losetup -a"), image));
    EXPECT_EQ(image_loop_device(image), "");

    m = mount_image(image, mp, {});
    EXPECT_EQ(read_text(mp + "/hello"), "persisted\n");
    unmount_image(mp);
    EXPECT_FALSE(loop_backs(image));
    // The image is clean after a proper unmount.
    EXPECT_EQ(check_image(image, ImageFs::ext4), "");
}

TEST_F(ImageIntegration, ReadOnlyOptionMountsReadOnly) {
    std::string image = make_ext4("ro.img");
    std::string mp = path("mnt");
    ImageMount m = mount_image(image, mp, {.read_only = true});
    EXPECT_TRUE(m.read_only);
    unique_fd fd(::open((mp + "/new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    EXPECT_FALSE(fd);
    EXPECT_EQ(errno, EROFS);
    auto n = sys::parse_loop_name(m.loop_device);
    ASSERT_TRUE(n);
    EXPECT_EQ(read_text("/sys/block/loop" + std::to_string(*n) + "/ro"), "1\n");
    unmount_image(mp);
}

// An image on a read-only filesystem cannot be opened O_RDWR (EROFS): it is checked with
// e2fsck -n and mounted read-only, without being asked.
TEST_F(ImageIntegration, UnwritableImageIsCheckedAndMountedReadOnly) {
    std::string store = path("store");
    ASSERT_EQ(::mkdir(store.c_str(), 0755), 0);
    std::string image = store + "/ro.img";
    make_sparse_file(image, kImageSize);
    ASSERT_EQ(std::system(("mkfs.ext4 -q -F " + image + " >/dev/null 2>&1").c_str()), 0);
    sys::bind_mount(store, store, false);
    sys::remount_read_only(store);

    EXPECT_EQ(check_image(image, ImageFs::ext4), "");
    std::string mp = path("mnt");
    ImageMount m = mount_image(image, mp, {});
    EXPECT_TRUE(m.read_only);
    unique_fd fd(::open((mp + "/new").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    EXPECT_FALSE(fd);
    EXPECT_EQ(errno, EROFS);
    unmount_image(mp);
    EXPECT_EQ(::umount2(store.c_str(), 0), 0);
}

TEST_F(ImageIntegration, CorruptedImageNeedsAManualRepair) {
    if (!have_tool("debugfs")) GTEST_SKIP() << "no debugfs";
    std::string image = make_ext4("broken.img");
    debugfs(image, "clri <2>");  // the root inode: e2fsck -p may not recreate it
    debugfs(image, "ssv state 0");
    auto [code, message] = error_of([&] { check_image(image, ImageFs::ext4); });
    EXPECT_EQ(code, kExitUsage);
    EXPECT_TRUE(contains(message, "image " + image + " needs a manual repair")) << message;
    EXPECT_TRUE(contains(message, "Root inode")) << message;
    EXPECT_TRUE(contains(message, "run: e2fsck -f " + image)) << message;
}

TEST_F(ImageIntegration, PreenFixesAnUncleanFilesystem) {
    if (!have_tool("debugfs")) GTEST_SKIP() << "no debugfs";
    std::string image = make_ext4("unclean.img");
    debugfs(image, "ssv state 0");  // "not cleanly unmounted": preen checks and fixes it (exit 1)
    std::string report = check_image(image, ImageFs::ext4);
    EXPECT_FALSE(report.empty());
    EXPECT_TRUE(contains(report, "not cleanly unmounted")) << report;
    EXPECT_EQ(check_image(image, ImageFs::ext4), "");
}

TEST_F(ImageIntegration, ImageMountedAtKnowsItsOwnMount) {
    std::string a = make_ext4("a.img");
    std::string b = make_ext4("b.img");
    std::string mp = path("mnt");
    ASSERT_EQ(::symlink(a.c_str(), path("link.img").c_str()), 0);
    EXPECT_FALSE(image_mounted_at(a, mp));  // missing mount point
    mount_image(a, mp, {});
    EXPECT_TRUE(image_mounted_at(a, mp));
    EXPECT_TRUE(image_mounted_at(path("link.img"), mp));
    EXPECT_TRUE(image_mounted_at(a, path("./mnt/")));
    EXPECT_FALSE(image_mounted_at(b, mp));
    EXPECT_FALSE(image_mounted_at(a, dir_));
    EXPECT_FALSE(image_mounted_at(path("missing.img"), mp));
    unmount_image(mp);
    EXPECT_FALSE(image_mounted_at(a, mp));
}

TEST_F(ImageIntegration, ConcurrentMountsGetTheirOwnLoopDevices) {
    constexpr int kCount = 4;
    std::vector<std::string> images, mps, devices(kCount), errors(kCount);
    for (int i = 0; i < kCount; ++i) {
        images.push_back(make_ext4("c" + std::to_string(i) + ".img"));
        mps.push_back(path("mnt" + std::to_string(i)));
    }
    auto each = [&](auto body) {
        std::vector<std::thread> threads;
        for (int i = 0; i < kCount; ++i)
            threads.emplace_back([&, i] {
                try {
                    body(i);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
        for (auto& t : threads)
            t.join();
    };
    each([&](int i) { devices[i] = mount_image(images[i], mps[i], {}).loop_device; });
    for (int i = 0; i < kCount; ++i) {
        EXPECT_EQ(errors[i], "") << i;
        EXPECT_TRUE(image_mounted_at(images[i], mps[i])) << i;
        for (int j = 0; j < i; ++j)
            EXPECT_NE(devices[i], devices[j]);
    }
    each([&](int i) { unmount_image(mps[i]); });
    for (int i = 0; i < kCount; ++i) {
        EXPECT_EQ(errors[i], "") << i;
        EXPECT_FALSE(loop_backs(images[i])) << i;
    }
}

TEST_F(ImageIntegration, AFailedMountLeavesNothingBehind) {
    // The ext magic on zeros: detection passes, the kernel refuses the superblock.
    std::string image = path("fake.img");
    make_sparse_file(image, kImageSize);
    write_at(image, 0x438, "\x53\xEF");
    std::string mp = path("mnt/fake");
    auto [code, message] = error_of([&] { mount_image(image, mp, {}); });
    EXPECT_EQ(code, kExitRuntime);
    EXPECT_TRUE(contains(message, image) && contains(message, mp)) << message;
    EXPECT_FALSE(loop_backs(image));
    EXPECT_FALSE(sys::path_exists(mp));  // we made it, we removed it
    EXPECT_TRUE(sys::path_exists(path("mnt")));

    // A mount point that existed before is left in place.
    ASSERT_EQ(::mkdir(mp.c_str(), 0700), 0);
    EXPECT_EQ(error_of([&] { mount_image(image, mp, {}); }).first, kExitRuntime);
    EXPECT_TRUE(sys::is_directory(mp));
    EXPECT_FALSE(loop_backs(image));
}

TEST_F(ImageIntegration, RefusesAnImageAlreadyInUse) {
    std::string image = make_ext4("busy.img");
    ImageMount m = mount_image(image, path("mnt1"), {});
    auto [code, message] = error_of([&] { mount_image(image, path("mnt2"), {}); });
    EXPECT_EQ(code, kExitUsage);
    EXPECT_TRUE(contains(message, m.loop_device)) << message;
    EXPECT_FALSE(sys::path_exists(path("mnt2")));
    auto check = error_of([&] { check_image(image, ImageFs::ext4); });
    EXPECT_EQ(check.first, kExitUsage);
    EXPECT_TRUE(contains(check.second, "in use")) << check.second;
    unmount_image(path("mnt1"));
}

TEST_F(ImageIntegration, RefusesAMountPointInUse) {
    std::string a = make_ext4("a.img");
    std::string b = make_ext4("b.img");
    mount_image(a, path("mnt"), {});
    EXPECT_EQ(error_of([&] { mount_image(b, path("mnt"), {}); }).first, kExitUsage);
    EXPECT_FALSE(loop_backs(b));
    EXPECT_TRUE(image_mounted_at(a, path("mnt")));
    unmount_image(path("mnt"));
}

TEST_F(ImageIntegration, UnmountToleratesWhatIsGone) {
    EXPECT_NO_THROW(unmount_image(path("never-existed")));
    ASSERT_EQ(::mkdir(path("empty").c_str(), 0755), 0);
    EXPECT_NO_THROW(unmount_image(path("empty")));
    EXPECT_FALSE(sys::path_exists(path("empty")));

    std::string image = make_ext4("twice.img");
    mount_image(image, path("mnt"), {});
    unmount_image(path("mnt"));
    EXPECT_NO_THROW(unmount_image(path("mnt")));
}

// Something still using the filesystem keeps the loop device: the mount is detached at once,
// the error says why the device is still there, and it frees itself when the user goes.
TEST_F(ImageIntegration, UnmountOfABusyMountDetachesAndExplains) {
    std::string image = make_ext4("held.img");
    std::string mp = path("mnt");
    mount_image(image, mp, {});
    unique_fd held(::open((mp + "/held").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(held);
    auto [code, message] = error_of([&] { unmount_image(mp); });
    EXPECT_EQ(code, kExitRuntime);
    EXPECT_TRUE(contains(message, "still attached")) << message;
    EXPECT_TRUE(mounts_under(dir_).empty());
    EXPECT_FALSE(sys::path_exists(mp));
    held.reset();
    for (int n : sys::loop_devices())
        if (sys::loop_backing_file(n) == image)
            EXPECT_TRUE(sys::wait_loop_released(n, image, std::chrono::seconds(2)));
    EXPECT_FALSE(loop_backs(image));
}

// A block device is mounted as it is; the user's own loop device (no autoclear) stays theirs.
TEST_F(ImageIntegration, MountsABlockDeviceDirectly) {
    std::string image = make_ext4("dev.img");
    unique_fd file(::open(image.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(file);
    sys::LoopDevice loop = sys::attach_loop(file.get(), image, {.autoclear = false});
    file.reset();
    loop.fd.reset();
    std::string mp = path("mnt");
    ImageMount m = mount_image(loop.path, mp, {});
    EXPECT_EQ(m.loop_device, "");
    EXPECT_TRUE(image_mounted_at(loop.path, mp));
    EXPECT_TRUE(sys::is_mountpoint(mp));
    unmount_image(mp);
    EXPECT_FALSE(sys::path_exists(mp));
    EXPECT_EQ(sys::loop_backing_file(loop.number), image);  // not ours to detach
    EXPECT_TRUE(sys::detach_loop(loop.number));
    EXPECT_TRUE(sys::wait_loop_released(loop.number, image, std::chrono::seconds(2)));
}

// The pre-5.8 path (most Android kernels): LOOP_SET_FD + LOOP_SET_STATUS64, asked for through
// LoopOptions. Read-only comes from the backing fd's mode there; autoclear and the file name
// from the status call. The device is mounted as a block device and freed by its last close.
TEST_F(ImageIntegration, AttachesTheOldWayWithoutLoopConfigure) {
    std::string image = make_ext4("old.img");
    for (bool read_only : {false, true}) {
        SCOPED_TRACE(read_only ? "read-only" : "read-write");
        unique_fd file(::open(image.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
        ASSERT_TRUE(file);
        sys::LoopDevice loop =
            sys::attach_loop(file.get(), image,
                             {.read_only = read_only, .autoclear = true, .loop_configure = false});
        file.reset();
        EXPECT_TRUE(sys::loop_autoclear(loop.number));
        EXPECT_EQ(sys::loop_backing_file(loop.number), image);
        EXPECT_EQ(read_text("/sys/block/loop" + std::to_string(loop.number) + "/ro"),
                  read_only ? "1\n" : "0\n");
        ImageMount m = mount_image(loop.path, path("mnt"), {.read_only = read_only});
        EXPECT_EQ(m.loop_device, "");  // a block device is not ours to detach
        loop.fd.reset();               // the mount holds the device now
        if (read_only)
            EXPECT_EQ(read_text(path("mnt/file")), "x");
        else
            sys::write_file_atomic(path("mnt/file"), "x");
        unmount_image(path("mnt"));
        EXPECT_TRUE(sys::wait_loop_released(loop.number, image, std::chrono::seconds(2)));
    }
}

TEST_F(ImageIntegration, Timings) {
    std::string image = make_ext4("timed.img");
    using Clock = std::chrono::steady_clock;
    auto ms = [](Clock::duration d) {
        return std::chrono::duration<double, std::milli>(d).count();
    };
    auto t0 = Clock::now();
    check_image(image, ImageFs::ext4);
    double check_ms = ms(Clock::now() - t0);
    constexpr int kRounds = 5;
    double mount_total = 0, unmount_total = 0;
    for (int i = 0; i < kRounds; ++i) {
        auto a = Clock::now();
        mount_image(image, path("mnt"), {});
        auto b = Clock::now();
        unmount_image(path("mnt"));
        auto c = Clock::now();
        mount_total += ms(b - a);
        unmount_total += ms(c - b);
    }
    std::printf(
        "[timing] e2fsck -p %.1f ms; attach+mount %.1f ms; unmount+release %.1f ms (mean of %d)\n",
        check_ms, mount_total / kRounds, unmount_total / kRounds, kRounds);
    RecordProperty("attach_mount_ms", std::to_string(mount_total / kRounds));
    RecordProperty("unmount_ms", std::to_string(unmount_total / kRounds));
    EXPECT_FALSE(loop_backs(image));
}

}  // namespace
}  // namespace ds::container
