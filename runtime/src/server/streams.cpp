// The live routes: see streams.hpp; how a stream runs: see stream_state.hpp. This file holds
// what every stream shares (the SSE writer, the stream cap, the error answers), the route table
// and the shutdown; each route lives in the stream_*.cpp of its concern.
#include "server/streams.hpp"

#include "core/error.hpp"
#include "server/stream_state.hpp"

namespace ds::server {
namespace stream_detail {

void send_error(http::Response& res, const ApiResponse& error) {
    res.status = error.status;
    res.set_content(error.body, "application/json");
}

void send_json(http::Response& res, int status, const nlohmann::json& doc) {
    res.status = status;
    res.set_content(json_body(doc), "application/json");
}

void start_sse(http::Response& res) {
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
}

bool SseWriter::send(const std::string& frame) {
    if (!ok_) return false;
    ok_ = sink_.write(frame.data(), frame.size());
    last_ = Clock::now();
    return ok_;
}

bool SseWriter::tick() {
    if (!ok_) return false;
    if (Clock::now() - last_ >= kKeepAlive && !send(sse_comment("keep-alive"))) return false;
    if (!sink_.is_writable()) ok_ = false;
    return ok_;
}

}  // namespace stream_detail

namespace {

// Runs a handler; a ds::Error becomes its error document, anything else a system error.
template <typename F>
void answer(http::Response& res, F&& handler) {
    try {
        handler();
    } catch (const Error& e) {
        stream_detail::send_error(res, error_response(e.kind(), e.what()));
    } catch (const std::exception& e) {
        stream_detail::send_error(res, error_response(ErrorKind::system, e.what()));
    }
}

}  // namespace

std::optional<StreamSlot> Streams::State::slot_or_503(http::Response& res) {
    auto slot = http.acquire_stream_slot();
    if (!slot)
        stream_detail::send_error(
            res,
            error_response(503, "unavailable",
                           "too many open streams (" + std::to_string(http.limits().max_streams) +
                               "); close one and retry"));
    return slot;
}

void Streams::State::check_open() {
    std::lock_guard lock(mu);
    if (closed || http.stopping()) fail_busy("the server is stopping");
}

Streams::Streams(Workspace ws, HttpServer& http, JsonRoute json_route)
    : state_(std::make_unique<State>(std::move(ws), http, std::move(json_route))) {}

Streams::~Streams() {
    shutdown();
}

void Streams::register_routes() {
    State* s = state_.get();
    auto& http = s->http;
    const std::string c = "/api/v1/containers/{name}";
    const std::string t = c + "/terminal/{id:hex32}";
    http.Get(c + "/console", [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->console(req, res); });
    });
    http.Post("/api/v1/install", [s](const http::Request& req, http::Response& res,
                                     const http::ContentReader& reader) {
        answer(res, [&] { s->install(req, res, reader); });
    });
    http.Delete("/api/v1/install/{id}", [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->cancel_install(req, res); });
    });
    http.Post(c + "/terminal", [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->open_terminal(req, res); });
    });
    http.Get(t, [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->terminal_output(req, res); });
    });
    http.Post(t + "/input", [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->terminal_input(req, res); });
    });
    http.Post(t + "/resize", [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->terminal_resize(req, res); });
    });
    http.Delete(t, [s](const http::Request& req, http::Response& res) {
        answer(res, [&] { s->close_terminal(req, res); });
    });
    if (!s->janitor.joinable()) s->janitor = std::thread([s] { s->run_janitor(); });
}

bool Streams::is_upload(std::string_view method, std::string_view path,
                        std::string_view content_type) {
    return method == "POST" && path == "/api/v1/install" && is_upload_content_type(content_type);
}

void Streams::shutdown() {
    State& s = *state_;
    std::map<std::string, std::shared_ptr<State::Job>> jobs;
    std::map<std::string, std::shared_ptr<State::Session>> sessions;
    {
        std::lock_guard lock(s.mu);
        s.closed = true;
        jobs.swap(s.jobs);
        sessions.swap(s.sessions);
    }
    sys::signal_eventfd(s.janitor_wake.get());
    if (s.janitor.joinable()) s.janitor.join();
    for (auto& [id, session] : sessions)
        session->end();
    for (auto& [id, job] : jobs)
        job->stop();  // cancel, and wait for the installer's cleanup
}

}  // namespace ds::server
