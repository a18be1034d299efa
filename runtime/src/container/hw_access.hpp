// -H/--hw-access and --gpu (upstream §6.1, §6.2, §13.3, §13.4): the guest's /dev and /sys, the
// GPU nodes mirrored into a private /dev, the guest's GPU group, the firmware search path and
// the desktop X11 socket.
//
// On a Linux desktop -H mounts the kernel's devtmpfs as /dev: that is the host's own /dev (one
// instance per kernel), so nothing in it is ever created, changed or removed by the runtime. On
// Android (where /dev is ueventd's tmpfs) upstream unlinks the dangerous nodes from devtmpfs;
// this runtime copies devtmpfs's nodes into a private tmpfs instead, minus the dangerous ones,
// so the kernel's single devtmpfs (shared with anything else that mounts it) stays intact.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "container/boot_plan.hpp"
#include "sys/bpf_devices.hpp"

namespace ds::container {

using HwWarn = std::function<void(const std::string&)>;

// The group every mirrored GPU node belongs to inside the guest (upstream's GID and name).
inline constexpr gid_t kGpuGid = 786;

// --- pure rules (unit-tested) ----------------------------------------------------------------

// Upstream's blocklist of device names (a last path component): nodes of the host's display
// stack, consoles, modems, TEEs, raw memory and buses, and the core nodes the boot recreates.
bool is_dangerous_device(std::string_view name);
// Whether /dev/<dir>/<name> ("" for /dev itself) is one of the known GPU nodes (§13.4 table),
// before the blocklist.
bool is_gpu_node(std::string_view dir, std::string_view name);
// The firmware search path is ONE directory (the kernel does not split it). A container's
// record (Pids/<name>.firmware) holds its entry and the value to write back.
struct FirmwareRecord {
    std::string entry, previous;
};
std::string firmware_record_text(const FirmwareRecord& record);
FirmwareRecord parse_firmware_record(std::string_view text);
// At start: the record to keep when `entry` may be set (the path is empty, or already holds
// `entry`: then the previous value is what another container's record for it says, else the
// path itself); nullopt when the host has a path of its own, which is left alone.
std::optional<FirmwareRecord> firmware_take(std::string_view current, std::string_view entry,
                                            const std::vector<FirmwareRecord>& others);
// At release: the value to write back (the record's previous one) when the path is still
// exactly its entry and no other record names that entry; nullopt to leave the path alone.
std::optional<std::string> firmware_give_back(std::string_view current,
                                              const FirmwareRecord& record,
                                              const std::vector<FirmwareRecord>& others);
// /etc/group text with "droidspaces-gpu:x:786:root": added when missing, root appended to its
// member list when absent; anything else is left as it is.
std::string group_with_gpu(std::string_view group);

// --- host side (start, stop) -----------------------------------------------------------------

struct HostNode {
    std::string dir;   // below /dev: "" or e.g. "dri"
    std::string name;  // e.g. "renderD128"
    dev_t rdev;
};
// The host's GPU nodes under `dev` that --gpu (and -H on Android) mirror: char devices of the
// table, minus the blocklist (so /dev/dri/card* never).
std::vector<HostNode> host_gpu_nodes(const std::string& dev = "/dev");
// Extra device cgroup rules for the guest, and whether anything beyond them is allowed:
// --gpu adds the mirrored nodes to the allowlist; -H allows every device (what devtmpfs shows)
// except, on Android, the numbers of the host's blocklisted nodes (a major with nothing else
// on the host is denied whole).
struct HwDevicePolicy {
    std::vector<sys::DeviceRule> rules;
    bool allow_rest = false;
    bool skip = false;  // -H off Android: no device program at all, as upstream
};
HwDevicePolicy hw_device_policy(const Config& config);
// Android -H: the deny rules for the blocklisted nodes under `dev`. A directory that cannot be
// read, or a node that cannot be stat'ed, throws (path and errno): never a rule silently lost
// while every other device is allowed.
std::vector<sys::DeviceRule> hw_denied_devices(const std::string& dev = "/dev");

// `start`: warnings, and (-H) <rootfs>/lib/firmware as the kernel's firmware path when the
// host has none of its own (firmware_take), remembered in Pids/<name>.firmware.
void hw_prepare_host(const Workspace& ws, const Config& config, const std::string& rootfs,
                     const HwWarn& warn);
// Stop or cleanup: gives the firmware path back (firmware_give_back) and removes the record.
void hw_release_host(const Workspace& ws, const std::string& name);

// --- boot side (the container's init, before pivot_root unless said) --------------------------

// -H: /dev onto `target` (an fd of the rootfs's dev directory). Returns true when it is the
// kernel's devtmpfs itself (then the boot must not create anything in it), false when it is a
// private tmpfs (the Android copy, or the fallback after devtmpfs failed, with a warning).
bool mount_hw_dev(int root_fd, const BootPlan& plan, const HwWarn& warn);
// -H: sysfs read-write; foreground systemd gets the top-level directories as writable binds
// under a read-only /sys (systemd 258+ detects a container by the read-only /sys).
void mount_hw_sys(int root_fd, const BootPlan& plan);
// On a devtmpfs /dev: the guest's devpts ptmx bound over the node (the kernel's is the host's).
void bind_devpts_ptmx(int root_fd);
// The st_dev of the runtime's own /dev and /tmp, taken before any user bind: the mirroring
// only makes nodes in directories on that /dev, and the X11 directory only gets mode 1777 on
// that /tmp (a -B onto /dev/dri or /tmp is the host's, and is left as it is).
struct OwnMounts {
    dev_t dev = 0, tmp = 0;
};
// --gpu, and -H on a private /dev: GPU nodes, X11 socket.
void expose_hw_nodes(int root_fd, const BootPlan& plan, bool dev_is_devtmpfs, const OwnMounts& own,
                     const HwWarn& warn);
// After pivot_root ("/" is the guest): the GPU group in /etc/group. A guest /etc/group that is
// not a regular file (a symlink, a FIFO) is left alone with a warning.
void add_gpu_group(const HwWarn& warn);

}  // namespace ds::container
