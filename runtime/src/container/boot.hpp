// The child side of a boot: namespaces are already new; set up the rootfs and exec init.
#pragma once

#include "container/boot_plan.hpp"

namespace ds::container {

// Never returns: execs the distro's init, or writes "step: reason" to `error_fd` and exits 127.
// `in_cgroup`: the process was already cloned into the container's cgroup. `guard_fd`: the
// monitor's end for the remount guard's listener (container/remount_guard.hpp). `views_fd`:
// where the /proc view files go to the monitor (container/proc_views.hpp).
[[noreturn]] void boot_container_init(const BootPlan& plan, int error_fd, bool in_cgroup,
                                      int guard_fd, int views_fd);

}  // namespace ds::container
