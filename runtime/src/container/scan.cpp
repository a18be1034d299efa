// `scan`: recover records the workspace lost, clean what nothing uses any more.
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

#include "container/android.hpp"
#include "container/cgroups.hpp"
#include "container/cleanup.hpp"
#include "container/config_source.hpp"
#include "container/image.hpp"
#include "container/inspect_detail.hpp"
#include "container/lifecycle.hpp"
#include "container/net_nat.hpp"
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

// An empty droidspaces cgroup younger than this may be a start in progress (created just before
// the monitor moves init into it): scan leaves it alone.
constexpr auto kCgroupGrace = std::chrono::seconds(10);

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
            if (sys::cgroup_populated(path)) continue;
            if (sys::remove_cgroup_tree(path, 500ms)) result.cleaned.push_back("cgroup " + path);
        }
        // The shared parent goes with the last container cgroup (a crashed monitor left it).
        if (sys::is_directory(base) && remove_cgroup_parent_if_empty(base))
            result.cleaned.push_back("cgroup " + base);
    }
    // The runtime's own hierarchy (on a host that has none) whose last container's monitor was
    // killed before it could unmount it.
    for (const auto& mount : sys::release_own_cgroup_mounts())
        result.cleaned.push_back("mount " + mount);
}

// 5. --net=nat records of containers whose monitor was killed: their rules (and the shared
// state when no NAT container is left) are removed as their monitor would have.
void clean_nat_records(const Workspace& ws, const std::set<std::string>& running,
                       ScanResult& result) {
    for (const auto& name : net::nat_record_names(ws)) {
        if (running.count(name) || lock_held(ws, name)) continue;
        if (auto state = read_state(ws, name); state && monitor_is_running(*state)) continue;
        if (net::release_nat(ws, name, [](const std::string&) {}))
            result.cleaned.push_back("network " + name);
    }
}

}  // namespace

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
    clean_nat_records(ws, running, result);
    // 6. Android host changes (SELinux, tuning, helpers) no running container needs any more.
    for (auto& done : android::release_unneeded(ws, "", [](const std::string&) {}))
        result.cleaned.push_back("android: " + done);
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
