// container/cleanup: the shared droidspaces/ parent cgroup goes with the last container.
#include "container/cleanup.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace {

// rmdir behaves on a plain directory as on cgroupfs for what matters here: an empty directory
// goes, one with a child stays.
class CleanupTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ds-cleanup-test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root_ = tmpl;
    }
    void TearDown() override {
        ::rmdir((root_ + "/droidspaces/other").c_str());
        ::rmdir((root_ + "/droidspaces").c_str());
        ::rmdir((root_ + "/elsewhere").c_str());
        ::rmdir(root_.c_str());
    }
    bool exists(const std::string& path) {
        struct stat st;
        return ::stat(path.c_str(), &st) == 0;
    }
    std::string root_;
};

TEST_F(CleanupTest, TheLastContainerRemovesTheEmptyParent) {
    ASSERT_EQ(::mkdir((root_ + "/droidspaces").c_str(), 0755), 0);
    EXPECT_TRUE(ds::container::remove_empty_cgroup_parent(root_ + "/droidspaces/box"));
    EXPECT_FALSE(exists(root_ + "/droidspaces"));
    // Already gone (another cleanup path won the race): fine.
    EXPECT_TRUE(ds::container::remove_empty_cgroup_parent(root_ + "/droidspaces/box"));
}

TEST_F(CleanupTest, AParentWithAnotherContainerStays) {
    ASSERT_EQ(::mkdir((root_ + "/droidspaces").c_str(), 0755), 0);
    ASSERT_EQ(::mkdir((root_ + "/droidspaces/other").c_str(), 0755), 0);
    EXPECT_FALSE(ds::container::remove_empty_cgroup_parent(root_ + "/droidspaces/box"));
    EXPECT_TRUE(exists(root_ + "/droidspaces/other"));
}

TEST_F(CleanupTest, OnlyADirectoryNamedDroidspacesIsEverRemoved) {
    ASSERT_EQ(::mkdir((root_ + "/elsewhere").c_str(), 0755), 0);
    EXPECT_FALSE(ds::container::remove_empty_cgroup_parent(root_ + "/elsewhere/box"));
    EXPECT_TRUE(exists(root_ + "/elsewhere"));
    EXPECT_FALSE(ds::container::remove_cgroup_parent_if_empty(root_ + "/elsewhere"));
    EXPECT_TRUE(exists(root_ + "/elsewhere"));
}

}  // namespace
