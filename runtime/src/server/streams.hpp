// The live routes (docs/api.md "Streams"), HTTP only: Server-Sent Events out, POST in.
//   GET    /api/v1/containers/{name}/console?follow=1      the console log, then what it writes
//   POST   /api/v1/install                                 JSON body: install from a path
//   POST   /api/v1/install?name=N&image_size=S             raw body: an upload streamed to disk
//   DELETE /api/v1/install/{id}                            cancel a running install
//   POST   /api/v1/containers/{name}/terminal              open an `enter` pty session -> {"id"}
//   GET    /api/v1/containers/{name}/terminal/{id}         its output (SSE)
//   POST   /api/v1/containers/{name}/terminal/{id}/input   {"data": "echo hi\r"}
//   POST   /api/v1/containers/{name}/terminal/{id}/resize  {"rows": 40, "cols": 120}
//   DELETE /api/v1/containers/{name}/terminal/{id}         end it
// A terminal ends when its shell exits, when its output stream's client goes away, or when no
// client attached within 30 s of opening it. An install whose stream's client goes away is
// cancelled and cleaned up.
//
// Events: console `console` {"text"} (valid UTF-8) then `end` {}; install `job` {"id"}, then
// the installer's `step`, `progress`, `warning`, `done` or `error` (container::event_json, plus
// "error": the kind on an error); terminal `output` {"data": base64} then `exit` {"exit_code"}.
// POST .../terminal answers 201 {"id", "pid"} (the shell's host PID); input 200 {"written"};
// resize 200 {"rows", "cols"}; DELETE .../terminal/{id} 200 {"id", "exit_code"}; DELETE
// /api/v1/install/{id} 202 {"id", "cancelled": true}.
// An upload is refused before its body is read for a bad name, a name in use (409), a bad
// image_size or image_fs, a full stream cap (503) or a Content-Length over the workspace's free
// space or 64 GiB (413); it is written to <ws>/.uploads/<random>/upload<ext> (0700 dir, 0600
// file) and removed before the last event, whatever happened.
#pragma once

#include <functional>
#include <memory>

#include "core/workspace.hpp"
#include "server/http_server.hpp"

namespace ds::server {

class Streams {
  public:
    // `json_route` answers a request the stream routes leave to the JSON API (the console
    // without follow=1, for one).
    using JsonRoute = std::function<void(const http::Request&, http::Response&)>;
    Streams(Workspace ws, HttpServer& http, JsonRoute json_route);
    ~Streams();
    // Registers the routes above on the server; call before the JSON API's catch-all routes.
    void register_routes();
    // True for a request whose body is streamed to disk (the upload), for the body-size guard.
    static bool is_upload(std::string_view method, std::string_view path,
                          std::string_view content_type);
    // Ends every session and install (server shutdown).
    void shutdown();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace ds::server
