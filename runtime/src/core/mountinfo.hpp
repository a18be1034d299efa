// /proc/PID/mountinfo, parsed once for everyone (probes, cgroup layout, image mounts, the
// remount guard). Pure: the caller reads the file and passes its text, so every case the kernel
// can print (octal escapes, optional fields, a missing tail) is unit-tested.
//
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue
//   (1)(2) (3)   (4)   (5)     (6)        (7...)      sep  (8)    (9)        (10)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds {

struct MountInfo {
    uint64_t id = 0;
    uint64_t parent = 0;
    unsigned major = 0, minor = 0;
    std::string root;                          // the mount's root within its filesystem (unescaped)
    std::string mount_point;                   // unescaped
    std::string options;                       // per-mount options ("rw,nosuid,relatime")
    std::vector<std::string> optional_fields;  // "shared:2", "master:1", ...
    std::string fstype;                        // "ext4", "cgroup2", "fuse.sshfs"
    std::string source;                        // unescaped; "none" and the like as printed
    std::string super_options;  // superblock options ("rw,memory", "rw,name=systemd")
};

// Undoes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). A
// backslash not followed by three octal digits is kept as it is.
std::string unescape_mountinfo(std::string_view field);

// One full line; nullopt when it does not parse (too few fields, no " - " separator, bad numbers).
std::optional<MountInfo> parse_mountinfo_line(std::string_view line);

// Only the leading fields (id, parent, major:minor, root, mount point): for a reader that cuts
// long lines short and needs nothing after the mount point. The other members stay empty.
std::optional<MountInfo> parse_mountinfo_head(std::string_view line);

// Every line that parses, in file order (later lines are mounted on top of earlier ones); lines
// that do not parse are skipped.
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// Whether a comma-separated option list ("rw,nosuid,memory") holds `option` exactly.
bool has_mount_option(std::string_view options, std::string_view option);

}  // namespace ds
