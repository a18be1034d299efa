// Where Droidspaces keeps its state, as upstream lays it out: path arithmetic, and the one
// rule about who may reach those paths (make_private_dirs).
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

// The directories that hold every rootfs (Containers/, Volatile/ and the image mount base)
// are made unreachable for other host users: created 0700, and tightened to 0700 when an older
// workspace left them 0755. A tarball's setuid root shell or 0666 block device then cannot be
// used by a local unprivileged user through the host path, while the rootfs itself keeps the
// modes its distro gave it (the guest's / stays as it was). Throws naming the path and errno.
// Containers/ is created; Volatile/ and the mount base are tightened when they exist.
void make_private_dirs(const Workspace& ws);
// One such directory, created when missing (its parents as sys::make_dirs leaves them). A
// symlink in its place is refused, not followed.
void make_private_dir(const std::string& path);

}  // namespace ds
