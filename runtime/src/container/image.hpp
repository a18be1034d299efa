// Rootfs images (ext4/btrfs files or block devices): checked, attached to a loop device and
// mounted on the host at the container's mount point (reference §13.2).
#pragma once

#include <functional>
#include <string>

namespace ds::container {

enum class ImageFs { ext4, btrfs };  // ext4 covers ext2/3/4 (one superblock magic)
const char* to_string(ImageFs fs);

// Reads the superblock magic. Throws a usage error naming the path for anything else
// (including btrfs when this kernel has no btrfs).
ImageFs detect_image_fs(const std::string& path);

// `e2fsck -p` (preen) before mounting an ext image. Returns what e2fsck reported it fixed ("" when
// clean). A filesystem that needs a manual repair throws a usage error carrying e2fsck's message
// and the command to run. No-op for btrfs.
std::string check_image(const std::string& path, ImageFs fs);

struct ImageMount {
    std::string mount_point;
    std::string loop_device;  // "" for a block device mounted directly
    bool read_only = false;
};

struct MountImageOptions {
    bool read_only = false;        // also chosen automatically when the image is not writable
    std::string selinux_context;   // Android: the mount's context= option, "" elsewhere
};

// Attaches `image` to a free loop device (autoclear: the device frees itself when unmounted)
// and mounts it on `mount_point` (created if missing). Nothing is left attached or mounted when
// it throws.
ImageMount mount_image(const std::string& image, const std::string& mount_point,
                       const MountImageOptions& options);

// Unmounts, detaches the loop device if it is still attached, removes the mount point. Does
// nothing for what is already gone; never throws for "not mounted".
void unmount_image(const std::string& mount_point);

// True when `mount_point` is a mount of `image` (through its loop device): safe to reuse.
bool image_mounted_at(const std::string& image, const std::string& mount_point);

}  // namespace ds::container
