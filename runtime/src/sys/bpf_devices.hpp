// A cgroup v2 device policy: a BPF_PROG_TYPE_CGROUP_DEVICE program built from a table of allowed
// devices, loaded and attached with raw bpf(2) (no libbpf in a static binary).
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ds::sys {

// The kernel's BPF_DEVCG_DEV_BLOCK / BPF_DEVCG_DEV_CHAR (the low 16 bits of access_type).
enum class DeviceType : std::uint32_t { block = 1, character = 2 };

inline constexpr std::uint32_t kAnyMinor = UINT32_MAX;

// One device and its verdict for every access (read, write, mknod): allowed, or with `allow`
// false denied. `minor` kAnyMinor matches all minors.
struct DeviceRule {
    DeviceType type;
    std::uint32_t major;
    std::uint32_t minor;
    bool allow = true;
};

// The program: the verdict of the first rule that matches; when none does, deny (0), or allow
// (1) with `allow_rest` (-H: every device but the denied ones). Pure, for the unit tests.
// Shape: 4 loads/masks of the context, per rule one JNE per compared field then "r0 = verdict;
// exit", and a final "r0 = default; exit".
std::vector<bpf_insn> build_device_program(std::span<const DeviceRule> rules,
                                           bool allow_rest = false);

// Loads the program and attaches it (BPF_F_ALLOW_MULTI, so the guest's own systemd can add its
// programs below) to the cgroup directory `cgroup_path`. The kernel drops it with the cgroup.
// Returns a reason when this kernel cannot filter devices with BPF (no bpf(2), no cgroup BPF,
// no device program type); throws on any other failure.
std::optional<std::string> attach_device_program(const std::string& cgroup_path,
                                                 std::span<const DeviceRule> rules,
                                                 bool allow_rest = false);

}  // namespace ds::sys
