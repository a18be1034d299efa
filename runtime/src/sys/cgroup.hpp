// cgroupfs: finding the v2 hierarchy, creating, joining, killing and removing cgroups.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace ds::sys {

struct CgroupMount {
    std::string path;     // mount point
    std::string fstype;   // cgroup2 | cgroup
    std::string options;  // super options ("rw,name=systemd", "rw,memory")
};
std::vector<CgroupMount> host_cgroup_mounts();
// The host's cgroup2 mount: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid
// ones. Never mounts anything.
std::optional<std::string> cgroup2_root();
// The v1 named "systemd" hierarchy, if mounted.
std::optional<std::string> cgroup_v1_systemd_root();

void create_cgroup(const std::string& path);
// Processes live in the cgroup or below it.
bool cgroup_populated(const std::string& path);
// Moves `pid` (0 = the caller) into the cgroup.
void join_cgroup(const std::string& path, pid_t pid = 0);
// SIGKILLs every process in the subtree (cgroup.kill, or one by one on kernels before 5.14).
void kill_cgroup(const std::string& path);
// Removes the subtree bottom-up, waiting up to `timeout` for dying processes to leave.
// Returns false when something could not be removed.
bool remove_cgroup_tree(const std::string& path, std::chrono::milliseconds timeout);
// The cgroup path of `pid` in the v2 hierarchy, relative to its root ("/droidspaces/x/init.scope").
std::optional<std::string> process_cgroup2_path(pid_t pid);

}  // namespace ds::sys
