#include "sys/mount.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <climits>
#include <cstdlib>

#include "core/mountinfo.hpp"
#include "sys/file.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000  // linux/stat.h, 5.8
#endif

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

namespace {

// Older kernels: the path is listed as a mount point in our mountinfo (canonical path, so a
// symlinked spelling matches too).
bool listed_in_mountinfo(const std::string& path) {
    char resolved[PATH_MAX];
    if (!::realpath(path.c_str(), resolved)) return false;
    for (const auto& m : parse_mountinfo(try_read_file("/proc/self/mountinfo").value_or("")))
        if (m.mount_point == resolved) return true;
    return false;
}

}  // namespace

bool is_mountpoint(const std::string& path) {
    // A bind of a directory of the same filesystem has the same st_dev as its parent: only the
    // kernel's mount-root attribute (5.8+) or the mount table can tell.
    struct statx sx {};
    if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
                STATX_TYPE | STATX_INO, &sx) != 0 ||
        !S_ISDIR(sx.stx_mode))
        return false;
    if (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
        return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
    struct stat self, parent;
    if (::lstat(path.c_str(), &self) != 0) return false;
    if (::lstat((path + "/..").c_str(), &parent) != 0) return false;
    // A different device, or the same inode as the parent ("/"), is a mount without a look-up.
    if (self.st_dev != parent.st_dev || self.st_ino == parent.st_ino) return true;
    return listed_in_mountinfo(path);
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
