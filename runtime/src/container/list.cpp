// `show` and the list operation: the containers of the workspace and their state.
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
#include <map>
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

// --- show ----------------------------------------------------------------------------------------

ContainerList list_containers(const Workspace& ws) {
    ContainerList list;
    list.configured = list_dir(ws.containers_dir(), true).size();
    auto uptime_text = sys::try_read_file("/proc/uptime");
    long hz = ticks_per_second();
    for (const auto& name : record_names(ws)) {
        auto state = check_record(ws, name, &list.pruned);
        if (!state) continue;
        ContainerSummary row;
        row.state = *state;
        row.uptime_seconds =
            uptime_text ? format::process_uptime(*uptime_text, state->init_start, hz) : -1;
        if (auto config = workspace_config(ws, state->name))
            row.net_mode = std::string(to_string(config->net_mode));
        list.running.push_back(std::move(row));
    }
    std::sort(list.running.begin(), list.running.end(),
              [](const auto& a, const auto& b) { return a.state.name < b.state.name; });
    return list;
}

nlohmann::json to_json(const ContainerSummary& s) {
    return {
        {"name", s.state.name},
        {"pid", s.state.init_pid},
        {"monitor_pid", pid_json(s.state.monitor_pid)},
        {"init", std::string(to_string(s.state.family))},
        {"uptime_seconds", s.uptime_seconds >= 0 ? nlohmann::json(s.uptime_seconds) : nullptr},
        {"rootfs", s.state.rootfs},
        {"boots", s.state.boots},
        {"net", s.net_mode.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.net_mode)},
    };
}

// --- list --------------------------------------------------------------------------------------

namespace {

ContainerEntry stopped_entry(const Workspace& ws, const std::string& dir) {
    ContainerEntry entry;
    entry.name = dir;
    std::string path = ws.config_path(dir);
    if (!sys::path_exists(path)) return entry;
    try {
        Config config = load_config_file(path, &entry.config_warnings);
        entry.has_config = true;
        if (!config.name.empty()) entry.name = config.name;
        entry.net_mode = std::string(to_string(config.net_mode));
        entry.rootfs = config.rootfs_path;
    } catch (const std::exception& e) {
        entry.config_error = e.what();
    }
    return entry;
}

void fill_running(ContainerEntry& entry, const ContainerState& state, const std::string& uptime,
                  long hz, const sys::CgroupHost& host) {
    entry.running = true;
    entry.state = state;
    entry.name = state.name;
    entry.init = state.family;
    entry.rootfs = state.rootfs;
    entry.uptime_seconds =
        uptime.empty() ? -1 : format::process_uptime(uptime, state.init_start, hz);
    entry.usage = container_usage(state.name, state.cgroup_path, &host);
}

}  // namespace

ContainerTable list_all_containers(const Workspace& ws) {
    ContainerTable table;
    // Keyed by the on-disk (sanitised) name: one directory, one record, one entry.
    std::map<std::string, ContainerEntry> entries;
    for (const auto& dir : list_dir(ws.containers_dir(), true)) {
        if (dir.empty() || dir[0] == '.' || !is_valid_name(dir)) continue;
        ContainerEntry entry = stopped_entry(ws, dir);
        if (!entry.has_config && entry.config_error.empty()) continue;  // not a container
        entries.emplace(sanitize_name(dir), std::move(entry));
    }
    std::string uptime = sys::try_read_file("/proc/uptime").value_or("");
    long hz = ticks_per_second();
    auto host = sys::host_cgroups();  // once for the whole list
    for (const auto& name : record_names(ws)) {
        auto state = check_record(ws, name, &table.pruned);
        if (!state) continue;
        auto [it, fresh] = entries.try_emplace(sanitize_name(state->name));
        if (fresh) it->second = stopped_entry(ws, sanitize_name(state->name));
        fill_running(it->second, *state, uptime, hz, host);
    }
    for (auto& [key, entry] : entries)
        table.containers.push_back(std::move(entry));
    std::sort(table.containers.begin(), table.containers.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    return table;
}

nlohmann::json to_json(const ContainerEntry& e) {
    auto text_or_null = [](const std::string& s) {
        return s.empty() ? nlohmann::json(nullptr) : nlohmann::json(s);
    };
    nlohmann::json j = {
        {"name", e.name},
        {"state", e.running ? "RUNNING" : "STOPPED"},  // as `info` spells it
        {"init", e.running ? nlohmann::json(std::string(to_string(e.init))) : nullptr},
        {"uptime_seconds",
         e.running && e.uptime_seconds >= 0 ? nlohmann::json(e.uptime_seconds) : nullptr},
        {"net", text_or_null(e.net_mode)},
        {"rootfs", text_or_null(e.rootfs)},
        {"pid", e.running ? nlohmann::json(e.state.init_pid) : nullptr},
        {"monitor_pid", e.running ? pid_json(e.state.monitor_pid) : nullptr},
        {"boots", e.running ? nlohmann::json(e.state.boots) : nullptr},
        {"config_error", text_or_null(e.config_error)},
        {"config_warnings", e.config_warnings},
    };
    if (e.usage) {
        j["usage"] = {
            {"memory_bytes", optional_json(e.usage->memory_bytes)},
            {"memory_limit_bytes", optional_json(e.usage->memory_limit_bytes)},
            {"cpu_usage_usec", optional_json(e.usage->cpu_usage_usec)},
            {"pids", optional_json(e.usage->pids)},
            {"pids_limit", optional_json(e.usage->pids_limit)},
        };
    } else {
        j["usage"] = nullptr;
    }
    return j;
}

}  // namespace ds::container
