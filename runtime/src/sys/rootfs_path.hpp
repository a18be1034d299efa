// Paths inside a tree the host does not trust (a rootfs, /proc/PID/root of a guest): every
// lookup stays inside the tree, and no guest file can block, exhaust or redirect a host reader.
//
// Resolution uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) where the kernel has it
// (5.6+): a guest symlink is followed as the guest would see it, re-rooted at the tree, and
// can never reach the host; a /proc magic link fails with ELOOP. Older kernels (or a seccomp
// filter that refuses openat2) get the same resolution done by hand: a walk that opens every
// component O_NOFOLLOW from its parent's fd, splices symlink text into the rest of the path
// (absolute targets restart at the tree's root) and never lets ".." climb above the root.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "sys/fd.hpp"

namespace ds::sys {

// How lookups in a tree resolve: `best` with openat2 where the kernel has it and the walk
// elsewhere; `walk` always with the walk (what kernels before 5.6 get: the unit tests run every
// call both ways on one kernel). An explicit choice per call, not a process-wide switch, so that
// one caller's choice never changes another thread's lookups.
enum class Resolution { best, walk };

// A tree's root fd and how to resolve in it. It converts from a bare fd (Resolution::best),
// which is what the runtime passes.
struct TreeRoot {
    TreeRoot(int root_fd, Resolution how = Resolution::best)  // NOLINT(google-explicit-constructor)
        : fd(root_fd), resolution(how) {}
    int fd;
    Resolution resolution;
};

// An O_PATH|O_DIRECTORY fd of `path` (a host path the runtime chose, e.g. the rootfs).
unique_fd open_tree_root(const std::string& path);

// openat() of `path` (absolute or relative: both are taken from the tree's root) inside the tree
// `root_fd`. Returns an invalid fd with errno set on failure. `flags` gets O_CLOEXEC added.
// Symlinks are followed inside the tree, the last one too unless `flags` has O_NOFOLLOW; O_CREAT
// through a dangling symlink creates its target inside the tree, as it would for the guest (add
// O_NOFOLLOW|O_EXCL to create exactly the named entry).
unique_fd open_in_root(TreeRoot root, std::string_view path, int flags, mode_t mode = 0);

// mkdir -p inside the tree; returns an O_PATH|O_DIRECTORY fd of the final directory. Symlinks
// resolve inside the tree; a missing component is created with mkdirat() in its resolved parent.
// Throws a runtime error naming the path (as seen from the tree's root) and the reason, e.g. a
// component that is a file, or a symlink whose target does not exist inside the tree.
unique_fd make_dirs_in_root(TreeRoot root, std::string_view path, mode_t mode = 0755);

// "/proc/self/fd/N": a name for an fd that mount(2) and friends accept as a target, which
// names exactly the object the fd holds. Note: it names the fd's own mount, not one mounted on
// top of it later; to act on a new mount (e.g. remount it read-only), resolve the path again.
std::string fd_path(int fd);

// Reads a guest file: resolved inside `root_fd` (symlinks stay in the tree, e.g. os-release ->
// ../usr/lib/os-release), opened O_PATH first and read only when it is a regular file of at most
// `max_bytes` (larger is refused, not truncated), then reopened O_RDONLY|O_NONBLOCK: a FIFO or a
// device is never opened for reading (no blocking, no side effect of opening a device such as a
// watchdog). nullopt when any of that fails (missing, FIFO, device, too big, a read would block).
// The reopen goes through /proc/self/fd: /proc must be mounted where the caller runs.
// `Oversize::first_bytes` reads a larger file's first `max_bytes` instead of refusing it (e.g.
// the head of an init binary).
constexpr size_t kGuestFileLimit = 1 << 20;
enum class Oversize { refuse, first_bytes };
std::optional<std::string> read_guest_file(TreeRoot root, std::string_view path,
                                           size_t max_bytes = kGuestFileLimit,
                                           Oversize oversize = Oversize::refuse);
// The same for a tree named by path (e.g. "/proc/123/root"): opens the root, then reads.
std::optional<std::string> read_guest_file(const std::string& root, std::string_view path,
                                           size_t max_bytes = kGuestFileLimit);

// The O_NOFOLLOW walk itself, used where openat2 is missing (public so tests run it here).
// Unlike openat2 it reads the text of /proc magic links like any symlink; the text is resolved
// inside the tree like any other, so it cannot lead out either.
unique_fd walk_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0);

// What make_node_in_root makes: a directory (0755) or an empty file (0644), e.g. the target of a
// bind mount of a directory or of a file.
enum class NodeKind { directory, file };

// Resolves `path` inside the tree as make_dirs_in_root does, creating missing parents and, when
// missing, the last component as `kind` (exactly that name: never through a symlink). An
// existing non-directory is accepted for `file` (a bind can go over a device node). Returns an
// O_PATH fd of it; throws naming the path and the reason.
unique_fd make_node_in_root(TreeRoot root, std::string_view path, NodeKind kind);

// Why make_node_in_root(root_fd, path, kind) would fail, or nullopt when it would not (as far as
// existing entries tell: creating a missing one can still fail). Changes nothing: a check made
// before a boot, to warn the user; the boot itself re-checks as it creates.
std::optional<std::string> node_problem_in_root(TreeRoot root, std::string_view path,
                                                NodeKind kind);

// True when the kernel resolves with openat2 (else Resolution::best uses the O_NOFOLLOW walk).
bool have_openat2();

}  // namespace ds::sys
