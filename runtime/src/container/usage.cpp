// Resource usage of a container: its cgroup's counters and its processes' memory and CPU.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "container/cgroups.hpp"
#include "container/config_source.hpp"
#include "container/image.hpp"
#include "container/inspect_detail.hpp"
#include "container/lifecycle.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/platform.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"

namespace ds::container {

using namespace std::chrono_literals;
using namespace detail;

namespace {

constexpr auto kCpuWindow = 250ms;

}  // namespace

namespace detail {

std::optional<uint64_t> read_value(const std::string& path) {
    auto text = sys::try_read_file(path);
    return text ? format::parse_cgroup_value(*text) : std::nullopt;
}

// Processes in the whole cgroup subtree; nullopt when the cgroup cannot be read.
std::optional<size_t> subtree_processes(const std::string& path, int depth) {
    auto procs = sys::try_read_file(path + "/cgroup.procs");
    if (!procs) return std::nullopt;
    size_t n = format::count_lines(*procs);
    if (depth < 16)
        for (const auto& child : list_dir(path, true))
            n += subtree_processes(path + "/" + child, depth + 1).value_or(0);
    return n;
}

CgroupUsage cgroup_usage(const std::string& name, const std::string& path) {
    CgroupUsage u;
    u.path = path;
    // One reader for the counters (v2 files, else the v1 limit cgroups), as `show --all` has.
    ResourceUsage r = container_usage(name, path);
    u.memory_current = r.memory_bytes;
    u.memory_max = r.memory_limit_bytes;
    u.pids_current = r.pids;
    u.pids_max = r.pids_limit;
    u.cpu_usage_usec = r.cpu_usage_usec;
    if (!path.empty() && sys::is_directory(path)) u.processes = subtree_processes(path);
    return u;
}

// utime + stime (fields 14 and 15 of /proc/PID/stat).
uint64_t cpu_ticks(pid_t pid) {
    auto stat = sys::try_read_file(proc_path(pid, "stat"));
    if (!stat) return 0;
    auto close = stat->rfind(')');
    if (close == std::string::npos) return 0;
    size_t pos = close + 2;  // field 3
    for (int field = 3; field < 14; ++field) {
        pos = stat->find(' ', pos);
        if (pos == std::string::npos) return 0;
        ++pos;
    }
    char* end = nullptr;
    uint64_t utime = std::strtoull(stat->c_str() + pos, &end, 10);
    uint64_t stime = std::strtoull(end, nullptr, 10);
    return utime + stime;
}

uint64_t host_cpu_ticks() {
    auto stat = sys::try_read_file("/proc/stat").value_or("");
    if (stat.rfind("cpu ", 0) != 0) return 0;
    const char* p = stat.c_str() + 4;
    uint64_t total = 0;
    for (int i = 0; i < 7; ++i) {
        char* end = nullptr;
        total += std::strtoull(p, &end, 10);
        if (end == p) break;
        p = end;
    }
    return total;
}

std::optional<std::string> link_of(const std::string& path) {
    char buf[128];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n <= 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
}

// Upstream's `usage`: the processes sharing the init's PID namespace.
ProcessUsage process_usage(pid_t init, bool sample_cpu) {
    ProcessUsage u;
    if (auto meminfo = sys::try_read_file("/proc/meminfo")) {
        auto pos = meminfo->find("MemTotal:");
        if (pos != std::string::npos)
            u.ram_total_kb = std::strtoull(meminfo->c_str() + pos + 9, nullptr, 10);
    }
    auto ns = link_of(proc_path(init, "ns/pid"));
    if (!ns) return u;
    auto members = [&] {
        std::vector<pid_t> out;
        for (pid_t pid : all_pids())
            if (link_of(proc_path(pid, "ns/pid")) == ns) out.push_back(pid);
        return out;
    };
    auto pids = members();
    u.processes = pids.size();
    uint64_t before = 0;
    for (pid_t pid : pids) {
        std::string rss = sys::proc_status_field(pid, "VmRSS");
        u.ram_used_kb += std::strtoull(rss.c_str(), nullptr, 10);
        if (sample_cpu) before += cpu_ticks(pid);
    }
    if (sample_cpu) {
        uint64_t host_before = host_cpu_ticks();
        std::this_thread::sleep_for(kCpuWindow);
        uint64_t after = 0;
        for (pid_t pid : members())
            after += cpu_ticks(pid);
        uint64_t host_delta = host_cpu_ticks() - host_before;
        uint64_t delta = after > before ? after - before : 0;
        uint64_t permill = host_delta > 0 ? delta * 1000 / host_delta : 0;
        u.cpu_permill = static_cast<unsigned>(std::min<uint64_t>(permill, 1000));
    }
    return u;
}

}  // namespace detail

namespace {

// "max" (v2) and v1's huge "no limit" numbers both mean no limit.
std::optional<uint64_t> limit_value(const std::string& path) {
    auto value = read_value(path);
    if (value && *value >= (uint64_t{1} << 62)) return std::nullopt;
    return value;
}

// Controllers the v2 cgroup lacks may be on v1 (many Android kernels): their own
// droidspaces/<name> directories, when limits made them (container/cgroups.hpp).
void add_v1_usage(const std::string& name, const sys::CgroupHost& host, ResourceUsage& u) {
    V1LimitUsage v1 = v1_limit_usage(name, host);
    auto limit = [](std::optional<uint64_t> v) {  // v1's huge "no limit" numbers
        return v && *v >= (uint64_t{1} << 62) ? std::nullopt : v;
    };
    if (!u.memory_bytes && v1.memory_current) {
        u.memory_bytes = v1.memory_current;
        u.memory_limit_bytes = limit(v1.memory_max);
    }
    if (!u.cpu_usage_usec && v1.cpu_usage_ns) u.cpu_usage_usec = *v1.cpu_usage_ns / 1000;
    if (!u.pids && v1.pids_current) {
        u.pids = v1.pids_current;
        u.pids_limit = limit(v1.pids_max);
    }
}

}  // namespace

ResourceUsage container_usage(const std::string& name, const std::string& cgroup_path,
                              const sys::CgroupHost* host) {
    ResourceUsage u;
    if (!cgroup_path.empty() && sys::is_directory(cgroup_path)) {
        u.memory_bytes = read_value(cgroup_path + "/memory.current");
        u.memory_limit_bytes = limit_value(cgroup_path + "/memory.max");
        u.pids = read_value(cgroup_path + "/pids.current");
        u.pids_limit = limit_value(cgroup_path + "/pids.max");
        if (auto stat = sys::try_read_file(cgroup_path + "/cpu.stat"))
            u.cpu_usage_usec = format::flat_keyed_value(*stat, "usage_usec");
    }
    if (!u.memory_bytes || !u.cpu_usage_usec || !u.pids)
        add_v1_usage(name, host ? *host : sys::host_cgroups(), u);
    return u;
}

}  // namespace ds::container
