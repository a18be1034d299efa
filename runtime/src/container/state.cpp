#include "container/state.hpp"

#include <dirent.h>
#include <sys/stat.h>

#include <unistd.h>
#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/format.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"

namespace ds::container {

void write_state(const Workspace& ws, const ContainerState& s) {
    nlohmann::json j = {
        {"name", s.name},
        {"init_pid", s.init_pid},
        {"init_start", s.init_start},
        {"monitor_pid", s.monitor_pid},
        {"monitor_start", s.monitor_start},
        {"family", to_string(s.family)},
        {"custom_init", s.custom_init},
        {"rootfs", s.rootfs},
        {"cgroup_path", s.cgroup_path},
        {"uuid", s.uuid},
        {"boot_id", s.boot_id},
        {"started_at", s.started_at},
        {"boots", s.boots},
        {"image_mount", s.image_mount},
        {"volatile_dir", s.volatile_dir},
    };
    sys::make_dirs(ws.pids_dir());
    // Identity first: a reader that finds the pidfile also finds what validates it.
    // No fsync: these describe processes, which a power cut ends anyway.
    constexpr auto kState = sys::Durability::volatile_state;
    sys::write_file_atomic(ws.sidecar(s.name, "state"), j.dump() + "\n", 0644, kState);
    sys::write_file_atomic(ws.sidecar(s.name, "init"), std::string(to_string(s.family)), 0644,
                           kState);
    if (!s.image_mount.empty())
        sys::write_file_atomic(ws.sidecar(s.name, "mount"), s.image_mount, 0644, kState);
    sys::write_file_atomic(ws.pidfile(s.name), std::to_string(s.init_pid), 0644, kState);
}

std::optional<ContainerState> read_state(const Workspace& ws, const std::string& name) {
    auto text = sys::try_read_file(ws.sidecar(name, "state"));
    if (!text) return std::nullopt;
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    ContainerState s;
    try {
        s.name = j.at("name");
        s.init_pid = j.at("init_pid");
        s.init_start = j.at("init_start");
        s.monitor_pid = j.at("monitor_pid");
        s.monitor_start = j.at("monitor_start");
        s.family = parse_init_family(j.at("family").get<std::string>());
        s.custom_init = j.at("custom_init");
        s.rootfs = j.at("rootfs");
        s.cgroup_path = j.at("cgroup_path");
        s.uuid = j.at("uuid");
        s.boot_id = j.at("boot_id");
        s.started_at = j.at("started_at");
        s.boots = j.at("boots");
        s.image_mount = j.value("image_mount", "");
        s.volatile_dir = j.value("volatile_dir", "");
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
    return s;
}

void remove_state(const Workspace& ws, const std::string& name) {
    for (const char* ext : {"pid", "init", "state", "mount"})
        ::unlink(ws.sidecar(name, ext).c_str());
}

std::vector<std::string> names_with_pidfiles(const Workspace& ws) {
    std::vector<std::string> names;
    DIR* dir = ::opendir(ws.pids_dir().c_str());
    if (!dir) return names;
    while (auto* e = ::readdir(dir)) {
        std::string file = e->d_name;
        if (file.size() > 4 && file.compare(file.size() - 4, 4, ".pid") == 0)
            names.push_back(file.substr(0, file.size() - 4));
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
}

void remove_volatile_dir(const std::string& dir) {
    ::rmdir(dir.c_str());
    ::rmdir(dir.substr(0, dir.rfind('/')).c_str());  // fails while other containers use it
}

namespace {

std::string proc_entry(pid_t pid, std::string_view rest) {
    return "/proc/" + std::to_string(pid) + "/" + std::string(rest);
}

std::optional<std::pair<dev_t, ino_t>> ns_identity(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return std::pair{st.st_dev, st.st_ino};
}

// "Uid:\t0\t0\t0\t0": every field zero.
bool all_zero(const std::string& field) {
    bool any = false;
    for (char c : field) {
        if (c == ' ' || c == '\t') continue;
        if (c != '0') return false;
        any = true;
    }
    return any;
}

}  // namespace

bool is_child_namespace_init(pid_t pid) {
    if (pid <= 1) return false;
    if (auto ns = format::parse_nspid(sys::proc_status_field(pid, "NSpid")))
        return ns->levels == 2 && ns->innermost == 1;
    // Kernels before 4.1 have no NSpid: PID 1 of a namespace is a process whose parent lives in
    // another PID namespace than itself, which is not ours.
    auto own = ns_identity(proc_entry(pid, "ns/pid"));
    if (!own || own == ns_identity("/proc/self/ns/pid")) return false;
    auto ppid = sys::proc_status_field(pid, "PPid");
    if (ppid.empty() || ppid.find_first_not_of("0123456789 \t") != std::string::npos) return false;
    return ns_identity(proc_entry(std::stoi(ppid), "ns/pid")) != own;
}

bool owned_by_host_root(pid_t pid) {
    if (!all_zero(sys::proc_status_field(pid, "Uid")) ||
        !all_zero(sys::proc_status_field(pid, "Gid")))
        return false;
    auto user_ns = ns_identity(proc_entry(pid, "ns/user"));
    return user_ns && (user_ns == ns_identity("/proc/1/ns/user") ||
                       user_ns == ns_identity("/proc/self/ns/user"));
}

bool init_is_running(const ContainerState& s) {
    if (s.boot_id != sys::boot_id()) return false;
    auto start = sys::process_start_time(s.init_pid);
    if (!start || *start != s.init_start) return false;
    // An init that has exited stays a zombie until the monitor reaps it: it runs no more.
    if (sys::process_is_zombie(s.init_pid)) return false;
    return is_child_namespace_init(s.init_pid);
}

bool monitor_is_running(const ContainerState& s) {
    if (s.boot_id != sys::boot_id()) return false;
    auto start = sys::process_start_time(s.monitor_pid);
    return start && *start == s.monitor_start;
}

std::optional<ContainerState> find_running(const Workspace& ws, const std::string& name) {
    auto state = read_state(ws, name);
    if (!state) {
        // A pidfile without our record (upstream's, or torn): nothing we can validate.
        return std::nullopt;
    }
    if (init_is_running(*state)) return state;
    if (!monitor_is_running(*state)) remove_state(ws, name);
    return std::nullopt;
}

}  // namespace ds::container
