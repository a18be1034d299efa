// What a Config means, as one comparable string, for the config and CLI fuzz targets.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace ds::fuzz {

inline std::string list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += item;
        out += '|';
    }
    return out;
}

// Every field the file stores, as one string. Keys that only mean something in one network
// mode are not saved in the others (upstream's rule), so they count only in that mode.
inline std::string effective(const Config& c) {
    std::string out;
    // Appended piece by piece: gcc 12 warns (-Wrestrict, falsely) on long operator+ chains.
    auto add = [&](const char* key, const std::string& value) {
        out += key;
        out += '=';
        out += value;
        out += '\n';
    };
    add("name", c.name);
    add("hostname", c.hostname);
    add("rootfs", c.rootfs_path);
    std::string flags;
    for (bool b :
         {c.disable_ipv6, c.enable_android_storage, c.enable_hw_access, c.enable_gpu_mode,
          c.enable_termux_x11, c.enable_virgl, c.enable_pulseaudio, c.selinux_permissive,
          c.allow_userns, c.volatile_mode, c.force_cgroupv1, c.block_nested_ns, c.foreground})
        flags += b ? '1' : '0';
    add("switches", flags);
    add("tx11", c.tx11_extra_flags);
    add("virgl", c.virgl_extra_flags);
    add("memory", std::to_string(c.memory_limit));
    add("quota", std::to_string(c.cpu_quota));
    add("period", std::to_string(c.cpu_period));
    add("pids", std::to_string(c.pids_limit));
    add("privileged", c.privileged);
    add("net", std::string(to_string(c.net_mode)));
    if (c.net_mode == NetMode::gateway) {
        add("gateway_container", c.gateway_container);
        add("gateway_net", c.gateway_net);
        add("gateway_bridge", c.gateway_bridge);
        add("gateway_lan_ifname", c.gateway_lan_ifname);
    }
    if (c.net_mode == NetMode::nat) {
        add("upstream", list(c.upstream_interfaces));
        add("ports", list(c.port_forwards));
        add("nat_ip", c.static_nat_ip);
    }
    add("env", c.env_file);
    add("uuid", c.uuid);
    add("init", c.custom_init);
    add("dns", list(c.dns_servers));
    // Saving sorts binds by destination (parents first); the set is what matters.
    std::vector<std::string> binds;
    for (const auto& b : c.bind_mounts)
        binds.push_back(format_bind(b));
    std::sort(binds.begin(), binds.end());
    add("binds", list(binds));
    add("run_at_boot", c.run_at_boot ? "1" : "0");
    add("run_at_boot_priority", std::to_string(c.run_at_boot_priority));
    return out;
}

}  // namespace ds::fuzz
