// Internal to the API (server/api*.cpp): what a route handler gets, and the handlers that live
// in their own files.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "container/runtime.hpp"
#include "server/api.hpp"

namespace ds::server {

// The operation's side messages: warnings go into the action's response ("warnings": [...]);
// install events to whoever listens.
class WarningCollector : public container::Output {
  public:
    void warning(const std::string& message) override { warnings.push_back(message); }
    void install_event(const container::InstallEvent& event) override {
        if (on_install_event) on_install_event(event);
    }
    std::vector<std::string> warnings;
    std::function<void(const container::InstallEvent&)> on_install_event;
};

// One request being handled.
struct Call {
    const Workspace& ws;
    const std::optional<ServerFacts>& server;
    const ApiRequest& request;
    std::map<std::string, std::string> params;  // the route's {name} segments
    nlohmann::json body;                        // the parsed body ({} for none or GET)
    WarningCollector& out;
    container::Runtime& rt;  // LockMode::try_once

    // A path parameter ("" when the route has none of that name).
    const std::string& param(const std::string& key) const;
};

// api_run.cpp: POST /api/v1/containers/{name}/run.
ApiResponse run_command(Call& call);
// api_console.cpp: GET /api/v1/containers/{name}/console?lines=N.
ApiResponse console_tail(Call& call);
// api_autostart.cpp: GET|PUT /api/v1/autostart.
ApiResponse autostart_get(Call& call);
ApiResponse autostart_put(Call& call);

}  // namespace ds::server
