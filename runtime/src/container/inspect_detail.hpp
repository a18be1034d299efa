// Internal to the inspect operations (records.cpp, usage.cpp, list.cpp, info.cpp, scan.cpp):
// the identity checks and /proc and cgroup readers they share. Not part of the public API.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "container/inspect.hpp"
#include "container/state.hpp"
#include "core/workspace.hpp"

namespace ds::container::detail {

std::string proc_path(pid_t pid, std::string_view rest);
std::string trimmed(const std::string& text);
bool is_valid_name(const std::string& name);
// Entries of a directory, sorted; "" when it cannot be read.
std::vector<std::string> list_dir(const std::string& path, bool dirs_only);
std::vector<pid_t> all_pids();
std::optional<pid_t> parse_pid(std::string_view text);
long ticks_per_second();
int64_t uptime_of(const ContainerState& state);

// A droidspaces command (start, stop, restart) holds Pids/<name>.lock while it works on the
// container: its records are in flux, so readers leave them alone. Never creates the file.
bool lock_held(const Workspace& ws, const std::string& name);
// The names (as on disk: sanitised) that have a pidfile or a .state record.
std::vector<std::string> record_names(const Workspace& ws);
void remove_records(const Workspace& ws, const std::string& name);
// The container a vouched-for monitor process serves ("ds-monitor:<name>"), "" otherwise.
std::string monitor_name(pid_t pid);
std::optional<pid_t> monitor_of(pid_t init, const std::string& name);
bool monitor_in_workspace(pid_t pid, const Workspace& ws);
std::string cgroup_of(pid_t init, const std::string& name);
bool in_runtime_cgroup(pid_t init, const std::string& name);
bool vouched_init(pid_t init, const std::string& name);
ContainerState adopt(const Workspace& ws, pid_t init, const std::string& name);
// The running container recorded under `name`, validating the record; stale records are
// removed (their name appended to `pruned`). See the identity rules in inspect.hpp.
std::optional<ContainerState> check_record(const Workspace& ws, const std::string& name,
                                           std::vector<std::string>* pruned);

std::optional<uint64_t> read_value(const std::string& path);
std::optional<size_t> subtree_processes(const std::string& path, int depth = 0);
// The container's cgroup counters for `info` (container_usage's) plus its process count.
CgroupUsage cgroup_usage(const std::string& name, const std::string& path);
ProcessUsage process_usage(pid_t init, bool sample_cpu);

inline nlohmann::json optional_json(const std::optional<uint64_t>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
inline nlohmann::json pid_json(pid_t pid) {
    return pid > 0 ? nlohmann::json(pid) : nlohmann::json(nullptr);
}

}  // namespace ds::container::detail
