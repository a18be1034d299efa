#include "container/devices.hpp"

#include <optional>
#include <vector>

#include "container/hw_access.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"

namespace ds::container {

namespace {

using sys::DeviceType;
using sys::kAnyMinor;

constexpr sys::DeviceRule kAllowed[] = {
    {DeviceType::character, 1, 3},            // /dev/null
    {DeviceType::character, 1, 5},            // /dev/zero
    {DeviceType::character, 1, 7},            // /dev/full
    {DeviceType::character, 1, 8},            // /dev/random
    {DeviceType::character, 1, 9},            // /dev/urandom
    {DeviceType::character, 5, 0},            // /dev/tty
    {DeviceType::character, 5, 1},            // /dev/console (when a guest makes the node)
    {DeviceType::character, 5, 2},            // /dev/ptmx (devpts' own ptmx is 5:2 too)
    {DeviceType::character, 136, kAnyMinor},  // pts, the console among them
    {DeviceType::character, 10, 200},         // /dev/net/tun
    {DeviceType::character, 10, 229},         // /dev/fuse
};

}  // namespace

std::span<const sys::DeviceRule> device_allowlist() {
    return kAllowed;
}

void apply_device_policy(const BootPlan& plan,
                         const std::function<void(const std::string&)>& warn) {
    if (privileged_has(plan.config.privileged, "unfiltered-dev")) return;
    // -H/--gpu: the base list first (its verdicts win), then the mirrored GPU nodes or, for -H
    // on Android, the blocklisted nodes' numbers denied and every other device allowed.
    HwDevicePolicy hw = hw_device_policy(plan.config);
    if (hw.skip) return;  // -H on Linux: the host's devtmpfs, every device, as upstream
    std::vector<sys::DeviceRule> rules(kAllowed, kAllowed + std::size(kAllowed));
    rules.insert(rules.end(), hw.rules.begin(), hw.rules.end());
    if (plan.cgroup_layout != CgroupLayout::unified) {
        warn(
            "the device allowlist needs the cgroup v2 layout: the guest can open every device "
            "node it can create");
        return;
    }
    std::optional<std::string> why;
    try {
        why = sys::attach_device_program(plan.cgroup_path, rules, hw.allow_rest);
    } catch (const Error& e) {
        // E.g. an SELinux policy refusing bpf(2): say how to start without the allowlist.
        fail_runtime(std::string(e.what()) +
                     "; --privileged=unfiltered-dev starts without the device allowlist");
    }
    if (why)
        warn("this kernel cannot filter devices with cgroup BPF (" + *why +
             "): the guest can open every device node it can create");
}

}  // namespace ds::container
