// What the live routes' translation units share (private to server/stream*.cpp): the state
// behind Streams, an install job, a terminal session, and the SSE writer every stream uses.
//   streams.cpp          State, route registration, shutdown
//   stream_install.cpp   upload directory, jobs, POST /install and DELETE /install/{id}
//   stream_console.cpp   GET .../console?follow=1
//   stream_terminal.cpp  sessions, their janitor and the terminal routes
// Every stream is one chunked response whose provider runs the whole stream in the
// connection's thread: it polls its own fds beside the server's stop fd, never longer than
// kTickMs, so a stop or a client that went away is noticed within a second, and sends an SSE
// comment every kKeepAlive so that a dead peer shows up as a failed write even when nothing else
// is sent.
#pragma once

#include <poll.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "container/runtime.hpp"
#include "server/api.hpp"
#include "server/stream_parts.hpp"
#include "server/streams.hpp"
#include "sys/eventfd.hpp"

namespace ds::server {
namespace stream_detail {

using Clock = std::chrono::steady_clock;

inline constexpr int kTickMs = 1000;                          // longest poll of a stream
inline constexpr auto kKeepAlive = std::chrono::seconds(15);  // SSE comment when idle this long
inline constexpr size_t kReadChunk = 16 * 1024;               // one read of a console or pty

void send_error(http::Response& res, const ApiResponse& error);
void send_json(http::Response& res, int status, const nlohmann::json& doc);
// The response headers of an SSE stream (the provider sets the content type).
void start_sse(http::Response& res);

inline bool readable(const pollfd& p) {
    return (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

// Frames to the client, with the keep-alive and liveness checks every stream needs.
class SseWriter {
  public:
    explicit SseWriter(http::DataSink& sink) : sink_(sink) {}
    bool send(const std::string& frame);
    bool event(std::string_view type, const nlohmann::ordered_json& data) {
        return send(sse_event(type, data));
    }
    // Once per tick: a comment when idle for kKeepAlive, and a check that the peer is still
    // there (a closed connection reads as EOF). False once the client is gone.
    bool tick();
    void done() {
        if (ok_) sink_.done();
    }

  private:
    http::DataSink& sink_;
    bool ok_ = true;
    Clock::time_point last_ = Clock::now();
};

// One install running in its own thread; its events wait in `frames` for the stream
// (stream_install.cpp).
struct Job {
    std::string id = new_stream_id();
    sys::unique_fd cancel = sys::make_eventfd("an install's cancel");
    sys::unique_fd notify = sys::make_eventfd("an install's events");
    std::mutex mu;
    std::deque<std::string> frames;
    bool finished = false;
    std::mutex join_mu;
    std::thread worker;

    Job() = default;
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    ~Job() { stop(); }

    void push(std::string frame, bool last = false);
    void request_cancel() { sys::signal_eventfd(cancel.get()); }
    // Cancels and waits for the installer to clean up; safe from any thread but the worker.
    void stop();
};

// An `enter` shell on a pty whose master we hold (stream_terminal.cpp).
struct Session {
    std::string id = new_stream_id();
    std::string container;
    sys::unique_fd master;
    sys::unique_fd wake = sys::make_eventfd("a terminal's end");
    Clock::time_point created = Clock::now();
    std::atomic<bool> attached{false};

    std::mutex mu;  // shell, exit_code
    container::Command shell;
    std::optional<int> exit_code;

    // The shell's status once it ended, nullopt while it runs.
    std::optional<int> poll_exit();
    // Ends the session: the output stream wakes, the shell gets SIGHUP (as if its terminal
    // closed), SIGKILL after a grace period, and is reaped. Idempotent; returns the status.
    int end();
};

}  // namespace stream_detail

struct Streams::State {
    using Job = stream_detail::Job;
    using Session = stream_detail::Session;

    Workspace ws;
    HttpServer& http;
    JsonRoute json_route;

    std::mutex mu;
    std::map<std::string, std::shared_ptr<Job>> jobs;
    std::map<std::string, std::shared_ptr<Session>> sessions;
    bool closed = false;

    sys::unique_fd janitor_wake = sys::make_eventfd("the terminal janitor");
    std::thread janitor;

    State(Workspace w, HttpServer& h, JsonRoute j)
        : ws(std::move(w)), http(h), json_route(std::move(j)) {}

    // streams.cpp: what every stream route needs.
    // A stream slot, or nullopt with the 503 already in `res`.
    std::optional<StreamSlot> slot_or_503(http::Response& res);
    // Throws busy once the server stops.
    void check_open();

    // stream_install.cpp
    void install(const http::Request& req, http::Response& res, const http::ContentReader& reader);
    void cancel_install(const http::Request& req, http::Response& res);
    void forget_job(const std::string& id);

    // stream_console.cpp
    void console(const http::Request& req, http::Response& res);

    // stream_terminal.cpp
    void open_terminal(const http::Request& req, http::Response& res);
    void terminal_output(const http::Request& req, http::Response& res);
    void terminal_input(const http::Request& req, http::Response& res);
    void terminal_resize(const http::Request& req, http::Response& res);
    void close_terminal(const http::Request& req, http::Response& res);
    std::shared_ptr<Session> take_session(const std::string& id);
    std::shared_ptr<Session> find_session(const std::string& container, const std::string& id);
    // Ends the sessions nobody attached to in time; once a second until closed.
    void run_janitor();
};

}  // namespace ds::server
