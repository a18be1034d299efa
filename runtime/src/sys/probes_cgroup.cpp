// `check`'s cgroup probe: the layout comes from sys/cgroup's detector, the one `start` uses, and
// so does the fallback: a host without a usable hierarchy gets the runtime's own, named here.
#include <linux/magic.h>

#include "sys/probe_support.hpp"

namespace ds::sys::probing {

ProbeResult probe_cgroup_v2(const HostFacts& facts) {
    const CgroupHost& cg = facts.cgroup;
    if (cg.v2_root) {
        if (!fs_magic_is(cg.v2_root->c_str(), CGROUP2_SUPER_MAGIC))
            return fail(*cg.v2_root + " is listed as cgroup2 but is not a cgroup2 mount");
        std::string where = *cg.v2_root;
        if (is_own_cgroup_mount(where)) where += ", mounted by droidspaces (the host has none)";
        if (cg.layout == CgroupLayout::hybrid)
            return pass(where + ", hybrid: cgroup v1 hierarchies mounted too");
        return pass(where + ", unified");
    }
    auto own = plan_own_cgroup_mount(cg, facts.proc_filesystems, false, own_cgroup_base());
    if (own.kind == OwnHierarchy::unified)
        return pass("not mounted by the host: start mounts cgroup2 at " + own.mount_point);
    if (own.kind == OwnHierarchy::systemd)
        return fail(
            "cgroup2 not in /proc/filesystems: start mounts the v1 name=systemd hierarchy at " +
            own.mount_point);
    return fail("cgroup2 not in /proc/filesystems");
}

}  // namespace ds::sys::probing
