// Kernel releases as `uname -r` prints them, and the decisions that depend on them. Pure
// functions: the caller passes the release string, so every decision is unit-tested over
// releases seen in the field (Android vendor kernels, distro kernels) and over garbage.
#pragma once

#include <optional>
#include <string_view>

namespace ds {

struct KernelVersion {
    int major = 0;
    int minor = 0;
    int patch = 0;
};

// "6.18.44-fc-v595" -> {6, 18, 44}; "3.10" -> {3, 10, 0}; nullopt when it does not start with
// "N.N".
std::optional<KernelVersion> parse_kernel_release(std::string_view release);
bool kernel_at_least(const KernelVersion& have, int major, int minor);

// The kernels a rule is meant for.
enum class Kernels {
    all,
    // Upstream's "adaptive shield": the keyring calls fail with ENOSYS before 5.0, where a
    // guest's keyctl(JOIN_SESSION_KEYRING) detaches it from Android's FBE keys ("Required key not
    // available" on /data).
    before_5_0,
};

// Whether a rule for `kernels` applies on the kernel `release`. A release that cannot be parsed
// counts as a current kernel: the version-bound rules are compatibility workarounds for known old
// kernels, and uname never prints such a string on them.
bool kernel_matches(Kernels kernels, std::string_view release);

}  // namespace ds
