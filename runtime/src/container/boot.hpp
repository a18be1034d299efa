// The child side of a boot: namespaces are already new; set up the rootfs and exec init.
#pragma once

#include "container/boot_plan.hpp"

namespace ds::container {

// Never returns: execs the distro's init, or writes "step: reason" to `error_fd` and exits 127.
// `in_cgroup`: the process was already cloned into the container's cgroup. `guard_fd`: the
// monitor's end for the remount guard's listener (container/remount_guard.hpp). `views_fd`:
// where the /proc view files go to the monitor (container/proc_views.hpp). `net_fd`
// (--net=nat, else -1): the monitor writes "1" there once eth0 is in the namespace.
[[noreturn]] void boot_container_init(const BootPlan& plan, int error_fd, bool in_cgroup,
                                      int guard_fd, int views_fd, int net_fd = -1);

}  // namespace ds::container
