// The terminal routes (streams.hpp): POST .../terminal opens an `enter` shell on a pty whose
// master comes back over a console socket; GET .../terminal/{id} streams its output as SSE;
// input, resize and DELETE act on it. A session nobody attaches to within kAttachWindow is ended
// by the janitor thread.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <vector>

#include "core/error.hpp"
#include "core/validate.hpp"
#include "server/requests.hpp"
#include "server/stream_state.hpp"
#include "sys/seccomp_notify.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {

using namespace stream_detail;

namespace {

constexpr auto kAttachWindow = std::chrono::seconds(30);
constexpr auto kHangupGrace = std::chrono::milliseconds(2000);  // SIGHUP -> SIGKILL

// Writes all of `data` to the non-blocking master, waiting up to 5 s for room.
void write_master(int master, std::string_view data) {
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!data.empty()) {
        ssize_t n = ::write(master, data.data(), data.size());
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) sys::fail_errno("write to the terminal");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) fail_busy("the terminal takes no input (its shell reads nothing)");
        pollfd p = {master, POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
}

}  // namespace

namespace stream_detail {

std::optional<int> Session::poll_exit() {
    std::lock_guard lock(mu);
    if (!exit_code) exit_code = shell.try_wait();
    return exit_code;
}

int Session::end() {
    sys::signal_eventfd(wake.get());
    std::lock_guard lock(mu);
    if (!exit_code) exit_code = shell.try_wait();
    if (!exit_code) {
        shell.signal_group(SIGHUP);
        shell.signal(SIGCONT);
        exit_code = shell.wait_for(kHangupGrace);
    }
    if (!exit_code) {
        shell.signal_group(SIGKILL);
        exit_code = shell.wait();
    }
    return *exit_code;
}

}  // namespace stream_detail

std::shared_ptr<Session> Streams::State::take_session(const std::string& id) {
    std::lock_guard lock(mu);
    auto it = sessions.find(id);
    if (it == sessions.end()) return nullptr;
    auto session = it->second;
    sessions.erase(it);
    return session;
}

std::shared_ptr<Session> Streams::State::find_session(const std::string& container,
                                                      const std::string& id) {
    std::lock_guard lock(mu);
    auto it = sessions.find(id);
    if (it == sessions.end() || it->second->container != container)
        fail_not_found("no terminal session " + id + " of container '" + container + "'");
    return it->second;
}

void Streams::State::run_janitor() {
    for (;;) {
        pollfd p = {janitor_wake.get(), POLLIN, 0};
        ::poll(&p, 1, kTickMs);
        std::vector<std::shared_ptr<Session>> expired;
        {
            std::lock_guard lock(mu);
            if (closed) return;
            auto now = Clock::now();
            for (auto it = sessions.begin(); it != sessions.end();) {
                if (!it->second->attached && now - it->second->created > kAttachWindow) {
                    expired.push_back(it->second);
                    it = sessions.erase(it);
                } else {
                    ++it;
                }
            }
        }
        for (auto& s : expired)
            s->end();
    }
}

void Streams::State::open_terminal(const http::Request& req, http::Response& res) {
    check_open();
    std::string name = req.path_param("name");
    check_container_name(name);
    container::EnterRequest request = terminal_request(parse_body(req.body));
    {
        std::lock_guard lock(mu);
        if (sessions.size() >= http.limits().max_streams)
            return send_error(res, error_response(503, "unavailable",
                                                  "too many terminal sessions (" +
                                                      std::to_string(sessions.size()) + ")"));
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        sys::fail_errno("socketpair for the console socket");
    sys::unique_fd ours(pair[0]), theirs(pair[1]);
    container::Output quiet;
    container::Runtime rt(ws, quiet, container::LockMode::try_once);
    auto session = std::make_shared<Session>();
    session->container = name;
    session->shell = rt.open_terminal(name, request, theirs.get());
    theirs.reset();
    if (!session->shell.error().empty()) {
        std::string error = session->shell.error();
        session->shell.wait();
        fail_system(error);
    }
    // Already queued: the helper sends it before it starts the shell.
    sys::receive_fd(ours.get(), session->master);
    if (!session->master) fail_system("no terminal came over the console socket");
    int flags = ::fcntl(session->master.get(), F_GETFL);
    if (flags < 0 || ::fcntl(session->master.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        sys::fail_errno("make the pty master non-blocking");
    {
        std::lock_guard lock(mu);
        if (closed) {
            session->end();
            fail_busy("the server is stopping");
        }
        sessions[session->id] = session;
    }
    send_json(res, 201, {{"id", session->id}, {"pid", session->shell.pid()}});
}

void Streams::State::terminal_output(const http::Request& req, http::Response& res) {
    auto session = find_session(req.path_param("name"), req.path_param("id"));
    if (session->attached.exchange(true))
        fail_busy("terminal session " + session->id + " already has a reader");
    auto slot = slot_or_503(res);
    if (!slot) {
        session->attached = false;
        return;
    }
    auto held = std::make_shared<StreamSlot>(std::move(*slot));
    start_sse(res);
    int stop = http.stop_fd();
    res.set_chunked_content_provider("text/event-stream", [this, held, session, stop](
                                                              size_t, http::DataSink& sink) {
        SseWriter out(sink);
        std::string buf(kReadChunk, '\0');
        // Sends what the master holds; false when the slave side is gone (EIO) or the
        // client is.
        auto pump = [&]() -> bool {
            for (;;) {
                ssize_t n = ::read(session->master.get(), buf.data(), buf.size());
                if (n > 0) {
                    if (!out.event("output",
                                   {{"data", base64_encode({buf.data(), static_cast<size_t>(n)})}}))
                        return false;
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                return n < 0 && errno == EAGAIN;
            }
        };
        bool client_gone = false;
        for (;;) {
            pollfd p[3] = {{session->master.get(), POLLIN, 0},
                           {session->wake.get(), POLLIN, 0},
                           {stop, POLLIN, 0}};
            ::poll(p, 3, kTickMs);
            if (readable(p[1]) || readable(p[2])) break;  // DELETE, or the server stops
            if (readable(p[0]) && !pump()) {
                client_gone = !out.tick();
                break;  // the shell and everything holding its terminal are gone
            }
            if (session->poll_exit()) {
                pump();
                break;
            }
            if (!out.tick()) {
                client_gone = true;
                break;
            }
        }
        take_session(session->id);
        int code = session->end();
        if (client_gone) return false;
        out.event("exit", {{"exit_code", code}});
        out.done();
        return true;
    });
}

void Streams::State::terminal_input(const http::Request& req, http::Response& res) {
    auto session = find_session(req.path_param("name"), req.path_param("id"));
    auto body = parse_body(req.body);
    std::string data;
    if (auto it = body.find("data"); it != body.end()) {
        if (!it->is_string()) fail_invalid("\"data\": expected a string");
        data = it->get<std::string>();
    } else if (auto b64 = body.find("base64"); b64 != body.end()) {
        auto decoded = b64->is_string() ? base64_decode(b64->get<std::string>()) : std::nullopt;
        if (!decoded) fail_invalid("\"base64\": expected a base64 string");
        data = std::move(*decoded);
    } else {
        fail_invalid("expected {\"data\": \"<text>\"} or {\"base64\": \"<bytes>\"}");
    }
    if (session->poll_exit()) fail_not_found("terminal session " + session->id + " has ended");
    write_master(session->master.get(), data);
    send_json(res, 200, {{"written", data.size()}});
}

void Streams::State::terminal_resize(const http::Request& req, http::Response& res) {
    auto session = find_session(req.path_param("name"), req.path_param("id"));
    WindowSize size = window_size(parse_body(req.body));
    struct winsize ws_ = {};
    ws_.ws_row = size.rows;
    ws_.ws_col = size.cols;
    // The kernel sends SIGWINCH to the terminal's foreground process group.
    if (::ioctl(session->master.get(), TIOCSWINSZ, &ws_) != 0)
        sys::fail_errno("TIOCSWINSZ on terminal " + session->id);
    send_json(res, 200, {{"rows", size.rows}, {"cols", size.cols}});
}

void Streams::State::close_terminal(const http::Request& req, http::Response& res) {
    auto session = find_session(req.path_param("name"), req.path_param("id"));
    take_session(session->id);
    int code = session->end();
    send_json(res, 200, {{"id", session->id}, {"exit_code", code}});
}

}  // namespace ds::server
