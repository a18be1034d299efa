// `droidspaces show`: the running containers of the workspace, pruning stale records on the way.
// Human: NAME PID INIT UPTIME ROOTFS columns (box-drawn like upstream on a terminal);
// --format: upstream's KEY=VALUE; --json: an array of objects (docs/json.md).
// `show --all`: every container of the workspace, running or stopped, with its cgroup usage.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/error.hpp"
#include "core/format.hpp"

namespace ds::cli {
namespace {

format::TableStyle table_style() {
    return ::isatty(STDOUT_FILENO) ? format::TableStyle::box : format::TableStyle::plain;
}

void put(const std::string& out) {
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
}

std::string or_dash(const std::string& s) {
    return s.empty() ? "-" : s;
}

std::string memory_text(const container::ContainerEntry& e) {
    if (!e.usage || !e.usage->memory_bytes) return "-";
    std::string text = format::bytes(*e.usage->memory_bytes);
    if (e.usage->memory_limit_bytes) text += " / " + format::bytes(*e.usage->memory_limit_bytes);
    return text;
}

std::string pids_text(const container::ContainerEntry& e) {
    if (!e.usage || !e.usage->pids) return "-";
    std::string text = std::to_string(*e.usage->pids);
    if (e.usage->pids_limit) text += " / " + std::to_string(*e.usage->pids_limit);
    return text;
}

std::string cpu_text(const container::ContainerEntry& e) {
    if (!e.usage || !e.usage->cpu_usage_usec) return "-";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(*e.usage->cpu_usage_usec) / 1e6);
    return buf;
}

int show_all(Context& ctx) {
    auto table = ctx.rt().list();
    if (ctx.inv.json) {
        nlohmann::json rows = nlohmann::json::array();
        for (const auto& e : table.containers)
            rows.push_back(container::to_json(e));
        print_json(rows);
        return kExitOk;
    }
    if (table.containers.empty()) {
        put("\n(No containers)\n\n");
        return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : table.containers) {
        std::string state = e.running ? "running" : "stopped";
        if (!e.config_error.empty()) state += " (bad config)";
        rows.push_back({e.name, state, e.running ? std::to_string(e.state.init_pid) : "-",
                        e.running ? std::string(container::to_string(e.init)) : "-",
                        e.running ? format::uptime(e.uptime_seconds) : "-", memory_text(e),
                        cpu_text(e), pids_text(e), or_dash(e.net_mode), or_dash(e.rootfs)});
    }
    put(format::table(
        {"NAME", "STATE", "PID", "INIT", "UPTIME", "MEMORY", "CPU", "PIDS", "NET", "ROOTFS"}, rows,
        table_style()));
    return kExitOk;
}

}  // namespace

int cmd_show(Context& ctx) {
    if (ctx.inv.all) {
        if (ctx.inv.format) fail_usage("'show --all' has no --format output: use --json");
        return show_all(ctx);
    }
    auto list = ctx.rt().show();
    if (ctx.inv.json) {
        nlohmann::json rows = nlohmann::json::array();
        for (const auto& row : list.running)
            rows.push_back(container::to_json(row));
        print_json(rows);
        return kExitOk;
    }
    std::string out;
    if (list.running.empty()) {
        out = "\n(No containers running)\n\n";
    } else if (ctx.inv.format) {
        out += format::key_value("TOTAL_CONTAINERS", std::to_string(list.configured));
        out += format::key_value("RUN_CONTAINERS", std::to_string(list.running.size()));
        for (const auto& row : list.running)
            out += format::key_value("CONT_" + row.state.name, std::to_string(row.state.init_pid));
        out += "\n";
    } else {
        std::vector<std::vector<std::string>> rows;
        for (const auto& row : list.running)
            rows.push_back({row.state.name, std::to_string(row.state.init_pid),
                            std::string(container::to_string(row.state.family)),
                            format::uptime(row.uptime_seconds), row.state.rootfs});
        out = format::table({"NAME", "PID", "INIT", "UPTIME", "ROOTFS"}, rows, table_style());
    }
    put(out);
    return kExitOk;
}

}  // namespace ds::cli
