// mount(2) and friends, each failure naming the paths and errno.
#pragma once

#include <string>

namespace ds::sys {

void mount_fs(const std::string& source, const std::string& target, const std::string& fstype,
              unsigned long flags, const std::string& data = "");
void bind_mount(const std::string& source, const std::string& target, bool recursive = true);
// Bind mounts ignore MS_RDONLY; read-only needs a remount of the bind.
void remount_read_only(const std::string& target, unsigned long extra_flags = 0);
void make_private_recursive(const std::string& target);
bool is_mountpoint(const std::string& path);
// Lazy unmount that tolerates "not mounted".
void detach_mount(const std::string& target);

// The same onto an fd resolved inside an untrusted tree (sys::open_in_root): the mount goes onto
// exactly the object the fd holds, whatever its path has become; errors name `shown` (the path
// as the guest sees it), not "/proc/self/fd/N".
void mount_fs_at(const std::string& source, int target_fd, const std::string& shown,
                 const std::string& fstype, unsigned long flags, const std::string& data = "");
void bind_mount_at(const std::string& source, int target_fd, const std::string& shown,
                   bool recursive = true);
// `target_fd` must hold the mount to change (an fd taken before that mount was made names the
// covered directory instead: resolve again after mounting). `flags` are MS_RDONLY and friends;
// `bind` adds MS_BIND (per-mount flags of a bind, not the filesystem's).
void remount_at(int target_fd, const std::string& shown, unsigned long flags, bool bind);

}  // namespace ds::sys
