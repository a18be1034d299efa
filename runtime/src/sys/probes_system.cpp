// `check`'s probes of the system itself: privileges, kernel, namespaces, mount and terminal
// features (each tried in a throwaway child), filesystems and devices.
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cstring>

#include "sys/file.hpp"
#include "sys/probe_support.hpp"

namespace ds::sys::probing {
namespace {

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

}  // namespace

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

ProbeResult probe_root(const HostFacts& facts) {
    if (facts.root) return pass();
    return fail("running as uid " + std::to_string(::geteuid()));
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

ProbeResult probe_fuse(const HostFacts& f) {
    ProbeResult dev = probe_device_open(f, "/dev/fuse", O_RDWR, "fuse");
    if (!dev.ok && filesystems_list_has(f.proc_filesystems, "fuse"))
        return pass("fuse filesystem registered; " + dev.detail);
    return dev;
}

}  // namespace ds::sys::probing
