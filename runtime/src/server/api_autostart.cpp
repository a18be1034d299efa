// GET|PUT /api/v1/autostart: which containers the device starts at boot and in what order.
// Stored in each container.config exactly as upstream's app does (run_at_boot=1,
// run_at_boot_priority=N), so upstream's service.sh and this API agree: at boot, configs with
// run_at_boot=1 start by ascending priority (none: last, as upstream's 99999999), then name.
#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "server/api_parts.hpp"
#include "server/requests.hpp"

namespace ds::server {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxPriority = 9999;
constexpr int64_t kNoPriority = 99999999;  // upstream's service.sh for a missing priority

struct BootEntry {
    std::string name;
    bool run_at_boot = false;
    int64_t priority = -1;  // -1: none saved
};

std::vector<BootEntry> boot_entries(Call& call) {
    std::vector<BootEntry> entries;
    for (const auto& row : call.rt.list().containers) {
        if (!row.has_config || !row.config_error.empty()) continue;  // cannot boot anyway
        try {
            Config config = call.rt.read_config(row.name);
            entries.push_back({row.name, config.run_at_boot, config.run_at_boot_priority});
        } catch (const Error&) {
            continue;  // deleted or broken since the listing
        }
    }
    auto rank = [](const BootEntry& e) { return e.priority < 0 ? kNoPriority : e.priority; };
    std::sort(entries.begin(), entries.end(), [&](const BootEntry& a, const BootEntry& b) {
        if (a.run_at_boot != b.run_at_boot) return a.run_at_boot;
        if (a.run_at_boot && rank(a) != rank(b)) return rank(a) < rank(b);
        return a.name < b.name;
    });
    return entries;
}

json autostart_json(Call& call) {
    json rows = json::array();
    for (const auto& e : boot_entries(call))
        rows.push_back({{"name", e.name},
                        {"run_at_boot", e.run_at_boot},
                        {"priority", e.priority < 0 ? json(nullptr) : json(e.priority)}});
    return {{"containers", std::move(rows)}};
}

// One entry of the PUT body as config edits; validated before anything is written.
ConfigEdits entry_edits(Call& call, const json& entry, const std::string& field,
                        std::set<std::string>& seen, std::string& name) {
    if (!entry.is_object()) fail_invalid("field '" + field + "': expected an object");
    for (const auto& [key, value] : entry.items()) {
        (void)value;
        if (key != "name" && key != "run_at_boot" && key != "priority")
            fail_invalid("field '" + field + "." + key +
                         "': unknown field: expected name, run_at_boot, priority");
    }
    name = string_field(entry, "name");
    if (name.empty()) fail_invalid("field '" + field + ".name': required: a container name");
    if (!seen.insert(name).second)
        fail_invalid("field '" + field + ".name': '" + name + "' is listed twice");
    try {
        call.rt.read_config(name);
    } catch (const Error& e) {
        throw Error(e.kind(), "field '" + field + ".name': " + e.what());
    }
    ConfigEdits edits;
    try {
        if (entry.contains("run_at_boot"))
            edits.emplace_back("run-at-boot", bool_field(entry, "run_at_boot", false) ? "1" : "0");
        if (entry.contains("priority")) {
            bool clear = entry["priority"].is_null();
            uint64_t priority = integer_field(entry, "priority", 0, kMaxPriority, 0);
            edits.emplace_back("run-at-boot-priority", clear ? "" : std::to_string(priority));
        }
    } catch (const Error& e) {
        // "field 'priority': ..." from the helper, named with its place in the list.
        throw Error(e.kind(), "field '" + field + "." + std::string(e.what()).substr(7));
    }
    return edits;
}

}  // namespace

ApiResponse autostart_get(Call& call) {
    return {200, json_body(autostart_json(call))};
}

ApiResponse autostart_put(Call& call) {
    check_fields(call.body, {"containers"});
    const json& list = call.body.contains("containers") ? call.body["containers"] : json();
    if (!list.is_array())
        fail_invalid("field 'containers': expected an array of {name, run_at_boot, priority}");
    // Every entry is checked before the first config is written: a bad entry changes nothing.
    std::vector<std::pair<std::string, ConfigEdits>> changes;
    std::set<std::string> seen;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string name;
        auto edits =
            entry_edits(call, list[i], "containers[" + std::to_string(i) + "]", seen, name);
        if (!edits.empty()) changes.emplace_back(std::move(name), std::move(edits));
    }
    for (auto& [name, edits] : changes)
        call.rt.edit_config({name, false, std::move(edits)});
    return {200, json_body(autostart_json(call))};
}

}  // namespace ds::server
