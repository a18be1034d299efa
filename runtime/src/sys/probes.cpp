#include "sys/probes.hpp"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>

#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

namespace ds::sys {
namespace {

// --- results ----------------------------------------------------------------------------------

ProbeResult pass(std::string detail = {}) {
    return {true, std::move(detail)};
}
ProbeResult fail(std::string detail) {
    return {false, std::move(detail)};
}

// "open /dev/net/tun: No such file or directory (errno 2)"
std::string errno_detail(std::string_view what, int err) {
    return std::string(what) + ": " + errno_text(err) + " (errno " + std::to_string(err) + ")";
}
ProbeResult fail_errno_result(std::string_view what, int err) {
    return fail(errno_detail(what, err));
}

// --- running a step in a throwaway child --------------------------------------------------------

// What a child reports when a step fails. `what` points at a string literal: after fork() the
// child's image is a copy of the parent's, so the pointer is valid in the parent too, and the
// child only needs write(2) (async-signal-safe) to report it.
struct ChildFailure {
    const char* what = nullptr;
    int err = 0;
};

ChildFailure child_ok() {
    return {};
}
ChildFailure child_fail(const char* what, int err = errno) {
    return {what, err};
}

void reap(pid_t pid, int& status) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

ChildFailure read_child_failure(const unique_fd& from_child) {
    ChildFailure failure;
    ssize_t n;
    do {
        n = ::read(from_child.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof failure) ? failure : ChildFailure{};
}

ProbeResult child_outcome(const ChildFailure& failure, int status) {
    if (failure.what) return fail_errno_result(failure.what, failure.err);
    if (WIFSIGNALED(status))
        return fail("probe child killed by signal " + std::to_string(WTERMSIG(status)));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail("probe child exited with status " + std::to_string(WEXITSTATUS(status)));
    return pass();
}

// Runs `body` in a forked child and reaps it. The child only makes syscalls and leaves with
// _exit(): no destructors, atexit handlers or stdio flushes run twice. Whatever it created
// (namespaces and everything inside them) dies with it.
template <typename Body>
ProbeResult run_in_child(Body body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno_result("pipe2", errno);
    unique_fd from_child(fds[0]);
    unique_fd to_parent(fds[1]);
    pid_t pid = ::fork();
    if (pid < 0) return fail_errno_result("fork", errno);
    if (pid == 0) {
        ChildFailure failure = child_fail("probe child: unexpected exception", EINVAL);
        try {
            failure = body();
        } catch (...) {
        }
        if (failure.what) (void)!::write(to_parent.get(), &failure, sizeof failure);
        ::_exit(failure.what ? 1 : 0);
    }
    to_parent.reset();
    ChildFailure failure = read_child_failure(from_child);
    int status = 0;
    reap(pid, status);
    return child_outcome(failure, status);
}

// --- steps used inside children -----------------------------------------------------------------

// Directories a throwaway mount namespace mounts over (first one that exists). The mount is
// private to the child's namespace, so the host's directory is untouched.
struct Scratch {
    const char* dir;
    const char* ptmx;  // dir + "/ptmx"
};
constexpr Scratch kScratchDirs[] = {
    {"/tmp", "/tmp/ptmx"}, {"/mnt", "/mnt/ptmx"}, {"/run", "/run/ptmx"}, {"/dev", "/dev/ptmx"}};

const Scratch* find_scratch() {
    for (const auto& s : kScratchDirs) {
        struct stat st;
        if (::stat(s.dir, &st) == 0 && S_ISDIR(st.st_mode)) return &s;
    }
    return nullptr;
}

// unshare(CLONE_NEWNS) and stop propagation, so nothing mounted afterwards reaches the host.
ChildFailure enter_private_mount_ns() {
    if (::unshare(CLONE_NEWNS) != 0) return child_fail("unshare(CLONE_NEWNS)");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        return child_fail("mount --make-rprivate /");
    return child_ok();
}

ChildFailure pivot_root_in_child() {
    if (auto f = enter_private_mount_ns(); f.what) return f;
    const Scratch* scratch = find_scratch();
    if (!scratch) return child_fail("no scratch directory (/tmp, /mnt, /run, /dev)", ENOENT);
    if (::mount("ds-probe", scratch->dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0700") != 0)
        return child_fail("mount tmpfs (new root)");
    if (::chdir(scratch->dir) != 0) return child_fail("chdir new root");
    if (::mkdir("old", 0700) != 0) return child_fail("mkdir old root");
    if (::syscall(SYS_pivot_root, ".", "old") != 0) return child_fail("pivot_root");
    if (::umount2("/old", MNT_DETACH) != 0) return child_fail("umount old root");
    return child_ok();
}

ChildFailure devpts_in_child() {
    if (auto f = enter_private_mount_ns(); f.what) return f;
    const Scratch* scratch = find_scratch();
    if (!scratch) return child_fail("no scratch directory (/tmp, /mnt, /run, /dev)", ENOENT);
    if (::mount("devpts", scratch->dir, "devpts", MS_NOSUID | MS_NOEXEC,
                "newinstance,ptmxmode=0666,mode=0620") != 0)
        return child_fail("mount devpts (new instance)");
    unique_fd pty(::open(scratch->ptmx, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty) return child_fail("open ptmx of the new devpts instance");
    return child_ok();
}

ChildFailure seccomp_filter_in_child() {
    if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) return child_fail("prctl(PR_GET_SECCOMP)");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return child_fail("PR_SET_NO_NEW_PRIVS");
    sock_filter allow_all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    sock_fprog prog{1, allow_all};
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
        return child_fail("install seccomp filter (PR_SET_SECCOMP)");
    return child_ok();
}

// --- rtnetlink, on a fixed buffer (no allocation inside the child) ------------------------------

struct NetlinkMessage {
    alignas(nlmsghdr) unsigned char buf[512] = {};
    bool overflow = false;
    nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }
};

void nl_start(NetlinkMessage& m, uint16_t type, uint16_t flags) {
    m.hdr()->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    m.hdr()->nlmsg_type = type;
    m.hdr()->nlmsg_flags = NLM_F_REQUEST | flags;
    m.hdr()->nlmsg_seq = 1;
    // The ifinfomsg after the header stays zero: AF_UNSPEC, any index.
}

// Appends `len` bytes (zero padded to alignment) at the next aligned offset; nullptr when full.
unsigned char* nl_reserve(NetlinkMessage& m, size_t len) {
    size_t off = NLMSG_ALIGN(m.hdr()->nlmsg_len);
    if (off + NLMSG_ALIGN(len) > sizeof m.buf) {
        m.overflow = true;
        return nullptr;
    }
    m.hdr()->nlmsg_len = off + NLMSG_ALIGN(len);
    return m.buf + off;
}

void nl_append(NetlinkMessage& m, const void* data, size_t len) {
    if (unsigned char* p = nl_reserve(m, len)) std::memcpy(p, data, len);
}

// An attribute; with data == nullptr it starts a nest closed by nl_end_nest().
rtattr* nl_attr(NetlinkMessage& m, uint16_t type, const void* data, size_t len) {
    auto* a = reinterpret_cast<rtattr*>(nl_reserve(m, RTA_SPACE(len)));
    if (!a) return nullptr;
    a->rta_type = type;
    a->rta_len = RTA_LENGTH(len);
    if (len) std::memcpy(RTA_DATA(a), data, len);
    return a;
}

rtattr* nl_name(NetlinkMessage& m, const char* name) {
    return nl_attr(m, IFLA_IFNAME, name, std::strlen(name) + 1);
}

void nl_end_nest(NetlinkMessage& m, rtattr* nest) {
    if (nest) nest->rta_len = m.buf + m.hdr()->nlmsg_len - reinterpret_cast<unsigned char*>(nest);
}

// RTM_NEWLINK of `kind` named `name`; for veth also the peer `peer`.
void build_new_link(NetlinkMessage& m, const char* kind, const char* name, const char* peer) {
    nl_start(m, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    nl_name(m, name);
    rtattr* linkinfo = nl_attr(m, IFLA_LINKINFO, nullptr, 0);
    nl_attr(m, IFLA_INFO_KIND, kind, std::strlen(kind));
    if (peer) {
        rtattr* data = nl_attr(m, IFLA_INFO_DATA, nullptr, 0);
        rtattr* peer_info = nl_attr(m, VETH_INFO_PEER, nullptr, 0);
        ifinfomsg peer_msg{};
        nl_append(m, &peer_msg, sizeof peer_msg);
        nl_name(m, peer);
        nl_end_nest(m, peer_info);
        nl_end_nest(m, data);
    }
    nl_end_nest(m, linkinfo);
}

void build_get_link(NetlinkMessage& m, const char* name) {
    nl_start(m, RTM_GETLINK, 0);
    nl_name(m, name);
}

// Sends `m` and reads the first reply. Returns 0 when the kernel acknowledged or answered with
// data, the errno it answered with otherwise; `reply_type` gets the reply's message type. The
// kernel handles the request inside send(), so the reply is already queued when recv() runs.
int nl_transact(int sock, NetlinkMessage& m, uint16_t* reply_type = nullptr) {
    if (m.overflow) return EOVERFLOW;
    if (::send(sock, m.buf, m.hdr()->nlmsg_len, 0) < 0) return errno;
    alignas(nlmsghdr) unsigned char reply[8192];
    ssize_t n = ::recv(sock, reply, sizeof reply, 0);  // a longer RTM_NEWLINK is cut: fine
    if (n < 0) return errno;
    if (static_cast<size_t>(n) < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
    auto* h = reinterpret_cast<nlmsghdr*>(reply);
    if (reply_type) *reply_type = h->nlmsg_type;
    if (h->nlmsg_type != NLMSG_ERROR) return 0;
    return -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
}

ChildFailure open_rtnetlink_in_new_netns(unique_fd& sock) {
    if (::unshare(CLONE_NEWNET) != 0) return child_fail("unshare(CLONE_NEWNET)");
    sock.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!sock) return child_fail("socket(NETLINK_ROUTE)");
    timeval timeout{2, 0};  // the kernel always answers; this only bounds a broken one
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return child_ok();
}

// The kernel answers RTM_GETLINK for `name` with the device.
ChildFailure expect_link(int sock, const char* name) {
    NetlinkMessage lookup;
    build_get_link(lookup, name);
    uint16_t reply_type = 0;
    if (int err = nl_transact(sock, lookup, &reply_type)) return child_fail("RTM_GETLINK", err);
    if (reply_type != RTM_NEWLINK) return child_fail("RTM_GETLINK: unexpected reply", EPROTO);
    return child_ok();
}

// Creates a `kind` device (a veth also gets `peer`) in a fresh network namespace and checks that
// the kernel lists it (and the peer). The devices are not deleted one by one: RTM_DELLINK waits
// for RCU grace periods (25 ms for a veth, 50 ms for a bridge here), which would dominate the
// whole check. The namespace dies when the child exits and the kernel deletes them with it,
// asynchronously; they never existed outside it.
ChildFailure link_create_in_child(const char* kind, const char* name, const char* peer,
                                  const char* create_step) {
    unique_fd sock;
    if (auto f = open_rtnetlink_in_new_netns(sock); f.what) return f;
    NetlinkMessage create;
    build_new_link(create, kind, name, peer);
    if (int err = nl_transact(sock.get(), create)) return child_fail(create_step, err);
    if (auto f = expect_link(sock.get(), name); f.what) return f;
    return peer ? expect_link(sock.get(), peer) : child_ok();
}

// --- host lookups -------------------------------------------------------------------------------

bool fs_magic_is(const char* path, unsigned long magic) {
    struct statfs st;
    return ::statfs(path, &st) == 0 && static_cast<unsigned long>(st.f_type) == magic;
}

bool is_char_device(const char* path) {
    struct stat st;
    return ::stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

// /lib/modules/<release>/modules.dep lists `name`.ko (possibly compressed).
bool module_available(const HostFacts& facts, std::string_view name) {
    auto dep = try_read_file("/lib/modules/" + facts.kernel_release + "/modules.dep");
    if (!dep) return false;
    std::string needle = "/" + std::string(name) + ".ko";
    for (size_t pos = dep->find(needle); pos != std::string::npos;
         pos = dep->find(needle, pos + 1)) {
        char next = pos + needle.size() < dep->size() ? (*dep)[pos + needle.size()] : ':';
        if (next == ':' || next == '.') return true;
    }
    return false;
}

// open(2) works: the device is there and the driver answers. Without root a device node that
// refuses us (0660 root:disk) still shows the kernel side is there.
ProbeResult probe_device_open(const HostFacts& facts, const char* path, int flags,
                              std::string_view module) {
    unique_fd fd(::open(path, flags | O_CLOEXEC));
    if (fd) return pass();
    int err = errno;
    if (!facts.root && (err == EACCES || err == EPERM) && is_char_device(path))
        return pass(std::string(path) + " present, opening it needs root");
    if (err == ENOENT && module_available(facts, module))
        return pass("module " + std::string(module) + " available, not loaded");
    return fail_errno_result(std::string("open ") + path, err);
}

// `module` is "" for filesystems that cannot be modules (devtmpfs).
ProbeResult probe_filesystem(const HostFacts& facts, std::string_view fs, std::string_view module) {
    if (filesystems_list_has(facts.proc_filesystems, fs)) return pass();
    if (!module.empty() && module_available(facts, module))
        return pass("module " + std::string(module) + " available, not loaded");
    if (facts.proc_filesystems.empty()) return fail("/proc/filesystems is unreadable");
    std::string detail = std::string(fs) + " is not in /proc/filesystems";
    if (!module.empty()) detail += " and there is no " + std::string(module) + " module";
    return fail(detail);
}

// --- the probes ---------------------------------------------------------------------------------

ProbeResult probe_root(const HostFacts& facts) {
    if (facts.root) return pass();
    return fail("running as uid " + std::to_string(::geteuid()));
}

template <int kMajor, int kMinor>
ProbeResult probe_kernel(const HostFacts& facts) {
    auto version = parse_kernel_release(facts.kernel_release);
    if (!version) return fail("cannot parse kernel release '" + facts.kernel_release + "'");
    if (kernel_at_least(*version, kMajor, kMinor)) return pass(facts.kernel_release);
    return fail(facts.kernel_release + " is older than " + std::to_string(kMajor) + "." +
                std::to_string(kMinor));
}

struct NamespaceKind {
    int flag;
    const char* proc_entry;  // /proc/self/ns/<entry>
    const char* unshare_step;
};

constexpr NamespaceKind namespace_kind(int flag) {
    switch (flag) {
        case CLONE_NEWPID:
            return {flag, "/proc/self/ns/pid", "unshare(CLONE_NEWPID)"};
        case CLONE_NEWNS:
            return {flag, "/proc/self/ns/mnt", "unshare(CLONE_NEWNS)"};
        case CLONE_NEWUTS:
            return {flag, "/proc/self/ns/uts", "unshare(CLONE_NEWUTS)"};
        case CLONE_NEWIPC:
            return {flag, "/proc/self/ns/ipc", "unshare(CLONE_NEWIPC)"};
        case CLONE_NEWNET:
            return {flag, "/proc/self/ns/net", "unshare(CLONE_NEWNET)"};
        case CLONE_NEWCGROUP:
            return {flag, "/proc/self/ns/cgroup", "unshare(CLONE_NEWCGROUP)"};
        case CLONE_NEWUSER:
            return {flag, "/proc/self/ns/user", "unshare(CLONE_NEWUSER)"};
        default:
            return {flag, "", "unshare"};
    }
}

// The kernel lists the namespace AND a child can really unshare() it.
template <int kFlag>
ProbeResult probe_namespace(const HostFacts&) {
    static constexpr NamespaceKind kind = namespace_kind(kFlag);
    if (::access(kind.proc_entry, F_OK) != 0) return fail_errno_result(kind.proc_entry, errno);
    return run_in_child(
        [] { return ::unshare(kind.flag) == 0 ? child_ok() : child_fail(kind.unshare_step); });
}

ProbeResult probe_pivot_root(const HostFacts&) {
    return run_in_child(pivot_root_in_child);
}
ProbeResult probe_devpts(const HostFacts&) {
    return run_in_child(devpts_in_child);
}
ProbeResult probe_seccomp(const HostFacts&) {
    return run_in_child(seccomp_filter_in_child);
}

ProbeResult probe_proc(const HostFacts&) {
    if (!fs_magic_is("/proc", PROC_SUPER_MAGIC)) return fail("/proc is not a procfs mount");
    if (::access("/proc/self/ns", F_OK) != 0) return fail_errno_result("/proc/self/ns", errno);
    return pass();
}

ProbeResult probe_sys(const HostFacts&) {
    if (!fs_magic_is("/sys", SYSFS_MAGIC)) return fail("/sys is not a sysfs mount");
    if (::access("/sys/kernel", F_OK) != 0) return fail_errno_result("/sys/kernel", errno);
    return pass();
}

ProbeResult probe_cgroup_v2(const HostFacts& facts) {
    const CgroupMounts& cg = facts.cgroup;
    if (cg.v2_root) {
        if (!fs_magic_is(cg.v2_root->c_str(), CGROUP2_SUPER_MAGIC))
            return fail(*cg.v2_root + " is listed as cgroup2 but is not a cgroup2 mount");
        if (cg.layout == CgroupLayout::hybrid)
            return pass(*cg.v2_root + ", hybrid: cgroup v1 hierarchies mounted too");
        return pass(*cg.v2_root + ", unified");
    }
    if (filesystems_list_has(facts.proc_filesystems, "cgroup2"))
        return fail("the kernel supports cgroup2 but it is not mounted");
    return fail("cgroup2 not in /proc/filesystems");
}

ProbeResult probe_loop(const HostFacts& f) {
    return probe_device_open(f, "/dev/loop-control", O_RDWR, "loop");
}

ProbeResult probe_ext4(const HostFacts& f) {
    return probe_filesystem(f, "ext4", "ext4");
}
ProbeResult probe_overlay(const HostFacts& f) {
    return probe_filesystem(f, "overlay", "overlay");
}
ProbeResult probe_devtmpfs(const HostFacts& f) {
    return probe_filesystem(f, "devtmpfs", "");
}

ProbeResult probe_ipv6(const HostFacts&) {
    unique_fd sock(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return fail_errno_result("socket(AF_INET6)", errno);
    auto disabled = try_read_file("/proc/sys/net/ipv6/conf/all/disable_ipv6");
    if (disabled && disabled->rfind('1', 0) == 0) return pass("disabled by sysctl disable_ipv6");
    return pass();
}

// Not opened: closing a tun fd waits for an RCU grace period (over 100 ms on a busy host). The
// kernel's list of registered misc drivers plus the device node say the same without side
// effects.
ProbeResult probe_tun(const HostFacts& f) {
    bool registered = misc_list_has(try_read_file("/proc/misc").value_or(""), "tun");
    bool node = is_char_device("/dev/net/tun");
    if (registered && node) return pass();
    if (registered) return fail("tun driver registered but /dev/net/tun is missing");
    if (module_available(f, "tun")) return pass("module tun available, not loaded");
    return fail("tun is not in /proc/misc and there is no tun module");
}

ProbeResult probe_fuse(const HostFacts& f) {
    ProbeResult dev = probe_device_open(f, "/dev/fuse", O_RDWR, "fuse");
    if (!dev.ok && filesystems_list_has(f.proc_filesystems, "fuse"))
        return pass("fuse filesystem registered; " + dev.detail);
    return dev;
}

ProbeResult probe_veth(const HostFacts&) {
    return run_in_child([] {
        return link_create_in_child("veth", "ds-probe-h0", "ds-probe-p0", "RTM_NEWLINK veth pair");
    });
}

ProbeResult probe_bridge(const HostFacts&) {
    return run_in_child([] {
        return link_create_in_child("bridge", "ds-probe-br0", nullptr, "RTM_NEWLINK bridge");
    });
}

// --- the table ----------------------------------------------------------------------------------

using S = Section;

const std::vector<ProbeSpec> kProbes = {
    {"Root privileges", S::required, "Run droidspaces as root (sudo, or su on Android).", false,
     probe_root},
    {"Linux kernel >= 3.10", S::required,
     "Droidspaces needs Linux 3.10 or newer (namespaces, pivot_root, seccomp filters).", false,
     probe_kernel<3, 10>},
    {"PID namespace", S::required,
     "The container's init must be PID 1 of its own namespace: enable CONFIG_PID_NS.", true,
     probe_namespace<CLONE_NEWPID>},
    {"Mount namespace", S::required,
     "Containers mount their own /proc, /sys and /dev: enable CONFIG_NAMESPACES.", true,
     probe_namespace<CLONE_NEWNS>},
    {"UTS namespace", S::required, "Needed for the container's own hostname: enable CONFIG_UTS_NS.",
     true, probe_namespace<CLONE_NEWUTS>},
    {"IPC namespace", S::required,
     "Needed to isolate System V IPC: enable CONFIG_IPC_NS (and CONFIG_SYSVIPC).", true,
     probe_namespace<CLONE_NEWIPC>},
    {"pivot_root", S::required,
     "The container's root is switched with pivot_root(2); it fails when / is an initramfs "
     "(rootfs) or in a chroot.",
     true, probe_pivot_root},
    {"/proc filesystem", S::required, "Mount procfs on /proc (mount -t proc proc /proc).", false,
     probe_proc},
    {"/sys filesystem", S::required, "Mount sysfs on /sys (mount -t sysfs sysfs /sys).", false,
     probe_sys},
    {"devpts", S::required,
     "Containers get their own devpts instance for terminals: enable CONFIG_UNIX98_PTYS.", true,
     probe_devpts},
    {"Seccomp filters", S::required,
     "The container's syscall filter needs CONFIG_SECCOMP and CONFIG_SECCOMP_FILTER.", false,
     probe_seccomp},

    {"Linux kernel >= 4.14", S::recommended,
     "Older kernels work with limitations; 5.4 or newer is recommended.", false,
     probe_kernel<4, 14>},
    {"Cgroup namespace", S::recommended,
     "Without it the container sees the host's cgroup paths (systemd may complain): enable "
     "CONFIG_CGROUPS with Linux 4.6+.",
     true, probe_namespace<CLONE_NEWCGROUP>},
    {"Cgroup v2", S::recommended,
     "Modern systemd wants cgroup v2: mount it (mount -t cgroup2 none /sys/fs/cgroup/unified) or "
     "boot with systemd.unified_cgroup_hierarchy=1.",
     false, probe_cgroup_v2},
    {"Loop devices", S::recommended,
     "Needed to boot .img root filesystems (--rootfs-img): enable CONFIG_BLK_DEV_LOOP.", false,
     probe_loop},
    {"ext4 filesystem", S::recommended,
     "Needed to mount ext4 rootfs images: enable CONFIG_EXT4_FS.", false, probe_ext4},

    {"IPv6", S::optional, "IPv6 inside containers needs CONFIG_IPV6.", false, probe_ipv6},
    {"TUN/TAP", S::optional, "VPNs inside containers need /dev/net/tun: enable CONFIG_TUN.", false,
     probe_tun},
    {"FUSE", S::optional, "FUSE filesystems (AppImage, sshfs) need CONFIG_FUSE_FS.", false,
     probe_fuse},
    {"OverlayFS", S::optional, "Volatile containers need CONFIG_OVERLAY_FS.", false, probe_overlay},
    {"devtmpfs", S::optional, "Hardware access mode mounts devtmpfs: enable CONFIG_DEVTMPFS.",
     false, probe_devtmpfs},
    {"Network namespace", S::optional,
     "Isolated networking (--net=nat/none) needs CONFIG_NET_NS; host networking works without.",
     true, probe_namespace<CLONE_NEWNET>},
    {"veth pairs", S::optional, "NAT networking links the container with a veth pair: CONFIG_VETH.",
     true, probe_veth},
    {"Bridge devices", S::optional, "NAT networking uses a bridge: enable CONFIG_BRIDGE.", true,
     probe_bridge},
    {"User namespace", S::optional, "Only needed by nested containers: enable CONFIG_USER_NS.",
     false, probe_namespace<CLONE_NEWUSER>},
};

CheckLine run_one(const ProbeSpec& spec, const HostFacts& facts) {
    CheckLine line{spec.name, spec.section, spec.hint, {}, false};
    if (spec.needs_root && !facts.root) {
        line.result = fail(std::string(kNeedsRootDetail));
        line.skipped_not_root = true;
        return line;
    }
    try {
        line.result = spec.probe(facts);
    } catch (const std::exception& e) {
        line.result = fail(std::string("probe error: ") + e.what());
    } catch (...) {
        line.result = fail("probe error");
    }
    return line;
}

// nlohmann::json refuses to dump invalid UTF-8; paths and kernel strings may hold anything.
std::string json_safe(std::string text) {
    try {
        (void)nlohmann::json(text).dump();
    } catch (const nlohmann::json::exception&) {
        for (char& c : text)
            if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
    return text;
}

// --- mountinfo ----------------------------------------------------------------------------------

struct MountEntry {
    std::string root;
    std::string mount_point;
    std::string fstype;
};

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> fields;
    size_t pos = 0;
    while (pos < line.size()) {
        size_t end = line.find(' ', pos);
        if (end == std::string_view::npos) end = line.size();
        if (end > pos) fields.push_back(line.substr(pos, end - pos));
        pos = end + 1;
    }
    return fields;
}

// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw"
std::optional<MountEntry> parse_mountinfo_line(std::string_view line) {
    auto fields = split_spaces(line);
    size_t dash = 6;
    while (dash < fields.size() && fields[dash] != "-")
        ++dash;
    if (fields.size() < 5 || dash + 1 >= fields.size()) return std::nullopt;
    return MountEntry{unescape_mountinfo(fields[3]), unescape_mountinfo(fields[4]),
                      std::string(fields[dash + 1])};
}

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
    std::vector<MountEntry> entries;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        if (auto entry = parse_mountinfo_line(text.substr(pos, end - pos)))
            entries.push_back(*entry);
        pos = end + 1;
    }
    return entries;
}

int v2_root_rank(const MountEntry& m) {
    if (m.root != "/") return 3;
    if (m.mount_point == "/sys/fs/cgroup") return 0;
    if (m.mount_point == "/sys/fs/cgroup/unified") return 1;
    return 2;
}

CgroupLayout classify_layout(bool has_v2, bool has_v1) {
    if (has_v2) return has_v1 ? CgroupLayout::hybrid : CgroupLayout::unified;
    return has_v1 ? CgroupLayout::legacy : CgroupLayout::none;
}

}  // namespace

// --- public -------------------------------------------------------------------------------------

std::string_view section_key(Section section) {
    switch (section) {
        case Section::required:
            return "required";
        case Section::recommended:
            return "recommended";
        case Section::optional:
            return "optional";
    }
    return "optional";
}

bool filesystems_list_has(std::string_view proc_filesystems, std::string_view fs) {
    size_t pos = 0;
    while (pos < proc_filesystems.size()) {
        size_t end = proc_filesystems.find('\n', pos);
        if (end == std::string_view::npos) end = proc_filesystems.size();
        std::string_view line = proc_filesystems.substr(pos, end - pos);
        size_t tab = line.rfind('\t');
        std::string_view name = tab == std::string_view::npos ? line : line.substr(tab + 1);
        if (name == fs) return true;
        pos = end + 1;
    }
    return false;
}

bool misc_list_has(std::string_view proc_misc, std::string_view name) {
    size_t pos = 0;
    while (pos < proc_misc.size()) {
        size_t end = proc_misc.find('\n', pos);
        if (end == std::string_view::npos) end = proc_misc.size();
        std::string_view line = proc_misc.substr(pos, end - pos);
        size_t space = line.rfind(' ');
        if (space != std::string_view::npos && line.substr(space + 1) == name) return true;
        pos = end + 1;
    }
    return false;
}

std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    for (size_t i = 0; i < field.size(); ++i) {
        auto is_octal = [&](size_t k) { return field[k] >= '0' && field[k] <= '7'; };
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(i + 1) && is_octal(i + 2) &&
            is_octal(i + 3)) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

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

CgroupMounts parse_cgroup_mounts(std::string_view mountinfo) {
    CgroupMounts result;
    const MountEntry* best_v2 = nullptr;
    auto entries = parse_mountinfo(mountinfo);
    for (const auto& m : entries) {
        if (m.fstype == "cgroup") result.v1_mounts.push_back(m.mount_point);
        if (m.fstype == "cgroup2" && (!best_v2 || v2_root_rank(m) < v2_root_rank(*best_v2)))
            best_v2 = &m;
    }
    if (best_v2) result.v2_root = best_v2->mount_point;
    result.layout = classify_layout(best_v2 != nullptr, !result.v1_mounts.empty());
    return result;
}

HostFacts gather_host_facts() {
    HostFacts facts;
    facts.root = ::geteuid() == 0;
    struct utsname uts;
    if (::uname(&uts) == 0) facts.kernel_release = uts.release;
    facts.proc_filesystems = try_read_file("/proc/filesystems").value_or("");
    facts.cgroup = parse_cgroup_mounts(try_read_file("/proc/self/mountinfo").value_or(""));
    return facts;
}

const std::vector<ProbeSpec>& probe_table() {
    return kProbes;
}

CheckReport run_probes(const std::vector<ProbeSpec>& table, const HostFacts& facts) {
    CheckReport report;
    report.root = facts.root;
    report.kernel_release = facts.kernel_release;
    report.cgroup = facts.cgroup;
    for (const auto& spec : table) {
        report.lines.push_back(run_one(spec, facts));
        if (spec.section == Section::required && !report.lines.back().result.ok)
            ++report.missing_required;
    }
    return report;
}

nlohmann::json check_report_json(const CheckReport& report, std::string_view version) {
    nlohmann::json sections = nlohmann::json::object();
    for (Section s : {Section::required, Section::recommended, Section::optional})
        sections[std::string(section_key(s))] = nlohmann::json::array();
    for (const auto& line : report.lines) {
        sections[std::string(section_key(line.section))].push_back(
            {{"name", std::string(line.name)},
             {"ok", line.result.ok},
             {"detail", json_safe(line.result.detail)}});
    }
    nlohmann::json v2_root = nullptr;
    if (report.cgroup.v2_root) v2_root = json_safe(*report.cgroup.v2_root);
    return {{"version", std::string(version)},
            {"root", report.root},
            {"kernel", json_safe(report.kernel_release)},
            {"sections", std::move(sections)},
            {"cgroup",
             {{"v2_root", std::move(v2_root)},
              {"layout", std::string(layout_name(report.cgroup.layout))}}},
            {"missing_required", report.missing_required},
            {"ok", report.ok()}};
}

}  // namespace ds::sys
