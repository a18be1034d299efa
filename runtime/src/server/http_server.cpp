// The HTTP transport (http_server.hpp): our listeners, accept loop and per-connection limits
// around httplib's request parser and router (Server::process_request).
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
    size_t in_server = 0;          // connection threads inside process_request (see ~HttpServer)
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

// httplib's view of one connection, with our limits. The socket is non-blocking: every wait is a
// poll() over the socket and the stop eventfd with the deadline of the current phase, so no read
// or write can outlive its limit or a stop request.
class ConnectionStream final : public httplib::Stream {
  public:
    ConnectionStream(int sock, const HttpLimits& limits, int stop_fd)
        : sock_(sock), limits_(limits), stop_fd_(stop_fd) {}

    // The next request's head starts now: it must be complete by `deadline`, within
    // max_head_bytes.
    void begin_head(Clock::time_point deadline) {
        phase_ = Phase::head;
        head_deadline_ = deadline;
        head_bytes_ = 0;
        body_expected_ = 0;
        body_read_ = 0;
        body_chunked_ = false;
    }
    // httplib read the head (setup_request callback): from now on only body_stall applies.
    void begin_body(const httplib::Request& req) {
        phase_ = Phase::body;
        body_chunked_ = req.has_header("Transfer-Encoding");
        const auto length = req.get_header_value("Content-Length");
        body_expected_ = length.empty() ? 0 : std::strtoull(length.c_str(), nullptr, 10);
        // RFC 9112 6.3: a request with neither header has no body. httplib 0.11 reads a POST's
        // body "until the connection closes" then, which would wait body_stall for nothing.
        body_absent_ = !body_chunked_ && !req.has_header("Content-Length");
    }
    // The request's body was not (all) read: a handler or a guard answered without it. Its
    // bytes would be parsed as the next request, so the connection must end (a chunked body is
    // assumed unread: we do not track its end).
    bool body_left_unread() const { return body_chunked_ || body_read_ < body_expected_; }
    // The client may still be sending what we will not read (a body, a header flood).
    bool input_left_unread() const { return head_capped_ || body_left_unread(); }

    bool buffered() const { return off_ < len_; }
    // A limit cut the request short: the connection cannot be reused.
    bool failed() const { return failed_; }

    bool is_readable() const override { return buffered() || wait_for(POLLIN, read_deadline()); }
    // httplib asks before each chunk of a stream: a client that hung up (a closed terminal or
    // console tab) must end the stream now, not at the next failed write 15 s later.
    bool is_writable() const override {
        pollfd p{sock_, POLLIN | POLLRDHUP, 0};
        if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
        return wait_for(POLLOUT, Clock::now() + limits_.write_stall);
    }

    ssize_t read(char* ptr, size_t size) override {
        if (phase_ == Phase::body && body_absent_) return 0;
        if (phase_ == Phase::head) {
            if (head_bytes_ >= limits_.max_head_bytes) {
                head_capped_ = true;
                return fail();
            }
            size = std::min(size, limits_.max_head_bytes - head_bytes_);
        }
        if (!buffered()) {
            const ssize_t n = fill();
            if (n <= 0) return n;
        }
        const size_t n = std::min(size, len_ - off_);
        std::memcpy(ptr, buf_.data() + off_, n);
        off_ += n;
        if (phase_ == Phase::head) {
            head_bytes_ += n;
        } else {
            body_read_ += n;
        }
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        while (true) {
            const ssize_t n = send(sock_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n >= 0) return n;
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return fail();
            // Each wait restarts the stall clock: a slow reader is fine, a stopped one is not.
            if (!wait_for(POLLOUT, Clock::now() + limits_.write_stall)) return fail();
        }
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        httplib::detail::get_remote_ip_and_port(sock_, ip, port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        httplib::detail::get_local_ip_and_port(sock_, ip, port);
    }
    socket_t socket() const override { return sock_; }

  private:
    enum class Phase { head, body };

    Clock::time_point read_deadline() const {
        return phase_ == Phase::head ? head_deadline_ : Clock::now() + limits_.body_stall;
    }

    ssize_t fail() {
        failed_ = true;
        return -1;
    }

    // Reads what the socket has into the buffer, waiting up to the phase's deadline.
    ssize_t fill() {
        off_ = len_ = 0;
        while (true) {
            const ssize_t n = recv(sock_, buf_.data(), buf_.size(), MSG_DONTWAIT);
            if (n >= 0) {
                len_ = static_cast<size_t>(n);
                return n;
            }
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return fail();
            if (!wait_for(POLLIN, read_deadline())) return fail();
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
    Phase phase_ = Phase::head;
    Clock::time_point head_deadline_{};
    size_t head_bytes_ = 0;
    bool failed_ = false;
    bool head_capped_ = false;
    unsigned long long body_expected_ = 0;
    unsigned long long body_read_ = 0;
    bool body_chunked_ = false;
    bool body_absent_ = false;
    std::array<char, 4096> buf_{};
    size_t off_ = 0;
    size_t len_ = 0;
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

}  // namespace

// One connection's keep-alive loop (httplib's process_server_socket_core, with our waits).
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
        ConnectionStream stream(sock, limits, st.stop_fd.get());
        for (size_t count = 0; count < limits.max_requests_per_connection; ++count) {
            if (st.stopping) return false;
            // The first request's head deadline runs from accept: a client that connects and
            // trickles (or sends nothing) is gone head_timeout later.
            auto idle_since = count == 0 ? accepted : Clock::now();
            auto wait_deadline =
                count == 0 ? accepted + limits.head_timeout : idle_since + limits.keep_alive;
            if (!stream.buffered() &&
                wait_for_request(sock, st.stop_fd.get(), st.pressure_fd.get(), idle_since,
                                 wait_deadline) != Wait::request) {
                return false;
            }
            stream.begin_head(count == 0 ? accepted + limits.head_timeout
                                         : Clock::now() + limits.head_timeout);
            const bool last = count + 1 == limits.max_requests_per_connection;
            bool connection_closed = false;
            const bool ok = process_one(server, st, stream, last || st.stopping, connection_closed);
            if (stream.input_left_unread()) return true;
            if (!ok || connection_closed || stream.failed()) return false;
        }
        return false;
    }

    static bool process_one(HttpServer* server, HttpServer::State& st, ConnectionStream& stream,
                            bool close, bool& connection_closed) {
        {
            std::lock_guard lock(st.mutex);
            ++st.in_server;
        }
        bool ok = false;
        try {
            ok = server->process_request(
                stream, close, connection_closed,
                [&stream](httplib::Request& req) { stream.begin_body(req); });
        } catch (...) {
            // A handler's exception is turned into a 500 by the exception handler; anything
            // escaping it (allocation failure while writing) ends only this connection.
            ok = false;
        }
        {
            std::lock_guard lock(st.mutex);
            --st.in_server;
        }
        st.idle.notify_all();
        return ok;
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
    // httplib's default puts e.what() in an "EXCEPTION_WHAT" response header: internal paths
    // and errno text for any client. A plain 500 instead; server.cpp may install its own
    // handler with the JSON error document.
    set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(R"({"error":"system","detail":"internal error"})", "application/json");
    });
    // Only the keep-alive header httplib writes uses these.
    set_keep_alive_timeout(limits_.keep_alive.count());
    set_keep_alive_max_count(limits_.max_requests_per_connection);
}

HttpServer::~HttpServer() {
    request_stop();
    // Connection threads call process_request on this object: wait until none is inside it.
    // Every read and write of theirs fails at once after the stop, so only a handler busy with
    // the runtime (a container start) can hold this up, for as long as that operation takes.
    std::unique_lock lock(state_->mutex);
    state_->idle.wait(lock, [this] { return state_->in_server == 0; });
}

void HttpServer::request_stop() {
    if (state_->stopping.exchange(true)) return;
    // httplib's content providers (chunked, SSE) end when svr_sock_ is invalid.
    svr_sock_ = INVALID_SOCKET;
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
    // httplib's "is the server running" test for content providers (see request_stop).
    if (!st.stopping) svr_sock_ = listeners.front().get();
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
    // httplib writes the head and the body separately: with Nagle on, the body waits for the
    // client's delayed ACK (40 ms a request on Linux).
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
