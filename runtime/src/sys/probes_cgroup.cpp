// `check`'s cgroup probe: the layout comes from sys/cgroup's detector, the one `start` uses.
#include <linux/magic.h>

#include "sys/probe_support.hpp"

namespace ds::sys::probing {

ProbeResult probe_cgroup_v2(const HostFacts& facts) {
    const CgroupHost& cg = facts.cgroup;
    if (cg.v2_root) {
        if (!fs_magic_is(cg.v2_root->c_str(), CGROUP2_SUPER_MAGIC))
            return fail(*cg.v2_root + " is listed as cgroup2 but is not a cgroup2 mount");
        if (cg.layout == CgroupLayout::hybrid)
            return pass(*cg.v2_root + ", hybrid: cgroup v1 hierarchies mounted too");
        return pass(*cg.v2_root + ", unified");
    }
    if (filesystems_list_has(facts.proc_filesystems, "cgroup2"))
        return fail("the kernel supports cgroup2 but it is not mounted");
    return fail("cgroup2 not in /proc/filesystems");
}

}  // namespace ds::sys::probing
