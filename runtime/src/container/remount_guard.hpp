// The remount guard: a guest must not reconfigure a filesystem the host also uses.
//
// mount(2) with MS_REMOUNT and without MS_BIND reconfigures the superblock, which every mount of
// that filesystem shares. A directory rootfs (and every -B source) is a bind of a host directory,
// so a shutdown script's `mount -o remount,ro /` would make the host's filesystem read-only.
//
// The container's init loads a second seccomp filter right before exec: such a mount() goes to
// the monitor (SECCOMP_RET_USER_NOTIF), and fspick() fails with ENOSYS (the new mount API's
// superblock remount; util-linux then falls back to mount(2)). For each call the monitor forks a
// short-lived helper that reads the call from the caller's memory, resolves the target inside
// the caller's root, and looks at the target's superblock:
//   - mounted in the host's mount namespace (other than as this container's image): the helper
//     does the per-mount equivalent (a bind remount with the per-mount flags) instead;
//   - otherwise it is the container's own (its tmpfs, proc, image rootfs): the helper performs
//     exactly the requested remount.
// Either way the helper makes the call itself, from inside the caller's namespaces and with the
// path it resolved, and answers with its result: the kernel never re-reads the caller's memory
// (no SECCOMP_USER_NOTIF_FLAG_CONTINUE, which a second guest thread could race).
//
// Without user notification (kernel < 5.0) the filter refuses such remounts with EPERM, and so it
// does in `enter`/`run` processes, which have no monitor listening. --privileged=noseccomp lifts
// the guard with the other seccomp filters.
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "sys/fd.hpp"

namespace ds::container {

// --- pure parts -------------------------------------------------------------------------------

// True for mount(2) flags that reconfigure a superblock: MS_REMOUNT without MS_BIND.
bool is_superblock_remount(uint64_t flags);
// The per-mount equivalent of a superblock remount: MS_REMOUNT|MS_BIND and the per-mount flags
// (read-only, nosuid, nodev, noexec, atime, nosymfollow) of `flags`; the rest is dropped.
unsigned long per_mount_remount_flags(uint64_t flags);

struct MountInfoEntry {
    uint64_t id = 0;
    unsigned major = 0, minor = 0;
    std::string mount_point;  // unescaped
};
// One line of /proc/PID/mountinfo; nullopt when it does not parse.
std::optional<MountInfoEntry> parse_mountinfo_line(std::string_view line);

// True when a host mountinfo line shows superblock `major:minor` mounted at a place other than
// `own_mount` (this container's image mount point, "" for none). A line cut short (`truncated`)
// counts as elsewhere: when in doubt the filesystem is the host's.
bool host_line_shares_superblock(std::string_view line, bool truncated, unsigned major,
                                 unsigned minor, std::string_view own_mount);

// The path the kernel resolves for `path` given the caller's working directory (both as the
// caller sees them).
std::string caller_target_path(std::string_view cwd, std::string_view path);

// --- in the container ------------------------------------------------------------------------

// What init's boot step tells the monitor over the channel.
enum GuardTag : char {
    kGuardListener = 'L',  // the notification listener follows (SCM_RIGHTS)
    kGuardDenying = 'D',   // no user notification here: superblock remounts fail with EPERM
    kGuardOff = 'N',       // --privileged=noseccomp
};

// In init, right before exec: loads the filter and hands its listener to the monitor over
// `channel`, then closes it (the guest must never hold the listener: it could answer its own
// calls). Throws on failure.
void install_remount_guard(const Config& config, int channel);

// In `enter`/`run` processes: the same filter, refusing superblock remounts with EPERM.
void load_remount_deny_filter(const Config& config);
// That filter as a BPF program, built in the caller and loaded by a forked child with
// load_seccomp_program (container/security.hpp); empty with --privileged=noseccomp.
std::vector<sock_filter> remount_deny_program(const Config& config);

// --- in the monitor -------------------------------------------------------------------------

class RemountGuard {
  public:
    // `image_mount`: this container's image mount point on the host, "" for a directory rootfs.
    // `argv`, `title`: the process title helpers take (they are forks of the monitor).
    explicit RemountGuard(std::string image_mount, char** argv = nullptr, std::string title = "")
        : image_mount_(std::move(image_mount)), argv_(argv), title_(std::move(title)) {}
    ~RemountGuard() { stop(); }
    RemountGuard(const RemountGuard&) = delete;
    RemountGuard& operator=(const RemountGuard&) = delete;

    // After a boot: takes what init sent over `channel`. Returns a line for the runtime log,
    // or "" when there is nothing to say.
    std::string adopt(int channel);
    // The fd to poll for calls; -1 when there is none or every helper is busy.
    int poll_fd() const;
    // poll() reported `revents` on poll_fd(): takes one call and starts a helper for it.
    void on_ready(short revents);
    // A child of the monitor ended: true when it was a helper (answers for it if it could not).
    bool on_exit(pid_t pid, int status);
    // Init is gone (reboot or end): drops the listener, ends the helpers.
    void stop();

  private:
    static constexpr int kMaxHelpers = 4;
    struct Helper {
        pid_t pid = 0;
        uint64_t id = 0;
    };

    std::string image_mount_;
    char** argv_;
    std::string title_;
    sys::unique_fd listener_;
    Helper helpers_[kMaxHelpers];
    bool warned_ = false;
};

}  // namespace ds::container
