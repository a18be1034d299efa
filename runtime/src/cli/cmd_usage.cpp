// `droidspaces usage`: upstream's KEY=VALUE resource line set (UPTIME_SEC, UPTIME, RAM_USED_KB,
// RAM_TOTAL_KB, CPU_PERMILL), which upstream's app parses; `info --format` appends the same
// lines. --json: the same values as one object. CPU_PERMILL is sampled over a short window.
#include <algorithm>
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "core/format.hpp"

namespace ds::cli {

std::string render_usage(const container::ContainerInfo& info) {
    using format::key_value;
    const int64_t uptime = std::max<int64_t>(info.uptime_seconds, 0);
    std::string out = key_value("UPTIME_SEC", std::to_string(uptime));
    out += key_value("UPTIME", format::uptime(uptime));
    if (info.usage) {
        out += key_value("RAM_USED_KB", std::to_string(info.usage->ram_used_kb));
        out += key_value("RAM_TOTAL_KB", std::to_string(info.usage->ram_total_kb));
        out += key_value("CPU_PERMILL", std::to_string(info.usage->cpu_permill.value_or(0)));
    }
    return out;
}

int cmd_usage(Context& ctx) {
    std::string name = resolve_single_name(ctx);
    container::InspectOptions options;
    options.sample_cpu = true;
    auto info = ctx.rt().inspect(name, options);
    if (!info.running) fail_usage("container '" + info.name + "' is not running");
    if (ctx.inv.json) {
        nlohmann::json doc = {{"name", info.name},
                              {"uptime_sec", std::max<int64_t>(info.uptime_seconds, 0)},
                              {"uptime", format::uptime(info.uptime_seconds)}};
        if (info.usage) {
            doc["ram_used_kb"] = info.usage->ram_used_kb;
            doc["ram_total_kb"] = info.usage->ram_total_kb;
            doc["cpu_permill"] = info.usage->cpu_permill.value_or(0);
        }
        print_json(doc);
    } else {
        std::fputs(render_usage(info).c_str(), stdout);
    }
    return kExitOk;
}

}  // namespace ds::cli
