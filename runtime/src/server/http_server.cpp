// The HTTP transport (http_server.hpp): our listeners, accept loop, per-connection limits, the
// request loop (head, guards, route, body, response) over server/http.hpp's parser and router.
#include "server/http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/error.hpp"
#include "sys/eventfd.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// Under connection pressure (all max_connections taken), a connection that has waited this long
// for the first byte of a request is closed to make room: an idle keep-alive connection or a
// client that connected and sent nothing. Legitimate clients send their request at once.
constexpr milliseconds kIdleGraceUnderPressure{1000};

int poll_timeout_ms(Clock::duration left) {
    if (left <= Clock::duration::zero()) return 0;
    const auto ms = std::chrono::ceil<milliseconds>(left).count();
    return ms > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(ms);
}

}  // namespace

struct HttpServer::State {
    explicit State(HttpLimits l)
        : limits(l),
          stop_fd(sys::make_eventfd("the server's stop")),
          ended_fd(sys::make_eventfd("the server's connection end")),
          pressure_fd(sys::make_eventfd("the server's connection pressure")) {}

    const HttpLimits limits;
    sys::unique_fd stop_fd;      // readable once stop was requested (never drained)
    sys::unique_fd ended_fd;     // a connection ended: the accept loop may poll listeners again
    sys::unique_fd pressure_fd;  // readable while all connections are taken
    std::atomic<bool> stopping{false};

    std::mutex mutex;
    std::condition_variable idle;  // signalled when active reaches 0
    size_t active = 0;             // connection threads alive
    size_t in_server = 0;          // connection threads serving a request (see ~HttpServer)
    size_t streams = 0;
    bool pressure = false;

    void connection_started() {
        std::lock_guard lock(mutex);
        ++active;
        if (active >= limits.max_connections && !pressure) {
            pressure = true;
            sys::signal_eventfd(pressure_fd.get());
        }
    }
    void connection_ended() {
        std::lock_guard lock(mutex);
        --active;
        if (active < limits.max_connections && pressure) {
            pressure = false;
            sys::drain_eventfd(pressure_fd.get());
        }
        sys::signal_eventfd(ended_fd.get());
        idle.notify_all();
    }
};

namespace {

// One connection's bytes, with our limits. The socket is non-blocking: every wait is a poll()
// over the socket and the stop eventfd with the deadline of the current phase, so no read or
// write can outlive its limit or a stop request. Bytes received past the current request (a
// pipelined next request) stay in the buffer for the next head.
class Connection {
  public:
    Connection(int sock, const HttpLimits& limits, int stop_fd)
        : sock_(sock), limits_(limits), stop_fd_(stop_fd) {}

    enum class Head { ok, closed, too_large, bad };

    // Reads until the buffer holds a complete head (by `deadline`, within max_head_bytes);
    // `head` then views it in the buffer until consume().
    Head read_head(Clock::time_point deadline, std::string_view& head, size_t& length) {
        size_t from = 0;
        while (true) {
            const auto scan = http::scan_head(unread(), limits_.max_head_bytes, from);
            switch (scan.state) {
                case http::HeadScan::complete:
                    head = unread().substr(scan.begin, scan.end - scan.begin);
                    length = scan.end;
                    return Head::ok;
                case http::HeadScan::too_large:
                    return Head::too_large;
                case http::HeadScan::bad:
                    return Head::bad;
                case http::HeadScan::incomplete:
                    from = scan.scanned;
                    break;
            }
            if (fill(deadline) <= 0) return Head::closed;
        }
    }

    void consume(size_t n) { off_ += std::min(n, buf_.size() - off_); }
    bool buffered() const { return off_ < buf_.size(); }

    // Passes the next `length` body bytes to `receiver` as they arrive; false when the client
    // stalls for body_stall, hangs up, or the receiver refuses. `left` counts down.
    bool read_body(uint64_t& left, const http::ContentReceiver& receiver) {
        while (left > 0) {
            if (!buffered() && fill(Clock::time_point::max()) <= 0) return false;
            const auto n = static_cast<size_t>(std::min<uint64_t>(left, buf_.size() - off_));
            const char* data = buf_.data() + off_;
            off_ += n;
            left -= n;
            if (!receiver(data, n)) return false;
        }
        return true;
    }

    bool write_all(std::string_view data) {
        while (!data.empty()) {
            const ssize_t n = send(sock_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                data.remove_prefix(static_cast<size_t>(n));
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return false;
            // Each wait restarts the stall clock: a slow reader is fine, a stopped one is not.
            if (!wait_for(POLLOUT, Clock::now() + limits_.write_stall)) return false;
        }
        return true;
    }

    // Asked by streams before each step: a client that hung up (a closed terminal or console
    // tab) must end the stream now, not at the next failed write 15 s later.
    bool is_writable() const {
        pollfd p{sock_, POLLIN | POLLRDHUP, 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
        return wait_for(POLLOUT, Clock::now() + limits_.write_stall);
    }

  private:
    std::string_view unread() const { return std::string_view(buf_).substr(off_); }

    // Appends what the socket has (up to 16 KiB), waiting up to `deadline` (max(): body_stall
    // from now). >0 bytes read, 0 EOF, -1 error, timeout or stop.
    ssize_t fill(Clock::time_point deadline) {
        if (off_ > 0) {
            buf_.erase(0, off_);
            off_ = 0;
        }
        std::array<char, 16 * 1024> chunk;
        while (true) {
            const ssize_t n = recv(sock_, chunk.data(), chunk.size(), MSG_DONTWAIT);
            if (n >= 0) {
                buf_.append(chunk.data(), static_cast<size_t>(n));
                return n;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            const auto until =
                deadline == Clock::time_point::max() ? Clock::now() + limits_.body_stall : deadline;
            if (!wait_for(POLLIN, until)) return -1;
        }
    }

    // True when the socket is ready for `events` before `deadline`; false on timeout, stop or a
    // poll failure.
    bool wait_for(short events, Clock::time_point deadline) const {
        while (true) {
            std::array<pollfd, 2> fds{{{sock_, events, 0}, {stop_fd_, POLLIN, 0}}};
            const int r = poll(fds.data(), fds.size(), poll_timeout_ms(deadline - Clock::now()));
            if (r < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            if (fds[1].revents) return false;
            if (fds[0].revents) return true;  // ready, or an error/hangup the next call reports
            if (Clock::now() >= deadline) return false;
        }
    }

    int sock_;
    const HttpLimits& limits_;
    int stop_fd_;
    std::string buf_;
    size_t off_ = 0;
};

// A chunked response body (raw until close for an HTTP/1.0 client).
class StreamSink final : public http::DataSink {
  public:
    StreamSink(Connection& conn, bool chunked) : conn_(conn), chunked_(chunked) {}
    bool write(const char* data, size_t size) override {
        if (failed_ || done_) return false;
        if (size == 0) return true;
        std::string frame;
        if (chunked_) {
            char length[24];
            std::snprintf(length, sizeof length, "%zx\r\n", size);
            frame = length;
        }
        frame.append(data, size);
        if (chunked_) frame += "\r\n";
        if (!conn_.write_all(frame)) failed_ = true;
        return !failed_;
    }
    void done() override {
        if (failed_ || done_) return;
        done_ = true;
        if (chunked_ && !conn_.write_all("0\r\n\r\n")) failed_ = true;
    }
    bool is_writable() override { return !failed_ && conn_.is_writable(); }
    bool finished() const { return done_ || failed_; }
    bool ok() const { return done_ && !failed_; }
    void fail() { failed_ = true; }

  private:
    Connection& conn_;
    bool chunked_;
    bool done_ = false;
    bool failed_ = false;
};

enum class Wait { request, done };

// Waits for the first byte of the next request until `deadline`. Under connection pressure an
// idle connection gives its place up after kIdleGraceUnderPressure.
Wait wait_for_request(int sock, int stop_fd, int pressure_fd, Clock::time_point idle_since,
                      Clock::time_point deadline) {
    while (true) {
        const auto now = Clock::now();
        if (now >= deadline) return Wait::done;
        const bool may_evict = now - idle_since >= kIdleGraceUnderPressure;
        // Before the grace has passed, pressure is not polled (it stays readable while it
        // lasts); poll again when the grace ends.
        auto until = deadline;
        if (!may_evict) until = std::min(deadline, idle_since + kIdleGraceUnderPressure);
        std::array<pollfd, 3> fds{
            {{sock, POLLIN, 0}, {stop_fd, POLLIN, 0}, {pressure_fd, POLLIN, 0}}};
        const nfds_t n = may_evict ? 3 : 2;
        const int r = poll(fds.data(), n, poll_timeout_ms(until - now));
        if (r < 0) {
            if (errno == EINTR) continue;
            return Wait::done;
        }
        if (fds[1].revents) return Wait::done;
        if (fds[0].revents) return Wait::request;  // data, or EOF/error seen by the read
        if (may_evict && fds[2].revents) return Wait::done;
    }
}

// What a request leaves the connection in.
enum class After { keep, close, close_unread };

// A transport error's JSON document: fixed text, never the client's bytes.
std::string error_body(std::string_view error, std::string_view detail) {
    return "{\"error\":\"" + std::string(error) + "\",\"detail\":\"" + std::string(detail) + "\"}";
}

}  // namespace

// One connection's keep-alive loop.
class ConnectionRunner {
  public:
    static void run(HttpServer* server, std::shared_ptr<HttpServer::State> state,
                    sys::unique_fd sock, Clock::time_point accepted) {
        const bool unread = serve_requests(server, *state, sock.get(), accepted);
        if (unread) linger(sock.get(), state->stop_fd.get());
        shutdown(sock.get(), SHUT_RDWR);
        sock.reset();
        state->connection_ended();
    }

  private:
    // Closing a socket with unread input makes the kernel send a reset, which can destroy our
    // last response (a 413) before the client reads it. So: FIN first, then discard what the
    // client still sends, for a bounded time and amount (nginx's lingering_close).
    static void linger(int sock, int stop_fd) {
        if (shutdown(sock, SHUT_WR) < 0) return;
        const auto deadline = Clock::now() + std::chrono::seconds(1);
        size_t discarded = 0;
        std::array<char, 16 * 1024> sink{};
        while (discarded < 8 * 1024 * 1024 && Clock::now() < deadline) {
            std::array<pollfd, 2> fds{{{sock, POLLIN, 0}, {stop_fd, POLLIN, 0}}};
            const int r = poll(fds.data(), fds.size(), poll_timeout_ms(deadline - Clock::now()));
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0 || fds[1].revents) return;
            const ssize_t n = recv(sock, sink.data(), sink.size(), MSG_DONTWAIT);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (n <= 0) return;  // EOF: the client has read our response and closed
            discarded += static_cast<size_t>(n);
        }
    }

    // Serves requests until the connection ends; true when the client may still be sending.
    static bool serve_requests(HttpServer* server, HttpServer::State& st, int sock,
                               Clock::time_point accepted) {
        const auto& limits = st.limits;
        Connection conn(sock, limits, st.stop_fd.get());
        for (size_t count = 0; count < limits.max_requests_per_connection; ++count) {
            if (st.stopping) return false;
            // The first request's head deadline runs from accept: a client that connects and
            // trickles (or sends nothing) is gone head_timeout later.
            const auto idle_since = count == 0 ? accepted : Clock::now();
            const auto wait_deadline =
                count == 0 ? accepted + limits.head_timeout : idle_since + limits.keep_alive;
            if (!conn.buffered() && wait_for_request(sock, st.stop_fd.get(), st.pressure_fd.get(),
                                                     idle_since, wait_deadline) != Wait::request) {
                return false;
            }
            const auto head_deadline =
                count == 0 ? accepted + limits.head_timeout : Clock::now() + limits.head_timeout;
            const bool last = count + 1 == limits.max_requests_per_connection;
            {
                // The server object may go once stopping is set and no thread is inside it.
                std::lock_guard lock(st.mutex);
                if (st.stopping) return false;
                ++st.in_server;
            }
            After after = After::close;
            try {
                after = serve_one(*server, st, conn, head_deadline, last);
            } catch (...) {
                // Allocation failure while writing: ends only this connection.
                after = After::close_unread;
            }
            {
                std::lock_guard lock(st.mutex);
                --st.in_server;
            }
            st.idle.notify_all();
            if (after == After::close_unread) return true;
            if (after == After::close) return false;
        }
        return false;
    }

    static void add_defaults(const HttpServer& server, http::Response& res) {
        for (const auto& [name, value] : server.default_headers_)
            res.headers.emplace_back(name, value);
    }

    // A transport error before routing: the head was bad, so the connection ends.
    static After answer_error(const HttpServer& server, Connection& conn, int status,
                              std::string_view error, std::string_view detail) {
        http::Request req;
        req.method = "GET";
        http::Response res;
        add_defaults(server, res);
        res.status = status;
        res.set_content(error_body(error, detail), "application/json");
        bool close = true;
        write_response(server, conn, req, res, close);
        return After::close_unread;
    }

    static After serve_one(HttpServer& server, HttpServer::State& st, Connection& conn,
                           Clock::time_point head_deadline, bool last) {
        std::string_view head;
        size_t head_length = 0;
        switch (conn.read_head(head_deadline, head, head_length)) {
            case Connection::Head::ok:
                break;
            case Connection::Head::closed:
                return After::close;
            case Connection::Head::too_large:
                return answer_error(server, conn, 431, "too_large",
                                    "the request head exceeds the server's limit");
            case Connection::Head::bad:
                return answer_error(server, conn, 400, "invalid",
                                    "a line of the request head does not end in CRLF");
        }
        http::Request req;
        const auto error = http::parse_request_head(head, req);
        conn.consume(head_length);
        if (error) {
            const bool server_side = error->status >= 500;
            return answer_error(server, conn, error->status,
                                server_side ? "not_implemented" : "invalid", error->detail);
        }
        uint64_t body_left = req.content_length;
        bool continue_sent = false;
        // The body, as it arrives; "100 Continue" first when the client waits for it.
        auto read_body = [&](const http::ContentReceiver& receiver) {
            if (body_left > 0 && req.expect_continue && !continue_sent) {
                continue_sent = true;
                if (!conn.write_all("HTTP/1.1 100 Continue\r\n\r\n")) return false;
            }
            return conn.read_body(body_left, receiver);
        };

        http::Response res;
        add_defaults(server, res);
        dispatch(server, st, req, res, read_body);
        const bool unread = body_left > 0 || req.chunked;
        bool close = unread || last || st.stopping || !req.keep_alive ||
                     http::iequals(res.get_header_value("Connection"), "close");
        const bool ok = write_response(server, conn, req, res, close);
        if (server.logger_) server.logger_(req, res);
        if (unread) return After::close_unread;
        return ok && !close ? After::keep : After::close;
    }

    // Guards, then the route: the response is in `res` (a 404 without a route).
    template <class ReadBody>
    static void dispatch(HttpServer& server, HttpServer::State& st, http::Request& req,
                         http::Response& res, ReadBody& read_body) {
        try {
            if (server.pre_routing_ &&
                server.pre_routing_(req, res) == http::HandlerResponse::Handled)
                return;
            if (req.chunked) {
                res.status = 411;
                res.set_content(error_body("length_required",
                                           "a request body must be sent with Content-Length, "
                                           "not chunked"),
                                "application/json");
                return;
            }
            auto route = server.router_.find(req.method, req.path);
            if (!route) {
                res.status = 404;
                return;
            }
            req.path_params = std::move(route->params);
            if (route->reader) {
                const http::ContentReader reader(read_body);
                (*route->reader)(req, res, reader);
                return;
            }
            if (http::method_may_have_body(req.method) && req.content_length > 0) {
                if (req.content_length > st.limits.max_body) {
                    res.status = 413;
                    res.set_content(error_body("too_large", "the request body is too large"),
                                    "application/json");
                    return;
                }
                req.body.reserve(static_cast<size_t>(req.content_length));
                const bool complete = read_body([&req](const char* data, size_t size) {
                    req.body.append(data, size);
                    return true;
                });
                if (!complete) {
                    res.status = 400;
                    res.set_content(error_body("invalid", "the request body ended early"),
                                    "application/json");
                    return;
                }
            }
            (*route->handler)(req, res);
        } catch (...) {
            // The exception's text stays in the server: internal paths and errno text are
            // nothing for a client.
            res.drop_provider();
            res.status = 500;
            res.set_content(R"({"error":"system","detail":"internal error"})", "application/json");
        }
    }

    // Status line, headers, body (or the stream); false when the client did not take it all.
    static bool write_response(const HttpServer& server, Connection& conn, const http::Request& req,
                               http::Response& res, bool& close) {
        const bool head_only = req.method == "HEAD";
        const bool no_body = res.status == 204 || res.status == 304 || res.status < 200;
        const bool stream = static_cast<bool>(res.provider()) && !no_body;
        const bool chunked = stream && req.version == "HTTP/1.1";
        if (stream && !chunked) close = true;  // HTTP/1.0: the body ends at close
        std::string out = "HTTP/1.1 " + std::to_string(res.status) + " ";
        out += http::status_text(res.status);
        out += "\r\n";
        bool has_type = false;
        bool has_connection = false;
        for (const auto& [name, value] : res.headers) {
            // The transport frames the body itself.
            if (http::iequals(name, "Content-Length") || http::iequals(name, "Transfer-Encoding"))
                continue;
            has_type = has_type || http::iequals(name, "Content-Type");
            has_connection = has_connection || http::iequals(name, "Connection");
            out += name + ": " + value + "\r\n";
        }
        if (!has_type && !res.body.empty() && !no_body) out += "Content-Type: text/plain\r\n";
        if (chunked) {
            out += "Transfer-Encoding: chunked\r\n";
        } else if (!no_body && !stream) {
            out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
        }
        if (close && !has_connection) out += "Connection: close\r\n";
        if (!close) {
            out +=
                "Keep-Alive: timeout=" + std::to_string(server.limits_.keep_alive.count()) + "\r\n";
        }
        out += "\r\n";
        if (!head_only && !no_body && !stream) out += res.body;
        if (!conn.write_all(out)) return false;
        if (!stream || head_only) return true;
        StreamSink sink(conn, chunked);
        size_t offset = 0;
        while (!sink.finished()) {
            if (server.state_->stopping || !res.provider()(offset, sink)) sink.fail();
        }
        res.set_provider_success(sink.ok());
        if (!sink.ok()) close = true;
        return sink.ok();
    }
};

sys::unique_fd listen_on(const std::string& address, uint16_t port, int backlog) {
    const bool v6 = address.find(':') != std::string::npos;
    const std::string where = (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
    sockaddr_storage storage{};
    socklen_t length = 0;
    void* ip = nullptr;  // where inet_pton writes the address
    if (!v6) {
        auto* in = reinterpret_cast<sockaddr_in*>(&storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        ip = &in->sin_addr;
        length = sizeof *in;
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        ip = &in6->sin6_addr;
        length = sizeof *in6;
    }
    if (inet_pton(storage.ss_family, address.c_str(), ip) != 1)
        fail_invalid("listen address " + address + " is not a numeric IPv4 or IPv6 address");
    sys::unique_fd fd(socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) sys::fail_errno(where + ": socket");
    const int on = 1;
    // A restarted server must not wait for the old connections' TIME_WAIT.
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)
        sys::fail_errno(where + ": SO_REUSEADDR");
    // "::" must not also take IPv4: 127.0.0.1 and ::1 are bound separately, and a wildcard v6
    // listener must not silently expose IPv4.
    if (v6 && setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0)
        sys::fail_errno(where + ": IPV6_V6ONLY");
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) < 0) sys::fail_errno(where);
    if (listen(fd.get(), backlog) < 0) sys::fail_errno(where + ": listen");
    return fd;
}

HttpServer::HttpServer(HttpLimits limits)
    : limits_(limits), state_(std::make_shared<State>(limits)) {
    if (limits_.max_connections == 0) limits_.max_connections = 1;
    if (limits_.max_requests_per_connection == 0) limits_.max_requests_per_connection = 1;
}

void HttpServer::Get(std::string pattern, http::Handler handler) {
    router_.add("GET", std::move(pattern), std::move(handler));
}

void HttpServer::Post(std::string pattern, http::Handler handler) {
    router_.add("POST", std::move(pattern), std::move(handler));
}

void HttpServer::Post(std::string pattern, http::ReaderHandler handler) {
    router_.add("POST", std::move(pattern), std::move(handler));
}

void HttpServer::Put(std::string pattern, http::Handler handler) {
    router_.add("PUT", std::move(pattern), std::move(handler));
}

void HttpServer::Patch(std::string pattern, http::Handler handler) {
    router_.add("PATCH", std::move(pattern), std::move(handler));
}

void HttpServer::Delete(std::string pattern, http::Handler handler) {
    router_.add("DELETE", std::move(pattern), std::move(handler));
}

HttpServer::~HttpServer() {
    request_stop();
    // Connection threads use this object's routes and handlers: wait until none is inside.
    // Every read and write of theirs fails at once after the stop, so only a handler busy with
    // the runtime (a container start) can hold this up, for as long as that operation takes.
    std::unique_lock lock(state_->mutex);
    state_->idle.wait(lock, [this] { return state_->in_server == 0; });
}

void HttpServer::request_stop() {
    if (state_->stopping.exchange(true)) return;
    sys::signal_eventfd(state_->stop_fd.get());
}

bool HttpServer::stopping() const {
    return state_->stopping;
}

int HttpServer::stop_fd() const {
    return state_->stop_fd.get();
}

size_t HttpServer::active_connections() const {
    std::lock_guard lock(state_->mutex);
    return state_->active;
}

std::optional<StreamSlot> HttpServer::acquire_stream_slot() {
    std::lock_guard lock(state_->mutex);
    if (state_->stopping || state_->streams >= limits_.max_streams) return std::nullopt;
    ++state_->streams;
    return StreamSlot(state_);
}

void HttpServer::serve(std::vector<sys::unique_fd> listeners) {
    auto& st = *state_;
    if (listeners.empty()) fail_invalid("the server has no listening socket");
    std::vector<pollfd> fds;
    while (!st.stopping) {
        fds.clear();
        fds.push_back({st.stop_fd.get(), POLLIN, 0});
        fds.push_back({st.ended_fd.get(), POLLIN, 0});
        // At the cap, listeners are not polled: new clients wait in the kernel's backlog.
        if (active_connections() < limits_.max_connections) {
            for (const auto& l : listeners)
                fds.push_back({l.get(), POLLIN, 0});
        }
        if (poll(fds.data(), fds.size(), -1) < 0) {
            if (errno == EINTR) continue;
            sys::fail_errno("poll on the server's listeners");
        }
        if (fds[0].revents) break;
        if (fds[1].revents) sys::drain_eventfd(st.ended_fd.get());
        for (size_t i = 2; i < fds.size(); ++i) {
            if (fds[i].revents & POLLIN) accept_one(fds[i].fd);
        }
    }
    // Stop: wake every connection (stop_fd), then give them 5 s to finish their response.
    std::unique_lock lock(st.mutex);
    st.idle.wait_for(lock, std::chrono::seconds(5), [&st] { return st.active == 0; });
}

void HttpServer::accept_one(int listener) {
    if (active_connections() >= limits_.max_connections) return;
    sys::unique_fd sock(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!sock) {
        // Out of fds or memory: the listener stays readable, so wait for a connection to end
        // (or 100 ms) instead of spinning. Any other error (the client left) is nothing to do.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            std::array<pollfd, 2> fds{
                {{state_->stop_fd.get(), POLLIN, 0}, {state_->ended_fd.get(), POLLIN, 0}}};
            poll(fds.data(), fds.size(), 100);
        }
        return;
    }
    // A stream writes small chunks: with Nagle on, each waits for the client's delayed ACK
    // (40 ms on Linux).
    const int on = 1;
    setsockopt(sock.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    state_->connection_started();
    const auto accepted = Clock::now();
    try {
        std::thread(&ConnectionRunner::run, this, state_, std::move(sock), accepted).detach();
    } catch (const std::system_error&) {
        // No thread: the socket (moved into the failed call's arguments or still here) closes.
        state_->connection_ended();
    }
}

StreamSlot::StreamSlot(StreamSlot&& other) noexcept : state_(std::move(other.state_)) {}

StreamSlot& StreamSlot::operator=(StreamSlot&& other) noexcept {
    if (this != &other) {
        StreamSlot old(std::move(*this));
        state_ = std::move(other.state_);
    }
    return *this;
}

StreamSlot::~StreamSlot() {
    if (!state_) return;
    std::lock_guard lock(state_->mutex);
    --state_->streams;
}

}  // namespace ds::server
