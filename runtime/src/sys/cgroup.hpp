// cgroupfs: the host's cgroup layout (one detector shared by `check` and `start`), creating,
// joining, killing and removing cgroups.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace ds::sys
