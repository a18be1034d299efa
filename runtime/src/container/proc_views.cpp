#include "container/proc_views.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>

#include "core/text.hpp"
#include "sys/file.hpp"
#include "sys/seccomp_notify.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr const char* kDir = "/run/droidspaces/vproc";
// What each refreshed file is called on the socket to the monitor.
constexpr char kMeminfo = 'M', kStat = 'S', kUptime = 'U', kLoadavg = 'L';
constexpr unsigned kLoadavgEveryTicks = 5;  // the kernel samples its load every 5 s too
constexpr size_t kMaxTasksCounted = 8192;   // a fork bomb must not stall the monitor
constexpr int kMaxCgroupDepth = 16;

uint64_t to_u64(std::string_view s) {
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
}

// "MemTotal:       16384 kB" -> 16384 (kB); nullopt-like 0 when the key is absent.
uint64_t meminfo_kb(std::string_view host, std::string_view key) {
    for (auto line : text_lines(host)) {
        if (line.size() > key.size() && line.substr(0, key.size()) == key &&
            line[key.size()] == ':')
            return to_u64(trim(line.substr(key.size() + 1)));
    }
    return 0;
}

std::string meminfo_line(std::string_view key, uint64_t kb) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%-16s%8llu kB\n", (std::string(key) + ":").c_str(),
                  static_cast<unsigned long long>(kb));
    return buf;
}

// The CPUs init pins itself to: the first `cpus` of those it may run on.
std::vector<unsigned> first_allowed_cpus(unsigned cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> ids;
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return ids;
    for (unsigned cpu = 0; cpu < CPU_SETSIZE && ids.size() < cpus; ++cpu)
        if (CPU_ISSET(cpu, &set)) ids.push_back(cpu);
    return ids;
}

double boottime_seconds() {
    struct timespec ts;
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Replaces a view's content in place: its fd is all the monitor holds.
void rewrite(int fd, const std::string& text) {
    if (::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size()))
        (void)::ftruncate(fd, static_cast<off_t>(text.size()));
}

std::string read_at(int dir, const char* name) {
    sys::unique_fd fd(::openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    std::string out;
    if (!fd) return out;
    char buf[4096];
    ssize_t n;
    while (out.size() < 65536 && (n = ::read(fd.get(), buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    return out;
}

// Runnable and total tasks of a cgroup tree: every thread in cgroup.threads, its state from
// /proc/TID/stat ("R" counts towards the load, like the kernel's nr_running; "D" too).
void count_tasks(int dir, int depth, unsigned& running, unsigned& tasks) {
    if (depth > kMaxCgroupDepth) return;
    std::string threads = read_at(dir, "cgroup.threads");
    if (threads.empty()) threads = read_at(dir, "tasks");  // v1
    for (auto line : text_lines(threads)) {
        if (line.empty() || tasks >= kMaxTasksCounted) continue;
        ++tasks;
        auto stat = sys::try_read_file("/proc/" + std::string(line) + "/stat");
        if (!stat) continue;
        auto paren = stat->rfind(')');
        if (paren != std::string::npos && paren + 2 < stat->size()) {
            char state = (*stat)[paren + 2];
            if (state == 'R' || state == 'D') ++running;
        }
    }
    int copy = ::dup(dir);
    if (copy < 0) return;
    DIR* d = ::fdopendir(copy);
    if (!d) {
        ::close(copy);
        return;
    }
    while (struct dirent* e = ::readdir(d)) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        sys::unique_fd child(::openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (child) count_tasks(child.get(), depth + 1, running, tasks);
    }
    ::closedir(d);
}

// Creates `name` in the views tmpfs with `content` and binds it over each of `targets` that
// exists, read-only. Returns the file, open for the monitor's rewrites.
sys::unique_fd place_view(const char* name, const std::string& content,
                          std::initializer_list<const char*> targets) {
    std::string path = std::string(kDir) + "/" + name;
    sys::unique_fd fd(
        ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444));
    if (!fd) sys::fail_errno("create " + path);
    if (::write(fd.get(), content.data(), content.size()) != static_cast<ssize_t>(content.size()))
        sys::fail_errno("write " + path);
    for (const char* target : targets) {
        if (::access(target, F_OK) != 0) continue;  // a knob this kernel does not have
        if (::mount(path.c_str(), target, nullptr, MS_BIND, nullptr) != 0)
            sys::fail_errno("bind " + path + " over " + target);
        if (::mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0)
            sys::fail_errno("make " + std::string(target) + " read-only");
    }
    return fd;
}

void pin_to_cpus(const std::vector<unsigned>& ids) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (unsigned id : ids)
        CPU_SET(id, &set);
    if (::sched_setaffinity(0, sizeof set, &set) != 0) sys::fail_errno("sched_setaffinity");
}

}  // namespace

ViewLimits view_limits(const Config& config, unsigned host_cpus) {
    ViewLimits limits;
    limits.memory_bytes = config.memory_limit;
    if (config.cpu_quota && config.cpu_period) {
        uint64_t n = (config.cpu_quota + config.cpu_period - 1) / config.cpu_period;
        limits.cpus = static_cast<unsigned>(std::clamp<uint64_t>(n, 1, std::max(host_cpus, 1u)));
    }
    return limits;
}

MemoryUsage parse_memory_usage(std::string_view current, std::string_view stat) {
    MemoryUsage usage;
    if (trim(current).empty()) return usage;
    usage.known = true;
    usage.current = to_u64(trim(current));
    auto value_of = [&](std::string_view key) -> std::optional<uint64_t> {
        for (auto line : text_lines(stat))
            if (line.size() > key.size() && line.substr(0, key.size()) == key &&
                line[key.size()] == ' ')
                return to_u64(line.substr(key.size() + 1));
        return std::nullopt;
    };
    // v1 names the sums over child cgroups total_*, and anon/file rss/cache.
    auto pick = [&](std::initializer_list<std::string_view> keys) -> uint64_t {
        for (auto key : keys)
            if (auto v = value_of(key)) return *v;
        return 0;
    };
    usage.anon = pick({"anon", "total_rss", "rss"});
    usage.file = pick({"file", "total_cache", "cache"});
    usage.shmem = pick({"shmem", "total_shmem"});
    usage.active_anon = pick({"total_active_anon", "active_anon"});
    usage.inactive_anon = pick({"total_inactive_anon", "inactive_anon"});
    usage.active_file = pick({"total_active_file", "active_file"});
    usage.inactive_file = pick({"total_inactive_file", "inactive_file"});
    return usage;
}

std::string render_meminfo(std::string_view host, uint64_t limit, const MemoryUsage& usage) {
    const uint64_t host_total = meminfo_kb(host, "MemTotal");
    const uint64_t total = limit ? std::min(limit / 1024, host_total) : host_total;
    const uint64_t host_used = host_total - std::min(host_total, meminfo_kb(host, "MemAvailable"));
    const uint64_t used = std::min(total, usage.known ? usage.current / 1024 : host_used);
    const uint64_t free = total - used;
    const uint64_t cached = std::min(used, usage.file / 1024);
    const uint64_t reclaimable = std::min(cached, (usage.active_file + usage.inactive_file) / 1024);
    std::vector<std::pair<std::string_view, uint64_t>> ours = {
        {"MemTotal", total},
        {"MemFree", free},
        {"MemAvailable", std::min(total, free + reclaimable)},
        {"Buffers", 0},
        {"Cached", cached},
        {"Active", std::min(total, (usage.active_anon + usage.active_file) / 1024)},
        {"Inactive", std::min(total, (usage.inactive_anon + usage.inactive_file) / 1024)},
        {"Active(anon)", std::min(total, usage.active_anon / 1024)},
        {"Inactive(anon)", std::min(total, usage.inactive_anon / 1024)},
        {"Active(file)", std::min(total, usage.active_file / 1024)},
        {"Inactive(file)", std::min(total, usage.inactive_file / 1024)},
        {"Shmem", std::min(total, usage.shmem / 1024)},
    };
    std::string out;
    for (auto line : text_lines(host)) {
        if (line.empty()) continue;
        auto colon = line.find(':');
        auto key = line.substr(0, colon);
        auto mine = std::find_if(ours.begin(), ours.end(), [&](auto& p) { return p.first == key; });
        if (mine != ours.end())
            out += meminfo_line(key, mine->second);
        else
            out += std::string(line) + "\n";
    }
    return out;
}

// The blocks of /proc/cpuinfo are separated by blank lines; a block starting "processor" is one
// CPU (x86, arm64 alike); other blocks (arm's "Hardware", "Serial") are kept as they are.
std::string render_cpuinfo(std::string_view host, unsigned cpus) {
    std::string out, block;
    unsigned kept = 0;
    auto flush = [&] {
        if (block.empty()) return;
        if (block.rfind("processor", 0) == 0) {
            if (kept >= cpus) {
                block.clear();
                return;
            }
            auto nl = block.find('\n');
            block = "processor\t: " + std::to_string(kept++) +
                    (nl == std::string::npos ? "\n" : block.substr(nl));
        }
        out += block + "\n";
        block.clear();
    };
    for (auto line : text_lines(host)) {
        if (trim(line).empty())
            flush();
        else
            block += std::string(line) + "\n";
    }
    flush();
    return out;
}

// "cpu" (the sum) and "cpuN" lines: only the container's CPUs, numbered from 0, the sum theirs.
std::string render_stat(std::string_view host, unsigned cpus) {
    std::string out, per_cpu;
    std::vector<uint64_t> sum;
    unsigned kept = 0;
    for (auto line : text_lines(host)) {
        if (line.rfind("cpu", 0) != 0) continue;
        auto sp = line.find(' ');
        auto label = line.substr(0, sp);
        if (label == "cpu" || kept >= cpus) continue;
        auto fields = line.substr(sp == std::string_view::npos ? line.size() : sp);
        per_cpu += "cpu" + std::to_string(kept++) + std::string(fields) + "\n";
        size_t i = 0;
        for (auto rest = trim(fields); !rest.empty(); rest = trim(rest)) {
            auto end = std::min(rest.find(' '), rest.size());
            if (sum.size() <= i) sum.push_back(0);
            sum[i++] += to_u64(rest.substr(0, end));
            rest.remove_prefix(end);
        }
    }
    out = "cpu ";
    for (auto v : sum)
        out += " " + std::to_string(v);
    out += "\n" + per_cpu;
    for (auto line : text_lines(host))
        if (!line.empty() && line.rfind("cpu", 0) != 0) out += std::string(line) + "\n";
    return out;
}

std::string render_uptime(double container_seconds, double idle_seconds) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %.2f\n", std::max(container_seconds, 0.0),
                  std::max(idle_seconds, 0.0));
    return buf;
}

std::string render_loadavg(const double load[3], unsigned running, unsigned tasks) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.2f %.2f %.2f %u/%u 0\n", load[0], load[1], load[2], running,
                  tasks);
    return buf;
}

std::string cpu_list(unsigned cpus) {
    return cpus <= 1 ? "0\n" : "0-" + std::to_string(cpus - 1) + "\n";
}

void mount_proc_views(const ViewLimits& limits, int monitor_socket) {
    if (!limits.enabled()) return;
    if (::mkdir(kDir, 0755) != 0 && errno != EEXIST) sys::fail_errno(std::string("mkdir ") + kDir);
    if (::mount("vproc", kDir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=1m") != 0)
        sys::fail_errno(std::string("mount tmpfs on ") + kDir);
    const std::string host_meminfo = sys::read_file("/proc/meminfo");
    const std::string host_stat = sys::read_file("/proc/stat");
    auto send = [monitor_socket](char tag, const sys::unique_fd& fd) {
        if (!sys::send_fd(monitor_socket, tag, fd.get()))
            sys::fail_errno("hand /proc views to the monitor");
    };
    if (limits.memory_bytes)
        send(kMeminfo, place_view("meminfo", render_meminfo(host_meminfo, limits.memory_bytes, {}),
                                  {"/proc/meminfo"}));
    if (limits.cpus) {
        auto ids = first_allowed_cpus(limits.cpus);
        if (!ids.empty()) pin_to_cpus(ids);
        place_view("cpuinfo", render_cpuinfo(sys::read_file("/proc/cpuinfo"), limits.cpus),
                   {"/proc/cpuinfo"});
        place_view("cpus", cpu_list(limits.cpus),
                   {"/sys/devices/system/cpu/online", "/sys/devices/system/cpu/possible",
                    "/sys/devices/system/cpu/present"});
        send(kStat, place_view("stat", render_stat(host_stat, limits.cpus), {"/proc/stat"}));
    }
    send(kUptime, place_view("uptime", render_uptime(0, 0), {"/proc/uptime"}));
    const double zero[3] = {0, 0, 0};
    send(kLoadavg, place_view("loadavg", render_loadavg(zero, 1, 1), {"/proc/loadavg"}));
}

void ProcViews::receive(int socket, const ViewLimits& limits,
                        const std::vector<std::string>& cgroups) {
    clear();
    limits_ = limits;
    started_ = boottime_seconds();
    for (const auto& path : cgroups) {
        sys::unique_fd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir) continue;
        bool has_memory = ::faccessat(dir.get(), "memory.current", F_OK, 0) == 0 ||
                          ::faccessat(dir.get(), "memory.usage_in_bytes", F_OK, 0) == 0;
        bool has_tasks = ::faccessat(dir.get(), "cgroup.threads", F_OK, 0) == 0 ||
                         ::faccessat(dir.get(), "tasks", F_OK, 0) == 0;
        if (has_memory && !memory_dir_) memory_dir_.reset(::dup(dir.get()));
        if (has_tasks && !tasks_dir_) tasks_dir_ = std::move(dir);
    }
    for (;;) {
        sys::unique_fd fd;
        char tag = sys::receive_fd(socket, fd);
        if (!tag) break;
        if (tag == kMeminfo) meminfo_ = std::move(fd);
        if (tag == kStat) stat_ = std::move(fd);
        if (tag == kUptime) uptime_ = std::move(fd);
        if (tag == kLoadavg) loadavg_ = std::move(fd);
    }
}

void ProcViews::clear() {
    memory_dir_.reset();
    tasks_dir_.reset();
    meminfo_.reset();
    stat_.reset();
    uptime_.reset();
    loadavg_.reset();
    load_[0] = load_[1] = load_[2] = 0;
    ticks_ = 0;
}

void ProcViews::refresh() {
    if (meminfo_) {
        MemoryUsage usage;
        if (memory_dir_) {
            std::string current = read_at(memory_dir_.get(), "memory.current");
            if (current.empty()) current = read_at(memory_dir_.get(), "memory.usage_in_bytes");
            usage = parse_memory_usage(current, read_at(memory_dir_.get(), "memory.stat"));
        }
        if (auto host = sys::try_read_file("/proc/meminfo"))
            rewrite(meminfo_.get(), render_meminfo(*host, limits_.memory_bytes, usage));
    }
    if (stat_) {
        if (auto host = sys::try_read_file("/proc/stat"))
            rewrite(stat_.get(), render_stat(*host, limits_.cpus));
    }
    if (uptime_) {
        double up = boottime_seconds() - started_;
        double idle_share = 0;
        if (auto host = sys::try_read_file("/proc/uptime")) {
            char* end = nullptr;
            double host_up = std::strtod(host->c_str(), &end);
            double host_idle = std::strtod(end, nullptr);
            if (host_up > 0) idle_share = host_idle / host_up;  // in host CPUs
        }
        long host_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        double cpus = limits_.cpus ? limits_.cpus : static_cast<double>(std::max(host_cpus, 1L));
        double per_cpu = host_cpus > 0 ? idle_share / static_cast<double>(host_cpus) : 0;
        rewrite(uptime_.get(), render_uptime(up, up * per_cpu * cpus));
    }
    if (loadavg_ && ticks_++ % kLoadavgEveryTicks == 0) refresh_loadavg();
}

// The kernel's exponential load averages (1, 5 and 15 minutes at a 5 s sample), over the
// container's cgroup tree instead of the whole host.
void ProcViews::refresh_loadavg() {
    unsigned running = 0, tasks = 0;
    if (tasks_dir_) count_tasks(tasks_dir_.get(), 0, running, tasks);
    static const double kDecay[3] = {std::exp(-5.0 / 60), std::exp(-5.0 / 300),
                                     std::exp(-5.0 / 900)};
    for (int i = 0; i < 3; ++i)
        load_[i] = load_[i] * kDecay[i] + running * (1 - kDecay[i]);
    rewrite(loadavg_.get(), render_loadavg(load_, running, tasks));
}

}  // namespace ds::container
