// Where a container's config comes from, and the config files of the workspace (upstream order,
// reference §4.3): -C FILE; else container.config next to a rootfs given in this request; else
// the workspace copy of the named container (the host's copy is the only source of truth: the
// guest's /run/droidspaces snapshot is never read). Then reset, then the edits.
//
// Front ends build a ConfigRequest (the CLI from argv, a server from its JSON body) and get the
// resolved config back; they never read or write config files themselves.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/config_options.hpp"
#include "core/workspace.hpp"

namespace ds::container {

struct ConfigRequest {
    std::string name;       // "" when not given
    std::string conf_path;  // an explicit config file (-C), absolute; "" for none
    bool reset = false;     // back to defaults first (reset_config)
    ConfigEdits edits;      // long option names -> values, applied in order
};

struct ResolvedConfig {
    Config config;
    std::string path;  // the user's config file to keep in sync, "" for the workspace copy only
    std::vector<std::string> warnings;  // lines of the file that were ignored, and why
};

// The config file at `path`, or defaults when there is none. Decides rootfs_is_image by stat
// (upstream's rule). A bad line is ignored with a warning naming path:line (appended to
// `warnings` when given), as upstream reads config files; command-line values stay strict.
// Throws system when the file exists but cannot be read.
Config load_config_file(const std::string& path, std::vector<std::string>* warnings = nullptr);
// The workspace copy of `name`'s config, nullopt when there is none or it does not parse.
std::optional<Config> workspace_config(const Workspace& ws, const std::string& name);

// The config a start/restart boots, as described above. A container.config beside the rootfs
// is used only when it is this rootfs's (its rootfs_path names it, or it does not exist yet):
// several rootfs directories in one folder must not share one config.
ResolvedConfig resolve_config(const Workspace& ws, const ConfigRequest& request);

// The container a stateful command means: `names[0]`, the name in `conf_path`, or the only
// running container. `command` names the operation in errors.
std::string resolve_single_name(const Workspace& ws, const std::vector<std::string>& names,
                                const std::string& conf_path, const std::string& command);

}  // namespace ds::container
