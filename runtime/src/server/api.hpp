// The JSON API (/api/v1, docs/api.md): one router over the request layer (container::Runtime),
// shared by both transports. The HTTP server hands it every request that answers with one JSON
// document; `droidspaces api METHOD PATH [BODY]` calls it in-process (the KernelSU WebUI's
// ksu.exec transport), so both print the same bytes. Live streams (console follow, install
// progress, terminals) are the HTTP server's alone (server/streams.hpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/workspace.hpp"

namespace ds::server {

struct ApiRequest {
    std::string method;                        // "GET", "POST", "PUT", "DELETE"
    std::string path;                          // "/api/v1/containers/web", without the query
    std::map<std::string, std::string> query;  // decoded
    std::string body;                          // JSON text; "" = none
};

struct ApiResponse {
    int status = 200;
    std::string body;  // one JSON document and "\n"
};

// What /api/v1/system says about the server answering (absent for the exec transport).
struct ServerFacts {
    pid_t pid = 0;
    uint16_t port = 0;
    std::vector<std::string> listen;  // "127.0.0.1", "::1"
    long started_at = 0;              // unix time
};

class Api {
  public:
    explicit Api(Workspace ws, std::optional<ServerFacts> server = std::nullopt)
        : ws_(std::move(ws)), server_(std::move(server)) {}
    // Never throws: every failure is an error document with its status.
    ApiResponse handle(const ApiRequest& request) const;

  private:
    Workspace ws_;
    std::optional<ServerFacts> server_;
};

// {"error": "<kind>", "detail": "<one line>"}: the kinds of the request layer (invalid 400,
// not_found 404, busy 409, system 500) and the HTTP layer's own (unauthorized 401, forbidden 403,
// misdirected 421, too_large 413, ...).
ApiResponse error_response(int status, std::string_view error, std::string_view detail);
ApiResponse error_response(ErrorKind kind, std::string_view detail);
int status_for(ErrorKind kind);
std::string_view error_name(ErrorKind kind);
// `droidspaces api`'s exit status: 0 for 2xx, 1 for 4xx, 2 for 5xx.
int exit_code_for_status(int status);
// A document as the API sends it: compact, then "\n".
std::string json_body(const nlohmann::json& document);

}  // namespace ds::server
