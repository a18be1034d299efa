// `info`: one container in depth (running, or stopped with a config in the workspace).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "container/config_source.hpp"
#include "container/image.hpp"
#include "container/inspect_detail.hpp"
#include "container/lifecycle.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "sys/cgroup.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/platform.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"

namespace ds::container {

using namespace std::chrono_literals;
using namespace detail;

namespace {

// os-release is a few hundred bytes; anything much larger is not one.
constexpr size_t kOsReleaseLimit = 64 * 1024;

std::optional<uint64_t> inode_of(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<uint64_t>(st.st_ino);
}

std::vector<NamespaceInfo> namespaces_of(pid_t pid) {
    std::vector<NamespaceInfo> out;
    for (const char* type : {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}) {
        auto mine = inode_of(proc_path(pid, std::string("ns/") + type));
        if (!mine) continue;
        // The host's: PID 1's, or ours when PID 1's is hidden (a sandboxed /proc).
        auto host = inode_of(std::string("/proc/1/ns/") + type);
        if (!host) host = inode_of(std::string("/proc/self/ns/") + type);
        out.push_back({type, *mine, host && *host != *mine});
    }
    return out;
}

// Guest files: resolved inside the guest's root, regular files only, size-capped (a FIFO,
// a /dev/zero link or a huge file yields nothing instead of a hang or an exhausted host).
std::string os_of(pid_t pid) {
    sys::unique_fd root(::open(proc_path(pid, "root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return "";
    for (const char* file : {"/etc/os-release", "/usr/lib/os-release"})
        if (auto text = sys::read_guest_file(root.get(), file, kOsReleaseLimit))
            return format::os_pretty_name(*text);
    return "";
}

// KEY=VALUE lines (optional "export ", '#' comments) with a valid variable name.
size_t count_env_vars(const std::string& text) {
    size_t n = 0, pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string line = trimmed(text.substr(pos, end - pos));
        pos = end + 1;
        if (line.rfind("export ", 0) == 0) line = trimmed(line.substr(7));
        auto eq = line.find('=');
        if (line.empty() || line[0] == '#' || eq == std::string::npos || eq == 0) continue;
        bool ok = !(line[0] >= '0' && line[0] <= '9');
        for (size_t i = 0; i < eq && ok; ++i)
            ok = std::isalnum(static_cast<unsigned char>(line[i])) || line[i] == '_';
        if (ok) ++n;
    }
    return n;
}

std::string selinux_mode() {
    auto text = sys::try_read_file("/sys/fs/selinux/enforce");
    if (!text) return "";
    return trimmed(*text) == "0" ? "Permissive" : "Enforcing";
}

}  // namespace

// --- info ----------------------------------------------------------------------------------------

ContainerInfo inspect_container(const Workspace& ws, const std::string& name,
                                InspectOptions options) {
    ContainerInfo info;
    info.name = name;
    info.host_platform = sys::is_android() ? "Android" : "Linux";
    struct utsname uts;
    info.host_arch = ::uname(&uts) == 0 ? format::arch_name(uts.machine) : "unknown";
    info.selinux = selinux_mode();

    auto state = check_record(ws, name, nullptr);
    if (state) {
        info.running = true;
        info.name = state->name;
        info.state = *state;
        pid_t pid = state->init_pid;
        info.os = os_of(pid);
        info.uptime_seconds = uptime_of(*state);
        if (auto mountinfo = sys::try_read_file(proc_path(pid, "mountinfo")))
            info.mounts = format::count_lines(*mountinfo);
        info.namespaces = namespaces_of(pid);
        info.cgroup = cgroup_usage(state->name, state->cgroup_path);
        info.usage = process_usage(pid, options.sample_cpu);
        // Still the same process after all those reads? Otherwise it stopped meanwhile.
        if (!init_is_running(*state))
            fail_not_found("container '" + name + "' stopped while inspected");
    }
    if (auto config = workspace_config(ws, info.name)) {
        info.config = *config;
        info.has_config = true;
        info.config_source = "workspace";
    }
    if (!info.running && !info.has_config)
        fail_not_found("container '" + name + "' is not running and has no config in " +
                       ws.containers_dir());
    info.hostname = info.config.hostname.empty() ? info.name : info.config.hostname;
    if (!info.config.env_file.empty())
        if (auto text = sys::try_read_file(info.config.env_file))
            info.env_vars = count_env_vars(*text);
    return info;
}

nlohmann::json features_json(const Config& c) {
    nlohmann::json binds = nlohmann::json::array();
    for (const auto& b : c.bind_mounts)
        binds.push_back(format_bind(b));
    std::string hw = c.enable_hw_access ? "full" : c.enable_gpu_mode ? "gpu" : "none";
    nlohmann::json j = {
        {"net", std::string(to_string(c.net_mode))},
        {"dns_servers", c.dns_servers},
        {"disable_ipv6", c.disable_ipv6},
        {"volatile", c.volatile_mode},
        {"bind_mounts", binds},
        {"privileged",
         c.privileged.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.privileged)},
        {"custom_init",
         c.custom_init.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.custom_init)},
        {"hw_access", hw},
        {"android_storage", c.enable_android_storage},
        {"termux_x11", c.enable_termux_x11},
        {"virgl", c.enable_virgl},
        {"pulseaudio", c.enable_pulseaudio},
        {"selinux_permissive", c.selinux_permissive},
        {"force_cgroupv1", c.force_cgroupv1},
        {"block_nested_namespaces", c.block_nested_ns},
        {"allow_userns", c.allow_userns},
        {"foreground", c.foreground},
        {"env_file", c.env_file.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.env_file)},
        {"memory_limit", c.memory_limit ? nlohmann::json(c.memory_limit) : nullptr},
        {"cpus", c.cpu_quota && c.cpu_period
                     ? nlohmann::json(static_cast<double>(c.cpu_quota) / c.cpu_period)
                     : nullptr},
        {"pids_limit", c.pids_limit ? nlohmann::json(c.pids_limit) : nullptr},
        {"run_at_boot", c.run_at_boot},
        {"run_at_boot_priority",
         c.run_at_boot_priority >= 0 ? nlohmann::json(c.run_at_boot_priority) : nullptr},
    };
    if (c.net_mode == NetMode::nat) {
        j["nat_ip"] =
            c.static_nat_ip.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.static_nat_ip);
        j["upstream_interfaces"] = c.upstream_interfaces;
        j["port_forwards"] = c.port_forwards;
    }
    if (c.net_mode == NetMode::gateway) {
        j["gateway"] = {{"container", c.gateway_container},
                        {"net", c.gateway_net},
                        {"bridge", c.gateway_bridge},
                        {"iface", c.gateway_lan_ifname}};
    }
    return j;
}

nlohmann::json config_json(const Config& c, const std::string& path) {
    auto text_or_null = [](const std::string& s) {
        return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
    };
    return {
        {"name", c.name},
        {"path", path},
        {"rootfs", text_or_null(c.rootfs_path)},
        {"rootfs_is_image", c.rootfs_is_image},
        {"hostname", text_or_null(c.hostname)},
        {"uuid", text_or_null(c.uuid)},
        {"features", features_json(c)},
    };
}

nlohmann::json to_json(const ContainerInfo& info) {
    nlohmann::json j = {
        {"name", info.name},
        {"state", info.running ? "RUNNING" : "STOPPED"},
        {"host", {{"platform", info.host_platform}, {"arch", info.host_arch}}},
        {"hostname", info.hostname},
        {"selinux", info.selinux.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.selinux)},
        {"config_source",
         info.config_source.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.config_source)},
        {"features", info.has_config ? features_json(info.config) : nlohmann::json(nullptr)},
        {"env_vars", info.env_vars},
    };
    if (!info.running) {
        j["rootfs"] = info.config.rootfs_path;
        return j;
    }
    const auto& s = info.state;
    j["pid"] = s.init_pid;
    j["monitor_pid"] = pid_json(s.monitor_pid);
    j["init"] = std::string(to_string(s.family));
    j["os"] = info.os.empty() ? nlohmann::json(nullptr) : nlohmann::json(info.os);
    j["uptime_seconds"] = info.uptime_seconds >= 0 ? nlohmann::json(info.uptime_seconds) : nullptr;
    j["uptime"] = format::uptime(info.uptime_seconds);
    j["started_at"] = s.started_at;
    j["boots"] = s.boots;
    j["rootfs"] = s.rootfs;
    j["uuid"] = s.uuid;
    j["mounts"] = info.mounts ? nlohmann::json(*info.mounts) : nullptr;
    nlohmann::json ns = nlohmann::json::object(), priv = nlohmann::json::array(),
                   shared = nlohmann::json::array();
    for (const auto& n : info.namespaces) {
        ns[n.type] = {{"inode", n.inode}, {"private", n.is_private}};
        (n.is_private ? priv : shared).push_back(n.type);
    }
    j["namespaces"] = ns;
    j["private_namespaces"] = priv;
    j["shared_namespaces"] = shared;
    const auto& cg = info.cgroup;
    j["cgroup"] = {
        {"path", cg.path.empty() ? nlohmann::json(nullptr) : nlohmann::json(cg.path)},
        {"memory_current", optional_json(cg.memory_current)},
        {"memory_max", optional_json(cg.memory_max)},
        {"pids_current", optional_json(cg.pids_current)},
        {"pids_max", optional_json(cg.pids_max)},
        {"cpu_usage_usec", optional_json(cg.cpu_usage_usec)},
        {"processes", cg.processes ? nlohmann::json(*cg.processes) : nullptr},
    };
    if (info.usage) {
        j["usage"] = {
            {"processes", info.usage->processes},
            {"ram_used_kb", info.usage->ram_used_kb},
            {"ram_total_kb", info.usage->ram_total_kb},
            {"cpu_permill",
             info.usage->cpu_permill ? nlohmann::json(*info.usage->cpu_permill) : nullptr},
        };
    }
    return j;
}

}  // namespace ds::container
