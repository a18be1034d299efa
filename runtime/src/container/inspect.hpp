// Read-side operations both front ends (CLI, web server) call through container::Runtime: list
// the running containers (list.cpp), every container with its cgroup usage (list.cpp,
// usage.cpp), inspect one (info.cpp), and scan the host for containers the workspace lost track
// of (scan.cpp); the identity rules below live in records.cpp. They return plain data; the CLI
// renders it as text, KEY=VALUE or JSON (to_json here, so both agree: docs/json.md).
//
// Identity rules (reference §14, plus runc's start-time check), from host-side facts only:
//  - a record (Pids/<name>.state) names a running container only while its init has the same
//    start time and is still PID 1 of a PID namespace below ours (container::find_running);
//    nothing inside the guest counts, so deleting /run/droidspaces changes nothing;
//  - an upstream-style pidfile without a .state is believed only when its PID is a container
//    init the host can vouch for: PID 1 of a PID namespace directly below ours, owned by host
//    root in the initial user namespace, in the runtime's cgroup droidspaces/<name>, and with
//    /run/droidspaces/name equal to the container's name; it is then adopted (.state written);
//  - scan adopts only such inits whose parent is a ds-monitor:<name> owned by host root in our
//    PID namespace (the name comes from the monitor), and never imports a guest's config;
//  - stale records are pruned as a side effect: dead or reused PIDs, garbage pidfiles. A
//    pidfile whose PID is alive but no container is left alone (upstream does the same: it may
//    be a container still booting under another tool), but never listed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "container/state.hpp"
#include "core/config.hpp"
#include "core/workspace.hpp"
#include "sys/cgroup.hpp"

namespace ds::container {

// --- show --------------------------------------------------------------------------------------

struct ContainerSummary {
    ContainerState state;
    int64_t uptime_seconds = -1;  // since the current init started (upstream); -1 unknown
    std::string net_mode;         // from the workspace config, "" when unreadable
};

struct ContainerList {
    std::vector<ContainerSummary> running;  // sorted by name
    std::vector<std::string> pruned;        // names whose stale records were removed
    size_t configured = 0;                  // directories under Containers/ (TOTAL_CONTAINERS)
};

// Every running container of the workspace; prunes stale records on the way. Cheap: a few small
// reads per container, no /proc walk.
ContainerList list_containers(const Workspace& ws);

// {name, pid, monitor_pid (null when unknown), init, uptime_seconds, rootfs, boots, net}
nlohmann::json to_json(const ContainerSummary& summary);

// --- list (every container, running or not) ------------------------------------------------------

// What a container's cgroup says it uses: cgroup v2 files, or on hosts whose controllers are on
// cgroup v1 the droidspaces/<name> directories of the memory, cpuacct and pids hierarchies.
// A counter the host does not have is nullopt.
struct ResourceUsage {
    std::optional<uint64_t> memory_bytes, memory_limit_bytes;
    std::optional<uint64_t> cpu_usage_usec;
    std::optional<uint64_t> pids, pids_limit;
};

struct ContainerEntry {
    std::string name;  // the config's spelling, else the directory's
    bool running = false;
    ContainerState state;                   // running only
    InitFamily init = InitFamily::unknown;  // running: the record's; stopped: unknown
    int64_t uptime_seconds = -1;            // running only; -1 unknown
    std::string net_mode;                   // from the config, "" when it has none
    std::string rootfs;                     // running: the booted rootfs; else the config's
    bool has_config = false;
    std::string config_error;                  // the config exists but cannot be read: why
    std::vector<std::string> config_warnings;  // its lines that are ignored, and why
    std::optional<ResourceUsage> usage;        // running only
};

struct ContainerTable {
    std::vector<ContainerEntry> containers;  // sorted by name
    std::vector<std::string> pruned;         // names whose stale records were removed
};

// Every container of the workspace: each Containers/<dir> with a container.config (entries
// starting with '.' are the runtime's own, e.g. install staging; a directory without a config
// is not a container and is skipped) plus every running container. Prunes stale records.
ContainerTable list_all_containers(const Workspace& ws);
// The cgroup usage of a running container whose v2 cgroup is `cgroup_path` ("" for none).
// `host`: the host's cgroup layout when the caller already has it (one read for a list).
ResourceUsage container_usage(const std::string& name, const std::string& cgroup_path,
                              const sys::CgroupHost* host = nullptr);

// {name, state, init, uptime_seconds, net, rootfs, pid, monitor_pid, boots, usage{...},
//  config_error}: see docs/json.md.
nlohmann::json to_json(const ContainerEntry& entry);

// --- info --------------------------------------------------------------------------------------

struct NamespaceInfo {
    std::string type;         // cgroup ipc mnt net pid time user uts
    uint64_t inode = 0;       // of /proc/<init>/ns/<type>
    bool is_private = false;  // differs from the host's (PID 1's)
};

struct CgroupUsage {
    std::string path;  // host path of the container's cgroup, "" when it has none
    std::optional<uint64_t> memory_current, memory_max, pids_current, pids_max, cpu_usage_usec;
    std::optional<size_t> processes;  // cgroup.procs entries in the whole subtree
};

struct ProcessUsage {
    uint64_t ram_used_kb = 0;   // VmRSS summed over the processes of the init's PID namespace
    uint64_t ram_total_kb = 0;  // host MemTotal
    size_t processes = 0;
    std::optional<unsigned> cpu_permill;  // 0..1000 over a 250 ms window, when sampled
};

struct ContainerInfo {
    std::string name;
    bool running = false;
    std::string host_platform;  // Linux | Android
    std::string host_arch;      // x86_64 | aarch64 | arm | x86 | uname machine

    // Running only.
    ContainerState state;
    std::string os;  // PRETTY_NAME of the container's os-release, "" when unknown
    int64_t uptime_seconds = -1;
    std::optional<size_t> mounts;  // entries in the init's mount namespace
    std::vector<NamespaceInfo> namespaces;
    CgroupUsage cgroup;
    std::optional<ProcessUsage> usage;

    // The workspace copy of the config (the guest's /run/droidspaces copy is never trusted).
    bool has_config = false;
    Config config;
    std::string config_source;  // "workspace" | ""
    std::string hostname;       // config hostname, defaulting to the name
    size_t env_vars = 0;        // valid KEY=VALUE lines of the config's env_file
    std::string selinux;        // Enforcing | Permissive | "" when the host has no SELinux
};

struct InspectOptions {
    bool sample_cpu = false;  // measure CPU_PERMILL (sleeps 250 ms)
};

// A running container, or a stopped one that has a config in the workspace (running = false).
// Throws a usage error naming the container when it is neither.
ContainerInfo inspect_container(const Workspace& ws, const std::string& name,
                                InspectOptions options = {});

nlohmann::json to_json(const ContainerInfo& info);
// The config's feature settings as one JSON object (net, dns_servers, disable_ipv6, ...).
nlohmann::json features_json(const Config& config);
// A saved config: {name, path, rootfs, rootfs_is_image, hostname, uuid, features{...}}.
nlohmann::json config_json(const Config& config, const std::string& path);

// --- scan --------------------------------------------------------------------------------------

struct ScanResult {
    std::vector<std::string> synchronized;     // containers whose records were (re)written
    std::vector<std::string> missing_configs;  // running, but container.config is gone
    std::vector<std::string> cleaned;          // what was removed: "pidfile NAME", "cgroup PATH"...
    std::vector<std::string> foreign;          // valid inits owned by another workspace's monitor
};

// Finds every container init on the host the runtime can vouch for and restores the records
// this workspace lost (pidfile, .init, .state; a lost container.config is reported, not
// restored), deletes dead records, removes empty leftover droidspaces cgroups and orphaned
// mount points under the workspace mount base.
ScanResult scan_host(const Workspace& ws);

nlohmann::json to_json(const ScanResult& result);

// --- shared facts ------------------------------------------------------------------------------

// PID 1 of a PID namespace directly below ours, owned by host root in the initial user
// namespace. Callers that know the name also require the cgroup droidspaces/<name>.
bool is_container_init(pid_t pid);
// The container name an init's /run/droidspaces/name marker gives, "" when unreadable (read
// inside the guest's root, regular file only, size-capped).
std::string container_name_of(pid_t pid);

}  // namespace ds::container
