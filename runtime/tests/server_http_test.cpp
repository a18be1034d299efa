// server/http_server: the transport's limits, proven against an in-process server on
// 127.0.0.1:0 with a raw socket client (no HTTP library on the client side, so the client can
// misbehave the way an attacker does). Limits are small so the tests run in seconds.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "server/http_server.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using ds::server::HttpLimits;
using ds::server::HttpServer;
using ds::sys::unique_fd;

uint16_t local_port(int fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    return ntohs(addr.sin_port);
}

unique_fd connect_to(uint16_t port) {
    unique_fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << strerror(errno);
    return fd;
}

// Sends what the peer takes; false once it refuses (closed or reset).
bool send_all(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

bool readable_within(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
}

// Everything the server sends until it closes, or until `deadline`. `closed` tells which.
std::string read_until_closed(int fd, Clock::duration limit, bool* closed) {
    std::string out;
    const auto deadline = Clock::now() + limit;
    *closed = false;
    while (Clock::now() < deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (!readable_within(fd, std::max(left, 1ms))) continue;
        char buf[4096];
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            *closed = true;
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// One response (headers + Content-Length body) from a keep-alive connection.
std::string read_response(int fd, Clock::duration limit = 5s) {
    std::string out;
    const auto deadline = Clock::now() + limit;
    size_t want = std::string::npos;
    while (Clock::now() < deadline) {
        const auto end = out.find("\r\n\r\n");
        if (end != std::string::npos && want == std::string::npos) {
            const auto cl = out.find("Content-Length: ");
            const size_t length =
                cl == std::string::npos || cl > end ? 0 : std::stoul(out.substr(cl + 16));
            want = end + 4 + length;
        }
        if (want != std::string::npos && out.size() >= want) return out.substr(0, want);
        if (!readable_within(fd, 50ms)) continue;
        char buf[4096];
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

std::string get(const std::string& path, bool close = false) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
           (close ? "Connection: close\r\n" : "") + "\r\n";
}

size_t open_fd_count() {
    size_t n = 0;
    DIR* d = opendir("/proc/self/fd");
    if (!d) return 0;
    while (readdir(d))
        ++n;
    closedir(d);
    return n;
}

template <class F>
bool wait_until(Clock::duration limit, F condition) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
        if (condition()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return condition();
}

// A handler that holds its connection until released (to fill the connection cap).
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    std::atomic<int> waiting{0};
    void pass() {
        std::unique_lock lock(m);
        ++waiting;
        cv.wait_for(lock, 20s, [this] { return open; });
        --waiting;
    }
    void release() {
        {
            std::lock_guard lock(m);
            open = true;
        }
        cv.notify_all();
    }
};

class HttpServerTest : public ::testing::Test {
  protected:
    void start(HttpLimits limits) {
        server_ = std::make_unique<HttpServer>(limits);
        server_->Get("/hello",
                     [](const ds::server::http::Request&, ds::server::http::Response& res) {
                         res.set_content("hello", "text/plain");
                     });
        server_->Get("/block",
                     [this](const ds::server::http::Request&, ds::server::http::Response& res) {
                         gate_.pass();
                         res.set_content("unblocked", "text/plain");
                     });
        server_->Get("/throw", [](const ds::server::http::Request&, ds::server::http::Response&) {
            throw std::runtime_error("secret-detail /var/lib/x: Permission denied");
        });
        server_->Post("/echo",
                      [](const ds::server::http::Request& req, ds::server::http::Response& res) {
                          res.set_content(std::to_string(req.body.size()), "text/plain");
                      });
        server_->Get("/stream",
                     [](const ds::server::http::Request&, ds::server::http::Response& res) {
                         res.set_chunked_content_provider(
                             "text/event-stream", [](size_t, ds::server::http::DataSink& sink) {
                                 sink.write("one\n", 4);
                                 sink.write("two\n", 4);
                                 sink.done();
                                 return true;
                             });
                     });
        server_->Get("/params/{name}/x/{id:hex32}",
                     [](const ds::server::http::Request& req, ds::server::http::Response& res) {
                         res.set_content(req.path_param("name") + "," + req.path_param("id") + "," +
                                             req.get_param_value("q"),
                                         "text/plain");
                     });
        server_->Post("/upload", [this](const ds::server::http::Request& req,
                                        ds::server::http::Response& res,
                                        const ds::server::http::ContentReader& reader) {
            if (req.get_param_value("refuse") == "1") {
                res.status = 409;  // answered before reading: the body stays unread
                return;
            }
            size_t n = 0;
            const bool complete = reader([&n](const char*, size_t size) {
                n += size;
                return true;
            });
            uploaded_ = n;
            res.set_content(std::to_string(n) + (complete ? " complete" : " short"), "text/plain");
        });
        // What server.cpp's guards do: answer from the head, without reading the body.
        server_->set_pre_routing_handler(
            [](const ds::server::http::Request& req, ds::server::http::Response& res) {
                if (req.path != "/reject") return ds::server::http::HandlerResponse::Unhandled;
                res.status = 413;
                res.set_content("too large", "text/plain");
                return ds::server::http::HandlerResponse::Handled;
            });
        std::vector<unique_fd> listeners;
        listeners.push_back(ds::server::listen_on("127.0.0.1", 0));
        port_ = local_port(listeners.back().get());
        serving_ = std::async(std::launch::async, [this, l = std::move(listeners)]() mutable {
            server_->serve(std::move(l));
        });
    }
    void TearDown() override {
        gate_.release();
        if (server_) {
            server_->request_stop();
            if (serving_.valid()) {
                EXPECT_EQ(serving_.wait_for(10s), std::future_status::ready);
                serving_.get();
            }
            server_.reset();
        }
    }
    std::string request(const std::string& path) {
        auto fd = connect_sending(get(path, true));
        bool closed = false;
        return read_until_closed(fd.get(), 5s, &closed);
    }
    // A connection to the server that has sent `bytes` (a refused send fails the test).
    unique_fd connect_sending(const std::string& bytes) {
        auto fd = connect_to(port_);
        EXPECT_TRUE(send_all(fd.get(), bytes)) << "the server refused " << bytes.substr(0, 40);
        return fd;
    }

    std::unique_ptr<HttpServer> server_;
    std::future<void> serving_;
    uint16_t port_ = 0;
    Gate gate_;
    std::atomic<size_t> uploaded_{0};
};

HttpLimits small_limits() {
    HttpLimits l;
    l.max_connections = 8;
    l.max_streams = 2;
    l.head_timeout = 1s;
    l.max_head_bytes = 4096;
    l.keep_alive = 2s;
    l.body_stall = 1s;
    l.write_stall = 1s;
    l.max_requests_per_connection = 5;
    return l;
}

TEST_F(HttpServerTest, AnswersAndKeepsTheConnectionAlive) {
    start(small_limits());
    auto fd = connect_to(port_);
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(send_all(fd.get(), get("/hello")));
        const auto r = read_response(fd.get());
        EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u) << r;
        EXPECT_NE(r.find("\r\n\r\nhello"), std::string::npos) << r;
    }
}

// Guard: the head deadline. Without it, a client that sends half a head holds a thread forever
// (the read would wait for the rest).
TEST_F(HttpServerTest, HeadDeadlineDropsAHalfRequest) {
    start(small_limits());
    auto fd = connect_sending("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const auto t0 = Clock::now();
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed) << "the server kept a half request open";
    EXPECT_LT(Clock::now() - t0, 3s);
    EXPECT_EQ(out.find("200"), std::string::npos) << out;
}

// Guard: the deadline covers the whole head, not each read: a slowloris that sends a header
// line every 200 ms is still dropped at the deadline.
TEST_F(HttpServerTest, HeadDeadlineIsTotalNotPerRead) {
    start(small_limits());
    auto fd = connect_sending("GET /hello HTTP/1.1\r\n");
    const auto t0 = Clock::now();
    // Dropped: a header line is refused, or the server's close makes the socket readable.
    const bool dropped = wait_until(4s, [&] {
        return !send_all(fd.get(), "X-Slow: 1\r\n") || readable_within(fd.get(), 200ms);
    });
    EXPECT_TRUE(dropped) << "a trickled head outlived the head deadline";
    EXPECT_LT(Clock::now() - t0, 3s);
}

// Guard: the head byte cap. Without it httplib reads any number of headers (it caps only the
// length of one line) and answers 200.
TEST_F(HttpServerTest, HeadByteCapRejectsAHeaderFlood) {
    start(small_limits());
    std::string flood = "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (int i = 0; i < 2000; ++i)
        flood += "X-Flood-" + std::to_string(i) + ": y\r\n";
    flood += "\r\n";
    auto fd = connect_to(port_);
    send_all(fd.get(), flood);  // the server may close before taking all of it
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << out.substr(0, 200);
    // And the server is still there.
    EXPECT_EQ(request("/hello").rfind("HTTP/1.1 200", 0), 0u);
}

// Guard: body_stall. A client announcing a body and sending part of it is dropped.
TEST_F(HttpServerTest, BodyStallDropsAStalledBody) {
    start(small_limits());
    auto fd = connect_sending(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
        "0123456789");
    const auto t0 = Clock::now();
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 6s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - t0, 4s);
    EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << out;
    // A complete body is fine.
    auto ok =
        connect_sending("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc");
    EXPECT_NE(read_response(ok.get()).find("\r\n\r\n3"), std::string::npos);
}

// An unread body must end the connection: its bytes would otherwise be parsed as the next
// request (request smuggling past the guards), and closing with them unread would reset the
// connection before the client reads the 413.
TEST_F(HttpServerTest, AnUnreadBodyEndsTheConnectionAfterTheResponse) {
    start(small_limits());
    const std::string smuggled = get("/hello");
    std::string body = smuggled + std::string(2 * 1024 * 1024 - smuggled.size(), 'x');
    auto fd = connect_to(port_);
    std::thread writer([&] {
        send_all(fd.get(), "POST /reject HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body);
    });
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    writer.join();
    EXPECT_TRUE(closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out.substr(0, 200);
    EXPECT_EQ(out.find("HTTP/1.1", 1), std::string::npos) << "a second response: " << out;
}

// Guard: the connection cap. The (cap+1)th connection is not served while the cap is held by
// busy connections, and is served as soon as one ends.
TEST_F(HttpServerTest, ConnectionCapHoldsTheNextConnection) {
    auto limits = small_limits();
    limits.max_connections = 2;
    start(limits);
    auto a = connect_to(port_);
    auto b = connect_to(port_);
    ASSERT_TRUE(send_all(a.get(), get("/block", true)));
    ASSERT_TRUE(send_all(b.get(), get("/block", true)));
    ASSERT_TRUE(wait_until(5s, [&] { return gate_.waiting == 2; }));
    EXPECT_EQ(server_->active_connections(), 2u);
    auto c = connect_to(port_);  // completes in the kernel's backlog
    ASSERT_TRUE(send_all(c.get(), get("/hello", true)));
    EXPECT_FALSE(readable_within(c.get(), 1500ms)) << "served beyond the connection cap";
    EXPECT_LE(server_->active_connections(), 2u);
    gate_.release();
    bool closed = false;
    const auto out = read_until_closed(c.get(), 5s, &closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
}

// At the cap, silent connections give their place up after a short grace, so a flood of idle
// sockets cannot delay a real request for the whole head deadline.
TEST_F(HttpServerTest, IdleConnectionsYieldUnderPressure) {
    auto limits = small_limits();
    limits.max_connections = 4;
    limits.head_timeout = 20s;  // the flood would hold every slot for 20 s without the eviction
    start(limits);
    std::vector<unique_fd> idle;
    for (int i = 0; i < 12; ++i)
        idle.push_back(connect_to(port_));
    auto fd = connect_sending(get("/hello", true));
    const auto t0 = Clock::now();
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 15s, &closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
    EXPECT_LT(Clock::now() - t0, 8s);
}

TEST_F(HttpServerTest, MaxRequestsPerConnection) {
    auto limits = small_limits();
    limits.max_requests_per_connection = 2;
    start(limits);
    auto fd = connect_sending(get("/hello"));
    EXPECT_EQ(read_response(fd.get()).find("Connection: close"), std::string::npos);
    ASSERT_TRUE(send_all(fd.get(), get("/hello")));
    EXPECT_NE(read_response(fd.get()).find("Connection: close"), std::string::npos);
    bool closed = false;
    read_until_closed(fd.get(), 3s, &closed);
    EXPECT_TRUE(closed);
}

TEST_F(HttpServerTest, KeepAliveIdleTimeoutClosesTheConnection) {
    auto limits = small_limits();
    limits.keep_alive = 1s;
    start(limits);
    auto fd = connect_sending(get("/hello"));
    ASSERT_EQ(read_response(fd.get()).rfind("HTTP/1.1 200", 0), 0u);
    const auto t0 = Clock::now();
    bool closed = false;
    read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_LT(Clock::now() - t0, 3s);
}

// httplib's default exception handling puts e.what() in a response header.
TEST_F(HttpServerTest, ExceptionTextNeverReachesTheClient) {
    start(small_limits());
    const auto out = request("/throw");
    EXPECT_EQ(out.rfind("HTTP/1.1 500", 0), 0u) << out;
    EXPECT_EQ(out.find("secret-detail"), std::string::npos) << out;
    EXPECT_EQ(out.find("EXCEPTION_WHAT"), std::string::npos) << out;
}

TEST_F(HttpServerTest, StopEndsServeEvenWithAnIdleClient) {
    auto limits = small_limits();
    limits.head_timeout = 30s;
    start(limits);
    auto idle = connect_to(port_);
    ASSERT_TRUE(wait_until(5s, [&] { return server_->active_connections() == 1; }));
    server_->request_stop();
    EXPECT_TRUE(server_->stopping());
    pollfd p{server_->stop_fd(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 0), 1);
    EXPECT_EQ(serving_.wait_for(3s), std::future_status::ready);
    EXPECT_EQ(server_->active_connections(), 0u);
}

TEST_F(HttpServerTest, NoFdLeakOver200Requests) {
    start(small_limits());
    // One request first: lazily created fds (if any) exist before the count.
    EXPECT_EQ(request("/hello").rfind("HTTP/1.1 200", 0), 0u);
    ASSERT_TRUE(wait_until(5s, [&] { return server_->active_connections() == 0; }));
    const auto before = open_fd_count();
    for (int i = 0; i < 200; ++i) {
        const auto out = request("/hello");
        ASSERT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << i;
    }
    ASSERT_TRUE(wait_until(5s, [&] { return server_->active_connections() == 0; }));
    EXPECT_EQ(open_fd_count(), before);
}

TEST_F(HttpServerTest, StreamSlots) {
    start(small_limits());
    auto a = server_->acquire_stream_slot();
    auto b = server_->acquire_stream_slot();
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_FALSE(server_->acquire_stream_slot());
    {
        auto moved = std::move(*a);
        a.reset();
        EXPECT_FALSE(server_->acquire_stream_slot());
    }
    EXPECT_TRUE(server_->acquire_stream_slot());
}

TEST(ListenOn, ErrorsNameTheAddress) {
    try {
        ds::server::listen_on("localhost", 8420);
        FAIL() << "a name was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("localhost"), std::string::npos) << e.what();
    }
    auto first = ds::server::listen_on("127.0.0.1", 0);
    const auto port = local_port(first.get());
    try {
        ds::server::listen_on("127.0.0.1", port);
        FAIL() << "bound a port in use";
    } catch (const std::exception& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << what;
        EXPECT_NE(what.find("Address already in use"), std::string::npos) << what;
    }
    // IPv6 loopback, v6-only, close-on-exec.
    auto v6 = ds::server::listen_on("::1", 0);
    int v6only = 0;
    socklen_t len = sizeof v6only;
    ASSERT_EQ(getsockopt(v6.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
    EXPECT_EQ(v6only, 1);
    EXPECT_TRUE(fcntl(v6.get(), F_GETFD) & FD_CLOEXEC);
}

// --- the request loop (server/http.hpp behind the transport) -------------------------------------

// Pipelined requests in one send are answered in order, each once.
TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
    start(small_limits());
    auto fd = connect_sending(get("/hello") + get("/params/a/x/" + std::string(32, 'f') + "?q=1") +
                              get("/hello", true));
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    const auto first = out.find("HTTP/1.1 200");
    const auto second = out.find("HTTP/1.1 200", first + 1);
    const auto third = out.find("HTTP/1.1 200", second + 1);
    ASSERT_NE(third, std::string::npos) << out;
    EXPECT_EQ(out.find("HTTP/1.1", third + 1), std::string::npos) << out;
    EXPECT_NE(out.find("\r\n\r\na," + std::string(32, 'f') + ",1"), std::string::npos) << out;
}

// Smuggling over the wire: a request with both Content-Length and Transfer-Encoding is refused
// (400) and the connection ends, so the "body" is never parsed as a second request.
TEST_F(HttpServerTest, ContentLengthWithTransferEncodingIsRefused) {
    start(small_limits());
    const std::string smuggled = get("/hello");
    auto fd = connect_sending("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                              std::to_string(smuggled.size() + 5) +
                              "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled);
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << out;
    EXPECT_EQ(out.find("HTTP/1.1", 1), std::string::npos) << "a second response: " << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
}

// A chunked request body is refused with 411 (its end would be ours to find); the chunk bytes
// are never parsed as a request.
TEST_F(HttpServerTest, ChunkedRequestBodyIs411) {
    start(small_limits());
    auto fd = connect_sending(
        "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
        std::string("12\r\n") + get("/hello") + "\r\n0\r\n\r\n");
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 411", 0), 0u) << out;
    EXPECT_EQ(out.find("HTTP/1.1", 1), std::string::npos) << out;
}

TEST_F(HttpServerTest, BadHeadsAre400AndEndTheConnection) {
    start(small_limits());
    for (const std::string bad :
         {"GET /hello HTTP/1.1\nHost: 127.0.0.1\n\n", "GET /hello HTTP/1.1\r\nX : y\r\n\r\n",
          "GET /hello HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", "GET /%2e%2e/hello HTTP/1.1\r\n\r\n",
          "GET /a%00 HTTP/1.1\r\n\r\n", "GET http://x/hello HTTP/1.1\r\n\r\n"}) {
        auto fd = connect_sending(bad + get("/hello"));
        bool closed = false;
        const auto out = read_until_closed(fd.get(), 5s, &closed);
        EXPECT_TRUE(closed) << bad;
        EXPECT_EQ(out.rfind("HTTP/1.1 400", 0), 0u) << bad << out;
        EXPECT_EQ(out.find("HTTP/1.1", 1), std::string::npos) << bad << out;
    }
    EXPECT_EQ(request("/hello").rfind("HTTP/1.1 200", 0), 0u);
}

TEST_F(HttpServerTest, Http10AndConnectionCloseEndTheConnection) {
    start(small_limits());
    for (const std::string head :
         {std::string("GET /hello HTTP/1.0\r\n\r\n"),
          std::string("GET /hello HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n")}) {
        auto fd = connect_sending(head);
        bool closed = false;
        const auto out = read_until_closed(fd.get(), 3s, &closed);
        EXPECT_TRUE(closed) << head;
        EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
        EXPECT_NE(out.find("Connection: close"), std::string::npos) << out;
    }
    // HTTP/1.0 with keep-alive stays open.
    auto fd = connect_sending("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(read_response(fd.get()).rfind("HTTP/1.1 200", 0), 0u);
    ASSERT_TRUE(send_all(fd.get(), get("/hello")));
    EXPECT_EQ(read_response(fd.get()).rfind("HTTP/1.1 200", 0), 0u);
}

// HEAD: the GET route's headers and Content-Length, no body; the connection stays usable.
TEST_F(HttpServerTest, HeadHasNoBody) {
    start(small_limits());
    auto fd = connect_sending("HEAD /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + get("/hello"));
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 2500ms, &closed);
    ASSERT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
    const auto end = out.find("\r\n\r\n");
    EXPECT_NE(out.substr(0, end).find("Content-Length: 5"), std::string::npos) << out;
    EXPECT_EQ(out.compare(end + 4, 12, "HTTP/1.1 200"), 0) << "HEAD sent a body: " << out;
    EXPECT_NE(out.find("\r\n\r\nhello"), std::string::npos) << out;
}

TEST_F(HttpServerTest, NoRouteIs404AndUnknownMethodIs501) {
    start(small_limits());
    EXPECT_EQ(request("/nowhere").rfind("HTTP/1.1 404", 0), 0u);
    auto fd = connect_sending("BREW /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    bool closed = false;
    EXPECT_EQ(read_until_closed(fd.get(), 3s, &closed).rfind("HTTP/1.1 501", 0), 0u);
}

// A stream is chunked, ends with the last chunk, and the connection is reusable after it.
TEST_F(HttpServerTest, ChunkedStreamThenTheNextRequest) {
    start(small_limits());
    auto fd = connect_sending(get("/stream") + get("/hello", true));
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_NE(out.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << out;
    EXPECT_NE(out.find("\r\n\r\n4\r\none\n\r\n4\r\ntwo\n\r\n0\r\n\r\nHTTP/1.1 200"),
              std::string::npos)
        << out;
    EXPECT_NE(out.find("\r\n\r\nhello"), std::string::npos) << out;
}

// Expect: 100-continue: "100 Continue" only when the handler reads the body; a handler that
// answers first gets its answer out without the client sending the body.
TEST_F(HttpServerTest, ExpectContinueOnlyWhenTheBodyIsRead) {
    start(small_limits());
    auto fd = connect_sending(
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        "Expect: 100-continue\r\n\r\n");
    ASSERT_TRUE(readable_within(fd.get(), 3000ms));
    char buf[64];
    const ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_TRUE(send_all(fd.get(), "abcde"));
    const auto out = read_response(fd.get());
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
    EXPECT_NE(out.find("\r\n\r\n5 complete"), std::string::npos) << out;
    // Refused before reading: a final answer, no 100, and the connection ends.
    auto refused = connect_sending(
        "POST /upload?refuse=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        "Expect: 100-continue\r\n\r\n");
    bool closed = false;
    const auto answer = read_until_closed(refused.get(), 5s, &closed);
    EXPECT_EQ(answer.rfind("HTTP/1.1 409", 0), 0u) << answer;
    EXPECT_EQ(answer.find("100 Continue"), std::string::npos) << answer;
    EXPECT_TRUE(closed);
}

// The body of a ContentReader route arrives in pieces, across reads, in full.
TEST_F(HttpServerTest, ContentReaderGetsTheWholeBody) {
    start(small_limits());
    const std::string body(300 * 1024, 'z');
    auto fd = connect_to(port_);
    std::thread writer([&] {
        send_all(fd.get(), "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body);
    });
    const auto out = read_response(fd.get());
    writer.join();
    EXPECT_NE(out.find("\r\n\r\n307200 complete"), std::string::npos) << out.substr(0, 300);
}

TEST_F(HttpServerTest, BodyOverMaxBodyIs413WithoutReadingIt) {
    auto limits = small_limits();
    limits.max_body = 1000;
    start(limits);
    auto fd =
        connect_sending("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1001\r\n\r\n");
    bool closed = false;
    const auto out = read_until_closed(fd.get(), 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(out.rfind("HTTP/1.1 413", 0), 0u) << out;
}

}  // namespace
