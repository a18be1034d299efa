#include "sys/mount.hpp"

#include <sys/mount.h>
#include <sys/stat.h>

#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {

void mount_fs(const std::string& source, const std::string& target, const std::string& fstype,
              unsigned long flags, const std::string& data) {
    if (::mount(source.c_str(), target.c_str(), fstype.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) != 0)
        fail_errno("mount " + fstype + " on " + target);
}

void bind_mount(const std::string& source, const std::string& target, bool recursive) {
    unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
    if (::mount(source.c_str(), target.c_str(), nullptr, flags, nullptr) != 0)
        fail_errno("bind " + source + " on " + target);
}

void remount_read_only(const std::string& target, unsigned long extra_flags) {
    if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | extra_flags,
                nullptr) != 0)
        fail_errno("remount " + target + " read-only");
}

void make_private_recursive(const std::string& target) {
    if (::mount(nullptr, target.c_str(), nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
        fail_errno("make " + target + " private");
}

bool is_mountpoint(const std::string& path) {
    struct stat self, parent;
    if (::lstat(path.c_str(), &self) != 0 || !S_ISDIR(self.st_mode)) return false;
    if (::lstat((path + "/..").c_str(), &parent) != 0) return false;
    // A different device, or the same inode as the parent (the root of a bind).
    return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

void detach_mount(const std::string& target) {
    if (::umount2(target.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
        fail_errno("unmount " + target);
}

void mount_fs_at(const std::string& source, int target_fd, const std::string& shown,
                 const std::string& fstype, unsigned long flags, const std::string& data) {
    std::string target = fd_path(target_fd);
    if (::mount(source.c_str(), target.c_str(), fstype.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) != 0)
        fail_errno("mount " + fstype + " on " + shown);
}

void bind_mount_at(const std::string& source, int target_fd, const std::string& shown,
                   bool recursive) {
    std::string target = fd_path(target_fd);
    unsigned long flags = MS_BIND | (recursive ? MS_REC : 0);
    if (::mount(source.c_str(), target.c_str(), nullptr, flags, nullptr) != 0)
        fail_errno("bind " + source + " on " + shown);
}

void remount_at(int target_fd, const std::string& shown, unsigned long flags, bool bind) {
    std::string target = fd_path(target_fd);
    if (::mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | (bind ? MS_BIND : 0) | flags,
                nullptr) != 0)
        fail_errno("remount " + shown + ((flags & MS_RDONLY) ? " read-only" : ""));
}

}  // namespace ds::sys
