// The runtime's own cgroup hierarchy, for hosts that mount none a container can use (older
// Android kernels): planned from the host's mounts, mounted under a private directory, found by
// every later command in mountinfo, and unmounted when the last container cgroup leaves it.
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "core/mountinfo.hpp"
#include "core/validate.hpp"
#include "sys/cgroup.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/platform.hpp"
#include "sys/probes.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {
namespace {

constexpr unsigned long kMountFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
constexpr const char* kParent = "/droidspaces";  // every container cgroup lives below it

std::string own_dir(const std::string& base, OwnHierarchy kind) {
    return base + (kind == OwnHierarchy::unified ? "/unified" : "/systemd");
}

bool is_cgroupfs(const std::string& path) {
    struct statfs st {};
    return ::statfs(path.c_str(), &st) == 0 &&
           (st.f_type == CGROUP2_SUPER_MAGIC || st.f_type == CGROUP_SUPER_MAGIC);
}

// The base directory, flocked exclusively: by a `start` while it mounts and creates its cgroup,
// and by a release. A release removes the directory under its lock, so a locker checks that the
// path still names the directory it locked and tries again when it does not. `create`: make it
// first (a start); else an absent directory or (with !wait) a held lock gives an empty fd.
unique_fd lock_base(const std::string& base, bool create, bool wait) {
    for (int attempt = 0; attempt < 16; ++attempt) {
        if (create) make_dirs(base, 0755);
        unique_fd fd(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd) {
            if (errno == ENOENT && create) continue;  // removed by a release just now
            if (errno == ENOENT) return {};
            fail_errno("open " + base);
        }
        if (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
            if (errno == EINTR) continue;
            if (errno == EWOULDBLOCK && !wait) return {};
            fail_errno("lock " + base);
        }
        struct stat locked {
        }, now{};
        if (::fstat(fd.get(), &locked) == 0 && ::lstat(base.c_str(), &now) == 0 &&
            locked.st_dev == now.st_dev && locked.st_ino == now.st_ino)
            return fd;
        if (!create) return {};
    }
    fail_runtime("lock " + base + ": the directory was removed again and again");
}

// A cgroup2 mount made from a child in a new cgroup namespace leaves the kernel's one cgroup2
// superblock as it is: options (nsdelegate, memory_recursiveprot, ...) are re-applied only by
// mounts from the initial namespace, and a plain mount there would clear the host's. The
// mount's root is the child's cgroup: the hierarchy's root where nobody placed us in cgroup2.
// Returns 0 or the errno that failed.
int mount_v2_from_new_namespace(const char* target) {
    pid_t pid = ::fork();
    if (pid < 0) return errno;
    if (pid == 0) {  // only async-signal-safe calls: the caller may have threads
        if (::unshare(CLONE_NEWCGROUP) != 0) ::_exit(errno);
        if (::mount("cgroup2", target, "cgroup2", kMountFlags, nullptr) != 0) ::_exit(errno);
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return errno;
    return WIFEXITED(status) ? WEXITSTATUS(status) : ECHILD;
}

std::optional<MountInfo> topmost_mount(const std::string& path, std::string_view mountinfo) {
    std::optional<MountInfo> found;
    for (auto& m : parse_mountinfo(mountinfo))
        if (m.mount_point == path) found = std::move(m);
    return found;
}

void mount_unified(const std::string& dir) {
    if (mount_v2_from_new_namespace(dir.c_str()) == 0) {
        auto m = topmost_mount(dir, try_read_file("/proc/self/mountinfo").value_or(""));
        if (m && m->fstype == "cgroup2" && m->root == "/") return;
        // We sit in a cgroup2 subtree someone manages out of our sight: that mount shows only
        // the subtree. The whole hierarchy needs a mount from the initial namespace.
        detach_mount(dir);
    }
    // With the flags the host's own mount has where PID 1 sees one (a mount namespace of ours
    // may hide it); none where nobody mounted cgroup2, which is what the superblock has then.
    std::string flags;
    for (const auto& m : parse_mountinfo(try_read_file("/proc/1/mountinfo").value_or("")))
        if (m.fstype == "cgroup2") {
            flags = cgroup2_flag_options(m.super_options);
            break;
        }
    mount_fs("cgroup2", dir, "cgroup2", kMountFlags, flags);
}

void mount_own(const OwnCgroupMount& own) {
    make_dirs(own.mount_point, 0755);
    // mount(2) follows a symlink in its target: one planted here would put the hierarchy over
    // whatever it names (the host's /sys/fs/cgroup).
    struct stat st {};
    if (::lstat(own.mount_point.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        fail_runtime("mount cgroup on " + own.mount_point + ": not a directory of the runtime's");
    if (own.kind == OwnHierarchy::unified)
        mount_unified(own.mount_point);
    else  // creating a v1 hierarchy needs the initial cgroup namespace; it has no flags to keep
        mount_fs("cgroup", own.mount_point, "cgroup", kMountFlags, "none,name=systemd");
    if (!is_cgroupfs(own.mount_point))
        fail_runtime("mount cgroup on " + own.mount_point + ": not a cgroup filesystem after it");
}

// Whether a container planned as plan_cgroups does lands in one of the runtime's own mounts.
bool uses_own(const CgroupHost& host, bool want_v1) {
    if (!want_v1 && host.v2_root) return is_own_cgroup_mount(*host.v2_root);
    return is_own_cgroup_mount(host.v1_systemd_root().value_or(""));
}

std::vector<std::string> file_names(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (auto* entry = ::readdir(d))
            if (entry->d_type == DT_REG) out.emplace_back(entry->d_name);
        ::closedir(d);
    }
    return out;
}

// Under the base directory's lock. The kernel's hierarchies are shared: droidspaces/ in our
// mount also shows containers that other mounts of the same hierarchy serve (another mount
// namespace), so each container of ours leaves a marker <base>/users/<name> at its start. A
// marker whose cgroup is gone from our mounts is stale; with none live left, the mounts go
// (only cgroup mounts at our own paths) and then the directories.
std::vector<std::string> release_locked(const std::string& base) {
    const std::string users = base + "/users";
    std::vector<std::string> mounted, released;
    bool kept = false;
    for (OwnHierarchy kind : {OwnHierarchy::unified, OwnHierarchy::systemd}) {
        std::string dir = own_dir(base, kind);
        if (!is_mountpoint(dir)) continue;
        if (is_cgroupfs(dir))
            mounted.push_back(dir);
        else
            kept = true;  // not ours to unmount
    }
    bool live = false;
    for (const auto& name : file_names(users)) {
        bool in_use = std::any_of(mounted.begin(), mounted.end(), [&](const std::string& dir) {
            return is_directory(dir + kParent + "/" + name);
        });
        if (in_use)
            live = true;
        else
            ::unlink((users + "/" + name).c_str());
    }
    if (live) return released;
    for (const auto& dir : mounted) {
        if (::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            released.push_back(dir);
        else
            kept = true;
    }
    for (OwnHierarchy kind : {OwnHierarchy::unified, OwnHierarchy::systemd})
        if (::rmdir(own_dir(base, kind).c_str()) != 0 && errno != ENOENT) kept = true;
    if (::rmdir(users.c_str()) != 0 && errno != ENOENT) kept = true;
    if (!kept) ::rmdir(base.c_str());  // lockers notice by the inode check
    return released;
}

}  // namespace

std::string own_cgroup_base() {
    // /run itself, not a symlink to it: mountinfo names the resolved path, and the mount must be
    // recognised as ours by the path it is listed under.
    static const std::string base = [] {
        struct stat st {};
        bool run = ::lstat("/run", &st) == 0 && S_ISDIR(st.st_mode);
        return is_android() || !run ? "/dev/droidspaces-cgroup" : "/run/droidspaces-cgroup";
    }();
    return base;
}

bool is_own_cgroup_mount(const std::string& path) {
    std::string base = own_cgroup_base();
    return path == own_dir(base, OwnHierarchy::unified) ||
           path == own_dir(base, OwnHierarchy::systemd);
}

OwnCgroupMount plan_own_cgroup_mount(const CgroupHost& host, std::string_view proc_filesystems,
                                     bool want_v1, const std::string& base) {
    bool kernel_v2 = filesystems_list_has(proc_filesystems, "cgroup2");
    bool kernel_v1 = filesystems_list_has(proc_filesystems, "cgroup");
    if (!want_v1 && host.v2_root) return {};
    if (!want_v1 && kernel_v2) return {OwnHierarchy::unified, own_dir(base, OwnHierarchy::unified)};
    if (host.v1_systemd_root() || !kernel_v1) return {};
    return {OwnHierarchy::systemd, own_dir(base, OwnHierarchy::systemd)};
}

std::string cgroup2_flag_options(std::string_view super_options) {
    static const std::vector<std::string_view> kFlags = {"nsdelegate",
                                                         "favordynmods",
                                                         "memory_localevents",
                                                         "memory_recursiveprot",
                                                         "memory_hugetlb_accounting",
                                                         "pids_localevents"};
    std::string out;
    for (const auto& option : split_list(super_options, ","))
        if (std::find(kFlags.begin(), kFlags.end(), option) != kFlags.end())
            out += (out.empty() ? "" : ",") + option;
    return out;
}

CgroupSetup prepare_cgroup_host(const std::string& name, bool want_v1,
                                const std::function<void(const std::string&)>& warn) {
    CgroupSetup setup;
    setup.host = host_cgroups();
    const std::string base = own_cgroup_base();
    const std::string filesystems = try_read_file("/proc/filesystems").value_or("");
    // Hosts with their own hierarchies (nearly all) take no lock and mount nothing.
    if (plan_own_cgroup_mount(setup.host, filesystems, want_v1, base).kind == OwnHierarchy::none &&
        !uses_own(setup.host, want_v1))
        return setup;
    try {
        setup.lock = lock_base(base, true, true);
        setup.host = host_cgroups();  // another start may have mounted it while we waited
        auto own = plan_own_cgroup_mount(setup.host, filesystems, want_v1, base);
        if (own.kind != OwnHierarchy::none) {
            try {
                mount_own(own);
            } catch (const Error&) {
                release_locked(base);  // the directories made for it
                throw;
            }
            setup.host = host_cgroups();
        }
        if (uses_own(setup.host, want_v1)) {
            make_dirs(base + "/users", 0755);
            write_file_atomic(base + "/users/" + sanitize_name(name), "", 0644);
        }
    } catch (const Error& e) {
        setup.lock.reset();
        warn(std::string(e.what()) + " (the container starts without the runtime's own cgroup)");
    }
    return setup;
}

unique_fd hold_own_cgroups() {
    const std::string base = own_cgroup_base();
    if (!is_directory(base)) return {};
    try {
        return lock_base(base, false, true);
    } catch (const Error&) {
        return {};
    }
}

std::vector<std::string> release_own_cgroup_mounts() {
    const std::string base = own_cgroup_base();
    if (!is_directory(base)) return {};  // the usual case: nothing of ours, one stat
    try {
        unique_fd lock = lock_base(base, false, false);
        if (!lock) return {};  // a start is mounting or joining it; it releases later
        return release_locked(base);
    } catch (const Error&) {
        return {};
    }
}

}  // namespace ds::sys
