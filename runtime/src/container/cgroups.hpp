// The container's cgroups: where it lives (v2, or the v1 named systemd hierarchy), and its
// resource limits: on cgroup v2 in that same cgroup, on cgroup v1 (beyond upstream, which is
// v2-only) in a droidspaces/<name> cgroup of each controller's own hierarchy.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "container/boot_plan.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"

namespace ds::container {

using Warn = std::function<void(const std::string&)>;

// Sets plan.cgroup_layout and plan.cgroup_path from the host's layout (reference §8;
// boot-lab-notes §2.4): v2 unless --force-cgroupv1, else the v1 named systemd hierarchy.
void plan_cgroups(BootPlan& plan, const sys::CgroupHost& host);

// Applies --memory, --cpus and --pids-limit. The container's cgroup (plan.cgroup_path) exists.
// A controller in the host's cgroup v2 is used there; one on a v1 hierarchy gets
// <hierarchy>/droidspaces/<name>, recorded in plan.limit_cgroups for init to join before it
// execs. A controller found nowhere is reported through `warn` and its limit skipped. Throws
// when the kernel refuses a value.
void apply_limits(BootPlan& plan, const sys::CgroupHost& host, const Warn& warn);

// The v1 hierarchies a limit may use (memory, cpu, cpuacct, pids), each "<mount>/droidspaces"; the
// base directories `scan` looks in for leftovers next to the v2 and systemd ones.
std::vector<std::string> limit_cgroup_bases(const sys::CgroupHost& host);

// The first <hierarchy>/droidspaces/<name> of a v1 limit hierarchy that has processes anywhere
// below it: another workspace's container of the same name (cgroups are named by container).
std::optional<std::string> busy_limit_cgroup(const std::string& name, const sys::CgroupHost& host);

// Kills what is left in and removes <hierarchy>/droidspaces/<name> in every v1 limit
// hierarchy, and droidspaces/ itself when it was the last. Returns false when one stays.
bool remove_limit_cgroups(const std::string& name, const sys::CgroupHost& host);

// `run`/`enter`: the container's v1 limit cgroups as directory fds, opened on the host before
// the caller joins the container's namespaces; the process started inside writes "0" to each
// one's cgroup.procs (openat) before it execs, so that it is limited like init.
std::vector<sys::unique_fd> open_limit_cgroups(const std::string& name,
                                               const sys::CgroupHost& host);

// The v1 limit cgroups' figures for `info` (nullopt: not limited through v1 / unreadable).
struct V1LimitUsage {
    std::optional<uint64_t> memory_current, memory_max, memory_failcnt;
    std::optional<uint64_t> pids_current, pids_max;
    std::optional<int64_t> cpu_quota_us;
    std::optional<uint64_t> cpu_period_us;
    std::optional<uint64_t> cpu_usage_ns;  // cpuacct.usage
};
V1LimitUsage v1_limit_usage(const std::string& name, const sys::CgroupHost& host);

}  // namespace ds::container
