// container.config: the upstream key=value format, loaded and saved without losing anything
// the user wrote (comments, unknown keys, order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/validate.hpp"

namespace ds {

enum class NetMode { host, nat, none, gateway };
std::string_view to_string(NetMode mode);
NetMode parse_net_mode(std::string_view value);

struct Config {
    std::string name;
    std::string hostname;
    std::string rootfs_path;       // directory, or image / block device when rootfs_is_image
    bool rootfs_is_image = false;  // decided by stat when loaded from a file (upstream rule)

    bool disable_ipv6 = false;
    bool enable_android_storage = false;
    bool enable_hw_access = false;
    bool enable_gpu_mode = false;
    bool enable_termux_x11 = false;
    std::string tx11_extra_flags;
    bool enable_virgl = false;
    std::string virgl_extra_flags;
    bool enable_pulseaudio = false;
    bool selinux_permissive = false;
    bool allow_userns = false;
    bool volatile_mode = false;
    bool force_cgroupv1 = false;
    bool block_nested_ns = false;
    uint64_t memory_limit = 0;
    uint64_t cpu_quota = 0;
    uint64_t cpu_period = 0;
    uint64_t pids_limit = 0;
    std::string privileged;  // canonical tag list, "" for none
    bool foreground = false;
    NetMode net_mode = NetMode::host;
    std::string gateway_container;
    std::string gateway_net;
    std::string gateway_bridge;
    std::string gateway_lan_ifname;
    std::vector<std::string> upstream_interfaces;
    std::vector<std::string> port_forwards;  // canonical "H:C/proto"
    std::string static_nat_ip;
    std::string env_file;
    std::string uuid;
    std::string custom_init;
    std::vector<std::string> dns_servers;
    std::vector<BindMount> bind_mounts;
    // Boot autostart, as upstream's Android app stores it (its service.sh starts every config
    // with run_at_boot=1 at boot, by ascending priority, then name). -1: no priority saved.
    bool run_at_boot = false;
    int64_t run_at_boot_priority = -1;

    // The lines of the file this config was loaded from, kept so that saving rewrites only the
    // values: comments, blank lines and unknown keys stay where the user put them.
    std::vector<std::string> source_lines;
};

// Sets one known key from its textual value. Throws a usage error naming the key, the value and
// the rule. Returns false if `key` is not a known key.
bool set_config_key(Config& config, std::string_view key, std::string_view value);
bool is_known_config_key(std::string_view key);

// Parses a container.config. `origin` (a path) prefixes error messages with "origin:LINE: ".
// Strict without `warnings`: the first bad line throws. With it, as upstream reads its files, a
// malformed line or a bad value is one warning there and that line is ignored (the key keeps
// the value it had: its default unless an earlier line set it).
Config parse_config(std::string_view text, std::string_view origin,
                    std::vector<std::string>* warnings = nullptr);
// The file text for `config`: its source lines with known values rewritten in place, new keys
// appended; or, for a config that has no source, a fresh file in upstream's key order.
std::string serialize_config(const Config& config);

// --reset: back to defaults, keeping identity (name, rootfs, uuid), block_nested_ns, the boot
// autostart settings (run_at_boot, run_at_boot_priority: whether and when the device starts it,
// not how it runs) and every line that is not a known key.
void reset_config(Config& config);

}  // namespace ds
