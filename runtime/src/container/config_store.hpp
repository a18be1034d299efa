// The workspace's container configs as records a caller creates, edits and deletes
// (Containers/<name>/container.config). The caller holds the container's lock.
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/config_options.hpp"
#include "core/workspace.hpp"

namespace ds::container {

// Throws busy naming the existing config when `name` (or its sanitised spelling) has one.
void check_config_absent(const Workspace& ws, const std::string& name);

// A new config for `name` from `edits`; busy when the name (or its sanitised spelling) already
// has one. Returns the config as written.
Config create_workspace_config(const Workspace& ws, const std::string& name,
                               const ConfigEdits& edits);
// The saved config of `name` with `edits` applied (after a reset when asked); not_found when
// there is none. Comments, blank lines and unknown keys stay as the user wrote them.
Config edit_workspace_config(const Workspace& ws, const std::string& name, bool reset,
                             const ConfigEdits& edits);

struct RemovedConfig {
    std::vector<std::string> removed;
    std::vector<std::string> kept;
};
// Removes the config and Containers/<name> when that is then empty. With `remove_rootfs`, also
// the rootfs, but only Containers/<name>/rootfs (a real directory) or Containers/<name>/rootfs.img
// (a regular file): never through a symlink, never into another mount, never a rootfs elsewhere
// (that is reported in `kept`). not_found when the name has neither a config nor a directory.
RemovedConfig delete_workspace_config(const Workspace& ws, const std::string& name,
                                      bool remove_rootfs);

// Deletes the tree `path` (a directory that is not a mount point) without following symlinks and
// without descending into other mounts; what it could not remove is appended to `kept`. Returns
// true when `path` is gone.
bool remove_tree_no_follow(const std::string& path, std::vector<std::string>& kept);

}  // namespace ds::container
