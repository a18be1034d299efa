// Everything the monitor needs to boot (and reboot) a container, decided once by `start`.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "container/init_family.hpp"
#include "core/config.hpp"
#include "core/env_file.hpp"
#include "core/workspace.hpp"

namespace ds::container {

enum class CgroupLayout { unified, legacy_systemd, none };

struct BootPlan {
    Config config;  // hostname defaulted, uuid assigned
    Workspace workspace;
    std::string rootfs;     // the directory that becomes /
    std::string init_path;  // inside the rootfs
    InitFamily family = InitFamily::unknown;
    CgroupLayout cgroup_layout = CgroupLayout::none;
    std::string cgroup_path;  // host path of the container's v2 (or v1 systemd) cgroup
    // cgroup v1 hosts: <hierarchy>/droidspaces/<name> of each controller a limit needs (memory,
    // cpu, pids), joined by init before it execs (container/cgroups.hpp).
    std::vector<std::string> limit_cgroups;
    std::string console_slave;  // host /dev/pts/N bound onto the container's /dev/console
    std::string term = "xterm-256color";
    pid_t attached_client = 0;  // `start -f`: the CLI owning the console until it exits
    EnvVars env;                // from --env, read on the host at start
    std::string volatile_dir;   // --volatile: empty host dir for the overlay's tmpfs
    std::string image_mount;    // image rootfs: its mount point on the host, else ""

    bool own_netns() const { return config.net_mode != NetMode::host; }
};

std::string serialize_plan(const BootPlan& plan);
BootPlan parse_plan(const std::string& text);

}  // namespace ds::container
