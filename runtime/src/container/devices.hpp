// The container's device allowlist: which device nodes the guest may open or create.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "container/boot_plan.hpp"
#include "sys/bpf_devices.hpp"

namespace ds::container {

// Every node the boot creates in /dev (boot.cpp's kDevices), the ptmx and pts of the guest's
// devpts, the console (a host pts, bound in) and /dev/console's own number. Nothing else: no
// block device at all, so a guest's mknod of the host's disk (or one shipped in the rootfs)
// cannot be opened.
std::span<const sys::DeviceRule> device_allowlist();

// Attaches the allowlist to the container's cgroup v2 (in `start`, before the guest exists),
// widened for --gpu (the mirrored GPU nodes) and -H (container/hw_access.hpp: every device on
// Linux, no program at all; on Android every device but the blocklisted nodes' numbers).
// Skipped with --privileged=unfiltered-dev; on the v1 layout or a kernel without cgroup device
// BPF it warns once and the container starts unfiltered.
void apply_device_policy(const BootPlan& plan, const std::function<void(const std::string&)>& warn);

}  // namespace ds::container
