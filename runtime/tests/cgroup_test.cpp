// Unit tests for sys/cgroup's layout detector (pure, from mountinfo text) and, on a host that
// has the hierarchies, the live primitives: control files written in place, and "in use"
// answered for a whole v1 subtree. Live tests work only in test-made cgroups
// ("ds-unit-<pid>-...") that they remove, and skip where the hierarchy is missing.
#include "sys/cgroup.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "container/boot_plan.hpp"
#include "container/cgroups.hpp"
#include "sys/file.hpp"

namespace ds::sys {
namespace {

constexpr std::string_view kHybrid =
    "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupHost, FindsEachV1ControllerAndTheNamedHierarchy) {
    CgroupHost host = parse_cgroup_host(kHybrid);
    EXPECT_EQ(host.layout, CgroupLayout::hybrid);
    EXPECT_EQ(host.v1_controller_root("memory"), "/sys/fs/cgroup/memory");
    EXPECT_EQ(host.v1_controller_root("cpu"), "/sys/fs/cgroup/cpu");
    EXPECT_EQ(host.v1_controller_root("pids"), "/sys/fs/cgroup/pids");
    EXPECT_FALSE(host.v1_controller_root("hugetlb"));
    EXPECT_FALSE(host.v1_controller_root("rw"));       // an option, not a controller
    EXPECT_FALSE(host.v1_controller_root("systemd"));  // a name, not a controller
    EXPECT_EQ(host.v1_systemd_root(), "/sys/fs/cgroup/systemd");
    EXPECT_EQ(host.v2_root, "/sys/fs/cgroup/unified");
}

TEST(CgroupHost, CoMountedControllersShareAHierarchy) {
    CgroupHost host = parse_cgroup_host(
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n");
    EXPECT_EQ(host.v1_controller_root("cpu"), "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(host.v1_controller_root("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(host.layout, CgroupLayout::legacy);
}

TEST(CgroupHost, PrefersAHierarchyRootOverASubtreeBind) {
    CgroupHost host = parse_cgroup_host(
        "90 80 0:32 /ds/box /mnt/box/sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    EXPECT_EQ(host.v1_controller_root("memory"), "/sys/fs/cgroup/memory");
}

TEST(CgroupHost, V2ControllersAreAskedForByName) {
    CgroupHost host;
    host.v2_controllers = {"cpu", "memory"};
    EXPECT_TRUE(host.v2_has("memory"));
    EXPECT_FALSE(host.v2_has("pids"));
}

TEST(CgroupHost, LimitBasesListEachHierarchyOnce) {
    CgroupHost host = parse_cgroup_host(
        "32 31 0:29 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 / /cg/memory rw - cgroup cgroup rw,memory\n"
        "40 31 0:37 / /cg/systemd rw - cgroup cgroup rw,name=systemd\n");
    EXPECT_EQ(container::limit_cgroup_bases(host),
              (std::vector<std::string>{"/cg/memory/droidspaces", "/cg/cpu,cpuacct/droidspaces"}));
}

// --- live --------------------------------------------------------------------------------------

// A test-made cgroup removed on scope exit (its processes killed first).
struct TestCgroup {
    std::string path;
    explicit TestCgroup(std::string p) : path(std::move(p)) { create_cgroup(path); }
    ~TestCgroup() {
        kill_cgroup(path);
        remove_cgroup_tree(path, std::chrono::seconds(5));
    }
};

std::string unique(const char* what) {
    return std::string("ds-unit-") + std::to_string(::getpid()) + "-" + what;
}

// The bug: cgroup.subtree_control and limit files went through write_file_atomic (a temp file
// and a rename), which cgroupfs refuses. Written in place, the same value is taken.
TEST(CgroupLive, ControlFilesAreWrittenInPlaceNotRenamedOver) {
    auto root = cgroup2_root();
    if (::geteuid() != 0 || !root) GTEST_SKIP() << "needs root and a cgroup2 mount";
    TestCgroup cg(*root + "/" + unique("ctl"));
    EXPECT_THROW(write_file_atomic(cg.path + "/cgroup.max.depth", "3"), std::exception);
    write_control_file(cg.path + "/cgroup.max.depth", "3");
    EXPECT_EQ(read_file(cg.path + "/cgroup.max.depth"), "3\n");
    auto available = try_read_file(cg.path + "/cgroup.controllers").value_or("");
    if (available.find("hugetlb") != std::string::npos) {
        write_control_file(cg.path + "/cgroup.subtree_control", "+hugetlb");
        EXPECT_NE(read_file(cg.path + "/cgroup.subtree_control").find("hugetlb"),
                  std::string::npos);
        write_control_file(cg.path + "/cgroup.subtree_control", "-hugetlb");
    }
    try {
        write_control_file(cg.path + "/cgroup.max.depth", "not-a-number");
        ADD_FAILURE() << "the kernel took a bad value";
    } catch (const std::exception& e) {
        std::string what = e.what();
        EXPECT_NE(what.find("not-a-number"), std::string::npos) << what;
        EXPECT_NE(what.find("cgroup.max.depth"), std::string::npos) << what;
        EXPECT_NE(what.find("errno"), std::string::npos) << what;
    }
}

TEST(ControlFile, AMissingKnobIsNoErrorOnlyWhenAskedSo) {
    EXPECT_FALSE(write_control_file_if_present("/proc/sys/ds-no-such-knob", "1"));
    EXPECT_THROW(write_control_file("/proc/sys/ds-no-such-knob", "1"), std::exception);
    // A knob that exists but refuses the write (read-only, even for root) is an error.
    EXPECT_THROW(write_control_file_if_present("/proc/sys/kernel/osrelease", "x"), std::exception);
}

// The bug: on v1 (no cgroup.events) only the top cgroup.procs was read, so a guest whose init
// moved itself below (systemd's init.scope) looked unused.
TEST(CgroupLive, V1InUseSeesProcessesDeepInTheSubtree) {
    auto host = host_cgroups();
    auto pids = host.v1_controller_root("pids");
    if (::geteuid() != 0 || !pids) GTEST_SKIP() << "needs root and a v1 pids hierarchy";
    TestCgroup top(*pids + "/" + unique("sub"));
    create_cgroup(top.path + "/a/b");
    EXPECT_FALSE(cgroup_populated(top.path));
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    join_cgroup(top.path + "/a/b", child);
    EXPECT_TRUE(cgroup_populated(top.path));
    EXPECT_TRUE(cgroup_populated(top.path + "/a"));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    EXPECT_FALSE(cgroup_populated(top.path));
}

}  // namespace
}  // namespace ds::sys

namespace ds::container {
namespace {

// The monitor gets the plan as JSON: the v1 limit cgroups init joins must survive the trip, and
// a plan written before they existed still parses.
TEST(BootPlanLimits, LimitCgroupsRoundTrip) {
    BootPlan plan;
    plan.config.name = "box";
    plan.limit_cgroups = {"/sys/fs/cgroup/memory/droidspaces/box",
                          "/sys/fs/cgroup/pids/droidspaces/box"};
    BootPlan back = parse_plan(serialize_plan(plan));
    EXPECT_EQ(back.limit_cgroups, plan.limit_cgroups);

    auto j = nlohmann::json::parse(serialize_plan(plan));
    j.erase("limit_cgroups");
    EXPECT_TRUE(parse_plan(j.dump()).limit_cgroups.empty());
}

}  // namespace
}  // namespace ds::container
