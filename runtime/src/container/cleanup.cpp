#include "container/cleanup.hpp"

#include <unistd.h>

#include <cerrno>

#include "sys/cgroup.hpp"

namespace ds::container {

bool remove_empty_cgroup_parent(const std::string& container_cgroup) {
    auto slash = container_cgroup.rfind('/');
    if (slash == std::string::npos || slash == 0) return false;
    return remove_cgroup_parent_if_empty(container_cgroup.substr(0, slash));
}

bool remove_cgroup_parent_if_empty(const std::string& parent) {
    auto slash = parent.rfind('/');
    if (slash == std::string::npos || parent.substr(slash + 1) != kCgroupParentName) return false;
    // EBUSY/ENOTEMPTY: another container still lives there.
    bool removed = ::rmdir(parent.c_str()) == 0 || errno == ENOENT;
    // The runtime's own hierarchy (sys/cgroup.hpp) goes with the last container it serves.
    sys::release_own_cgroup_mounts();
    return removed;
}

}  // namespace ds::container
