// The child side of a boot: namespaces are already new; set up the rootfs and exec init.
#pragma once

#include "container/boot_plan.hpp"

namespace ds::container {

// Never returns: execs the distro's init, or writes "step: reason" to `error_fd` and exits 127.
[[noreturn]] void boot_container_init(const BootPlan& plan, int error_fd);

}  // namespace ds::container
