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

#include "container/android.hpp"
#include "container/hw_access.hpp"
#include "container/net_nat.hpp"
#include "container/proc_views.hpp"
#include "container/remount_guard.hpp"
#include "container/runtime_log.hpp"
#include "container/security.hpp"
#include "sys/cgroup.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"
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
    kMasked = 16,    // not --privileged=nomask
    kIsolated = 32,  // not -H
    kHardware = 64,  // -H (container/hw_access.hpp)
};

bool applies(unsigned when, const BootPlan& plan) {
    if ((when & kOwnNetns) && !plan.own_netns()) return false;
    if ((when & kHostNetns) && plan.own_netns()) return false;
    if ((when & kCgroupV2) && plan.cgroup_layout != CgroupLayout::unified) return false;
    if ((when & kCgroupV1) && plan.cgroup_layout != CgroupLayout::legacy_systemd) return false;
    if ((when & kMasked) && privileged_has(plan.config.privileged, "nomask")) return false;
    if ((when & kIsolated) && plan.config.enable_hw_access) return false;
    if ((when & kHardware) && !plan.config.enable_hw_access) return false;
    return true;
}

enum class MountKind { fs, bind_read_only, remount_read_only, hw_sys, hw_dev };

// The filesystems every container gets, in order, relative to the rootfs (nspawn-style data).
// Every target is resolved inside the rootfs (sys::make_dirs_in_root) and mounted onto its fd:
// a rootfs whose proc, dev or tmp is a symlink to a host path gets the mount at that path
// inside itself, or a clean failure, never a mount on the host.
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
    {MountKind::fs, "sysfs", "/sys", "sysfs", kNoSuidDevExec | MS_RDONLY, nullptr, kIsolated},
    {MountKind::hw_sys, nullptr, "/sys", nullptr, 0, nullptr, kHardware},
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
    {MountKind::fs, "tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=4m", kIsolated},
    {MountKind::hw_dev, nullptr, "/dev", nullptr, 0, nullptr, kHardware},
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

// After pivot_root, unless --privileged=nomask, where present (the kernel's config decides):
// read_only: kernel interfaces a container may read but must not write (a read-only self-bind);
// hide: ones it must not read either. As runc's masked paths, a hidden file gets /dev/null bound
// over it and a hidden directory an empty read-only tmpfs: reads find nothing, writes fail, and
// nothing of the host's files stays reachable below the mount (a read-only bind would keep
// them readable).
enum class MaskKind { read_only, hide };

struct MaskRow {
    const char* path;
    MaskKind kind;
    bool device = false;  // lifted by -H, as upstream: the host's hardware is the point there
};

const MaskRow kMasks[] = {
    {"/proc/sysrq-trigger", MaskKind::read_only},  // crash or reboot the host
    {"/proc/bus", MaskKind::read_only, true},      // PCI/USB config space
    {"/proc/fs", MaskKind::read_only},
    {"/proc/irq", MaskKind::read_only, true},  // IRQ affinity of the host's devices
    {"/proc/acpi", MaskKind::read_only},
    {"/proc/kcore", MaskKind::hide},  // the host's memory
    {"/proc/keys", MaskKind::hide},
    {"/proc/timer_list", MaskKind::hide},  // host-wide timers: an information leak
    {"/proc/sched_debug", MaskKind::hide},
    {"/proc/scsi", MaskKind::hide},  // "scsi add-single-device" writes rescan host buses
    {"/proc/latency_stats", MaskKind::hide},
    {"/proc/timer_stats", MaskKind::hide},
    {"/sys/devices/virtual/powercap", MaskKind::hide},  // RAPL energy: Platypus side channel
    {"/sys/firmware", MaskKind::hide, true},            // ACPI tables, EFI variables, DMI
    // The named v1 hierarchy is the host's (CVE-2022-0492): a release_agent written here is run
    // by the kernel as host root outside every namespace. Read-only as upstream does; systemd
    // only logs that it cannot install its agent.
    {"/sys/fs/cgroup/systemd/release_agent", MaskKind::read_only},
};

// A guest /etc file may be a symlink, a FIFO or a huge file: read it only when it is a regular
// file (never follow, never block), and no bigger than an ad-blocking hosts list gets.
constexpr size_t kEtcFileLimit = 16 << 20;

void ensure_dir(const std::string& path) {
    sys::make_dirs(path, 0755);
}

// "/dev/net/tun" -> {"/dev/net", "tun"}
std::pair<std::string, std::string> split_last(const std::string& path) {
    size_t slash = path.rfind('/');
    return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

// Files in the container's fresh tmpfs /run: nothing to make durable.
void write_run_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
    sys::write_file_atomic(path, content, mode, sys::Durability::volatile_state);
}

class Boot {
  public:
    Boot(const BootPlan& plan, bool in_cgroup, int guard_fd, int views_fd, int net_fd)
        : plan_(plan),
          root_(plan.rootfs),
          in_cgroup_(in_cgroup),
          guard_fd_(guard_fd),
          views_fd_(views_fd),
          net_fd_(net_fd),
          log_(plan.workspace.logs_dir(plan.config.name) + "/log", "boot") {}

    void join_cgroup() {
        // v1 limit cgroups first: everything init forks from here on is counted and limited.
        for (const auto& path : plan_.limit_cgroups)
            sys::join_cgroup(path);
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
    // The layers are named to overlayfs by fd ("/proc/self/fd/N"): no path, whatever its
    // characters (a ',' or ':' in a rootfs or workspace path), can change the option string.
    void overlay_volatile_rootfs() {
        if (!plan_.config.volatile_mode) return;
        const std::string& scratch = plan_.volatile_dir;
        sys::mount_fs("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=50%");
        sys::unique_fd top = sys::open_tree_root(scratch);  // the tmpfs just mounted
        sys::unique_fd layers[3];
        const char* names[3] = {"upper", "work", "merged"};
        for (int i = 0; i < 3; ++i) {
            if (::mkdirat(top.get(), names[i], 0755) != 0)
                sys::fail_errno("mkdir " + scratch + "/" + names[i]);
            layers[i].reset(
                ::openat(top.get(), names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!layers[i]) sys::fail_errno("open " + scratch + "/" + names[i]);
        }
        sys::unique_fd lower = sys::open_tree_root(root_);
        sys::mount_fs_at("overlay", layers[2].get(), scratch + "/merged", "overlay", 0,
                         "lowerdir=" + sys::fd_path(lower.get()) +
                             ",upperdir=" + sys::fd_path(layers[0].get()) +
                             ",workdir=" + sys::fd_path(layers[1].get()));
        root_ = scratch + "/merged";
    }

    // From here on, every path into the rootfs is resolved inside it through root_fd_, taken
    // after the self-bind so that it sees the mounts made below it.
    void bind_rootfs() {
        sys::bind_mount(root_, root_);
        root_fd_ = sys::open_tree_root(root_);
    }

    void mount_filesystems() {
        for (const auto& row : kMountTable) {
            if (!applies(row.when, plan_) || skipped_on_host_dev(row.target)) continue;
            sys::unique_fd target = sys::make_dirs_in_root(root_fd_.get(), row.target);
            switch (row.kind) {
                case MountKind::bind_read_only:
                    bind_self(target.get(), row.target);
                    sys::remount_at(resolve_again(row.target).get(), row.target,
                                    MS_RDONLY | kNoSuidDevExec, true);
                    break;
                case MountKind::remount_read_only:
                    // The fd names the mount on top at this path: the one to change.
                    sys::remount_at(target.get(), row.target, MS_RDONLY | row.flags, false);
                    break;
                case MountKind::fs:
                    sys::mount_fs_at(row.source, target.get(), row.target, row.fstype, row.flags,
                                     row.data ? row.data : "");
                    break;
                case MountKind::hw_sys:
                    mount_hw_sys(root_fd_.get(), plan_);
                    break;
                case MountKind::hw_dev:
                    dev_is_devtmpfs_ = mount_hw_dev(root_fd_.get(), plan_, warn_fn());
                    break;
            }
        }
        // Writable holes in read-only /proc/sys for what is per-namespace.
        if (plan_.own_netns() && applies(kMasked, plan_)) reopen_writable("/proc/sys/net");
        // Before any user bind: what expose_hardware may write in (hw_access.hpp OwnMounts).
        own_mounts_.dev = device_of("/dev");
        own_mounts_.tmp = device_of("/tmp");
    }

    dev_t device_of(const char* path) {
        sys::unique_fd fd = sys::open_in_root(root_fd_.get(), path, O_PATH | O_DIRECTORY);
        struct stat st;
        if (!fd || ::fstat(fd.get(), &st) != 0) sys::fail_errno(std::string("stat ") + path);
        return st.st_dev;
    }

    // -H on the host's devtmpfs: no mount point is made in the host's /dev; /dev/shm and
    // /dev/mqueue are mounted where the host has them (the guest's init mounts its own).
    bool skipped_on_host_dev(std::string_view target) {
        if (!dev_is_devtmpfs_ || target == "/dev/pts" || !target.starts_with("/dev/")) return false;
        return !sys::open_in_root(root_fd_.get(), target, O_PATH | O_DIRECTORY);
    }

    // The /dev tmpfs is the runtime's own by now; its paths are resolved inside the rootfs all
    // the same, so that no step of the boot writes through a path it did not resolve.
    void populate_dev() {
        // -H on the host's devtmpfs: its nodes are the host's, nothing is made in it.
        if (dev_is_devtmpfs_) return bind_devpts_ptmx(root_fd_.get());
        ::umask(0);
        for (const auto& dev : kDevices) {
            auto [parent, name] = split_last(dev.path);
            sys::unique_fd dir = sys::make_dirs_in_root(root_fd_.get(), parent);
            // EEXIST: -H on Android copied the node from devtmpfs already.
            if (::mknodat(dir.get(), name.c_str(), S_IFCHR | dev.mode,
                          makedev(dev.major, dev.minor)) != 0 &&
                errno != EEXIST)
                sys::fail_errno(std::string("mknod ") + dev.path);
        }
        ::umask(022);
        for (const auto& [link, target] : kDevLinks) {
            auto [parent, name] = split_last(link);
            sys::unique_fd dir = sys::make_dirs_in_root(root_fd_.get(), parent);
            if (::symlinkat(target, dir.get(), name.c_str()) != 0 && errno != EEXIST)
                sys::fail_errno(std::string("symlink ") + link);
        }
    }

    void attach_console() {
        sys::unique_fd console =
            sys::make_node_in_root(root_fd_.get(), "/dev/console", sys::NodeKind::file);
        sys::bind_mount_at(plan_.console_slave, console.get(), "/dev/console", false);
    }

    // Destinations are resolved inside the rootfs, symlinks included (a guest /mnt -> /etc puts
    // the bind at the rootfs's /etc, where the guest's /mnt leads); one that cannot be (a file
    // where a directory is needed, a dangling symlink, a magic link) is skipped with a warning,
    // as upstream skips bad binds, and nothing is created outside the rootfs.
    void bind_user_paths() {
        auto binds = plan_.config.bind_mounts;
        std::stable_sort(binds.begin(), binds.end(),
                         [](auto& a, auto& b) { return a.dest < b.dest; });
        for (const auto& bind : binds) {
            struct stat src;
            if (::stat(bind.src.c_str(), &src) != 0) {  // gone since the start checked it
                warn("bind mount " + bind.src + ":" + bind.dest +
                     " skipped: " + std::strerror(errno));
                continue;
            }
            auto kind = S_ISDIR(src.st_mode) ? sys::NodeKind::directory : sys::NodeKind::file;
            sys::unique_fd target;
            try {
                target = sys::make_node_in_root(root_fd_.get(), bind.dest, kind);
            } catch (const std::exception& e) {
                warn("bind mount " + bind.src + ":" + bind.dest + " skipped: " + e.what());
                continue;
            }
            sys::bind_mount_at(bind.src, target.get(), bind.dest);
            if (!bind.read_only) continue;
            sys::unique_fd top = resolve_again(bind.dest);
            struct stat now;
            // The path must lead to the bind just made, or the remount would miss it.
            if (::fstat(top.get(), &now) != 0 || now.st_dev != src.st_dev ||
                now.st_ino != src.st_ino)
                fail_runtime("bind destination " + bind.dest + " changed while it was mounted");
            sys::remount_at(top.get(), bind.dest, MS_RDONLY, true);
        }
    }

    // --gpu and -H: GPU nodes and the desktop's X11 socket, read from the host before pivot.
    void expose_hardware() {
        expose_hw_nodes(root_fd_.get(), plan_, dev_is_devtmpfs_, own_mounts_, warn_fn());
    }

    void add_gpu_group_entry() {
        if (plan_.config.enable_hw_access || plan_.config.enable_gpu_mode) add_gpu_group(warn_fn());
    }

    // Android: -S storage and the Termux helpers' sockets (container/android.hpp).
    void bind_android_paths() { android::bind_guest_paths(plan_, root_fd_.get(), warn_fn()); }

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

    // Kernel paths after pivot_root: the rootfs is "/" and these are the kernel's own files.
    void mask_kernel_files() {
        if (!applies(kMasked, plan_)) return;
        for (const auto& mask : kMasks) {
            struct stat st;
            if (::lstat(mask.path, &st) != 0)
                continue;  // e.g. no sysrq-trigger without MAGIC_SYSRQ
            if (mask.device && plan_.config.enable_hw_access) continue;
            if (mask.kind == MaskKind::read_only) {
                sys::bind_mount(mask.path, mask.path, false);
                sys::remount_read_only(mask.path, kNoSuidDevExec);
            } else if (S_ISDIR(st.st_mode)) {
                sys::mount_fs("tmpfs", mask.path, "tmpfs", MS_RDONLY | kNoSuidDevExec,
                              "mode=555,size=4k");
            } else {
                sys::bind_mount("/dev/null", mask.path, false);
            }
        }
    }

    void set_hostname() {
        const std::string& name = plan_.config.hostname;
        if (::sethostname(name.c_str(), name.size()) != 0) sys::fail_errno("sethostname " + name);
        write_etc_file("/etc/hostname", [&](const std::string&) { return name + "\n"; });
        write_etc_file("/etc/hosts",
                       [&](const std::string& current) { return hosts_with_entries(current); });
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
        // A knob that is missing means a kernel without IPv6: nothing to disable. Any other
        // failure stops the boot: the user asked for a guest without IPv6, and booting it with
        // IPv6 up would break that promise silently.
        if (plan_.config.disable_ipv6) {
            for (const char* knob : {"/proc/sys/net/ipv6/conf/all/disable_ipv6",
                                     "/proc/sys/net/ipv6/conf/default/disable_ipv6"})
                sys::write_control_file_if_present(knob, "1");
        }
        sys::unique_fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        struct ifreq ifr = {};
        std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
        if (!sock || ::ioctl(sock.get(), SIOCGIFFLAGS, &ifr) != 0) sys::fail_errno("query lo");
        ifr.ifr_flags |= IFF_UP;
        if (::ioctl(sock.get(), SIOCSIFFLAGS, &ifr) != 0) sys::fail_errno("bring lo up");
        if (plan_.config.net_mode == NetMode::nat) configure_nat();
        if (plan_.config.net_mode == NetMode::gateway) configure_gateway_client();
    }

    // The monitor puts eth0 on the gateway's segment: layer 2 only, the gateway's own DHCP (or
    // the guest's static setup) gives it an address.
    void configure_gateway_client() {
        wait_for_monitor();
        net::bring_up_eth0();
    }

    void wait_for_monitor() {
        char ready = 0;
        ssize_t n;
        do {
            n = ::read(net_fd_, &ready, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1 || ready != '1') fail_runtime("the monitor could not set up the network");
    }

    // The monitor puts eth0 into this namespace meanwhile; once it says so, eth0 gets the
    // address its DHCP server hands out, so a guest without a DHCP client has a usable network.
    void configure_nat() {
        wait_for_monitor();
        net::configure_guest_eth0(plan_.config);
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

    // With --memory or --cpus: free, top, nproc and uptime inside see the container's share.
    void mount_views() {
        long host_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        mount_proc_views(view_limits(plan_.config, host_cpus > 0 ? unsigned(host_cpus) : 1),
                         views_fd_);
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
    void reopen_writable(const char* path) {
        sys::unique_fd fd = sys::open_in_root(root_fd_.get(), path, O_PATH | O_DIRECTORY);
        if (!fd) return;
        bind_self(fd.get(), path);
        // A bind inherits the read-only flag of the mount it is taken from: without this
        // remount the hole stayed read-only (and --disable-ipv6's write failed unseen).
        sys::remount_at(resolve_again(path).get(), path, kNoSuidDevExec, true);
    }

    void bind_self(int fd, const char* shown) {
        sys::bind_mount_at(sys::fd_path(fd), fd, shown, false);
    }

    // An fd taken before a mount names the covered directory: this finds the new mount on top.
    sys::unique_fd resolve_again(const std::string& path) {
        sys::unique_fd fd = sys::open_in_root(root_fd_.get(), path, O_PATH);
        if (!fd) sys::fail_errno("open " + path + " inside the rootfs");
        return fd;
    }

    // Boot warnings (a skipped bind) go to the container's runtime log, Logs/<name>/log, next
    // to the monitor's lines: the child has no channel to the CLI but its error pipe, and any
    // byte there fails the boot. `start` warns on its own stderr before the boot (lifecycle).
    void warn(const std::string& message) { log_.write("warning: " + message); }
    HwWarn warn_fn() {
        return [this](const std::string& m) { warn(m); };
    }

    // Rewrites a guest /etc file (after pivot_root: "/" is the rootfs) with `update(current)`.
    // Anything but a missing or regular file (a symlink, a FIFO, a device) is left alone, never
    // followed or opened, and so is a file too big to read: the guest keeps its own. The write
    // replaces the entry by rename, so it cannot go through whatever the name pointed to.
    template <typename Update>
    static void write_etc_file(const char* path, Update update) {
        struct stat st;
        std::string current;
        bool exists = ::lstat(path, &st) == 0;
        if (!exists && errno != ENOENT) return;
        if (exists) {
            if (!S_ISREG(st.st_mode)) return;
            sys::unique_fd root = sys::open_tree_root("/");
            auto text = sys::read_guest_file(root.get(), path, kEtcFileLimit);
            if (!text) return;
            current = std::move(*text);
        }
        std::string content = update(current);
        if (exists && content == current) return;
        if (::access("/etc", W_OK) != 0) return;  // no /etc, or a read-only rootfs
        sys::write_file_atomic(path, content, 0644);
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
    int guard_fd_;            // the socket that takes the remount guard's listener
    int views_fd_;            // the socket that takes the /proc view files
    int net_fd_;              // nat/gateway: "1" from the monitor once eth0 is here
    RuntimeLog log_;          // Logs/<name>/log, opened on the host side, for warnings
    sys::unique_fd root_fd_;  // the rootfs's self-bind, for every path resolved inside it

    // -H: /dev is the kernel's devtmpfs (the host's own nodes).
    bool dev_is_devtmpfs_ = false;
    OwnMounts own_mounts_;
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
    {"bind Android storage and Termux sockets", &Boot::bind_android_paths},
    {"bind mounts", &Boot::bind_user_paths},
    {"expose GPU nodes and the X11 socket", &Boot::expose_hardware},
    {"pivot_root", &Boot::pivot_into_rootfs},
    {"mask kernel files", &Boot::mask_kernel_files},
    {"add the GPU group", &Boot::add_gpu_group_entry},
    {"set the hostname", &Boot::set_hostname},
    {"write /etc/resolv.conf", &Boot::write_resolv_conf},
    {"configure the network namespace", &Boot::configure_own_network},
    {"write identity markers", &Boot::write_markers},
    {"set up the /proc views", &Boot::mount_views},
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

void boot_container_init(const BootPlan& plan, int error_fd, bool in_cgroup, int guard_fd,
                         int views_fd, int net_fd) {
    // Signals the monitor ignores must not stay ignored in the distro's init.
    for (int sig = 1; sig < NSIG; ++sig)
        ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);

    Boot boot(plan, in_cgroup, guard_fd, views_fd, net_fd);
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
