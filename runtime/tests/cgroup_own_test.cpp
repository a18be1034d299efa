// Unit tests for the runtime's own cgroup hierarchy (sys/cgroup_own.cpp): when one is mounted
// and which (pure, from mountinfo and /proc/filesystems text, so every old-kernel layout is
// covered, including the v1 named fallback this machine's kernel, which has cgroup2, cannot
// reach), the flags a mount from the initial cgroup namespace must repeat, that the container
// plan and `check` take the mount like a host's, and that a release with nothing of ours is a
// no-op. The mount itself is proven for real in tests/64-cgroup-fallback.bats.
#include <gtest/gtest.h>

#include <string>

#include "container/boot_plan.hpp"
#include "container/cgroups.hpp"
#include "sys/cgroup.hpp"
#include "sys/file.hpp"
#include "sys/probe_support.hpp"

namespace ds::sys {
namespace {

constexpr std::string_view kWithV2 = "nodev\tcgroup\nnodev\tcgroup2\n\text4\n";
constexpr std::string_view kV1Only = "nodev\tcgroup\n\text4\n";
constexpr std::string_view kNoCgroups = "nodev\tproc\n\text4\n";
const std::string kBase = "/run/droidspaces-cgroup";

// An old Android kernel: v1 controllers, no cgroup2 mount, no named systemd hierarchy.
constexpr std::string_view kOldAndroid =
    "1 0 253:0 / / ro - ext4 /dev/block/dm-0 ro\n"
    "30 1 0:20 / /dev rw,nosuid - tmpfs tmpfs rw,mode=755\n"
    "31 1 0:21 / /acct rw - cgroup none rw,cpuacct\n"
    "32 30 0:22 / /dev/cpuctl rw - cgroup none rw,cpu\n"
    "33 30 0:23 / /dev/memcg rw - cgroup none rw,memory\n";

constexpr std::string_view kHybrid =
    "22 1 253:1 / / rw - ext4 /dev/vda1 rw\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";

OwnCgroupMount plan(std::string_view mountinfo, std::string_view filesystems, bool want_v1) {
    return plan_own_cgroup_mount(parse_cgroup_host(mountinfo), filesystems, want_v1, kBase);
}

TEST(OwnCgroupPlan, NoCgroup2MountButKernelHasItMountsCgroup2) {
    auto own = plan(kOldAndroid, kWithV2, false);
    EXPECT_EQ(own.kind, OwnHierarchy::unified);
    EXPECT_EQ(own.mount_point, kBase + "/unified");
    // Nothing mounted at all: the same.
    EXPECT_EQ(plan("", kWithV2, false).kind, OwnHierarchy::unified);
    // A named systemd hierarchy does not stop it: a container that wants v2 gets v2.
    EXPECT_EQ(plan("40 1 0:37 / /x rw - cgroup cgroup rw,name=systemd\n", kWithV2, false).kind,
              OwnHierarchy::unified);
}

TEST(OwnCgroupPlan, AHostCgroup2MountIsUsedWhereverItIs) {
    EXPECT_EQ(plan(kHybrid, kWithV2, false).kind, OwnHierarchy::none);
    // Android's bpf mount is the one cgroup2 hierarchy's root too: used, nothing mounted.
    std::string cg2_bpf =
        std::string(kOldAndroid) + "34 30 0:24 / /dev/cg2_bpf rw - cgroup2 none rw\n";
    EXPECT_EQ(plan(cg2_bpf, kWithV2, false).kind, OwnHierarchy::none);
    CgroupHost host = parse_cgroup_host(cg2_bpf);
    EXPECT_EQ(host.v2_root, "/dev/cg2_bpf");
}

TEST(OwnCgroupPlan, KernelWithoutCgroup2GetsTheNamedSystemdHierarchy) {
    auto own = plan(kOldAndroid, kV1Only, false);
    EXPECT_EQ(own.kind, OwnHierarchy::systemd);
    EXPECT_EQ(own.mount_point, kBase + "/systemd");
    // One already there (any mount point) is used instead.
    std::string named =
        std::string(kOldAndroid) + "40 1 0:37 / /x rw - cgroup cgroup rw,name=systemd\n";
    EXPECT_EQ(plan(named, kV1Only, false).kind, OwnHierarchy::none);
}

TEST(OwnCgroupPlan, ForcedV1WithoutANamedHierarchyMountsIt) {
    std::string v2_only = "30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
    EXPECT_EQ(plan(v2_only, kWithV2, true).kind, OwnHierarchy::systemd);
    EXPECT_EQ(plan(kHybrid, kWithV2, true).kind, OwnHierarchy::none);
}

TEST(OwnCgroupPlan, NothingToMountWithoutKernelSupport) {
    EXPECT_EQ(plan("", kNoCgroups, false).kind, OwnHierarchy::none);
    EXPECT_EQ(plan("", kNoCgroups, true).kind, OwnHierarchy::none);
    EXPECT_EQ(plan("", "", false).kind, OwnHierarchy::none);
    // "cgroup2" alone is not "cgroup": v1 is not taken for granted.
    EXPECT_EQ(plan("", "nodev\tcgroup2\n", true).kind, OwnHierarchy::none);
}

TEST(OwnCgroupPlan, KeepsOnlyTheSuperblockFlags) {
    EXPECT_EQ(cgroup2_flag_options("rw,nsdelegate,memory_recursiveprot"),
              "nsdelegate,memory_recursiveprot");
    EXPECT_EQ(cgroup2_flag_options("rw,relatime"), "");
    EXPECT_EQ(cgroup2_flag_options(""), "");
    EXPECT_EQ(cgroup2_flag_options("ro,favordynmods,memory_localevents,pids_localevents,"
                                   "memory_hugetlb_accounting"),
              "favordynmods,memory_localevents,pids_localevents,memory_hugetlb_accounting");
    // Near misses and injected options are dropped, not passed to mount(2).
    EXPECT_EQ(cgroup2_flag_options("nsdelegatex,xnsdelegate,release_agent=/x"), "");
}

TEST(OwnCgroupPlan, ThePrivatePlaceIsNeverTheHostsCgroupTree) {
    std::string base = own_cgroup_base();
    EXPECT_TRUE(base == "/run/droidspaces-cgroup" || base == "/dev/droidspaces-cgroup");
    EXPECT_TRUE(is_own_cgroup_mount(base + "/unified"));
    EXPECT_TRUE(is_own_cgroup_mount(base + "/systemd"));
    EXPECT_FALSE(is_own_cgroup_mount(base));
    EXPECT_FALSE(is_own_cgroup_mount("/sys/fs/cgroup"));
    EXPECT_FALSE(is_own_cgroup_mount("/sys/fs/cgroup/unified"));
}

// Once mounted, mountinfo lists it and the container is planned in it like in a host mount.
TEST(OwnCgroupPlan, ContainersArePlannedInTheOwnMount) {
    std::string base = own_cgroup_base();
    container::BootPlan plan;
    plan.config.name = "box";
    container::plan_cgroups(plan, parse_cgroup_host(std::string(kOldAndroid) + "60 47 0:38 / " +
                                                    base + "/unified rw - cgroup2 cgroup2 rw\n"));
    EXPECT_EQ(plan.cgroup_layout, container::CgroupLayout::unified);
    EXPECT_EQ(plan.cgroup_path, base + "/unified/droidspaces/box");

    container::BootPlan v1;
    v1.config.name = "box";
    container::plan_cgroups(v1,
                            parse_cgroup_host(std::string(kOldAndroid) + "61 47 0:39 / " + base +
                                              "/systemd rw - cgroup cgroup rw,name=systemd\n"));
    EXPECT_EQ(v1.cgroup_layout, container::CgroupLayout::legacy_systemd);
    EXPECT_EQ(v1.cgroup_path, base + "/systemd/droidspaces/box");
}

TEST(OwnCgroupCheck, ReportsWhatStartWillMountAndWhere) {
    HostFacts facts;
    facts.cgroup = parse_cgroup_host(kOldAndroid);
    facts.proc_filesystems = std::string(kWithV2);
    auto result = probing::probe_cgroup_v2(facts);
    EXPECT_TRUE(result.ok);
    EXPECT_EQ(result.detail,
              "not mounted by the host: start mounts cgroup2 at " + own_cgroup_base() + "/unified");

    facts.proc_filesystems = std::string(kV1Only);
    result = probing::probe_cgroup_v2(facts);
    EXPECT_FALSE(result.ok);
    EXPECT_EQ(result.detail,
              "cgroup2 not in /proc/filesystems: start mounts the v1 name=systemd hierarchy at " +
                  own_cgroup_base() + "/systemd");

    facts.proc_filesystems = std::string(kNoCgroups);
    EXPECT_EQ(probing::probe_cgroup_v2(facts).detail, "cgroup2 not in /proc/filesystems");
}

// This host mounts its own hierarchies: nothing of ours exists, and a release touches nothing.
TEST(OwnCgroupLive, ReleaseWithoutAnOwnMountDoesNothing) {
    if (path_exists(own_cgroup_base())) GTEST_SKIP() << own_cgroup_base() << " is in use";
    EXPECT_TRUE(release_own_cgroup_mounts().empty());
    EXPECT_FALSE(hold_own_cgroups());
    EXPECT_FALSE(path_exists(own_cgroup_base()));
}

}  // namespace
}  // namespace ds::sys
