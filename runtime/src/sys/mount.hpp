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

}  // namespace ds::sys
