// `droidspaces serve` and `daemon`: the HTTP server of one workspace (docs/server.md). It binds
// 127.0.0.1 and ::1 (other addresses only when asked), makes a fresh token per start, applies
// the guards (server/guards.hpp) to every request, and answers /api/v1 through the same router
// as `droidspaces api` (server/api.hpp) plus the live streams (server/streams.hpp); everything
// else is the dashboard's static files.
//
// Files in the workspace, all root-only: droidspacesd.pid (held locked while a server runs: a
// second one refuses), droidspacesd.token (the token, 0600), droidspacesd.json (pid, port,
// addresses; no token), Logs/droidspacesd.log (daemon only). Token and json go when it stops.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/workspace.hpp"

namespace ds::server {

// The port the docs name (docs/server.md); `--port` changes it, 0 picks a free one.
constexpr uint16_t kDefaultPort = 8420;

struct ServeOptions {
    uint16_t port = kDefaultPort;
    std::vector<std::string> listen;  // numeric addresses; empty = 127.0.0.1 and ::1
    std::string webroot;              // "" = the dashboard next to the binary (find_webroot)
};

struct ServerPaths {
    explicit ServerPaths(const Workspace& ws);
    std::string pidfile, token, state, log;
};

// Runs the server until SIGTERM or SIGINT. `ready` gets the dashboard URL (token in the
// fragment) once it listens. Throws busy when a server already runs for this workspace, system
// when an address cannot be bound; returns the exit status.
int run_server(const Workspace& ws, const ServeOptions& options,
               const std::function<void(const std::string& url)>& ready);

// A server of this workspace, when one runs (its pidfile is locked).
struct ServerStatus {
    pid_t pid = 0;
    uint16_t port = 0;
    std::vector<std::string> listen;
    long started_at = 0;
};
std::optional<ServerStatus> running_server(const Workspace& ws);

// http://127.0.0.1:PORT/#token=TOKEN ([::1] when only IPv6 is listened on).
std::string dashboard_url(const std::vector<std::string>& listen, uint16_t port,
                          const std::string& token);

// Non-loopback addresses in `listen` (each deserves a warning).
std::vector<std::string> exposed_addresses(const std::vector<std::string>& listen);

}  // namespace ds::server
