// cgroupfs: the host's cgroup layout (one detector shared by `check` and `start`), creating,
// joining, killing and removing cgroups.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/fd.hpp"

namespace ds::sys {

enum class CgroupLayout { none, legacy, hybrid, unified };
// "none", "legacy", "hybrid", "unified".
std::string_view layout_name(CgroupLayout layout);

struct V1Hierarchy {
    std::string mount_point;
    std::vector<std::string> controllers;  // "cpu", "cpuacct", "memory"; none for a named one
    std::string name;                      // "systemd" for name=systemd, else ""
    bool is_root = true;                   // the hierarchy's root is mounted (not a subtree)
};

// What the host offers, read from its mountinfo (and the v2 root's cgroup.controllers).
struct CgroupHost {
    std::optional<std::string> v2_root;        // where the cgroup2 hierarchy's root is mounted
    std::vector<std::string> v2_controllers;   // cgroup.controllers of the v2 root
    std::vector<V1Hierarchy> v1;               // every cgroup (v1) mount, in mountinfo order
    std::vector<std::string> v1_mounts;        // their mount points (for `check`)
    CgroupLayout layout = CgroupLayout::none;  // v2+v1 hybrid, only v2 unified, only v1 legacy

    bool v2_has(std::string_view controller) const;
    // The mount of the v1 hierarchy holding `controller` (a hierarchy root preferred).
    std::optional<std::string> v1_controller_root(std::string_view controller) const;
    // The v1 named "systemd" hierarchy.
    std::optional<std::string> v1_systemd_root() const;
};
// Pure: from /proc/self/mountinfo text. The v2 root is a cgroup2 mount of the hierarchy root
// ("/") preferring /sys/fs/cgroup, then /sys/fs/cgroup/unified, then the first listed; a bind of
// a subtree only when nothing else is there. v2_controllers stays empty (not in mountinfo).
CgroupHost parse_cgroup_host(std::string_view mountinfo);
// The live host: this process's mountinfo plus the v2 root's cgroup.controllers. Never mounts.
CgroupHost host_cgroups();

// Shorthands over host_cgroups().
std::optional<std::string> cgroup2_root();
std::optional<std::string> cgroup_v1_systemd_root();

void create_cgroup(const std::string& path);
// Processes live in the cgroup or anywhere below it. v2 answers from cgroup.events; v1 has no
// such file, so the subtree is walked (a guest's systemd moves itself into init.scope below).
bool cgroup_populated(const std::string& path);
// Moves `pid` (0 = the caller) into the cgroup.
void join_cgroup(const std::string& path, pid_t pid = 0);
// SIGKILLs every process in the subtree (cgroup.kill, or one by one on kernels before 5.14).
void kill_cgroup(const std::string& path);
// Removes the subtree bottom-up, waiting up to `timeout` for dying processes to leave.
// Returns false when something could not be removed.
bool remove_cgroup_tree(const std::string& path, std::chrono::milliseconds timeout);

// --- The runtime's own hierarchy (cgroup_own.cpp) ------------------------------------------------
// Older Android kernels mount cgroup2 nowhere (or only at /dev/cg2_bpf) and have v1 controllers
// only, without a named systemd hierarchy. There the runtime mounts a hierarchy of its own in a
// private directory (never over the host's /sys/fs/cgroup). Every later command finds it in
// mountinfo like a host mount; it is unmounted when the last container cgroup leaves it.

enum class OwnHierarchy { none, unified, systemd };

struct OwnCgroupMount {
    OwnHierarchy kind = OwnHierarchy::none;
    std::string mount_point;  // <base>/unified (cgroup2) or <base>/systemd (v1 name=systemd)
};

// "/run/droidspaces-cgroup"; "/dev/droidspaces-cgroup" on Android or where /run is missing.
std::string own_cgroup_base();
// Whether `path` is one of the runtime's own mount points.
bool is_own_cgroup_mount(const std::string& path);

// Pure: what the runtime must mount before a container can have a cgroup. cgroup2 when the
// container wants v2, the host mounts no cgroup2 and the kernel lists it in `proc_filesystems`;
// the v1 named systemd hierarchy when the container wants v1 (`want_v1`: --force-cgroupv1) or
// the kernel has no cgroup2, the host mounts no named systemd hierarchy and the kernel has
// cgroup v1. Otherwise nothing (the host's own hierarchy is used, or there is none to mount).
OwnCgroupMount plan_own_cgroup_mount(const CgroupHost& host, std::string_view proc_filesystems,
                                     bool want_v1, const std::string& base);

// Pure: the cgroup2 superblock flags among `super_options` ("rw,nsdelegate,relatime" ->
// "nsdelegate"). A cgroup2 mount made from the initial cgroup namespace re-applies its options
// to the kernel's one cgroup2 superblock, so such a mount must repeat the flags in force.
std::string cgroup2_flag_options(std::string_view super_options);

// `start` of container `name`: the host's layout, after mounting the runtime's own hierarchy when
// the container needs one (plan_own_cgroup_mount), and with the container noted as a user of it.
// A mount that fails is reported through `warn` and the container starts without it, as before.
// `lock` keeps a concurrent release from unmounting it: drop it once the container's cgroup
// exists.
struct CgroupSetup {
    CgroupHost host;
    unique_fd lock;
};
CgroupSetup prepare_cgroup_host(const std::string& name, bool want_v1,
                                const std::function<void(const std::string&)>& warn);

// The lock a release takes, held while a container's cgroup is briefly absent from the runtime's
// own hierarchy (the monitor re-creating it for a reboot inside), so that the hierarchy is not
// unmounted meanwhile. Empty when the runtime has no hierarchy of its own. Never throws.
unique_fd hold_own_cgroups();

// Unmounts the runtime's own hierarchies once no container that noted itself as a user at its
// start still has its cgroup there (the same hierarchy may serve other mounts' containers), and
// removes the private directory. Skipped while a `start` is mounting or creating its cgroup
// there (that start's container, or its failure, releases it later).
// Returns the mount points it unmounted. Never throws.
std::vector<std::string> release_own_cgroup_mounts();

}  // namespace ds::sys
