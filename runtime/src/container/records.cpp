// Identity: which records name a running container, adoption of inits the host can vouch for,
// pruning of stale records (the rules are in container/inspect.hpp).
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

namespace detail {

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

// The host path of the container cgroup `init` lives in ("<root>/droidspaces/<name>"), or "":
// one read of /proc/<init>/cgroup, judged against the v2 line ("0::") and the named systemd one.
std::string cgroup_of(pid_t init, const std::string& name, const sys::CgroupHost& host) {
    std::string leaf = "/droidspaces/" + sanitize_name(name);
    auto inside = [&](std::string_view path) {
        return path == leaf || (path.size() > leaf.size() && path.substr(0, leaf.size()) == leaf &&
                                path[leaf.size()] == '/');
    };
    auto text = sys::try_read_file(proc_path(init, "cgroup")).value_or("");
    std::string_view rest = text;
    while (!rest.empty()) {
        std::string_view line = rest.substr(0, rest.find('\n'));
        rest.remove_prefix(std::min(rest.size(), line.size() + 1));
        auto first = line.find(':');
        auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) continue;
        std::string_view controllers = line.substr(first + 1, second - first - 1);
        std::string_view path = line.substr(second + 1);
        if (!inside(path)) continue;
        if (line.substr(0, first) == "0" && controllers.empty() && host.v2_root)
            return *host.v2_root + leaf;
        if (controllers == "name=systemd")
            if (auto root = host.v1_systemd_root()) return *root + leaf;
    }
    return "";
}

std::string cgroup_of(pid_t init, const std::string& name) {
    return cgroup_of(init, name, sys::host_cgroups());
}

// Whether `init` lives in the runtime's own cgroup for `name` (droidspaces/<name> under the
// container cgroup root), which only host root can create and move processes into. A host
// without any cgroup hierarchy for containers has nothing to check.
bool in_runtime_cgroup(pid_t init, const std::string& name) {
    auto host = sys::host_cgroups();
    if (!host.v2_root && !host.v1_systemd_root()) return true;
    return !cgroup_of(init, name, host).empty();
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

}  // namespace detail

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

}  // namespace ds::container
