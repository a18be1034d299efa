// Shared by the probe files of `droidspaces check` (not part of the public API): result helpers,
// the throwaway-child runner and the host lookups, and the probe functions the table lists.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "sys/fd.hpp"
#include "sys/probes.hpp"
#include "sys/syscall_error.hpp"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

namespace ds::sys::probing {

// --- results ----------------------------------------------------------------------------------

inline ProbeResult pass(std::string detail = {}) {
    return {true, std::move(detail)};
}
inline ProbeResult fail(std::string detail) {
    return {false, std::move(detail)};
}

// "open /dev/net/tun: No such file or directory (errno 2)"
inline std::string errno_detail(std::string_view what, int err) {
    return std::string(what) + ": " + errno_text(err) + " (errno " + std::to_string(err) + ")";
}
inline ProbeResult fail_errno_result(std::string_view what, int err) {
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

inline ChildFailure child_ok() {
    return {};
}
inline ChildFailure child_fail(const char* what, int err = errno) {
    return {what, err};
}

inline void reap(pid_t pid, int& status) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

inline ChildFailure read_child_failure(const unique_fd& from_child) {
    ChildFailure failure;
    ssize_t n;
    do {
        n = ::read(from_child.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    return n == static_cast<ssize_t>(sizeof failure) ? failure : ChildFailure{};
}

inline ProbeResult child_outcome(const ChildFailure& failure, int status) {
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
inline ProbeResult run_in_child(Body body) {
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

inline bool fs_magic_is(const char* path, unsigned long magic) {
    struct statfs st;
    return ::statfs(path, &st) == 0 && static_cast<unsigned long>(st.f_type) == magic;
}

inline bool is_char_device(const char* path) {
    struct stat st;
    return ::stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

// /lib/modules/<release>/modules.dep lists `name`.ko (possibly compressed).
bool module_available(const HostFacts& facts, std::string_view name);
// open(2) works: the device is there and the driver answers.
ProbeResult probe_device_open(const HostFacts& facts, const char* path, int flags,
                              std::string_view module);
// `module` is "" for filesystems that cannot be modules (devtmpfs).
ProbeResult probe_filesystem(const HostFacts& facts, std::string_view fs, std::string_view module);

// --- the probes (probes_system.cpp, probes_cgroup.cpp, probes_net.cpp) --------------------------

ProbeResult probe_root(const HostFacts& facts);
ProbeResult probe_pivot_root(const HostFacts&);
ProbeResult probe_devpts(const HostFacts&);
ProbeResult probe_seccomp(const HostFacts&);
ProbeResult probe_proc(const HostFacts&);
ProbeResult probe_sys(const HostFacts&);
ProbeResult probe_loop(const HostFacts& f);
ProbeResult probe_ext4(const HostFacts& f);
ProbeResult probe_overlay(const HostFacts& f);
ProbeResult probe_devtmpfs(const HostFacts& f);
ProbeResult probe_fuse(const HostFacts& f);
ProbeResult probe_cgroup_v2(const HostFacts& facts);
ProbeResult probe_ipv6(const HostFacts&);
ProbeResult probe_tun(const HostFacts& f);
ProbeResult probe_veth(const HostFacts&);
ProbeResult probe_bridge(const HostFacts&);

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

}  // namespace ds::sys::probing
