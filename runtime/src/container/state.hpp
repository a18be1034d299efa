// What the host remembers about a running container: Pids/<name>.pid (upstream's pidfile),
// .init (init family) and .state (our identity record: PIDs with start times).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "container/init_family.hpp"
#include "core/workspace.hpp"

namespace ds::container {

struct ContainerState {
    std::string name;
    pid_t init_pid = 0;
    uint64_t init_start = 0;  // start time in clock ticks: a reused PID has a different one
    pid_t monitor_pid = 0;
    uint64_t monitor_start = 0;
    InitFamily family = InitFamily::unknown;
    bool custom_init = false;
    std::string rootfs;
    std::string cgroup_path;
    std::string image_mount;   // image rootfs: its mount point on the host (also Pids/<name>.mount)
    std::string volatile_dir;  // --volatile: the scratch directory
    std::string uuid;
    std::string boot_id;
    int64_t started_at = 0;  // unix time of the first boot
    unsigned boots = 1;      // 1 + in-container reboots
};

void write_state(const Workspace& ws, const ContainerState& state);
std::optional<ContainerState> read_state(const Workspace& ws, const std::string& name);
void remove_state(const Workspace& ws, const std::string& name);
// Names that have a pidfile.
std::vector<std::string> names_with_pidfiles(const Workspace& ws);

// The init is alive, is the same process (boot id, start time) and is still PID 1 of a PID
// namespace below ours. Host-side facts only: nothing the guest can write or delete (a guest
// that removes its /run/droidspaces stays running, listed and stoppable).
bool init_is_running(const ContainerState& state);
// PID 1 of a PID namespace directly below ours (NSpid has two levels, the inner one 1), as
// the kernel reports it.
bool is_child_namespace_init(pid_t pid);
// Owned by host root: real, effective, saved and fs UIDs and GIDs 0, seen from the initial
// user namespace (its user namespace is PID 1's or ours). A process an unprivileged user made
// with `unshare --user --map-root-user` shows its real (unprivileged) IDs here.
bool owned_by_host_root(pid_t pid);
bool monitor_is_running(const ContainerState& state);

// Removes a --volatile scratch directory (empty on the host: the tmpfs lived only in the
// container's mount namespace) and Volatile/ itself once no container uses it.
void remove_volatile_dir(const std::string& dir);

// The running container called `name`, or nullopt. Stale records (dead or reused PIDs, a
// previous boot of the machine) are removed on the way when no monitor owns them any more.
std::optional<ContainerState> find_running(const Workspace& ws, const std::string& name);

}  // namespace ds::container
