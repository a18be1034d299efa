#include "container/remount_guard.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "container/security.hpp"
#include "core/error.hpp"
#include "core/mountinfo.hpp"
#include "core/validate.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/seccomp_notify.hpp"
#include "sys/syscall_error.hpp"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

namespace ds::container {
namespace {

constexpr unsigned long kPerMountFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                         MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME |
                                         MS_NOSYMFOLLOW;

// A helper that has not answered by then is killed; the monitor answers EPERM for it.
constexpr unsigned kHelperSeconds = 10;
// What the kernel itself copies of a path and of mount data (PATH_MAX, one page).
constexpr size_t kPathLimit = 4096;
constexpr size_t kDataLimit = 4096;
constexpr size_t kChunk = 4096;  // reads of guest memory never cross this boundary

// --- the filter -------------------------------------------------------------------------------

using Filter = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

void check(int rc, const char* what) {
    if (rc < 0) sys::fail_errno(std::string("remount guard: ") + what, -rc);
}

Filter build_filter(uint32_t remount_action) {
    Filter ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
    if (!ctx) fail_runtime("remount guard: cannot create a seccomp filter");
    // Loaded by root with CAP_SYS_ADMIN: no need for no_new_privs, which would break the
    // guest's setuid programs.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0), "clear no_new_privs");
    // Which ABIs may run at all is the main filter's decision (container/security.cpp); this one
    // only adds its rule for the ABIs it lists, and must not turn the main filter's answer for
    // another ABI into a kill.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ALLOW), "bad-arch action");
#if defined(__x86_64__)
    check(seccomp_arch_add(ctx.get(), SCMP_ARCH_X86), "add x86");
#elif defined(__aarch64__)
    check(seccomp_arch_add(ctx.get(), SCMP_ARCH_ARM), "add arm");
#endif
    // mount(source, target, type, flags, data): (flags & (MS_REMOUNT|MS_BIND)) == MS_REMOUNT.
    scmp_arg_cmp remount = {3, SCMP_CMP_MASKED_EQ, MS_REMOUNT | MS_BIND, MS_REMOUNT};
    check(seccomp_rule_add_array(ctx.get(), remount_action, SCMP_SYS(mount), 1, &remount),
          "add the mount rule");
    check(seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(fspick), 0),
          "add the fspick rule");
    return ctx;
}

// --- reading /proc ------------------------------------------------------------------------------

// Calls `on_line(line, truncated)` for each line of the file open at `fd` until it returns
// true; lines longer than the buffer come cut short, flagged. True when `on_line` said stop.
template <typename F>
bool for_each_line(int fd, F on_line) {
    static constexpr size_t kSize = 8192;
    auto buffer = std::make_unique<char[]>(kSize);
    size_t used = 0;
    bool skipping = false;  // the rest of a line already handed out cut short
    for (;;) {
        ssize_t n = ::read(fd, buffer.get() + used, kSize - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (used > 0 && !skipping) return on_line(std::string_view(buffer.get(), used), false);
            return false;
        }
        used += static_cast<size_t>(n);
        size_t start = 0;
        for (;;) {
            auto* nl = static_cast<char*>(std::memchr(buffer.get() + start, '\n', used - start));
            if (!nl) break;
            size_t end = static_cast<size_t>(nl - buffer.get());
            if (!skipping && on_line(std::string_view(buffer.get() + start, end - start), false))
                return true;
            skipping = false;
            start = end + 1;
        }
        std::memmove(buffer.get(), buffer.get() + start, used - start);
        used -= start;
        if (used == kSize) {  // one line fills the buffer
            if (!skipping && on_line(std::string_view(buffer.get(), used), true)) return true;
            skipping = true;
            used = 0;
        }
    }
}

bool has_cap_sys_admin(int proc) {
    sys::unique_fd status(::openat(proc, "status", O_RDONLY | O_CLOEXEC));
    if (!status) return false;
    bool admin = false;
    for_each_line(status.get(), [&](std::string_view line, bool) {
        constexpr std::string_view kKey = "CapEff:";
        if (line.substr(0, kKey.size()) != kKey) return false;
        std::string value(line.substr(kKey.size()));
        uint64_t caps = std::strtoull(value.c_str(), nullptr, 16);
        admin = caps & (uint64_t{1} << CAP_SYS_ADMIN);
        return true;
    });
    return admin;
}

// Reads guest memory at `address`, never across a page boundary in one read. A C string (the
// target) must end in a NUL within `limit`; mount data is copied as the kernel copies it, up to
// one page, stopping quietly at an unmapped page. 0 or an errno.
enum class Copy { string, data };
int read_guest_memory(int mem, uint64_t address, char* out, size_t limit, Copy copy) {
    size_t got = 0;
    while (got < limit) {
        uint64_t at = address + got;
        size_t chunk = std::min(limit - got, kChunk - static_cast<size_t>(at % kChunk));
        ssize_t n = ::pread(mem, out + got, chunk, static_cast<off_t>(at));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        if (copy == Copy::string && std::memchr(out + got, 0, static_cast<size_t>(n))) return 0;
        got += static_cast<size_t>(n);
    }
    if (copy == Copy::data) return got > 0 ? 0 : EFAULT;
    return got < limit ? EFAULT : ENAMETOOLONG;
}

// The mount(2) call as the caller made it, copied out of its memory.
struct RemountCall {
    char target[kPathLimit] = {};
    char data[kDataLimit + 1] = {};  // one more byte: always NUL-terminated
    bool has_data = false;
    unsigned long flags = 0;
};

int read_call(int proc, const seccomp_notif& req, RemountCall& call) {
    sys::unique_fd mem(::openat(proc, "mem", O_RDONLY | O_CLOEXEC));
    if (!mem) return EPERM;
    if (int err = read_guest_memory(mem.get(), req.data.args[1], call.target, sizeof call.target,
                                    Copy::string))
        return err;
    call.flags = static_cast<unsigned long>(req.data.args[3]);
    if (req.data.args[4]) {
        if (int err =
                read_guest_memory(mem.get(), req.data.args[4], call.data, kDataLimit, Copy::data))
            return err;
        call.has_data = true;
    }
    return 0;
}

// The mount an fd is on (the kernel's mount ID, as in mountinfo).
std::optional<uint64_t> fd_mount_id(int fd) {
    sys::unique_fd info(
        ::open(("/proc/self/fdinfo/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC));
    if (!info) return std::nullopt;
    std::optional<uint64_t> id;
    for_each_line(info.get(), [&](std::string_view line, bool) {
        constexpr std::string_view kKey = "mnt_id:";
        if (line.substr(0, kKey.size()) != kKey) return false;
        id = std::strtoull(std::string(line.substr(kKey.size())).c_str(), nullptr, 10);
        return true;
    });
    return id;
}

// The superblock (major:minor as mountinfo shows it) of mount `id` in the caller's namespace.
std::optional<std::pair<unsigned, unsigned>> caller_mount_device(int proc, uint64_t id) {
    sys::unique_fd mountinfo(::openat(proc, "mountinfo", O_RDONLY | O_CLOEXEC));
    if (!mountinfo) return std::nullopt;
    std::optional<std::pair<unsigned, unsigned>> device;
    for_each_line(mountinfo.get(), [&](std::string_view line, bool) {
        auto entry = parse_mountinfo_line(line);  // the fields it needs come first
        if (!entry || entry->id != id) return false;
        device = {entry->major, entry->minor};
        return true;
    });
    return device;
}

// True when the host's mount namespace (the monitor's own) also mounts that superblock.
bool mounted_on_host(unsigned major, unsigned minor, const std::string& own_mount) {
    sys::unique_fd mountinfo(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
    if (!mountinfo) return true;  // cannot tell: treat as the host's
    return for_each_line(mountinfo.get(), [&](std::string_view line, bool truncated) {
        return host_line_shares_superblock(line, truncated, major, minor, own_mount);
    });
}

bool same_namespace(int theirs, const char* ours) {
    struct stat a, b;
    return ::fstat(theirs, &a) == 0 && ::stat(ours, &b) == 0 && a.st_ino == b.st_ino &&
           a.st_dev == b.st_dev;
}

// Makes the remount from inside the caller's namespaces, on the object `target` holds. The
// caller's /proc is the guest's to fake, so the fd is named through the host's /proc.
int remount_as_caller(int proc, int target, unsigned long flags, const char* data) {
    sys::unique_fd host_proc(::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
    sys::unique_fd mnt_ns(::openat(proc, "ns/mnt", O_RDONLY | O_CLOEXEC));
    sys::unique_fd user_ns(::openat(proc, "ns/user", O_RDONLY | O_CLOEXEC));
    if (!host_proc || !mnt_ns || !user_ns) return errno;
    // A caller in a user namespace of its own (--allow-userns) gets what that namespace allows
    // it, not what host root may do.
    if (!same_namespace(user_ns.get(), "/proc/self/ns/user") &&
        ::setns(user_ns.get(), CLONE_NEWUSER) != 0)
        return errno;
    // mount(2) acts only on mounts of the caller's own namespace.
    if (::setns(mnt_ns.get(), CLONE_NEWNS) != 0) return errno;
    if (::fchdir(host_proc.get()) != 0) return errno;
    std::string name = "self/fd/" + std::to_string(target);
    if (::mount(nullptr, name.c_str(), nullptr, flags, data) != 0) return errno;
    return 0;
}

// The whole answer to one call; returns 0 or the errno the caller gets.
int handle_call(int listener, const seccomp_notif& req, const std::string& own_mount) {
    char name[32];
    std::snprintf(name, sizeof name, "/proc/%u", req.pid);
    sys::unique_fd proc(::open(name, O_PATH | O_DIRECTORY | O_CLOEXEC));
    // Opened, then checked: the fd is the caller's, not a process that reused its PID.
    if (!proc || !sys::seccomp_notify_id_valid(listener, req.id)) return ESRCH;
    // The filter runs before the kernel's own permission check: do that check here.
    if (!has_cap_sys_admin(proc.get())) return EPERM;
    auto call = std::make_unique<RemountCall>();
    if (int err = read_call(proc.get(), req, *call)) return err;
    if (!sys::seccomp_notify_id_valid(listener, req.id)) return ESRCH;
    std::string path = call->target;
    if (path.empty()) return ENOENT;
    if (path.front() != '/') {
        char cwd[kPathLimit];
        ssize_t n = ::readlinkat(proc.get(), "cwd", cwd, sizeof cwd - 1);
        if (n < 0) return errno;
        path = caller_target_path(std::string_view(cwd, static_cast<size_t>(n)), path);
    }
    sys::unique_fd root(::openat(proc.get(), "root", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return errno;
    // As the kernel resolves it for the caller, but never outside the caller's root.
    sys::unique_fd target = sys::open_in_root(root.get(), path, O_PATH);
    if (!target) return errno;
    auto id = fd_mount_id(target.get());
    if (!id) return EINVAL;
    auto device = caller_mount_device(proc.get(), *id);
    if (!device) return EINVAL;
    if (mounted_on_host(device->first, device->second, own_mount))
        return remount_as_caller(proc.get(), target.get(), per_mount_remount_flags(call->flags),
                                 nullptr);
    return remount_as_caller(proc.get(), target.get(), call->flags,
                             call->has_data ? call->data : nullptr);
}

// The helper process: answers one call and exits 0, or 1 when it could not answer.
[[noreturn]] void serve_call(int listener, const seccomp_notif& req, const std::string& own_mount,
                             char** argv, const std::string& title) {
    // Not "ds-monitor:...": nothing may count a helper as a second monitor.
    if (argv) sys::set_process_title(argv, title);
    ::signal(SIGALRM, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::alarm(kHelperSeconds);
    int error = EPERM;
    try {
        error = handle_call(listener, req, own_mount);
    } catch (...) {
        error = EPERM;
    }
    // ENOENT: the caller is gone (killed, or interrupted and about to retry).
    if (sys::seccomp_notify_respond(listener, req.id, error) == 0 || errno == ENOENT) ::_exit(0);
    ::_exit(1);
}

// Loads the notifying filter; its listener, or an invalid fd when this kernel cannot.
sys::unique_fd load_notify_filter() {
    try {
        Filter notify = build_filter(SCMP_ACT_NOTIFY);
        if (seccomp_load(notify.get()) != 0) return {};
        // Loaded without a listener, its calls would fail with ENOSYS: the refusing filter the
        // caller loads then takes precedence.
        return sys::unique_fd(seccomp_notify_fd(notify.get()));
    } catch (const std::exception&) {
        return {};
    }
}

}  // namespace

// --- pure parts -------------------------------------------------------------------------------

bool is_superblock_remount(uint64_t flags) {
    return (flags & (MS_REMOUNT | MS_BIND)) == MS_REMOUNT;
}

unsigned long per_mount_remount_flags(uint64_t flags) {
    return MS_REMOUNT | MS_BIND | (static_cast<unsigned long>(flags) & kPerMountFlags);
}

std::optional<MountInfoEntry> parse_mountinfo_line(std::string_view line) {
    // Only the leading fields: for_each_line may hand over a line cut short.
    auto m = parse_mountinfo_head(line);
    if (!m) return std::nullopt;
    return MountInfoEntry{m->id, m->major, m->minor, std::move(m->mount_point)};
}

bool host_line_shares_superblock(std::string_view line, bool truncated, unsigned major,
                                 unsigned minor, std::string_view own_mount) {
    auto entry = parse_mountinfo_line(line);
    if (!entry || entry->major != major || entry->minor != minor) return false;
    if (truncated || own_mount.empty()) return true;
    return entry->mount_point != own_mount;
}

std::string caller_target_path(std::string_view cwd, std::string_view path) {
    if (!path.empty() && path.front() == '/') return std::string(path);
    std::string out(cwd);
    if (out.empty() || out.back() != '/') out += '/';
    out += path;
    return out;
}

// --- in the container ------------------------------------------------------------------------

void install_remount_guard(const Config& config, int channel) {
    if (privileged_has(config.privileged, "noseccomp")) {
        if (!sys::send_fd(channel, kGuardOff, -1))
            sys::fail_errno("remount guard: tell the monitor");
        return;
    }
    if (sys::seccomp_notify_supported()) {
        if (sys::unique_fd listener = load_notify_filter()) {
            if (!sys::send_fd(channel, kGuardListener, listener.get()))
                sys::fail_errno("remount guard: hand the listener to the monitor");
            return;  // `listener` closes here: init never execs with it
        }
    }
    Filter deny = build_filter(SCMP_ACT_ERRNO(EPERM));
    check(seccomp_load(deny.get()), "load the filter");
    if (!sys::send_fd(channel, kGuardDenying, -1))
        sys::fail_errno("remount guard: tell the monitor");
}

void load_remount_deny_filter(const Config& config) {
    if (privileged_has(config.privileged, "noseccomp")) return;
    Filter deny = build_filter(SCMP_ACT_ERRNO(EPERM));
    check(seccomp_load(deny.get()), "load the filter");
}

std::vector<sock_filter> remount_deny_program(const Config& config) {
    if (privileged_has(config.privileged, "noseccomp")) return {};
    Filter deny = build_filter(SCMP_ACT_ERRNO(EPERM));
    return export_seccomp_program(deny.get(), "remount guard's filter");
}

// --- in the monitor -------------------------------------------------------------------------

std::string RemountGuard::adopt(int channel) {
    stop();
    sys::unique_fd listener;
    char tag = sys::receive_fd(channel, listener);
    if (tag == kGuardListener && listener) {
        listener_ = std::move(listener);
        return "";
    }
    if (tag == kGuardOff) return "";
    if (warned_) return "";
    warned_ = true;
    if (tag == kGuardDenying)
        return "warning: no seccomp user notification here (kernel before 5.0, or a listener "
               "set up by whatever runs droidspaces); the guest's remounts of whole filesystems "
               "(mount -o remount without bind) fail with EPERM, its own included";
    return "warning: init handed over no listener; the guest's remounts of whole filesystems "
           "wait for an answer that never comes";
}

int RemountGuard::poll_fd() const {
    if (!listener_) return -1;
    for (const auto& helper : helpers_)
        if (helper.pid == 0) return listener_.get();
    return -1;  // busy: the kernel queues further calls until a helper ends
}

void RemountGuard::on_ready(short revents) {
    if (!(revents & POLLIN)) {
        // POLLHUP: every process under the filter is gone.
        if (revents & (POLLHUP | POLLERR | POLLNVAL)) listener_.reset();
        return;
    }
    sys::SeccompNotification notification;
    if (sys::seccomp_notify_receive(listener_.get(), notification) != 0) return;  // gone already
    const seccomp_notif& req = notification.get();
    Helper* slot = nullptr;
    for (auto& helper : helpers_)
        if (helper.pid == 0) slot = &helper;
    if (!slot) {
        sys::seccomp_notify_respond(listener_.get(), req.id, EAGAIN);
        return;
    }
    pid_t pid = ::fork();
    if (pid == 0) serve_call(listener_.get(), req, image_mount_, argv_, title_);
    if (pid < 0) {
        sys::seccomp_notify_respond(listener_.get(), req.id, EAGAIN);
        return;
    }
    *slot = {pid, req.id};
}

bool RemountGuard::on_exit(pid_t pid, int status) {
    for (auto& helper : helpers_) {
        if (helper.pid != pid) continue;
        bool answered = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!answered && listener_) sys::seccomp_notify_respond(listener_.get(), helper.id, EPERM);
        helper = {};
        return true;
    }
    return false;
}

void RemountGuard::stop() {
    listener_.reset();
    for (auto& helper : helpers_) {
        if (helper.pid == 0) continue;
        ::kill(helper.pid, SIGKILL);
        while (::waitpid(helper.pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        helper = {};
    }
}

}  // namespace ds::container
