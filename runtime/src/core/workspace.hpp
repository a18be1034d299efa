// Where Droidspaces keeps its state, as upstream lays it out. Pure path arithmetic.
#pragma once

#include <string>
#include <string_view>

namespace ds {

struct Workspace {
    std::string root;        // /var/lib/Droidspaces, /data/local/Droidspaces or $DROIDSPACES_HOME
    std::string mount_base;  // /mnt/Droidspaces, or <root>/mnt when DROIDSPACES_HOME is set

    std::string containers_dir() const { return root + "/Containers"; }
    std::string pids_dir() const { return root + "/Pids"; }
    std::string logs_root() const { return root + "/Logs"; }

    // `name` is the validated container name; these apply upstream's sanitisation.
    std::string container_dir(std::string_view name) const;
    std::string config_path(std::string_view name) const;
    std::string pidfile(std::string_view name) const;
    // Pids/<name>.<ext>: "mount", "init", "lock", "state".
    std::string sidecar(std::string_view name, std::string_view ext) const;
    std::string logs_dir(std::string_view name) const;
    std::string mount_point(std::string_view name) const;
    std::string volatile_dir(std::string_view name) const;
};

}  // namespace ds
