// Tests for sys/rootfs_path: resolution inside an untrusted tree (openat2 RESOLVE_IN_ROOT and the
// O_NOFOLLOW walk fallback, both run here whatever the kernel), creation inside it, and guest
// file reads that must neither block nor exhaust memory. Every test builds its own tree in a
// temp dir, with a "host" directory next to it that the tree's symlinks point at: nothing may
// ever appear there. No root needed.
#include "sys/rootfs_path.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "core/error.hpp"
#include "sys/fd.hpp"

namespace ds::sys {
namespace {

namespace fs = std::filesystem;

using Resolver = std::function<unique_fd(int, std::string_view, int)>;

struct ResolverCase {
    const char* name;
    Resolver resolve;
};

std::string read_fd(int fd) {
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

void write_text(const fs::path& path, const std::string& text) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd) << path;
    ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// <tmp>/tree is the untrusted tree, <tmp>/host a host directory its symlinks aim at.
class Tree {
  protected:
    void make_tree() {
        char tmpl[] = "/tmp/ds-rootfs-path.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        tree_ = base_ / "tree";
        host_ = base_ / "host";
        fs::create_directories(tree_ / "etc");
        fs::create_directories(host_);
        write_text(tree_ / "etc/passwd", "guest\n");
        write_text(host_ / "passwd", "host\n");
        root_ = unique_fd(::open(tree_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(root_);
    }
    void remove_tree() {
        root_.reset();
        fs::remove_all(base_);
    }
    void link(const std::string& target, const std::string& name) {
        ASSERT_EQ(::symlink(target.c_str(), (tree_ / name).c_str()), 0) << name;
    }
    // The host directory still holds only its own passwd.
    bool host_is_empty() const {
        size_t n = 0;
        for (auto& entry : fs::directory_iterator(host_))
            if (entry.path().filename() != "passwd" || ++n > 1) return false;
        return true;
    }

    fs::path base_, tree_, host_;
    unique_fd root_;
};

class ResolveTest : public Tree, public ::testing::TestWithParam<ResolverCase> {
  protected:
    void SetUp() override { make_tree(); }
    void TearDown() override { remove_tree(); }
    unique_fd resolve(std::string_view path, int flags) {
        return GetParam().resolve(root_.get(), path, flags);
    }
    // The contents of `path` resolved inside the tree, or "errno N".
    std::string contents(std::string_view path) {
        unique_fd fd = resolve(path, O_RDONLY);
        if (!fd) return "errno " + std::to_string(errno);
        return read_fd(fd.get());
    }
};

TEST_P(ResolveTest, PlainPathsAbsoluteOrRelative) {
    EXPECT_EQ(contents("/etc/passwd"), "guest\n");
    EXPECT_EQ(contents("etc/passwd"), "guest\n");
    EXPECT_EQ(contents("//etc//passwd"), "guest\n");
}

TEST_P(ResolveTest, AbsoluteSymlinkIsRerootedAtTheTree) {
    link(host_.string(), "hostdir");  // what an attacker's rootfs holds: mnt -> /host/path
    link("/etc", "mnt");
    link("/etc/passwd", "pw");
    EXPECT_EQ(contents("/mnt/passwd"), "guest\n");
    EXPECT_EQ(contents("/pw"), "guest\n");
    // The host directory's path, taken inside the tree, does not exist there.
    EXPECT_EQ(contents("/hostdir/passwd"), "errno " + std::to_string(ENOENT));
}

TEST_P(ResolveTest, DotDotNeverClimbsAboveTheRoot) {
    EXPECT_EQ(contents("/../../../etc/passwd"), "guest\n");
    EXPECT_EQ(contents("../host/passwd"), "errno " + std::to_string(ENOENT));
    link("../../../../host", "up");
    EXPECT_EQ(contents("/up/passwd"), "errno " + std::to_string(ENOENT));
    link("../../../../etc", "up_etc");
    EXPECT_EQ(contents("/up_etc/passwd"), "guest\n");
}

TEST_P(ResolveTest, SymlinkLoopFailsWithEloop) {
    link("loop2", "loop1");
    link("/loop1", "loop2");
    EXPECT_EQ(contents("/loop1"), "errno " + std::to_string(ELOOP));
    link("self/x", "self");
    EXPECT_EQ(contents("/self/x"), "errno " + std::to_string(ELOOP));
}

TEST_P(ResolveTest, DanglingSymlinkIsMissing) {
    link("/nowhere/at/all", "dangling");
    EXPECT_EQ(contents("/dangling"), "errno " + std::to_string(ENOENT));
    EXPECT_EQ(contents("/dangling/x"), "errno " + std::to_string(ENOENT));
}

TEST_P(ResolveTest, NoFollowOnTheLastComponent) {
    link("/etc/passwd", "pw");
    unique_fd fd = resolve("/pw", O_RDONLY | O_NOFOLLOW);
    EXPECT_FALSE(fd);
    EXPECT_EQ(errno, ELOOP);
    fd = resolve("/pw", O_PATH | O_NOFOLLOW);  // O_PATH|O_NOFOLLOW: the link itself
    ASSERT_TRUE(fd);
    struct stat st;
    ASSERT_EQ(::fstat(fd.get(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    // Only the last component: a link in the middle is still followed inside the tree.
    link("/etc", "mnt");
    EXPECT_TRUE(resolve("/mnt/passwd", O_RDONLY | O_NOFOLLOW));
}

TEST_P(ResolveTest, CreateThroughASymlinkStaysInside) {
    link(host_.string() + "/created", "made");
    unique_fd fd = resolve("/made", O_WRONLY | O_CREAT);
    EXPECT_FALSE(fd);  // the target's parent does not exist inside the tree
    EXPECT_TRUE(host_is_empty());
    link("/etc/new", "inside");
    fd = resolve("/inside", O_WRONLY | O_CREAT);
    EXPECT_TRUE(fd);
    EXPECT_TRUE(fs::exists(tree_ / "etc/new"));
    EXPECT_TRUE(host_is_empty());
}

TEST_P(ResolveTest, RootItself) {
    unique_fd fd = resolve("/", O_PATH | O_DIRECTORY);
    ASSERT_TRUE(fd);
    struct stat a, b;
    ASSERT_EQ(::fstat(fd.get(), &a), 0);
    ASSERT_EQ(::fstat(root_.get(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    link("/", "toroot");
    fd = resolve("/toroot", O_PATH | O_DIRECTORY);
    ASSERT_TRUE(fd);
    ASSERT_EQ(::fstat(fd.get(), &a), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
}

INSTANTIATE_TEST_SUITE_P(
    Resolvers, ResolveTest,
    ::testing::Values(ResolverCase{"open_in_root",
                                   [](int root, std::string_view path, int flags) {
                                       return open_in_root(root, path, flags, 0644);
                                   }},
                      ResolverCase{"walk_in_root",
                                   [](int root, std::string_view path, int flags) {
                                       return walk_in_root(root, path, flags, 0644);
                                   }}),
    [](const auto& info) { return std::string(info.param.name); });

// The higher-level calls, run with openat2 and again with the walk old kernels get.
class TreeTest : public Tree, public ::testing::TestWithParam<bool> {
  protected:
    void SetUp() override { make_tree(); }
    void TearDown() override { remove_tree(); }
    // The tree's root with this run's resolver: the walk, or openat2 where the kernel has it.
    TreeRoot root() const {
        return {root_.get(), GetParam() ? Resolution::walk : Resolution::best};
    }
};

// openat2's RESOLVE_NO_MAGICLINKS: a /proc magic link (here the host's own, with "/" as the
// tree) is refused. (The walk reads a magic link's text like any symlink's, inside the tree.)
TEST(OpenInRoot, MagicLinksAreRefusedByOpenat2) {
    if (!have_openat2()) GTEST_SKIP() << "no openat2 on this kernel";
    unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root);
    unique_fd fd = open_in_root(root.get(), "/proc/self/root/etc", O_PATH);
    EXPECT_FALSE(fd);
    EXPECT_EQ(errno, ELOOP);
}

// The resolver is the caller's explicit choice: asked for the walk, a call walks even where
// openat2 exists (the walk reads the magic link's text, "/", inside the tree; openat2 refuses it).
TEST(OpenInRoot, ResolverWalkIsUsedWhenAsked) {
    if (!have_openat2()) GTEST_SKIP() << "no openat2 on this kernel";
    unique_fd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root);
    EXPECT_TRUE(
        open_in_root(TreeRoot{root.get(), Resolution::walk}, "/proc/self/root/etc", O_PATH));
    EXPECT_FALSE(
        open_in_root(TreeRoot{root.get(), Resolution::best}, "/proc/self/root/etc", O_PATH));
}

TEST_P(TreeTest, MakeDirsCreatesInsideThroughSymlinks) {
    ::symlink("/etc", (tree_ / "mnt").c_str());
    unique_fd fd = make_dirs_in_root(root(), "/mnt/x/y");
    ASSERT_TRUE(fd);
    EXPECT_TRUE(fs::is_directory(tree_ / "etc/x/y"));
    struct stat a, b;
    ASSERT_EQ(::fstat(fd.get(), &a), 0);
    ASSERT_EQ(::stat((tree_ / "etc/x/y").c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_TRUE(make_dirs_in_root(root(), "new/dirs/here"));
    EXPECT_TRUE(fs::is_directory(tree_ / "new/dirs/here"));
}

TEST_P(TreeTest, MakeDirsNeverFollowsASymlinkOut) {
    // The attack of issue 7 hole 1: the rootfs's mnt points at a host directory.
    link(host_.string(), "mnt");
    try {
        make_dirs_in_root(root(), "/mnt/x");
        ADD_FAILURE() << "created /mnt/x through a symlink that leads nowhere inside";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/mnt"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(host_is_empty());
    EXPECT_FALSE(fs::exists(host_ / "x"));
    // Relative links up and out, too.
    link("../host", "up");
    EXPECT_THROW(make_dirs_in_root(root(), "/up/x"), Error);
    EXPECT_FALSE(fs::exists(host_ / "x"));
}

TEST_P(TreeTest, MakeDirsRefusesAFileInThePath) {
    try {
        make_dirs_in_root(root(), "/etc/passwd/x");
        ADD_FAILURE() << "made a directory below a file";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("/etc/passwd"), std::string::npos) << e.what();
    }
}

TEST_P(TreeTest, MakeDirsNamesADanglingSymlink) {
    link("/nowhere", "dangling");
    try {
        make_dirs_in_root(root(), "/dangling/x");
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("symlink"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(tree_ / "nowhere"));
}

TEST_P(TreeTest, MakeNodeCreatesAFileOrADirectory) {
    unique_fd f = make_node_in_root(root(), "/mnt/sub/file", NodeKind::file);
    ASSERT_TRUE(f);
    EXPECT_TRUE(fs::is_regular_file(tree_ / "mnt/sub/file"));
    unique_fd d = make_node_in_root(root(), "/mnt/dir", NodeKind::directory);
    EXPECT_TRUE(fs::is_directory(tree_ / "mnt/dir"));
    // Existing ones are fine when their kind matches, refused otherwise.
    EXPECT_TRUE(make_node_in_root(root(), "/etc/passwd", NodeKind::file));
    EXPECT_THROW(make_node_in_root(root(), "/etc", NodeKind::file), Error);
    EXPECT_THROW(make_node_in_root(root(), "/etc/passwd", NodeKind::directory), Error);
}

TEST_P(TreeTest, MakeNodeNeverCreatesAFileThroughASymlink) {
    link(host_.string() + "/planted", "bait");  // a last component aimed at the host
    EXPECT_THROW(make_node_in_root(root(), "/bait", NodeKind::file), Error);
    EXPECT_FALSE(fs::exists(host_ / "planted"));
    EXPECT_FALSE(fs::exists(tree_ / host_.relative_path() / "planted"));
    link(host_.string(), "mnt");
    EXPECT_THROW(make_node_in_root(root(), "/mnt/x", NodeKind::file), Error);
    EXPECT_TRUE(host_is_empty());
}

TEST_P(TreeTest, NodeProblemPredictsWithoutChangingAnything) {
    link(host_.string(), "mnt");
    link("/etc", "inside");
    EXPECT_TRUE(node_problem_in_root(root(), "/mnt/x", NodeKind::directory));
    EXPECT_TRUE(node_problem_in_root(root(), "/etc/passwd/x", NodeKind::file));
    EXPECT_TRUE(node_problem_in_root(root(), "/etc", NodeKind::file));
    EXPECT_TRUE(node_problem_in_root(root(), "/etc/passwd", NodeKind::directory));
    EXPECT_FALSE(node_problem_in_root(root(), "/inside/x", NodeKind::directory));
    EXPECT_FALSE(node_problem_in_root(root(), "/new/a/b", NodeKind::file));
    EXPECT_FALSE(node_problem_in_root(root(), "/etc/passwd", NodeKind::file));
    EXPECT_FALSE(fs::exists(tree_ / "new"));
    EXPECT_FALSE(fs::exists(tree_ / "etc/x"));
    EXPECT_TRUE(host_is_empty());
}

TEST_P(TreeTest, ReadGuestFileReadsRegularFilesThroughInsideLinks) {
    link("../etc/passwd", "rel");
    link("/etc/passwd", "abs");
    EXPECT_EQ(read_guest_file(root(), "/etc/passwd"), "guest\n");
    EXPECT_EQ(read_guest_file(root(), "/rel"), "guest\n");
    EXPECT_EQ(read_guest_file(root(), "/abs"), "guest\n");
    EXPECT_EQ(read_guest_file(tree_.string(), "/abs"), "guest\n");
    EXPECT_EQ(read_guest_file(root(), "/missing"), std::nullopt);
    EXPECT_EQ(read_guest_file(root(), "/etc"), std::nullopt);  // a directory
    link(host_.string() + "/passwd", "tohost");
    EXPECT_EQ(read_guest_file(root(), "/tohost"), std::nullopt);
}

// Each read runs in a child under alarm(): a read that blocks kills it and fails the test.
TEST_P(TreeTest, ReadGuestFileOnAFifoReturnsAtOnce) {
    ASSERT_EQ(::mkfifo((tree_ / "fifo").c_str(), 0600), 0);
    link("/fifo", "tofifo");
    EXPECT_EXIT(
        {
            ::alarm(5);
            bool refused = !read_guest_file(root(), "/fifo") && !read_guest_file(root(), "/tofifo");
            std::_Exit(refused ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST_P(TreeTest, ReadGuestFileRefusesDevices) {
    // In the tree, a /dev/zero symlink finds no device; with the host's "/" as the tree it
    // finds the real one, which is refused (not read until memory runs out).
    link("/dev/zero", "zero");
    EXPECT_EQ(read_guest_file(root(), "/zero"), std::nullopt);
    EXPECT_EXIT(
        {
            ::alarm(5);
            bool refused = !read_guest_file(std::string("/"), "/dev/zero") &&
                           !read_guest_file(std::string("/"), "/dev/null");
            std::_Exit(refused ? 0 : 1);
        },
        ::testing::ExitedWithCode(0), "");
}

TEST_P(TreeTest, ReadGuestFileRefusesATooBigFile) {
    write_text(tree_ / "big", std::string(17, 'x'));
    write_text(tree_ / "fits", std::string(16, 'x'));
    EXPECT_EQ(read_guest_file(root(), "/big", 16), std::nullopt);
    EXPECT_EQ(read_guest_file(root(), "/fits", 16), std::string(16, 'x'));
}

// An init binary is larger than any cap: only its head is read, and still never from a FIFO.
TEST_P(TreeTest, ReadGuestFileCanReadTheFirstBytesOfALargeFile) {
    write_text(tree_ / "big", std::string(16, 'x') + std::string(8, 'y'));
    EXPECT_EQ(read_guest_file(root(), "/big", 16, Oversize::first_bytes), std::string(16, 'x'));
    EXPECT_EQ(read_guest_file(root(), "/etc", 16, Oversize::first_bytes), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(Resolution, TreeTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "walk" : "openat2"; });

TEST(FdPath, NamesTheFd) {
    EXPECT_EQ(fd_path(7), "/proc/self/fd/7");
}

}  // namespace
}  // namespace ds::sys
