#include "core/config_options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/error.hpp"
#include "core/text.hpp"

namespace ds {
namespace {

using Kind = ConfigOptionKind;

#define DS_KEY(name, key)                             \
    ConfigOption {                                    \
        name, "", Kind::config_key, key, false, false \
    }
#define DS_SWITCH(name, key)                         \
    ConfigOption {                                   \
        name, "", Kind::config_key, key, true, false \
    }

const std::vector<ConfigOption> kOptions = {
    {"rootfs", "", Kind::rootfs, "", false, true},
    {"rootfs-img", "", Kind::rootfs_img, "", false, true},
    DS_KEY("hostname", "hostname"),
    DS_KEY("dns", "dns_servers"),
    DS_SWITCH("foreground", "foreground"),
    DS_SWITCH("hw-access", "enable_hw_access"),
    DS_SWITCH("gpu", "enable_gpu_mode"),
    DS_SWITCH("termux-x11", "enable_termux_x11"),
    DS_KEY("tx11-flags", "tx11_extra_flags"),
    DS_SWITCH("virgl", "enable_virgl"),
    DS_KEY("virgl-flags", "virgl_extra_flags"),
    DS_SWITCH("pulse-audio", "enable_pulseaudio"),
    DS_SWITCH("disable-ipv6", "disable_ipv6"),
    DS_SWITCH("enable-android-storage", "enable_android_storage"),
    DS_SWITCH("selinux-permissive", "selinux_permissive"),
    DS_SWITCH("allow-userns", "allow_userns"),
    DS_SWITCH("volatile", "volatile_mode"),
    {"bind", "bind-mount", Kind::bind, "", false, false},
    {"env", "", Kind::config_key, "env_file", false, true},
    DS_KEY("net", "net_mode"),
    {"port", "", Kind::port, "", false, false},
    {"upstream", "", Kind::upstream, "", false, false},
    DS_KEY("nat-ip", "static_nat_ip"),
    {"gateway", "gateway-container", Kind::config_key, "gateway_container", false, false},
    DS_KEY("gateway-net", "gateway_net"),
    DS_KEY("gateway-iface", "gateway_lan_ifname"),
    DS_KEY("gateway-bridge", "gateway_bridge"),
    DS_SWITCH("force-cgroupv1", "force_cgroupv1"),
    DS_SWITCH("block-nested-namespaces", "block_nested_ns"),
    DS_KEY("privileged", "privileged"),
    {"memory", "", Kind::memory, "", false, false},
    {"cpus", "", Kind::cpus, "", false, false},
    DS_KEY("pids-limit", "pids_limit"),
    DS_KEY("init", "custom_init"),
    DS_SWITCH("run-at-boot", "run_at_boot"),
    DS_KEY("run-at-boot-priority", "run_at_boot_priority"),
};

#undef DS_KEY
#undef DS_SWITCH

std::string join_list(const std::vector<std::string>& current, std::string_view more) {
    std::string joined;
    for (const auto& item : current)
        joined += item + ",";
    return joined + std::string(more);
}

// A list option given an empty value clears the list; otherwise it adds to what the config
// already has, and the key's own parser validates, normalises and drops duplicates.
void apply_list(Config& config, Kind kind, std::string_view value) {
    switch (kind) {
        case Kind::bind:
            if (value.empty())
                config.bind_mounts.clear();
            else
                add_binds(config.bind_mounts, value);
            return;
        case Kind::port:
            set_config_key(config, "port_forwards",
                           value.empty() ? "" : join_list(config.port_forwards, value));
            return;
        case Kind::upstream:
            set_config_key(config, "upstream_interfaces",
                           value.empty() ? "" : join_list(config.upstream_interfaces, value));
            return;
        default:
            return;
    }
}

void apply_unchecked(Config& config, const ConfigOption& option, std::string_view value) {
    switch (option.kind) {
        case Kind::rootfs:
        case Kind::rootfs_img:
            set_config_key(config, "rootfs_path", value);
            config.rootfs_is_image = option.kind == Kind::rootfs_img;
            return;
        case Kind::bind:
        case Kind::port:
        case Kind::upstream:
            apply_list(config, option.kind, value);
            return;
        // An empty value lifts the limit, as an empty bind/port list clears it (the API sends
        // null for "no limit").
        case Kind::memory:
            config.memory_limit = value.empty() ? 0 : parse_memory_size(value);
            return;
        case Kind::cpus: {
            if (value.empty()) {
                config.cpu_quota = config.cpu_period = 0;
                return;
            }
            double cpus = parse_cpus(value);
            config.cpu_period = 100000;
            config.cpu_quota = std::max<uint64_t>(1000, std::llround(cpus * 100000));
            return;
        }
        case Kind::config_key:
            set_config_key(config, option.config_key, value);
            return;
    }
}

}  // namespace

const std::vector<ConfigOption>& config_option_table() {
    return kOptions;
}

const ConfigOption* find_config_option(std::string_view name) {
    for (const auto& o : kOptions)
        if (o.name == name || (!o.alias.empty() && o.alias == name)) return &o;
    return nullptr;
}

double parse_cpus(std::string_view value) {
    double n = parse_plain_decimal(value).value_or(0);
    if (n < 0.01 || n > 4096)
        fail_invalid("invalid value " + quote_value(value) +
                     " for --cpus: expected a number of cores from 0.01 to 4096");
    return n;
}

void apply_config_option(Config& config, const ConfigOption& option, std::string_view value) {
    try {
        apply_unchecked(config, option, value);
    } catch (const Error& e) {
        std::string flag = "--" + std::string(option.name);
        std::string message = e.what();
        // Name the option the user typed, once.
        if (message.find(flag) == std::string::npos) message = flag + ": " + message;
        throw Error(e.kind(), message);
    }
}

void apply_config_edits(Config& config, const ConfigEdits& edits) {
    for (const auto& [key, value] : edits) {
        const ConfigOption* option = find_config_option(key);
        if (!option)
            fail_invalid("unknown config option " + quote_value(key) +
                         ": expected a long option name such as 'memory' or 'bind' (see "
                         "docs/cli.md, 'droidspaces config')");
        if (option->is_path && !value.empty() && value[0] != '/')
            fail_invalid("--" + std::string(option->name) + ": invalid path " + quote_value(value) +
                         ": must be an absolute path");
        // A switch takes a boolean here ("1", "true", "0", "off"...), as its config key does.
        if (option->is_switch) {
            bool on = parse_bool("--" + std::string(option->name), value);
            apply_config_option(config, *option, on ? "1" : "0");
            continue;
        }
        apply_config_option(config, *option, value);
    }
}

}  // namespace ds
