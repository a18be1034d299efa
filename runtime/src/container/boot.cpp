// The container's init process, from clone() to exec of the distro's init. Runs in the child:
// every failure is reported as "step: reason" through the error pipe, never thrown past here.
#include "container/boot.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "container/remount_guard.hpp"
#include "container/security.hpp"
#include "sys/cgroup.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/process.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

// When a table row applies.
enum When : unsigned {
    kAlways = 0,
    kOwnNetns = 1,   // the container has its own network namespace
    kHostNetns = 2,  // it shares the host's
    kCgroupV2 = 4,
    kCgroupV1 = 8,
    kMasked = 16,  // not --privileged=nomask
};

bool applies(unsigned when, const BootPlan& plan) {
    if ((when & kOwnNetns) && !plan.own_netns()) return false;
    if ((when & kHostNetns) && plan.own_netns()) return false;
    if ((when & kCgroupV2) && plan.cgroup_layout != CgroupLayout::unified) return false;
    if ((when & kCgroupV1) && plan.cgroup_layout != CgroupLayout::legacy_systemd) return false;
    if ((when & kMasked) && privileged_has(plan.config.privileged, "nomask")) return false;
    return true;
}

enum class MountKind { fs, bind_read_only, remount_read_only };

// The filesystems every container gets, in order, relative to the rootfs (nspawn-style data).
struct MountRow {
    MountKind kind;
    const char* source;
    const char* target;
    const char* fstype;
    unsigned long flags;
    const char* data;
    unsigned when;
};

constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

const MountRow kMountTable[] = {
    {MountKind::fs, "proc", "/proc", "proc", kNoSuidDevExec, nullptr, kAlways},
    // The kernel's knobs are the host's: read-only, except the per-namespace ones below.
    {MountKind::bind_read_only, nullptr, "/proc/sys", nullptr, 0, nullptr, kMasked},
    {MountKind::fs, "sysfs", "/sys", "sysfs", kNoSuidDevExec | MS_RDONLY, nullptr, kAlways},
    // Only inside the new cgroup namespace: the root is the container's own cgroup, and the
    // host's cgroup2 superblock flags are not touched (boot-lab-notes §2.4).
    {MountKind::fs, "cgroup2", "/sys/fs/cgroup", "cgroup2", kNoSuidDevExec, nullptr, kCgroupV2},
    {MountKind::fs, "tmpfs", "/sys/fs/cgroup", "tmpfs", kNoSuidDevExec, "mode=755,size=1m",
     kCgroupV1},
    {MountKind::fs, "cgroup", "/sys/fs/cgroup/systemd", "cgroup", kNoSuidDevExec,
     "none,name=systemd", kCgroupV1},
    // Read-only around the named hierarchy (as nspawn does): systemd cannot mount the host's
    // v1 controllers next to it, which would put its cgroups in the host's trees.
    {MountKind::remount_read_only, nullptr, "/sys/fs/cgroup", nullptr, kNoSuidDevExec, nullptr,
     kCgroupV1},
    {MountKind::fs, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=4m", kAlways},
    {MountKind::fs, "devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
     "newinstance,ptmxmode=0666,mode=0620,gid=5", kAlways},
    {MountKind::fs, "tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", kAlways},
    {MountKind::fs, "mqueue", "/dev/mqueue", "mqueue", kNoSuidDevExec, nullptr, kAlways},
    {MountKind::fs, "tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=755", kAlways},
    {MountKind::fs, "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", kAlways},
};

struct DeviceRow {
    const char* path;
    unsigned major, minor;
    mode_t mode;
};

const DeviceRow kDevices[] = {
    {"/dev/null", 1, 3, 0666},       {"/dev/zero", 1, 5, 0666},    {"/dev/full", 1, 7, 0666},
    {"/dev/random", 1, 8, 0666},     {"/dev/urandom", 1, 9, 0666}, {"/dev/tty", 5, 0, 0666},
    {"/dev/net/tun", 10, 200, 0666}, {"/dev/fuse", 10, 229, 0666},
};

const std::pair<const char*, const char*> kDevLinks[] = {
    {"/dev/fd", "/proc/self/fd"},       {"/dev/stdin", "/proc/self/fd/0"},
    {"/dev/stdout", "/proc/self/fd/1"}, {"/dev/stderr", "/proc/self/fd/2"},
    {"/dev/ptmx", "pts/ptmx"},
};

// After pivot_root: kernel interfaces a container must not write (nspawn's list).
const char* const kReadOnlyPaths[] = {"/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq",
                                      "/proc/acpi"};
const char* const kHiddenFiles[] = {"/proc/kcore", "/proc/keys", "/proc/timer_list",
                                    "/proc/sched_debug"};

void ensure_dir(const std::string& path) {
    sys::make_dirs(path, 0755);
}

// Files in the container's fresh tmpfs /run: nothing to make durable.
void write_run_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
    sys::write_file_atomic(path, content, mode, sys::Durability::volatile_state);
}

class Boot {
  public:
    Boot(const BootPlan& plan, bool in_cgroup, int guard_fd)
        : plan_(plan), root_(plan.rootfs), in_cgroup_(in_cgroup), guard_fd_(guard_fd) {}

    void join_cgroup() {
        if (plan_.cgroup_path.empty()) return;
        if (!in_cgroup_) sys::join_cgroup(plan_.cgroup_path);
        // The cgroup namespace is created after joining so that its root is the container's
        // cgroup: systemd inside sees "/" and builds init.scope under droidspaces/<name>.
        if (::unshare(CLONE_NEWCGROUP) != 0) sys::fail_errno("unshare cgroup namespace");
    }

    void make_mounts_private() { sys::make_private_recursive("/"); }

    // --volatile: the rootfs becomes the lower layer of an overlay whose upper layer is a tmpfs
    // mounted only in this mount namespace; the host sees none of it and every change is gone
    // with the namespace.
    void overlay_volatile_rootfs() {
        if (!plan_.config.volatile_mode) return;
        const std::string& scratch = plan_.volatile_dir;
        sys::mount_fs("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=50%");
        for (const char* dir : {"/upper", "/work", "/merged"})
            ensure_dir(scratch + dir);
        sys::mount_fs(
            "overlay", scratch + "/merged", "overlay", 0,
            "lowerdir=" + root_ + ",upperdir=" + scratch + "/upper,workdir=" + scratch + "/work");
        root_ = scratch + "/merged";
    }

    void bind_rootfs() { sys::bind_mount(root_, root_); }

    void mount_filesystems() {
        for (const auto& row : kMountTable) {
            if (!applies(row.when, plan_)) continue;
            std::string target = root_ + row.target;
            if (!sys::is_directory(target)) ensure_dir(target);
            if (row.kind == MountKind::bind_read_only) {
                sys::bind_mount(target, target, false);
                sys::remount_read_only(target, kNoSuidDevExec);
            } else if (row.kind == MountKind::remount_read_only) {
                if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_RDONLY | row.flags,
                            nullptr) != 0)
                    sys::fail_errno("remount " + target + " read-only");
            } else {
                sys::mount_fs(row.source, target, row.fstype, row.flags, row.data ? row.data : "");
            }
        }
        // Writable holes in read-only /proc/sys for what is per-namespace.
        if (plan_.own_netns() && applies(kMasked, plan_)) reopen_writable("/proc/sys/net");
    }

    void populate_dev() {
        ::umask(0);
        for (const auto& dev : kDevices) {
            std::string path = root_ + dev.path;
            ensure_dir(path.substr(0, path.rfind('/')));
            if (::mknod(path.c_str(), S_IFCHR | dev.mode, makedev(dev.major, dev.minor)) != 0)
                sys::fail_errno(std::string("mknod ") + dev.path);
        }
        ::umask(022);
        for (const auto& [link, target] : kDevLinks) {
            if (::symlink(target, (root_ + link).c_str()) != 0)
                sys::fail_errno(std::string("symlink ") + link);
        }
    }

    void attach_console() {
        std::string console = root_ + "/dev/console";
        sys::unique_fd fd(::open(console.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        if (!fd) sys::fail_errno("create " + console);
        sys::bind_mount(plan_.console_slave, console, false);
    }

    void bind_user_paths() {
        auto binds = plan_.config.bind_mounts;
        std::stable_sort(binds.begin(), binds.end(),
                         [](auto& a, auto& b) { return a.dest < b.dest; });
        for (const auto& bind : binds) {
            std::string target = root_ + bind.dest;
            struct stat src, dst;
            if (::stat(bind.src.c_str(), &src) != 0) sys::fail_errno("bind source " + bind.src);
            if (::lstat(target.c_str(), &dst) == 0 && S_ISLNK(dst.st_mode))
                fail_runtime("bind destination " + bind.dest + " is a symlink inside the rootfs");
            if (S_ISDIR(src.st_mode)) {
                ensure_dir(target);
            } else {
                ensure_dir(target.substr(0, target.rfind('/')));
                sys::unique_fd f(
                    ::open(target.c_str(), O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644));
                if (!f) sys::fail_errno("create bind target " + bind.dest);
            }
            sys::bind_mount(bind.src, target);
            if (bind.read_only) sys::remount_read_only(target);
        }
    }

    void pivot_into_rootfs() {
        if (::chdir(root_.c_str()) != 0) sys::fail_errno("chdir " + root_);
        // pivot_root(".", ".") stacks the old root under the new one; detaching "." then drops
        // it. Needs no .old_root directory, so it works on read-only roots too.
        if (::syscall(SYS_pivot_root, ".", ".") != 0) sys::fail_errno("pivot_root " + root_);
        if (::umount2(".", MNT_DETACH) != 0) sys::fail_errno("detach the host's root");
        if (::chdir("/") != 0) sys::fail_errno("chdir /");
        // --privileged=shared: mounts made inside propagate between the container's mounts.
        if (privileged_has(plan_.config.privileged, "shared") &&
            ::mount(nullptr, "/", nullptr, MS_REC | MS_SHARED, nullptr) != 0)
            sys::fail_errno("make / shared");
    }

    void mask_kernel_files() {
        if (!applies(kMasked, plan_)) return;
        for (const char* path : kReadOnlyPaths) {
            if (!sys::path_exists(path)) continue;  // e.g. no sysrq-trigger without MAGIC_SYSRQ
            sys::bind_mount(path, path, false);
            sys::remount_read_only(path, kNoSuidDevExec);
        }
        for (const char* path : kHiddenFiles) {
            if (!sys::path_exists(path)) continue;
            sys::bind_mount("/dev/null", path, false);
        }
    }

    void set_hostname() {
        const std::string& name = plan_.config.hostname;
        if (::sethostname(name.c_str(), name.size()) != 0) sys::fail_errno("sethostname " + name);
        write_if_changed("/etc/hostname", name + "\n");
        write_if_changed("/etc/hosts", hosts_with_entries(read_or_empty("/etc/hosts")));
    }

    void write_resolv_conf() {
        std::string content;
        for (const auto& server : plan_.config.dns_servers)
            content += "nameserver " + server + "\n";
        if (content.empty()) content = "nameserver 1.1.1.1\nnameserver 8.8.8.8\n";
        ensure_dir("/run/droidspaces");
        write_run_file("/run/droidspaces/resolv.conf", content);
        if (!sys::is_directory("/etc")) return;
        struct stat st;
        if (::lstat("/etc/resolv.conf", &st) == 0 && S_ISREG(st.st_mode)) {
            // The user's file stays untouched underneath.
            sys::bind_mount("/run/droidspaces/resolv.conf", "/etc/resolv.conf", false);
            return;
        }
        // Missing, or a symlink into a resolver that does not run here (systemd-resolved).
        ::unlink("/etc/resolv.conf");
        if (::symlink("/run/droidspaces/resolv.conf", "/etc/resolv.conf") != 0)
            sys::fail_errno("symlink /etc/resolv.conf");
    }

    void configure_own_network() {
        if (!plan_.own_netns()) return;
        if (plan_.config.disable_ipv6) {
            for (const char* knob : {"/proc/sys/net/ipv6/conf/all/disable_ipv6",
                                     "/proc/sys/net/ipv6/conf/default/disable_ipv6"})
                write_existing(knob, "1");
        }
        sys::unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        struct ifreq ifr = {};
        std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        if (!sock || ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) sys::fail_errno("query lo");
        ifr.ifr_flags |= IFF_UP;
        if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) sys::fail_errno("bring lo up");
    }

    void write_markers() {
        ensure_dir("/run/droidspaces");
        ensure_dir("/run/systemd");
        // systemd's container interface: it reads the manager name from here and from $container.
        write_run_file("/run/systemd/container", "droidspaces");
        write_run_file("/run/droidspaces/name", plan_.config.name);
        write_run_file("/run/droidspaces/version", DS_VERSION);
        write_run_file("/run/droidspaces/container.config", serialize_config(plan_.config));
        write_run_file("/run/droidspaces/" + plan_.config.uuid, "");
    }

    // The --env variables for login shells too: /run/droidspaces.env, sourced from profile.d.
    void write_environment() {
        if (plan_.env.empty()) return;
        write_run_file("/run/droidspaces.env", env_to_shell(plan_.env), 0755);
        if (!sys::is_directory("/etc/profile.d") || ::access("/etc/profile.d", W_OK) != 0) return;
        const char* link = "/etc/profile.d/droidspaces_env.sh";
        ::unlink(link);
        if (::symlink("/run/droidspaces.env", link) != 0)
            sys::fail_errno(std::string("symlink ") + link);
    }

    void take_console() {
        sys::unique_fd console(::open("/dev/console", O_RDWR | O_CLOEXEC));
        if (!console) sys::fail_errno("open /dev/console");
        if (::setsid() < 0) sys::fail_errno("setsid");
        if (::ioctl(console.get(), TIOCSCTTY, 1) != 0)
            sys::fail_errno("make /dev/console the ctty");
        struct winsize ws;
        if (::ioctl(console.get(), TIOCGWINSZ, &ws) == 0 && ws.ws_row == 0) {
            ws.ws_row = 24;
            ws.ws_col = 80;
            ::ioctl(console.get(), TIOCSWINSZ, &ws);
        }
        for (int fd = 0; fd < 3; ++fd)
            if (::dup2(console.get(), fd) < 0) sys::fail_errno("redirect stdio to /dev/console");
    }

    void restrict() { apply_security(plan_.config); }

    // Last before exec: from here on the guest's superblock remounts go to the monitor.
    void guard_remounts() { install_remount_guard(plan_.config, guard_fd_); }

  private:
    void reopen_writable(const std::string& path) {
        std::string target = root_ + path;
        if (sys::is_directory(target)) sys::bind_mount(target, target, false);
    }

    static std::string read_or_empty(const std::string& path) {
        return sys::try_read_file(path).value_or("");
    }

    static void write_if_changed(const std::string& path, const std::string& content) {
        struct stat st;
        // Never follow a symlink out of the rootfs's /etc: leave such files alone.
        if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return;
        if (::access("/etc", W_OK) != 0) return;  // no /etc, or a read-only rootfs
        sys::write_file_if_changed(path, content);
    }

    static void write_existing(const char* path, const char* value) {
        sys::unique_fd fd(::open(path, O_WRONLY | O_CLOEXEC));
        if (fd) sys::write_all(fd.get(), value, std::strlen(value));
    }

    // Adds "127.0.0.1 localhost" and "127.0.1.1 <hostname>" unless present; other lines stay.
    std::string hosts_with_entries(const std::string& current) const {
        const std::string& host = plan_.config.hostname;
        std::string out;
        bool has_localhost = false, has_host = false;
        size_t start = 0;
        while (start < current.size()) {
            size_t end = current.find('\n', start);
            if (end == std::string::npos) end = current.size();
            std::string line = current.substr(start, end - start);
            start = end + 1;
            if (line.rfind("127.0.1.1", 0) == 0) {
                if (has_host) continue;
                line = "127.0.1.1\t" + host;
                has_host = true;
            }
            if (line.rfind("127.0.0.1", 0) == 0 && line.find("localhost") != std::string::npos)
                has_localhost = true;
            out += line + "\n";
        }
        if (!has_localhost) out = "127.0.0.1\tlocalhost\n" + out;
        if (!has_host) out += "127.0.1.1\t" + host + "\n";
        return out;
    }

    const BootPlan& plan_;
    std::string root_;
    bool in_cgroup_;
    int guard_fd_;
};

struct Step {
    const char* name;
    void (Boot::*run)();
};

// The boot, as a list of steps.
const Step kSteps[] = {
    {"join the container cgroup", &Boot::join_cgroup},
    {"make mounts private", &Boot::make_mounts_private},
    {"set up the volatile overlay", &Boot::overlay_volatile_rootfs},
    {"bind the rootfs", &Boot::bind_rootfs},
    {"mount /proc, /sys, /dev, /run, /tmp and cgroups", &Boot::mount_filesystems},
    {"create /dev nodes", &Boot::populate_dev},
    {"attach the console", &Boot::attach_console},
    {"bind mounts", &Boot::bind_user_paths},
    {"pivot_root", &Boot::pivot_into_rootfs},
    {"mask kernel files", &Boot::mask_kernel_files},
    {"set the hostname", &Boot::set_hostname},
    {"write /etc/resolv.conf", &Boot::write_resolv_conf},
    {"configure the network namespace", &Boot::configure_own_network},
    {"write identity markers", &Boot::write_markers},
    {"write the environment", &Boot::write_environment},
    {"take the console", &Boot::take_console},
    {"apply capability and seccomp limits", &Boot::restrict},
    {"install the remount guard", &Boot::guard_remounts},
};

std::vector<std::string> base_environment(const BootPlan& plan) {
    std::string uuid = plan.config.uuid;
    // systemd takes container_uuid as the machine ID when /etc/machine-id is empty.
    std::string dashed = uuid.substr(0, 8) + "-" + uuid.substr(8, 4) + "-" + uuid.substr(12, 4) +
                         "-" + uuid.substr(16, 4) + "-" + uuid.substr(20);
    return {
        "container=droidspaces",
        "container_uuid=" + dashed,
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=" + plan.term,
        "HOME=/root",
        "LANG=C.UTF-8",
    };
}

std::vector<std::string> init_environment(const BootPlan& plan) {
    std::vector<std::string> env = base_environment(plan);
    for (const auto& [key, value] : plan.env)
        env.push_back(key + "=" + value);
    return env;
}

[[noreturn]] void report_and_exit(int error_fd, const std::string& message) {
    sys::write_all(error_fd, message.data(), message.size());
    ::_exit(127);
}

}  // namespace

void boot_container_init(const BootPlan& plan, int error_fd, bool in_cgroup, int guard_fd) {
    // Signals the monitor ignores must not stay ignored in the distro's init.
    for (int sig = 1; sig < NSIG; ++sig)
        ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    Boot boot(plan, in_cgroup, guard_fd);
    for (const auto& step : kSteps) {
        try {
            (boot.*step.run)();
        } catch (const std::exception& e) {
            report_and_exit(error_fd, std::string(step.name) + ": " + e.what());
        }
    }
    std::vector<std::string> args = {plan.init_path};
    if (plan.family == InitFamily::systemd && plan.config.custom_init.empty())
        args.push_back(plan.cgroup_layout == CgroupLayout::legacy_systemd
                           ? "systemd.unified_cgroup_hierarchy=0"
                           : "systemd.unified_cgroup_hierarchy=1");
    auto env = init_environment(plan);
    std::vector<char*> argv, envp;
    for (auto& a : args)
        argv.push_back(a.data());
    for (auto& e : env)
        envp.push_back(e.data());
    argv.push_back(nullptr);
    envp.push_back(nullptr);
    ::execve(plan.init_path.c_str(), argv.data(), envp.data());
    int err = errno;
    report_and_exit(error_fd, "exec " + plan.init_path + ": " + sys::errno_text(err) + " (errno " +
                                  std::to_string(err) + ")");
}

}  // namespace ds::container
