// Paths inside a tree the host does not trust (a rootfs, /proc/PID/root of a guest): every
// lookup stays inside the tree, and no guest file can block, exhaust or redirect a host reader.
//
// Resolution uses openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) where the kernel has it
// (5.6+): a guest symlink is followed as the guest would see it, re-rooted at the tree, and
// can never reach the host. Older kernels get an O_NOFOLLOW walk, component by component,
// that refuses any symlink (ELOOP) rather than follow it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "sys/fd.hpp"

namespace ds::sys {

// An O_PATH|O_DIRECTORY fd of `path` (a host path the runtime chose, e.g. the rootfs).
unique_fd open_tree_root(const std::string& path);

// openat() of `path` (absolute or relative: both are taken from the tree's root) inside the tree
// `root_fd`. Returns an invalid fd with errno set on failure. `flags` gets O_CLOEXEC added;
// O_CREAT is honoured for the last component only (never through a symlink).
unique_fd open_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0);

// mkdir -p inside the tree; returns an O_PATH|O_DIRECTORY fd of the final directory. Throws a
// runtime error naming the path and errno; a symlink that would lead out of the tree is never
// followed (it resolves inside, or fails with ELOOP on old kernels).
unique_fd make_dirs_in_root(int root_fd, std::string_view path, mode_t mode = 0755);

// "/proc/self/fd/N": a name for an fd that mount(2) and friends accept as a target, which
// names exactly the object the fd holds.
std::string fd_path(int fd);

// Reads a guest file: opened inside `root_fd` with O_NOFOLLOW|O_NONBLOCK, must be a regular
// file, and at most `max_bytes` long (larger is refused, not truncated). nullopt when any of
// that fails (missing, FIFO, device, symlink at the last component, too big).
constexpr size_t kGuestFileLimit = 1 << 20;
std::optional<std::string> read_guest_file(int root_fd, std::string_view path,
                                           size_t max_bytes = kGuestFileLimit);
// The same for a tree named by path (e.g. "/proc/123/root"): opens the root, then reads.
std::optional<std::string> read_guest_file(const std::string& root, std::string_view path,
                                           size_t max_bytes = kGuestFileLimit);

// The O_NOFOLLOW walk itself, used where openat2 is missing (public so tests run it here).
unique_fd walk_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0);

// True when the kernel resolves with openat2 (else the O_NOFOLLOW walk is used).
bool have_openat2();

}  // namespace ds::sys
