// `droidspaces info`: one container in depth (upstream §3.5 layout, plus what this runtime
// knows: monitor, init family, boots, cgroup, mounts, private namespaces).
//
// A container that is not running but has a config in the workspace is still described, from
// that config, as "(STOPPED)"; the exit status is then 1, like `pid` printing NONE, so scripts
// can keep using `info` as "is it running". A name with neither fails with exit 1.
// --json: one object (container::to_json); --format: upstream's KEY=VALUE keys, then usage.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/error.hpp"
#include "core/format.hpp"

namespace ds::cli {
namespace {

using format::key_value;

struct Style {
    const char* green = "";
    const char* yellow = "";
    const char* red = "";
    const char* reset = "";
};

Style style_for_stdout() {
    if (!::isatty(STDOUT_FILENO)) return {};
    return {"\033[32m", "\033[33m", "\033[31m", "\033[0m"};
}

// Upstream's spelling of the network mode.
std::string net_label(NetMode mode) {
    return mode == NetMode::nat ? "NAT" : std::string(to_string(mode));
}

std::string flag(bool value) {
    return value ? "1" : "0";
}

std::string cpus_text(const Config& c) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(c.cpu_quota) / c.cpu_period);
    return buf;
}

std::string render_format(const container::ContainerInfo& info) {
    const Config& c = info.config;
    std::string out;
    out += key_value("HOST_PLATFORM", info.host_platform);
    out += key_value("HOST_ARCH", info.host_arch);
    out += key_value("CONTAINER_NAME", info.name);
    if (info.running) {
        out += key_value("CONTAINER_PID", std::to_string(info.state.init_pid));
        if (!info.os.empty()) out += key_value("CONTAINER_OS", info.os);
    } else {
        out += key_value("CONTAINER_STATE", "STOPPED");
    }
    out += key_value("CONTAINER_HOSTNAME", info.hostname);
    if (info.running && info.uptime_seconds >= 0) {
        out += key_value("CONTAINER_UPTIME", format::uptime(info.uptime_seconds));
        out += key_value("CONTAINER_UPTIME_SEC", std::to_string(info.uptime_seconds));
    }
    if (info.has_config) {
        out += key_value("NETWORKING_MODE", net_label(c.net_mode));
        if (c.net_mode == NetMode::nat) {
            if (!c.static_nat_ip.empty()) out += key_value("NAT_IP", c.static_nat_ip);
            if (!c.upstream_interfaces.empty())
                out += key_value("UPSTREAM_INTERFACES", format::join(c.upstream_interfaces, ","));
        } else if (c.net_mode == NetMode::gateway) {
            out += key_value("GATEWAY_CONTAINER", c.gateway_container);
            out += key_value("GATEWAY_NET", c.gateway_net.empty() ? "lan" : c.gateway_net);
            if (!c.gateway_bridge.empty()) out += key_value("GATEWAY_BRIDGE", c.gateway_bridge);
            out += key_value("GATEWAY_IFACE",
                             c.gateway_lan_ifname.empty() ? "eth1" : c.gateway_lan_ifname);
        }
        out += key_value("DISABLE_IPV6", flag(c.disable_ipv6));
        bool android = info.host_platform == "Android";
        if (android) out += key_value("ANDROID_STORAGE", flag(c.enable_android_storage));
        out += key_value("HW_ACCESS", c.enable_hw_access  ? "full"
                                      : c.enable_gpu_mode ? "GPU"
                                                          : "none");
        if (android) {
            out += key_value("TERMUX_X11", flag(c.enable_termux_x11));
            if (!c.tx11_extra_flags.empty()) out += key_value("TX11_FLAGS", c.tx11_extra_flags);
            out += key_value("VIRGL", flag(c.enable_virgl));
            if (!c.virgl_extra_flags.empty()) out += key_value("VIRGL_FLAGS", c.virgl_extra_flags);
            out += key_value("PULSEAUDIO", flag(c.enable_pulseaudio));
        }
        if (!info.selinux.empty()) out += key_value("SELINUX", info.selinux);
        out += key_value("VOLATILE_MODE", flag(c.volatile_mode));
        out += key_value("FORCE_CGROUP_V1", flag(c.force_cgroupv1));
        out += key_value("DEADLOCK_SHIELD", flag(c.block_nested_ns));
        out += key_value("USERNS_ALLOWED", flag(c.allow_userns));
        out += key_value("FOREGROUND_MODE", flag(c.foreground));
        out += key_value("DNS_SERVERS", format::join(c.dns_servers, ","));
        out += key_value("PORT_FORWARDS", format::join(c.port_forwards, ","));
        if (!c.privileged.empty()) out += key_value("PRIVILEGED_MODE", c.privileged);
        out += key_value("BIND_MOUNT_COUNT", std::to_string(c.bind_mounts.size()));
        out += key_value("ENV_VAR_COUNT", std::to_string(info.env_vars));
    }
    if (info.running) out += render_usage(info);  // upstream appends its `usage` output
    return out;
}

std::string render_human(const container::ContainerInfo& info) {
    Style s = style_for_stdout();
    const Config& c = info.config;
    std::string out;
    auto heading = [&](const char* color, const std::string& text) {
        out += std::string(color) + text + s.reset;
    };
    auto line = [&](const std::string& label, const std::string& value) {
        out += "  " + label + ": " + value + "\n";
    };
    heading(s.green, "Host:");
    out += " " + info.host_platform + " " + info.host_arch + "\n\n";
    heading(info.running ? s.green : s.yellow, "Container:");
    out += " " + info.name + (info.running ? " (RUNNING)" : " (STOPPED)") + "\n";
    if (info.running) {
        const auto& st = info.state;
        line("PID", std::to_string(st.init_pid));
        line("Monitor PID", st.monitor_pid > 0 ? std::to_string(st.monitor_pid) : "unknown");
        line("Init", std::string(container::to_string(st.family)));
        if (!info.os.empty()) line("OS", info.os);
    }
    line("Hostname", info.hostname);
    if (info.running) {
        const auto& st = info.state;
        line("Uptime", format::uptime(info.uptime_seconds));
        line("Boots",
             std::to_string(st.boots) +
                 (st.boots > 1 ? " (" + std::to_string(st.boots - 1) + " in-container reboots)"
                               : ""));
        line("Rootfs", st.rootfs.empty() ? "unknown" : st.rootfs);
        line("Cgroup", st.cgroup_path.empty() ? "none" : st.cgroup_path);
        if (info.mounts) line("Mounts", std::to_string(*info.mounts));
        std::vector<std::string> priv, shared;
        for (const auto& ns : info.namespaces)
            (ns.is_private ? priv : shared).push_back(ns.type);
        line("Namespaces",
             "private: " + (priv.empty() ? "none" : format::join(priv, " ")) +
                 "; shared with host: " + (shared.empty() ? "none" : format::join(shared, " ")));
    } else if (info.has_config) {
        line("Rootfs", c.rootfs_path.empty() ? "unknown" : c.rootfs_path);
    }

    if (info.has_config) {
        out += "\n";
        heading(s.green, "Features:");
        out += "\n";
        size_t before = out.size();
        auto red = [&](const std::string& label, const std::string& value) {
            out += "  " + std::string(s.red) + label + ":" + s.reset + " " + value + "\n";
        };
        line("Networking", net_label(c.net_mode));
        if (c.net_mode == NetMode::gateway)
            line("Gateway", c.gateway_container + " (" +
                                (c.gateway_net.empty() ? "lan" : c.gateway_net) + ")");
        if (c.net_mode == NetMode::nat) {
            if (!c.static_nat_ip.empty()) line("NAT IP", c.static_nat_ip);
            if (!c.upstream_interfaces.empty())
                line("Upstream (pinned)", format::join(c.upstream_interfaces, ", "));
            if (!c.port_forwards.empty())
                line("Port forwards", format::join(c.port_forwards, ", "));
        }
        if (!c.dns_servers.empty()) line("DNS Servers", format::join(c.dns_servers, ", "));
        if (c.disable_ipv6) line("Disable IPv6", "yes");
        bool android = info.host_platform == "Android";
        if (android && c.enable_android_storage) line("Android storage", "enabled");
        if (c.enable_hw_access)
            red("HW access", "full");
        else if (c.enable_gpu_mode)
            line("HW access", "GPU");
        if (android && c.enable_termux_x11) line("Termux-X11", "enabled");
        if (android && c.enable_virgl) line("VirGL", "enabled");
        if (android && c.enable_pulseaudio) line("PulseAudio", "enabled");
        if (info.selinux == "Permissive")
            red("SELinux", "Permissive");
        else if (!info.selinux.empty())
            line("SELinux", info.selinux);
        if (c.volatile_mode) line("Volatile mode", "enabled");
        if (c.force_cgroupv1) red("Force Cgroup V1", "yes");
        if (c.block_nested_ns) red("Deadlock Shield", "enabled");
        if (c.allow_userns) red("User namespaces", "enabled");
        if (!c.privileged.empty()) red("Privileged mode", c.privileged);
        if (!c.bind_mounts.empty())
            line("Bind mounts", std::to_string(c.bind_mounts.size()) + " active");
        if (!c.custom_init.empty()) red("Custom Init", c.custom_init);
        if (!c.env_file.empty()) line("Env variables", std::to_string(info.env_vars) + " loaded");
        if (out.size() == before) out += "  None\n";
    }

    if (info.running) {
        std::vector<std::pair<std::string, std::string>> rows;
        const auto& cg = info.cgroup;
        if (cg.memory_current) {
            std::string limit = c.memory_limit  ? format::bytes(c.memory_limit)
                                : cg.memory_max ? format::bytes(*cg.memory_max)
                                                : "no limit";
            rows.push_back({"Memory", format::bytes(*cg.memory_current) + " / " + limit});
        } else if (info.usage) {
            rows.push_back({"Memory", format::bytes(info.usage->ram_used_kb * 1024) + " RSS / " +
                                          format::bytes(info.usage->ram_total_kb * 1024) +
                                          " host"});
        }
        if (info.has_config && c.cpu_quota && c.cpu_period)
            rows.push_back({"CPU", cpus_text(c) + " cores"});
        if (cg.pids_current) {
            std::string limit = cg.pids_max ? "limit " + std::to_string(*cg.pids_max) : "no limit";
            rows.push_back(
                {"PIDs", limit + " (current: " + std::to_string(*cg.pids_current) + ")"});
        }
        if (cg.processes)
            rows.push_back({"Processes", std::to_string(*cg.processes) + " in the cgroup"});
        else if (info.usage)
            rows.push_back({"Processes", std::to_string(info.usage->processes)});
        if (!rows.empty()) {
            out += "\n";
            heading(s.green, "Resources:");
            out += "\n";
            size_t width = 0;
            for (const auto& r : rows)
                width = std::max(width, r.first.size());
            for (const auto& r : rows)
                out += "  " + r.first + std::string(width - r.first.size(), ' ') + " : " +
                       r.second + "\n";
        }
    }
    return out;
}

}  // namespace

int cmd_info(Context& ctx) {
    std::string name = resolve_single_name(ctx);
    container::InspectOptions options;
    options.sample_cpu = ctx.inv.format;  // upstream's CPU_PERMILL; the other outputs stay fast
    auto info = ctx.rt().inspect(name, options);
    if (ctx.inv.json) {
        print_json(container::to_json(info));
    } else {
        std::string out = ctx.inv.format ? render_format(info) : render_human(info);
        std::fputs(out.c_str(), stdout);
        std::fflush(stdout);
    }
    if (!info.running) {
        print_error("container '" + info.name + "' is not running");
        return kExitUsage;
    }
    return kExitOk;
}

}  // namespace ds::cli
