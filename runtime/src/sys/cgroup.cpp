#include "sys/cgroup.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <thread>

#include "core/mountinfo.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {
namespace {

// A guest could nest cgroups without end; nothing real goes this deep.
constexpr int kMaxDepth = 32;

std::vector<std::string> subdirectories(const std::string& path) {
    std::vector<std::string> out;
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return out;
    while (auto* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (entry->d_type == DT_DIR && name != "." && name != "..")
            out.push_back(path + "/" + name);
    }
    ::closedir(dir);
    return out;
}

bool procs_nonempty(const std::string& path) {
    auto procs = try_read_file(path + "/cgroup.procs");
    return procs && procs->find_first_not_of(" \n") != std::string::npos;
}

bool subtree_has_processes(const std::string& path, int depth) {
    if (procs_nonempty(path)) return true;
    if (depth >= kMaxDepth) return false;
    for (const auto& dir : subdirectories(path))
        if (subtree_has_processes(dir, depth + 1)) return true;
    return false;
}

void kill_each(const std::string& path, int depth) {
    if (depth < kMaxDepth)
        for (const auto& dir : subdirectories(path))
            kill_each(dir, depth + 1);
    auto procs = try_read_file(path + "/cgroup.procs");
    if (!procs) return;
    // from_chars, not an istringstream: streams pull libstdc++'s locale machinery into the
    // static binary. Only whole, positive numbers: kill(0) or kill(-1) would hit the host.
    for (const auto& field : split_list(*procs, " \n")) {
        pid_t pid = 0;
        const char* end = field.data() + field.size();
        auto [ptr, ec] = std::from_chars(field.data(), end, pid);
        if (ec == std::errc{} && ptr == end && pid > 0) ::kill(pid, SIGKILL);
    }
}

int v2_root_rank(const MountInfo& m) {
    if (m.root != "/") return 3;
    if (m.mount_point == "/sys/fs/cgroup") return 0;
    if (m.mount_point == "/sys/fs/cgroup/unified") return 1;
    return 2;
}

V1Hierarchy v1_hierarchy(const MountInfo& m) {
    V1Hierarchy h;
    h.mount_point = m.mount_point;
    h.is_root = m.root == "/";
    // Super options list the controllers among mount options: "rw,cpu,cpuacct", "rw,name=x".
    static const std::vector<std::string_view> kNotControllers = {
        "rw", "ro", "noprefix", "clone_children", "xattr", "cpuset_v2_mode", "favordynmods"};
    for (const auto& option : split_list(m.super_options, ",")) {
        if (option.rfind("name=", 0) == 0) {
            h.name = option.substr(5);
        } else if (option.find('=') == std::string::npos &&
                   std::find(kNotControllers.begin(), kNotControllers.end(), option) ==
                       kNotControllers.end()) {
            h.controllers.push_back(option);
        }
    }
    return h;
}

}  // namespace

std::string_view layout_name(CgroupLayout layout) {
    switch (layout) {
        case CgroupLayout::none:
            return "none";
        case CgroupLayout::legacy:
            return "legacy";
        case CgroupLayout::hybrid:
            return "hybrid";
        case CgroupLayout::unified:
            return "unified";
    }
    return "none";
}

bool CgroupHost::v2_has(std::string_view controller) const {
    return std::find(v2_controllers.begin(), v2_controllers.end(), controller) !=
           v2_controllers.end();
}

std::optional<std::string> CgroupHost::v1_controller_root(std::string_view controller) const {
    std::optional<std::string> found;
    for (const auto& h : v1) {
        if (std::find(h.controllers.begin(), h.controllers.end(), controller) ==
            h.controllers.end())
            continue;
        if (h.is_root) return h.mount_point;
        if (!found) found = h.mount_point;
    }
    return found;
}

std::optional<std::string> CgroupHost::v1_systemd_root() const {
    std::optional<std::string> found;
    for (const auto& h : v1) {
        if (h.name != "systemd") continue;
        if (h.is_root) return h.mount_point;
        if (!found) found = h.mount_point;
    }
    return found;
}

CgroupHost parse_cgroup_host(std::string_view mountinfo) {
    CgroupHost host;
    std::optional<MountInfo> best_v2;
    for (auto& m : parse_mountinfo(mountinfo)) {
        if (m.fstype == "cgroup") {
            host.v1.push_back(v1_hierarchy(m));
            host.v1_mounts.push_back(m.mount_point);
        } else if (m.fstype == "cgroup2" &&
                   (!best_v2 || v2_root_rank(m) < v2_root_rank(*best_v2))) {
            best_v2 = std::move(m);
        }
    }
    if (best_v2) host.v2_root = best_v2->mount_point;
    bool has_v1 = !host.v1.empty();
    if (best_v2)
        host.layout = has_v1 ? CgroupLayout::hybrid : CgroupLayout::unified;
    else
        host.layout = has_v1 ? CgroupLayout::legacy : CgroupLayout::none;
    return host;
}

CgroupHost host_cgroups() {
    CgroupHost host = parse_cgroup_host(try_read_file("/proc/self/mountinfo").value_or(""));
    if (host.v2_root)
        host.v2_controllers =
            split_list(try_read_file(*host.v2_root + "/cgroup.controllers").value_or(""), " \n");
    return host;
}

std::optional<std::string> cgroup2_root() {
    return parse_cgroup_host(try_read_file("/proc/self/mountinfo").value_or("")).v2_root;
}

std::optional<std::string> cgroup_v1_systemd_root() {
    return parse_cgroup_host(try_read_file("/proc/self/mountinfo").value_or("")).v1_systemd_root();
}

bool cgroup_populated(const std::string& path) {
    if (auto events = try_read_file(path + "/cgroup.events"))
        return events->find("populated 1") != std::string::npos;
    return subtree_has_processes(path, 0);
}

void create_cgroup(const std::string& path) {
    make_dirs(path, 0755);
}

void join_cgroup(const std::string& path, pid_t pid) {
    write_control_file(path + "/cgroup.procs", std::to_string(pid));
}

void kill_cgroup(const std::string& path) {
    std::string kill_file = path + "/cgroup.kill";
    if (FILE* f = std::fopen(kill_file.c_str(), "we")) {
        bool ok = std::fputs("1", f) >= 0;
        if (std::fclose(f) == 0 && ok) return;
    }
    kill_each(path, 0);
}

bool remove_cgroup_tree(const std::string& path, std::chrono::milliseconds timeout) {
    if (!is_directory(path)) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = true;
    for (const auto& dir : subdirectories(path))
        ok = remove_cgroup_tree(dir, timeout) && ok;
    for (;;) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return ok;
        if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) return false;
        // Killed processes take a moment to leave; cgroup.events says when.
        if (!cgroup_populated(path)) std::this_thread::yield();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace ds::sys
