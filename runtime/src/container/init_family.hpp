// Which init system a rootfs boots, and how each one is asked to halt.
#pragma once

#include <string>
#include <string_view>

namespace ds::container {

enum class InitFamily { systemd, procd, openrc, runit, s6, busybox, sysvinit, unknown };

std::string_view to_string(InitFamily family);
InitFamily parse_init_family(std::string_view text);

// Looks at the init that will actually run as PID 1: `init_path` resolved inside `rootfs`
// (symlinks followed within the rootfs), by name and by content.
InitFamily detect_init_family(const std::string& rootfs, const std::string& init_path);

// How `stop` asks each family to power off (reference §9.2).
enum class HaltMethod { signal, initctl };
struct HaltRequest {
    HaltMethod method;
    int signal;  // for HaltMethod::signal, and the fallback when initctl is unusable
};
HaltRequest halt_request(InitFamily family, bool custom_init);

}  // namespace ds::container
