#include "container/inspect.hpp"

#include "container/image.hpp"

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
#include "container/cleanup.hpp"
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
namespace {

using namespace std::chrono_literals;

// An empty droidspaces cgroup younger than this may be a start in progress (created just before
// the monitor moves init into it): scan leaves it alone.
constexpr auto kCgroupGrace = std::chrono::seconds(10);
constexpr auto kCpuWindow = 250ms;
// os-release is a few hundred bytes; anything much larger is not one.
constexpr size_t kOsReleaseLimit = 64 * 1024;

std::string proc_path(pid_t pid, std::string_view rest) {
    return "/proc/" + std::to_string(pid) + "/" + std::string(rest);
}

std::string trimmed(const std::string& text) {
    return std::string(trim(text));
}

bool is_valid_name(const std::string& name) {
    try {
        check_container_name(name);
        return true;
    } catch (const Error&) {
        return false;
    }
}

std::vector<std::string> list_dir(const std::string& path, bool dirs_only) {
    std::vector<std::string> out;
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return out;
    while (auto* e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        if (dirs_only) {
            bool is_dir = e->d_type == DT_DIR;
            if (e->d_type == DT_UNKNOWN) is_dir = sys::is_directory(path + "/" + name);
            if (!is_dir) continue;
        }
        out.push_back(std::move(name));
    }
    ::closedir(dir);
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> out;
    DIR* dir = ::opendir("/proc");
    if (!dir) return out;
    while (auto* e = ::readdir(dir)) {
        const char* s = e->d_name;
        if (*s < '1' || *s > '9') continue;
        char* end = nullptr;
        long pid = std::strtol(s, &end, 10);
        if (*end == '\0' && pid > 0) out.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(dir);
    return out;
}

std::optional<uint64_t> inode_of(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.st_ino);
}

std::optional<pid_t> parse_pid(std::string_view text) {
    std::string t = trimmed(std::string(text));
    if (t.empty() || t.size() > 10) return std::nullopt;
    for (char c : t)
        if (c < '0' || c > '9') return std::nullopt;
    long value = std::stol(t);
    if (value <= 0 || value > 4194304) return std::nullopt;
    return static_cast<pid_t>(value);
}

long ticks_per_second() {
    long hz = ::sysconf(_SC_CLK_TCK);
    return hz > 0 ? hz : 100;
}

int64_t uptime_of(const ContainerState& state) {
    auto text = sys::try_read_file("/proc/uptime");
    if (!text) return -1;
    return format::process_uptime(*text, state.init_start, ticks_per_second());
}

// A droidspaces command (start, stop, restart) holds Pids/<name>.lock while it works on the
// container: its records are in flux, so readers leave them alone. Never creates the file.
bool lock_held(const Workspace& ws, const std::string& name) {
    sys::unique_fd fd(::open(ws.sidecar(name, "lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return false;
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
        ::flock(fd.get(), LOCK_UN);
        return false;
    }
    return errno == EWOULDBLOCK;
}

// The names (as on disk: sanitised) that have a pidfile or a .state record.
std::vector<std::string> record_names(const Workspace& ws) {
    std::set<std::string> names;
    for (const auto& file : list_dir(ws.pids_dir(), false)) {
        for (std::string_view ext : {".pid", ".state"}) {
            if (file.size() > ext.size() &&
                file.compare(file.size() - ext.size(), ext.size(), ext) == 0)
                names.insert(file.substr(0, file.size() - ext.size()));
        }
    }
    return {names.begin(), names.end()};
}

void remove_records(const Workspace& ws, const std::string& name) {
    for (const char* ext : {"pid", "init", "state", "mount"})
        ::unlink(ws.sidecar(name, ext).c_str());
}

std::optional<Config> parse_config_text(const std::string& text, const std::string& origin) {
    try {
        return parse_config(text, origin);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// The container's config: the workspace copy, the only one the host trusts. The copy under
// the guest's /run/droidspaces is the guest's to rewrite and is never read.
std::optional<Config> workspace_config(const Workspace& ws, const std::string& name) {
    auto text = sys::try_read_file(ws.config_path(name));
    return text ? parse_config_text(*text, ws.config_path(name)) : std::nullopt;
}

std::optional<std::pair<dev_t, ino_t>> ns_id(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return std::pair{st.st_dev, st.st_ino};
}

// The container a monitor process serves, from its title "ds-monitor:<name>", when `pid` is a
// monitor this host can vouch for: owned by host root in the initial user namespace and in our
// own PID namespace (a guest, root as it is, can name a process "ds-monitor:x" but cannot put
// it in the host's PID namespace). "" otherwise.
std::string monitor_name(pid_t pid) {
    constexpr std::string_view kTitle = "ds-monitor:";
    auto cmdline = sys::try_read_file(proc_path(pid, "cmdline"));
    if (!cmdline || cmdline->compare(0, kTitle.size(), kTitle) != 0) return "";
    std::string name = cmdline->substr(kTitle.size(), cmdline->find('\0') - kTitle.size());
    if (!is_valid_name(name) || !owned_by_host_root(pid)) return "";
    auto pid_ns = ns_id(proc_path(pid, "ns/pid"));
    if (!pid_ns || pid_ns != ns_id("/proc/self/ns/pid")) return "";
    return name;
}

// The monitor of `init`: its parent, when that is a vouched-for "ds-monitor:<name>".
std::optional<pid_t> monitor_of(pid_t init, const std::string& name) {
    auto ppid = parse_pid(sys::proc_status_field(init, "PPid"));
    if (!ppid || *ppid <= 1 || monitor_name(*ppid) != name) return std::nullopt;
    return ppid;
}

// Whether the monitor `pid` keeps its records in `ws`: it writes to the workspace its
// environment named when it was started. Unknown (unreadable) counts as ours.
bool monitor_in_workspace(pid_t pid, const Workspace& ws) {
    auto environ = sys::try_read_file(proc_path(pid, "environ"));
    if (!environ) return true;
    std::string home;
    size_t pos = 0;
    while (pos < environ->size()) {
        size_t end = environ->find('\0', pos);
        if (end == std::string::npos) end = environ->size();
        std::string_view entry(environ->data() + pos, end - pos);
        if (entry.rfind("DROIDSPACES_HOME=", 0) == 0) home = entry.substr(17);
        pos = end + 1;
    }
    std::string root = !home.empty()       ? sys::absolute_path(home)
                       : sys::is_android() ? "/data/local/Droidspaces"
                                           : "/var/lib/Droidspaces";
    return root == ws.root;
}

// The host path of the container cgroup `init` lives in ("<root>/droidspaces/<name>"), or "".
std::string cgroup_of(pid_t init, const std::string& name) {
    std::string leaf = "/droidspaces/" + sanitize_name(name);
    auto inside = [&](const std::string& path) {
        return path == leaf || path.rfind(leaf + "/", 0) == 0;
    };
    if (auto path = sys::process_cgroup2_path(init); path && inside(*path))
        if (auto root = sys::cgroup2_root()) return *root + leaf;
    auto text = sys::try_read_file(proc_path(init, "cgroup")).value_or("");
    auto pos = text.find(":name=systemd:");
    if (pos != std::string::npos) {
        auto end = text.find('\n', pos);
        std::string path = text.substr(pos + 14, end == std::string::npos ? end : end - pos - 14);
        if (inside(path))
            if (auto root = sys::cgroup_v1_systemd_root()) return *root + leaf;
    }
    return "";
}

// Whether `init` lives in the runtime's own cgroup for `name` (droidspaces/<name> under the
// container cgroup root), which only host root can create and move processes into. A host
// without any cgroup hierarchy for containers has nothing to check.
bool in_runtime_cgroup(pid_t init, const std::string& name) {
    if (!sys::cgroup2_root() && !sys::cgroup_v1_systemd_root()) return true;
    return !cgroup_of(init, name).empty();
}

// A container init the runtime can vouch for without a record of its own: PID 1 of a PID
// namespace directly below ours, owned by host root in the initial user namespace, and in
// droidspaces/<name>. An `unshare --user --map-root-user --pid` of an unprivileged user fails
// the owner check; a guest's nested PID namespace fails the level and cgroup checks.
bool vouched_init(pid_t init, const std::string& name) {
    return is_child_namespace_init(init) && owned_by_host_root(init) &&
           in_runtime_cgroup(init, name);
}

// Builds and writes the record of a valid init this workspace lost track of.
ContainerState adopt(const Workspace& ws, pid_t init, const std::string& name) {
    ContainerState s;
    s.name = name;
    s.init_pid = init;
    s.init_start = sys::process_start_time(init).value_or(0);
    if (auto monitor = monitor_of(init, name)) {
        s.monitor_pid = *monitor;
        s.monitor_start = sys::process_start_time(*monitor).value_or(0);
    }
    std::optional<Config> config = workspace_config(ws, name);
    if (config) {
        s.custom_init = !config->custom_init.empty();
        s.rootfs = config->rootfs_path;
        s.uuid = config->uuid;
    }
    auto family = sys::try_read_file(ws.sidecar(name, "init"));
    s.family = family ? parse_init_family(trimmed(*family)) : InitFamily::unknown;
    if (!family || s.family == InitFamily::unknown) {
        std::string init_path =
            config && !config->custom_init.empty() ? config->custom_init : "/sbin/init";
        s.family = detect_init_family(proc_path(init, "root"), init_path);
    }
    s.cgroup_path = cgroup_of(init, name);
    s.boot_id = sys::boot_id();
    int64_t up = uptime_of(s);
    s.started_at = static_cast<int64_t>(std::time(nullptr)) - std::max<int64_t>(up, 0);
    s.boots = 1;
    write_state(ws, s);
    return s;
}

// The running container recorded under `name`, validating the record; stale records are
// removed (their name appended to `pruned`). See the identity rules in inspect.hpp.
std::optional<ContainerState> check_record(const Workspace& ws, const std::string& name,
                                           std::vector<std::string>* pruned) {
    std::string state_file = ws.sidecar(name, "state");
    if (sys::path_exists(state_file) && read_state(ws, name)) {
        if (auto state = find_running(ws, name)) return state;
        if (!sys::path_exists(state_file)) {
            ::unlink(ws.sidecar(name, "mount").c_str());
            if (pruned) pruned->push_back(name);
        }
        return std::nullopt;  // else: its monitor is still cleaning up
    }
    // No (readable) record of ours: an upstream-style pidfile, or a torn .state.
    if (lock_held(ws, name)) return std::nullopt;
    auto text = sys::try_read_file(ws.pidfile(name));
    if (!text) {
        if (sys::path_exists(state_file) && !sys::path_exists(ws.pidfile(name))) {
            remove_records(ws, name);  // an unreadable .state and nothing else
            if (pruned) pruned->push_back(name);
        }
        return std::nullopt;
    }
    auto pid = parse_pid(*text);
    if (!pid || !sys::process_alive(*pid)) {
        remove_records(ws, name);
        if (pruned) pruned->push_back(name);
        return std::nullopt;
    }
    // An upstream-style pidfile: its name comes from the init's marker, its trust from the
    // host-side checks (a PID reused by someone's fake container must not be adopted).
    if (is_container_init(*pid)) {
        std::string marker = container_name_of(*pid);
        if (!marker.empty() && sanitize_name(marker) == sanitize_name(name) &&
            in_runtime_cgroup(*pid, marker))
            return adopt(ws, *pid, marker);
    }
    return std::nullopt;  // alive but not a container: not ours to judge, never listed
}

// --- cgroup and process usage ---------------------------------------------------------------

std::optional<uint64_t> read_value(const std::string& path) {
    auto text = sys::try_read_file(path);
    return text ? format::parse_cgroup_value(*text) : std::nullopt;
}

// Processes in the whole cgroup subtree; nullopt when the cgroup cannot be read.
std::optional<size_t> subtree_processes(const std::string& path, int depth = 0) {
    auto procs = sys::try_read_file(path + "/cgroup.procs");
    if (!procs) return std::nullopt;
    size_t n = format::count_lines(*procs);
    if (depth < 16)
        for (const auto& child : list_dir(path, true))
            n += subtree_processes(path + "/" + child, depth + 1).value_or(0);
    return n;
}

bool cgroup_populated(const std::string& path) {
    if (auto events = sys::try_read_file(path + "/cgroup.events"))
        return events->find("populated 1") != std::string::npos;
    return subtree_processes(path).value_or(0) > 0;  // v1 has no cgroup.events
}

CgroupUsage cgroup_usage(const std::string& path) {
    CgroupUsage u;
    u.path = path;
    if (path.empty() || !sys::is_directory(path)) return u;
    u.memory_current = read_value(path + "/memory.current");
    u.memory_max = read_value(path + "/memory.max");
    u.pids_current = read_value(path + "/pids.current");
    u.pids_max = read_value(path + "/pids.max");
    if (auto stat = sys::try_read_file(path + "/cpu.stat"))
        u.cpu_usage_usec = format::flat_keyed_value(*stat, "usage_usec");
    u.processes = subtree_processes(path);
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

std::vector<NamespaceInfo> namespaces_of(pid_t pid) {
    std::vector<NamespaceInfo> out;
    for (const char* type : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
        auto mine = inode_of(proc_path(pid, std::string("ns/") + type));
        if (!mine) continue;
        // The host's: PID 1's, or ours when PID 1's is hidden (a sandboxed /proc).
        auto host = inode_of(std::string("/proc/1/ns/") + type);
        if (!host) host = inode_of(std::string("/proc/self/ns/") + type);
        out.push_back({type, *mine, host && *host != *mine});
    }
    return out;
}

// Guest files: resolved inside the guest's root, regular files only, size-capped (a FIFO,
// a /dev/zero link or a huge file yields nothing instead of a hang or an exhausted host).
std::string os_of(pid_t pid) {
    sys::unique_fd root(::open(proc_path(pid, "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return "";
    for (const char* file : {"/etc/os-release", "/usr/lib/os-release"})
        if (auto text = sys::read_guest_file(root.get(), file, kOsReleaseLimit))
            return format::os_pretty_name(*text);
    return "";
}

// KEY=VALUE lines (optional "export ", '#' comments) with a valid variable name.
size_t count_env_vars(const std::string& text) {
    size_t n = 0, pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = trimmed(text.substr(pos, end - pos));
        pos = end + 1;
        if (line.rfind("export ", 0) == 0) line = trimmed(line.substr(7));
        auto eq = line.find('=');
        if (line.empty() || line[0] == '#' || eq == std::string::npos || eq == 0) continue;
        bool ok = !(line[0] >= '0' && line[0] <= '9');
        for (size_t i = 0; i < eq && ok; ++i)
            ok = std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_';
        if (ok) ++n;
    }
    return n;
}

std::string selinux_mode() {
    auto text = sys::try_read_file("/sys/fs/selinux/enforce");
    if (!text) return "";
    return trimmed(*text) == "0" ? "Permissive" : "Enforcing";
}

nlohmann::json optional_json(const std::optional<uint64_t>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json pid_json(pid_t pid) {
    return pid > 0 ? nlohmann::json(pid) : nlohmann::json(nullptr);
}

// Orphaned image mount points: <mount base>/<name> not referenced by any running container.
void clean_mount_base(const Workspace& ws, const std::set<std::string>& running,
                      ScanResult& result) {
    std::set<std::string> referenced;
    for (const auto& name : running)
        if (auto text = sys::try_read_file(ws.sidecar(name, "mount")))
            referenced.insert(trimmed(*text));
    for (const auto& entry : list_dir(ws.mount_base, true)) {
        std::string path = ws.mount_base + "/" + entry;
        if (referenced.count(path) || running.count(entry) || lock_held(ws, entry)) continue;
        if (sys::is_mountpoint(path)) {
            try {
                unmount_image(path);  // also frees its loop device and removes the directory
            } catch (const Error&) {
                if (sys::is_mountpoint(path)) continue;
            }
            result.cleaned.push_back("mount " + path);
        } else if (::rmdir(path.c_str()) == 0) {
            result.cleaned.push_back("directory " + path);
        }
    }
}

// Empty leftover cgroups under <root>/droidspaces/ of no running container.
void clean_cgroups(const Workspace& ws, const std::set<std::string>& running, ScanResult& result) {
    std::set<std::string> bases;
    auto host = sys::host_cgroups();
    if (host.v2_root) bases.insert(*host.v2_root + "/droidspaces");
    if (auto v1 = host.v1_systemd_root()) bases.insert(*v1 + "/droidspaces");
    for (const auto& base : limit_cgroup_bases(host))  // v1 limit cgroups
        bases.insert(base);
    auto now = std::chrono::system_clock::now();
    for (const auto& base : bases) {
        for (const auto& entry : list_dir(base, true)) {
            std::string path = base + "/" + entry;
            if (running.count(entry) || lock_held(ws, entry)) continue;
            // A record whose monitor still lives: between two boots, or cleaning up.
            if (auto state = read_state(ws, entry); state && monitor_is_running(*state)) continue;
            struct stat st;
            if (::stat(path.c_str(), &st) != 0) continue;
            auto created = std::chrono::system_clock::from_time_t(st.st_mtime);
            if (now - created < kCgroupGrace) continue;
            if (cgroup_populated(path)) continue;
            if (sys::remove_cgroup_tree(path, 500ms)) result.cleaned.push_back("cgroup " + path);
        }
        // The shared parent goes with the last container cgroup (a crashed monitor left it).
        if (sys::is_directory(base) && remove_cgroup_parent_if_empty(base))
            result.cleaned.push_back("cgroup " + base);
    }
}

}  // namespace

// --- shared facts --------------------------------------------------------------------------------

bool is_container_init(pid_t pid) {
    return is_child_namespace_init(pid) && owned_by_host_root(pid);
}

std::string container_name_of(pid_t pid) {
    auto text = sys::read_guest_file(proc_path(pid, "root"), "/run/droidspaces/name", 4096);
    if (!text) return "";
    std::string name = trimmed(*text);
    return is_valid_name(name) ? name : "";
}

// --- show ----------------------------------------------------------------------------------------

ContainerList list_containers(const Workspace& ws) {
    ContainerList list;
    list.configured = list_dir(ws.containers_dir(), true).size();
    auto uptime_text = sys::try_read_file("/proc/uptime");
    long hz = ticks_per_second();
    for (const auto& name : record_names(ws)) {
        auto state = check_record(ws, name, &list.pruned);
        if (!state) continue;
        ContainerSummary row;
        row.state = *state;
        row.uptime_seconds =
            uptime_text ? format::process_uptime(*uptime_text, state->init_start, hz) : -1;
        if (auto config = workspace_config(ws, state->name))
            row.net_mode = std::string(to_string(config->net_mode));
        list.running.push_back(std::move(row));
    }
    std::sort(list.running.begin(), list.running.end(),
              [](const auto& a, const auto& b) { return a.state.name < b.state.name; });
    return list;
}

nlohmann::json to_json(const ContainerSummary& s) {
    return {
        {"name", s.state.name},
        {"pid", s.state.init_pid},
        {"monitor_pid", pid_json(s.state.monitor_pid)},
        {"init", std::string(to_string(s.state.family))},
        {"uptime_seconds", s.uptime_seconds >= 0 ? nlohmann::json(s.uptime_seconds) : nullptr},
        {"rootfs", s.state.rootfs},
        {"boots", s.state.boots},
        {"net", s.net_mode.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.net_mode)},
    };
}

// --- info ----------------------------------------------------------------------------------------

ContainerInfo inspect_container(const Workspace& ws, const std::string& name,
                                InspectOptions options) {
    ContainerInfo info;
    info.name = name;
    info.host_platform = sys::is_android() ? "Android" : "Linux";
    struct utsname uts;
    info.host_arch = ::uname(&uts) == 0 ? format::arch_name(uts.machine) : "unknown";
    info.selinux = selinux_mode();

    auto state = check_record(ws, name, nullptr);
    if (state) {
        info.running = true;
        info.name = state->name;
        info.state = *state;
        pid_t pid = state->init_pid;
        info.os = os_of(pid);
        info.uptime_seconds = uptime_of(*state);
        if (auto mountinfo = sys::try_read_file(proc_path(pid, "mountinfo")))
            info.mounts = format::count_lines(*mountinfo);
        info.namespaces = namespaces_of(pid);
        info.cgroup = cgroup_usage(state->cgroup_path);
        info.usage = process_usage(pid, options.sample_cpu);
        // Still the same process after all those reads? Otherwise it stopped meanwhile.
        if (!init_is_running(*state))
            fail_usage("container '" + name + "' stopped while inspected");
    }
    if (auto config = workspace_config(ws, info.name)) {
        info.config = *config;
        info.has_config = true;
        info.config_source = "workspace";
    }
    if (!info.running && !info.has_config)
        fail_usage("container '" + name + "' is not running and has no config in " +
                   ws.containers_dir());
    info.hostname = info.config.hostname.empty() ? info.name : info.config.hostname;
    if (!info.config.env_file.empty())
        if (auto text = sys::try_read_file(info.config.env_file))
            info.env_vars = count_env_vars(*text);
    return info;
}

nlohmann::json features_json(const Config& c) {
    nlohmann::json binds = nlohmann::json::array();
    for (const auto& b : c.bind_mounts)
        binds.push_back(format_bind(b));
    std::string hw = c.enable_hw_access ? "full" : c.enable_gpu_mode ? "gpu" : "none";
    nlohmann::json j = {
        {"net", std::string(to_string(c.net_mode))},
        {"dns_servers", c.dns_servers},
        {"disable_ipv6", c.disable_ipv6},
        {"volatile", c.volatile_mode},
        {"bind_mounts", binds},
        {"privileged",
         c.privileged.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.privileged)},
        {"custom_init",
         c.custom_init.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.custom_init)},
        {"hw_access", hw},
        {"android_storage", c.enable_android_storage},
        {"termux_x11", c.enable_termux_x11},
        {"virgl", c.enable_virgl},
        {"pulseaudio", c.enable_pulseaudio},
        {"selinux_permissive", c.selinux_permissive},
        {"force_cgroupv1", c.force_cgroupv1},
        {"block_nested_namespaces", c.block_nested_ns},
        {"allow_userns", c.allow_userns},
        {"foreground", c.foreground},
        {"env_file", c.env_file.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.env_file)},
        {"memory_limit", c.memory_limit ? nlohmann::json(c.memory_limit) : nullptr},
        {"cpus", c.cpu_quota && c.cpu_period
                     ? nlohmann::json(static_cast<double>(c.cpu_quota) / c.cpu_period)
                     : nullptr},
        {"pids_limit", c.pids_limit ? nlohmann::json(c.pids_limit) : nullptr},
    };
    if (c.net_mode == NetMode::nat) {
        j["nat_ip"] =
            c.static_nat_ip.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.static_nat_ip);
        j["upstream_interfaces"] = c.upstream_interfaces;
        j["port_forwards"] = c.port_forwards;
    }
    if (c.net_mode == NetMode::gateway) {
        j["gateway"] = {{"container", c.gateway_container},
                        {"net", c.gateway_net},
                        {"bridge", c.gateway_bridge},
                        {"iface", c.gateway_lan_ifname}};
    }
    return j;
}

nlohmann::json to_json(const ContainerInfo& info) {
    nlohmann::json j = {
        {"name", info.name},
        {"state", info.running ? "RUNNING" : "STOPPED"},
        {"host", {{"platform", info.host_platform}, {"arch", info.host_arch}}},
        {"hostname", info.hostname},
        {"selinux", info.selinux.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.selinux)},
        {"config_source",
         info.config_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.config_source)},
        {"features", info.has_config ? features_json(info.config) : nlohmann::json(nullptr)},
        {"env_vars", info.env_vars},
    };
    if (!info.running) {
        j["rootfs"] = info.config.rootfs_path;
        return j;
    }
    const auto& s = info.state;
    j["pid"] = s.init_pid;
    j["monitor_pid"] = pid_json(s.monitor_pid);
    j["init"] = std::string(to_string(s.family));
    j["os"] = info.os.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.os);
    j["uptime_seconds"] = info.uptime_seconds >= 0 ? nlohmann::json(info.uptime_seconds) : nullptr;
    j["uptime"] = format::uptime(info.uptime_seconds);
    j["started_at"] = s.started_at;
    j["boots"] = s.boots;
    j["rootfs"] = s.rootfs;
    j["uuid"] = s.uuid;
    j["mounts"] = info.mounts ? nlohmann::json(*info.mounts) : nullptr;
    nlohmann::json ns = nlohmann::json::object(), priv = nlohmann::json::array(),
                   shared = nlohmann::json::array();
    for (const auto& n : info.namespaces) {
        ns[n.type] = {{"inode", n.inode}, {"private", n.is_private}};
        (n.is_private ? priv : shared).push_back(n.type);
    }
    j["namespaces"] = ns;
    j["private_namespaces"] = priv;
    j["shared_namespaces"] = shared;
    const auto& cg = info.cgroup;
    j["cgroup"] = {
        {"path", cg.path.empty() ? nlohmann::json(nullptr) : nlohmann::json(cg.path)},
        {"memory_current", optional_json(cg.memory_current)},
        {"memory_max", optional_json(cg.memory_max)},
        {"pids_current", optional_json(cg.pids_current)},
        {"pids_max", optional_json(cg.pids_max)},
        {"cpu_usage_usec", optional_json(cg.cpu_usage_usec)},
        {"processes", cg.processes ? nlohmann::json(*cg.processes) : nullptr},
    };
    if (info.usage) {
        j["usage"] = {
            {"processes", info.usage->processes},
            {"ram_used_kb", info.usage->ram_used_kb},
            {"ram_total_kb", info.usage->ram_total_kb},
            {"cpu_permill",
             info.usage->cpu_permill ? nlohmann::json(*info.usage->cpu_permill) : nullptr},
        };
    }
    return j;
}

// --- scan ----------------------------------------------------------------------------------------

ScanResult scan_host(const Workspace& ws) {
    ScanResult result;
    std::set<std::string> synced, running;

    // 1. Every container init on the host whose records this workspace lost. Only inits the
    // host can vouch for count (see vouched_init), and their name comes from their monitor's
    // title, not from anything inside the guest.
    for (pid_t pid : all_pids()) {
        if (!is_container_init(pid)) continue;
        auto ppid = parse_pid(sys::proc_status_field(pid, "PPid"));
        std::string name = ppid ? monitor_name(*ppid) : "";
        if (name.empty() || !vouched_init(pid, name)) continue;
        if (!monitor_in_workspace(*ppid, ws)) {
            result.foreign.push_back(name);
            continue;
        }
        std::string key = sanitize_name(name);
        if (lock_held(ws, key)) {
            running.insert(key);  // a command is managing it right now
            continue;
        }
        auto existing = read_state(ws, name);
        bool record_ok = existing && init_is_running(*existing);
        if (record_ok && existing->init_pid != pid) continue;  // the name belongs to another init
        if (!record_ok && existing && monitor_is_running(*existing) &&
            *ppid == existing->monitor_pid) {
            running.insert(key);  // its monitor is rebooting it and rewrites the record itself
            continue;
        }
        running.insert(key);
        if (record_ok) {
            // Our record, but are the files upstream tools read still there?
            auto pidfile = sys::try_read_file(ws.pidfile(name));
            if (!pidfile || parse_pid(*pidfile) != pid ||
                !sys::path_exists(ws.sidecar(name, "init"))) {
                write_state(ws, *existing);
                synced.insert(name);
            }
        } else {
            adopt(ws, pid, name);
            synced.insert(name);
        }
        // A lost workspace config is reported, never restored from the guest's copy: that one
        // is the guest's to rewrite (privileged=full, binds, env_file for the next boot).
        if (!sys::path_exists(ws.config_path(name))) result.missing_configs.push_back(name);
    }
    result.synchronized.assign(synced.begin(), synced.end());

    // 2. Dead records.
    for (const auto& name : record_names(ws)) {
        std::vector<std::string> pruned;
        if (check_record(ws, name, &pruned)) running.insert(name);
        for (const auto& p : pruned)
            result.cleaned.push_back("pidfile " + p);
    }

    // 3. Leftover cgroups and 4. orphaned mount points.
    clean_cgroups(ws, running, result);
    clean_mount_base(ws, running, result);
    return result;
}

nlohmann::json to_json(const ScanResult& r) {
    return {
        {"synchronized", r.synchronized},
        {"missing_configs", r.missing_configs},
        {"cleaned", r.cleaned},
        {"foreign", r.foreign},
    };
}

}  // namespace ds::container
