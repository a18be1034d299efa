// `droidspaces show`: the running containers of the workspace, pruning stale records on the way.
// Human: NAME PID INIT UPTIME ROOTFS columns (box-drawn like upstream on a terminal);
// --format: upstream's KEY=VALUE; --json: an array of objects.
#include <unistd.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/error.hpp"
#include "core/format.hpp"

namespace ds::cli {

int cmd_show(Context& ctx) {
    auto list = container::list_containers(ctx.workspace);
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
        auto style = ::isatty(STDOUT_FILENO) ? format::TableStyle::box : format::TableStyle::plain;
        out = format::table({"NAME", "PID", "INIT", "UPTIME", "ROOTFS"}, rows, style);
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    return kExitOk;
}

}  // namespace ds::cli
