#include "cli/options.hpp"

#include "core/config_options.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "sys/platform.hpp"

namespace ds::cli {
namespace {

constexpr std::string_view kBoot = "start restart config";

#define CFG(s, l, a, m, key, help)                         \
    OptionSpec {                                           \
        s, l, a, m, OptionId::config_key, key, kBoot, help \
    }

const std::vector<OptionSpec> kOptions = {
    {'n', "name", "", "NAME[,NAME...]", OptionId::name, "",
     "start stop restart enter run info pid install config",
     "container name; stop accepts a comma list"},
    {'r', "rootfs", "", "DIR", OptionId::rootfs, "", kBoot, "rootfs directory"},
    {'i', "rootfs-img", "", "IMG", OptionId::rootfs_img, "", kBoot,
     "rootfs ext4/btrfs image or block device"},
    {'C', "conf", "config", "FILE", OptionId::conf, "", "*", "load and save this container.config"},
    {0, "reset", "", "", OptionId::reset, "", kBoot, "reset the saved config to defaults first"},
    CFG('h', "hostname", "", "NAME", "hostname", "hostname inside (default: the name)"),
    CFG('d', "dns", "", "LIST", "dns_servers",
        "DNS servers, comma separated (default 1.1.1.1,8.8.8.8)"),
    CFG('f', "foreground", "", "", "foreground", "attach to the console while it boots"),
    CFG('H', "hw-access", "", "", "enable_hw_access", "expose host devices (devtmpfs)"),
    CFG(0, "gpu", "", "", "enable_gpu_mode", "expose GPU render nodes only"),
    CFG('X', "termux-x11", "", "", "enable_termux_x11", "Termux:X11 display (Android)"),
    CFG(0, "tx11-flags", "", "FLAGS", "tx11_extra_flags", "extra Termux:X11 flags (Android)"),
    CFG(0, "virgl", "", "", "enable_virgl", "VirGL GPU acceleration (Android)"),
    CFG(0, "virgl-flags", "", "FLAGS", "virgl_extra_flags", "extra VirGL server flags (Android)"),
    CFG(0, "pulse-audio", "", "", "enable_pulseaudio", "PulseAudio sound (Android)"),
    CFG('I', "disable-ipv6", "", "", "disable_ipv6", "disable IPv6 inside"),
    CFG('S', "enable-android-storage", "", "", "enable_android_storage",
        "bind /storage/emulated/0 (Android)"),
    CFG('P', "selinux-permissive", "", "", "selinux_permissive",
        "set SELinux permissive (Android)"),
    CFG(0, "allow-userns", "", "", "allow_userns", "allow user namespaces inside"),
    CFG('V', "volatile", "", "", "volatile_mode", "discard all changes on stop (overlay)"),
    {'B', "bind", "bind-mount", "SRC:DEST[:ro]", OptionId::bind, "", kBoot,
     "bind a host path; repeatable (max 16)"},
    CFG('E', "env", "", "FILE", "env_file", "KEY=VALUE file added to the environment"),
    {'u', "user", "", "USER", OptionId::user, "", "run", "run the command as USER"},
    CFG(0, "net", "", "MODE", "net_mode", "host (default), nat, none or gateway"),
    {0, "port", "", "[H:]C[/PROTO]", OptionId::port, "", "start restart config serve daemon",
     "NAT port forward, repeatable; serve, daemon: the port (8420)"},
    {0, "upstream", "", "IFACE[,...]", OptionId::upstream, "", kBoot, "NAT uplink interfaces"},
    CFG(0, "nat-ip", "", "IP", "static_nat_ip", "fixed NAT address 172.28.X.Y"),
    CFG(0, "gateway", "gateway-container", "NAME", "gateway_container", "gateway container"),
    CFG(0, "gateway-net", "", "NAME", "gateway_net", "gateway segment name (default lan)"),
    CFG(0, "gateway-iface", "", "IFACE", "gateway_lan_ifname", "LAN interface in the gateway"),
    CFG(0, "gateway-bridge", "", "BRIDGE", "gateway_bridge", "bridge of the gateway segment"),
    CFG(0, "force-cgroupv1", "", "", "force_cgroupv1", "use the cgroup v1 layout"),
    CFG(0, "block-nested-namespaces", "", "", "block_nested_ns",
        "deny namespaces inside (old-kernel deadlock shield)"),
    CFG(0, "privileged", "", "TAGS", "privileged",
        "nomask,nocaps,noseccomp,shared,unfiltered-dev or full"),
    {0, "memory", "", "SIZE", OptionId::memory, "", kBoot, "memory limit, e.g. 512M (cgroup v2)"},
    {0, "cpus", "", "N", OptionId::cpus, "", kBoot, "CPU limit in cores, e.g. 1.5 (cgroup v2)"},
    CFG(0, "pids-limit", "", "N", "pids_limit", "maximum number of processes"),
    CFG(0, "init", "", "PATH", "custom_init", "init to run instead of /sbin/init"),
    CFG(0, "run-at-boot", "", "", "run_at_boot", "start it at device boot (Android module)"),
    CFG(0, "run-at-boot-priority", "", "N", "run_at_boot_priority",
        "boot start order, lowest first (0-2147483647)"),
    {0, "from", "", "PATH", OptionId::install_from, "", "install",
     "rootfs tarball (.tar, .gz, .xz, .zst, .bz2) or directory"},
    {0, "img", "", "SIZE", OptionId::install_image_size, "", "install",
     "install into a sparse image of SIZE (e.g. 4G)"},
    {0, "fs", "", "TYPE", OptionId::install_fs, "", "install", "image filesystem (ext4)"},
    {0, "timeout", "", "SECONDS", OptionId::timeout, "", "stop restart autoboot",
     "stop: deadline before SIGKILL (15); autoboot: per start (60)"},
    {0, "all", "", "", OptionId::all, "", "show",
     "every container, running or stopped, with usage"},
    {0, "purge", "", "", OptionId::purge, "", "config",
     "config delete: also the rootfs inside Containers/NAME/"},
    {0, "listen", "", "ADDR", OptionId::listen, "", "serve daemon",
     "listen on ADDR instead of 127.0.0.1 and ::1; repeatable"},
    {0, "webroot", "", "DIR", OptionId::webroot, "", "serve daemon",
     "the dashboard's files (default: webroot/ next to the binary)"},
    {0, "stop", "", "", OptionId::daemon_stop, "", "daemon", "stop the running server"},
    {0, "status", "", "", OptionId::daemon_status, "", "daemon",
     "show whether a server runs, its PID and its URL"},
    {0, "json", "", "", OptionId::json, "",
     "show info check version pid scan install config daemon", "machine-readable JSON output"},
    {0, "format", "", "", OptionId::format, "", "show info", "upstream KEY=VALUE output"},
    {'v', "help", "", "", OptionId::help, "", "*", "show help"},
};

const OptionSpec* find_short_option(char c) {
    for (const auto& o : kOptions)
        if (o.short_name == c) return &o;
    return nullptr;
}

bool is_path_option(const OptionSpec& o) {
    return o.id == OptionId::rootfs || o.id == OptionId::rootfs_img || o.id == OptionId::conf ||
           o.id == OptionId::install_from || o.id == OptionId::webroot ||
           o.config_key == "env_file";
}

// Upstream makes paths absolute while parsing: a later chdir must not change their meaning.
std::string absolutize_bind_sources(std::string_view specs) {
    std::string out;
    for (const auto& spec : split_list(specs, ",")) {
        auto colon = spec.find(':');
        std::string src = spec.substr(0, colon);
        std::string rest = colon == std::string::npos ? "" : spec.substr(colon);
        if (!src.empty()) src = sys::absolute_path(src);
        out += (out.empty() ? "" : ",") + src + rest;
    }
    return out;
}

void apply_option(Invocation& inv, const OptionSpec& opt, std::string value) {
    if (is_path_option(opt) && !value.empty()) value = sys::absolute_path(value);
    switch (opt.id) {
        case OptionId::name:
            for (auto& n : split_list(value, ",")) {
                check_container_name(n);
                inv.names.push_back(n);
            }
            if (inv.names.empty()) check_container_name("");
            return;
        case OptionId::conf:
            inv.conf_path = value;
            return;
        case OptionId::reset:
            inv.reset = true;
            return;
        case OptionId::json:
            inv.json = true;
            return;
        case OptionId::all:
            inv.all = true;
            return;
        case OptionId::purge:
            inv.purge = true;
            return;
        case OptionId::format:
            inv.format = true;
            return;
        case OptionId::help:
            inv.help = true;
            return;
        case OptionId::user:
            inv.user = value;
            return;
        case OptionId::timeout:
            inv.timeout_seconds =
                static_cast<unsigned>(parse_positive("--timeout", value, 1, 3600));
            return;
        case OptionId::install_from:
            inv.install_from = value;
            return;
        case OptionId::install_image_size:
            inv.install_image_size = value;
            return;
        case OptionId::install_fs:
            inv.install_fs = value;
            return;
        case OptionId::listen:
            inv.listen.push_back(value);
            return;
        case OptionId::webroot:
            inv.webroot = value;
            return;
        case OptionId::daemon_stop:
            inv.daemon_stop = true;
            return;
        case OptionId::daemon_status:
            inv.daemon_status = true;
            return;
        case OptionId::bind:
            value = absolutize_bind_sources(value);
            break;
        default:
            break;
    }
    inv.overrides.emplace_back(&opt, std::move(value));
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
    return kOptions;
}

const OptionSpec* find_long_option(std::string_view name) {
    for (const auto& o : kOptions)
        if (o.long_name == name || (!o.alias.empty() && o.alias == name)) return &o;
    return nullptr;
}

bool Invocation::has_override(std::string_view long_name) const {
    for (const auto& [opt, value] : overrides)
        if (opt->long_name == long_name) return true;
    return false;
}

Invocation parse_command_line(const std::vector<std::string>& argv) {
    Invocation inv;
    bool options_done = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        // After `run CMD`, everything belongs to the command, dashes included.
        if (inv.command == "run" && !inv.args.empty()) {
            inv.args.push_back(arg);
            continue;
        }
        if (options_done || arg.size() < 2 || arg[0] != '-') {
            if (inv.command.empty())
                inv.command = arg;
            else
                inv.args.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        auto take_value = [&](const OptionSpec& opt, const std::string& shown) {
            if (i + 1 >= argv.size())
                fail_usage("option '" + shown + "' requires a value (" + std::string(opt.metavar) +
                           ")");
            return argv[++i];
        };
        if (arg.rfind("--", 0) == 0) {
            auto eq = arg.find('=');
            std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
            const OptionSpec* opt = find_long_option(name);
            if (!opt)
                fail_usage("unknown option " + quote_value(arg.substr(0, eq)) +
                           ": see 'droidspaces help' for the list of options");
            std::string shown = "--" + name;
            if (opt->metavar.empty()) {
                if (eq != std::string::npos)
                    fail_usage("option '" + shown + "' does not take a value");
                apply_option(inv, *opt, "1");
            } else {
                apply_option(
                    inv, *opt,
                    eq != std::string::npos ? arg.substr(eq + 1) : take_value(*opt, shown));
            }
            continue;
        }
        // A cluster of short options: -fV, -nNAME, -n NAME.
        for (size_t j = 1; j < arg.size(); ++j) {
            const OptionSpec* opt = find_short_option(arg[j]);
            std::string shown = std::string("-") + arg[j];
            if (!opt)
                fail_usage("unknown option " + quote_value(shown) +
                           ": see 'droidspaces help' for the list of options");
            if (opt->metavar.empty()) {
                apply_option(inv, *opt, "1");
                continue;
            }
            apply_option(inv, *opt,
                         j + 1 < arg.size() ? arg.substr(j + 1) : take_value(*opt, shown));
            break;
        }
    }
    return inv;
}

void apply_overrides(const Invocation& inv, Config& config) {
    // The rules live in core/config_options: the request layer's edits share them.
    for (const auto& [opt, value] : inv.overrides)
        if (const ConfigOption* option = config_option_of(*opt))
            apply_config_option(config, *option, value);
}

const ConfigOption* config_option_of(const OptionSpec& opt) {
    switch (opt.id) {
        case OptionId::rootfs:
        case OptionId::rootfs_img:
        case OptionId::bind:
        case OptionId::port:
        case OptionId::upstream:
        case OptionId::memory:
        case OptionId::cpus:
        case OptionId::config_key:
            return find_config_option(opt.long_name);
        default:
            return nullptr;
    }
}

ConfigEdits overrides_as_edits(const Invocation& inv) {
    ConfigEdits edits;
    for (const auto& [opt, value] : inv.overrides)
        if (const ConfigOption* option = config_option_of(*opt))
            edits.emplace_back(std::string(option->name), value);
    return edits;
}

}  // namespace ds::cli
