// Rootfs images (ext4/btrfs files or block devices): checked, attached to a loop device and
// mounted on the host at the container's mount point (reference §13.2).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds::container {

enum class ImageFs { ext4, btrfs };  // ext4 covers ext2/3/4 (one superblock magic)
const char* to_string(ImageFs fs);

// Reads the superblock magic. Throws a usage error naming the path for anything else
// (including btrfs when this kernel has no btrfs).
ImageFs detect_image_fs(const std::string& path);

// `e2fsck -p` (preen) before mounting an ext image. Returns what e2fsck reported it fixed ("" when
// clean). A filesystem that needs a manual repair throws a usage error carrying e2fsck's message
// and the command to run. No-op for btrfs.
// An image that cannot be opened for writing gets `e2fsck -n` (look, change nothing); an image
// attached to a loop device (mounted) is refused. Without an e2fsck on the host it returns
// kImageNotChecked (below) rather than "".
std::string check_image(const std::string& path, ImageFs fs);

struct ImageMount {
    std::string mount_point;
    std::string loop_device;  // "" for a block device mounted directly
    bool read_only = false;
};

struct MountImageOptions {
    bool read_only = false;       // also chosen automatically when the image is not writable
    std::string selinux_context;  // Android: the mount's context= option, "" elsewhere
};

// Attaches `image` to a free loop device (autoclear: the device frees itself when unmounted)
// and mounts it on `mount_point` (created if missing). Nothing is left attached or mounted when
// it throws.
// Does not run e2fsck (call check_image first). Refuses (usage error) an image already attached
// to a loop device and a mount point that already is one. A block device is mounted directly.
ImageMount mount_image(const std::string& image, const std::string& mount_point,
                       const MountImageOptions& options);

// Unmounts, detaches the loop device if it is still attached, removes the mount point. Does
// nothing for what is already gone; never throws for "not mounted".
// A busy mount is detached (MNT_DETACH); when its loop device is still attached 2 s later
// (an open file, a mount in another namespace) it throws a runtime error saying so, after the
// mount point is gone; the device frees itself when that user ends. Only autoclear loop devices
// are detached: a device the user attached and passed as a block device stays attached.
void unmount_image(const std::string& mount_point);

// True when `mount_point` is a mount of `image` (through its loop device): safe to reuse.
bool image_mounted_at(const std::string& image, const std::string& mount_point);

// --- for callers --------------------------------------------------------------------------------

// What check_image returns when the host has no e2fsck: the image was mounted unchecked.
inline constexpr std::string_view kImageNotChecked = "e2fsck not found: image not checked";
// The loop device `image` is attached to ("/dev/loop3"), "" when none. mount_image refuses an
// attached image: two loop devices over one file are two filesystems writing the same blocks.
std::string image_loop_device(const std::string& image);

// --- pure parts (tested without root) -----------------------------------------------------------

// The filesystem whose magic the first bytes of an image carry (0x10048 bytes to see btrfs).
std::optional<ImageFs> identify_superblock(std::string_view head);
// check_image's verdict from e2fsck's exit code and output: "" (0), the output (1, 2), a usage
// error "image X needs a manual repair: <problem>; run: e2fsck -f X" (4), a runtime error (8+).
std::string e2fsck_verdict(const std::string& image, int exit_code, std::string_view output);
// The line of e2fsck's output that says what is wrong, without the "<device>: " prefix.
std::string e2fsck_problem(std::string_view output, const std::string& image);
// mount(2) data for an image: ext4 "nodelalloc,errors=remount-ro,init_itable=0", btrfs "";
// plus context="..." when `selinux_context` is set.
std::string image_mount_data(ImageFs fs, const std::string& selinux_context);

struct MountEntry {
    unsigned major = 0;
    unsigned minor = 0;
    std::string mount_point;
    std::string fstype;
    std::string source;
};
std::vector<MountEntry> parse_mountinfo(std::string_view mountinfo);
// The topmost (last listed) mount on `mount_point`.
std::optional<MountEntry> top_mount_at(const std::vector<MountEntry>& mounts,
                                       const std::string& mount_point);

}  // namespace ds::container
