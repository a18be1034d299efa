// /proc views ("lxcfs-lite", upstream §13.10): with --memory or --cpus set, `free`, `top`,
// `nproc` and `uptime` inside see the container, not the host.
//
// Init, after pivot_root, mounts a small tmpfs at /run/droidspaces/vproc, writes meminfo, stat,
// cpuinfo, uptime, loadavg and a CPU list there, binds them over /proc/* and
// /sys/devices/system/cpu/{online,possible,present}, pins itself to N CPUs (what nproc counts),
// and hands the monitor open fds of the files that change. The monitor rewrites those in place
// through the fds every second: whatever the guest later mounts or links at those paths, the
// monitor only ever writes its own tmpfs files.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "sys/fd.hpp"

namespace ds::container {

struct ViewLimits {
    uint64_t memory_bytes = 0;  // 0: not limited
    unsigned cpus = 0;  // ceil(quota/period), at most the host's online CPUs; 0: not limited
    bool enabled() const { return memory_bytes || cpus; }
};

ViewLimits view_limits(const Config& config, unsigned host_cpus);

// What the container's cgroup says about its memory: v2 memory.current and memory.stat, or v1
// memory.usage_in_bytes and memory.stat (rss/cache, the total_* sums preferred).
struct MemoryUsage {
    bool known = false;
    uint64_t current = 0, anon = 0, file = 0, shmem = 0;
    uint64_t active_anon = 0, inactive_anon = 0, active_file = 0, inactive_file = 0;
};
MemoryUsage parse_memory_usage(std::string_view current, std::string_view stat);

// The renderers: pure, from the host's file text (unit-tested).
std::string render_meminfo(std::string_view host, uint64_t limit, const MemoryUsage& usage);
std::string render_cpuinfo(std::string_view host, unsigned cpus);
std::string render_stat(std::string_view host, unsigned cpus);
std::string render_uptime(double container_seconds, double idle_seconds);
std::string render_loadavg(const double load[3], unsigned running, unsigned tasks);
std::string cpu_list(unsigned cpus);  // "0-3\n"; "0\n" for one

// In init, after pivot_root. Throws on failure (the boot step reports it).
void mount_proc_views(const ViewLimits& limits, int monitor_socket);

// The monitor's side: the files init handed over, refreshed on every tick.
class ProcViews {
  public:
    ProcViews() = default;
    // Takes what init sent over `socket` (nothing when views are off); `limits` as init had.
    // `cgroups`: the container's cgroup directories (v2, and v1 limit cgroups), where its memory
    // use and its tasks are read.
    void receive(int socket, const ViewLimits& limits, const std::vector<std::string>& cgroups);
    bool active() const { return meminfo_ || stat_ || uptime_ || loadavg_; }
    void refresh();
    void clear();

  private:
    void refresh_loadavg();

    ViewLimits limits_;
    sys::unique_fd memory_dir_, tasks_dir_;
    double started_ = 0;  // CLOCK_BOOTTIME at receive()
    sys::unique_fd meminfo_, stat_, uptime_, loadavg_;
    double load_[3] = {0, 0, 0};
    unsigned ticks_ = 0;
};

}  // namespace ds::container
