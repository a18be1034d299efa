// The HTTP transport: our listeners, accept loop, request parser (server/http.hpp) and router,
// so that the server decides what a client may hold: how many connections at once, how long and
// how large a request head may be, how long a body may stall.
//
// One thread per connection, up to HttpLimits::max_connections; at the cap the loop stops
// accepting and new clients wait in the kernel's backlog until a connection ends (nginx's
// worker_connections), so a burst is served late, never refused. While all connections are
// taken, a connection idle for over a second (keep-alive, or connected and silent) is closed to
// make room, as nginx reuses idle keep-alive connections: 300 silent sockets cannot keep a real
// request waiting for the whole head deadline. Long-lived responses (SSE)
// also take a stream slot; beyond max_streams they answer 503 at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/http.hpp"
#include "sys/fd.hpp"

namespace ds::server {

struct HttpLimits {
    size_t max_connections = 128;
    size_t max_streams = 32;
    std::chrono::seconds head_timeout{10};  // request line + headers, in all
    size_t max_head_bytes = 16 * 1024;      // request line + headers
    std::chrono::seconds keep_alive{5};     // idle between requests on one connection
    std::chrono::seconds body_stall{30};    // longest wait for the next body bytes
    std::chrono::seconds write_stall{30};   // longest wait for a client to take our bytes
    size_t max_requests_per_connection = 100;
    size_t max_body = 4 * 1024 * 1024;  // a body read into memory (not a ContentReader's): 413
};

// Binds a listening TCP socket (CLOEXEC, SO_REUSEADDR; IPV6_V6ONLY for IPv6) on a numeric
// address. Throws a system error naming address, port and errno ("127.0.0.1:8420: Address
// already in use").
sys::unique_fd listen_on(const std::string& address, uint16_t port, int backlog = 256);

class StreamSlot;
class ConnectionRunner;

class HttpServer {
  public:
    using PreRouting = std::function<http::HandlerResponse(const http::Request&, http::Response&)>;
    using Logger = std::function<void(const http::Request&, const http::Response&)>;

    explicit HttpServer(HttpLimits limits = {});
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Routes (http::Router patterns), tried in the order added; HEAD uses the GET routes. Add
    // them before serve(). A handler's exception becomes a plain 500 (its text never reaches
    // the client).
    void Get(std::string pattern, http::Handler handler);
    void Post(std::string pattern, http::Handler handler);
    // The body is not read before the handler: it reads it through the ContentReader.
    void Post(std::string pattern, http::ReaderHandler handler);
    void Put(std::string pattern, http::Handler handler);
    void Patch(std::string pattern, http::Handler handler);
    void Delete(std::string pattern, http::Handler handler);
    // Runs on every parsed head before routing and before any body byte is read (or "100
    // Continue" sent); Handled answers with `res` as it is.
    void set_pre_routing_handler(PreRouting handler) { pre_routing_ = std::move(handler); }
    // On every response, transport errors included.
    void set_default_headers(http::Fields headers) { default_headers_ = std::move(headers); }
    // After each routed or guarded response was written (streams: after they end).
    void set_logger(Logger logger) { logger_ = std::move(logger); }

    // Serves connections from `listeners` until request_stop(); then waits (up to 5 s) for the
    // connections being served to end. Blocks the calling thread.
    void serve(std::vector<sys::unique_fd> listeners);
    // Thread-safe. Stops accepting, wakes the loop and every stream (stop_fd becomes readable).
    void request_stop();
    bool stopping() const;
    // Readable once stop was requested: streams poll it beside their own fds.
    int stop_fd() const;

    size_t active_connections() const;
    // A slot for a long-lived response; nullopt when max_streams are taken (answer 503).
    std::optional<StreamSlot> acquire_stream_slot();

    const HttpLimits& limits() const { return limits_; }

  private:
    friend class StreamSlot;
    friend class ConnectionRunner;
    struct State;
    void accept_one(int listener);
    HttpLimits limits_;
    std::shared_ptr<State> state_;
    http::Router router_;
    PreRouting pre_routing_;
    http::Fields default_headers_;
    Logger logger_;
};

// Holds one stream slot while alive (movable).
class StreamSlot {
  public:
    StreamSlot(StreamSlot&& other) noexcept;
    StreamSlot& operator=(StreamSlot&& other) noexcept;
    StreamSlot(const StreamSlot&) = delete;
    StreamSlot& operator=(const StreamSlot&) = delete;
    ~StreamSlot();

  private:
    friend class HttpServer;
    explicit StreamSlot(std::shared_ptr<HttpServer::State> state) : state_(std::move(state)) {}
    std::shared_ptr<HttpServer::State> state_;
};

}  // namespace ds::server
