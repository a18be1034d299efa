// Removing what a container leaves on the host that no single container owns.
#pragma once

#include <string>

namespace ds::container {

// The parent of every container cgroup in a hierarchy: <root>/droidspaces.
constexpr const char* kCgroupParentName = "droidspaces";

// Removes the shared <root>/droidspaces parent of `container_cgroup` when it is empty (the last
// container of that hierarchy is gone). Only a directory named "droidspaces" is ever removed.
// Racing with another container is harmless: rmdir fails (EBUSY/ENOTEMPTY) while any child
// cgroup exists, and those errors are ignored. Also releases the runtime's own cgroup hierarchy
// when its last container is gone. True when the parent is gone afterwards.
bool remove_empty_cgroup_parent(const std::string& container_cgroup);
// The same for the parent directory itself (<root>/droidspaces).
bool remove_cgroup_parent_if_empty(const std::string& parent);

}  // namespace ds::container
