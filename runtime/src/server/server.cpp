#include "server/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "server/api.hpp"
#include "server/guards.hpp"
#include "server/http_server.hpp"
#include "server/static_files.hpp"
#include "server/streams.hpp"
#include "sys/eventfd.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {
namespace {

const std::vector<std::string> kLoopback = {"127.0.0.1", "::1"};

std::string host_for_url(const std::string& address) {
    return address.find(':') != std::string::npos ? "[" + address + "]" : address;
}

// One server per workspace: its pidfile stays locked (flock) while it runs. A lock that cannot be
// taken names the PID that holds it.
class PidfileLock {
  public:
    explicit PidfileLock(const std::string& path) {
        fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd_) sys::fail_errno("open " + path);
        if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK) sys::fail_errno("lock " + path);
            auto pid = sys::try_read_file(path).value_or("?");
            while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' '))
                pid.pop_back();
            fail_busy("a server already runs for this workspace (PID " + pid + "; " + path +
                      "): stop it with 'droidspaces daemon --stop'");
        }
        std::string text = std::to_string(::getpid()) + "\n";
        if (::ftruncate(fd_.get(), 0) != 0 ||
            ::pwrite(fd_.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
            sys::fail_errno("write " + path);
        path_ = path;
    }
    ~PidfileLock() {
        if (fd_) ::unlink(path_.c_str());  // still locked: nobody can take a stale file
    }
    PidfileLock(const PidfileLock&) = delete;
    PidfileLock& operator=(const PidfileLock&) = delete;

  private:
    std::string path_;
    sys::unique_fd fd_;
};

// Removes the per-start files when the server ends, whatever way it ends.
struct RemoveOnExit {
    std::vector<std::string> paths;
    ~RemoveOnExit() {
        for (const auto& p : paths)
            ::unlink(p.c_str());
    }
};

// Binds every address on one port: the first bind decides it when `port` is 0.
std::vector<sys::unique_fd> bind_all(const std::vector<std::string>& addresses, uint16_t& port) {
    std::vector<sys::unique_fd> listeners;
    for (const auto& address : addresses) {
        listeners.push_back(listen_on(address, port));
        if (port == 0) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            if (::getsockname(listeners.back().get(), reinterpret_cast<sockaddr*>(&ss), &len) != 0)
                sys::fail_errno("getsockname " + address);
            port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                  : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
        }
    }
    return listeners;
}

std::optional<std::string> header(const http::Request& req, const char* name) {
    if (!req.has_header(name)) return std::nullopt;
    return req.get_header_value(name);
}

ApiRequest api_request(const http::Request& req) {
    ApiRequest a{req.method, req.path, {}, req.body};
    for (const auto& [key, value] : req.query)
        a.query.emplace(key, value);
    return a;
}

void send(http::Response& res, const ApiResponse& r) {
    res.status = r.status;
    res.set_header("Cache-Control", "no-store");
    res.set_content(r.body, "application/json");
}

// The dashboard: the module's webroot/ (the same files the KernelSU WebUI loads), next to the
// binary; none found -> a built-in page that says so.
std::string find_webroot(const std::string& requested) {
    if (!requested.empty()) {
        if (!sys::is_directory(requested))
            fail_invalid("--webroot '" + requested + "': not a directory");
        return requested;
    }
    char exe[4096];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return "";
    std::string dir(exe, static_cast<size_t>(n));
    dir.erase(dir.rfind('/'));
    for (const auto& candidate :
         {dir + "/webroot", dir + "/../webroot", std::string("/usr/share/droidspaces/webroot")})
        if (sys::path_exists(candidate + "/index.html")) return candidate;
    return "";
}

// SIGTERM / SIGINT end the server; they are blocked in every thread (before the first thread
// starts, so all inherit the mask) and read from a signalfd by one watcher, so no handler runs
// inside the transport or the request layer.
sigset_t stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    return set;
}

class SignalWatcher {
  public:
    explicit SignalWatcher(HttpServer& http) {
        sigset_t set = stop_signals();
        sigfd_.reset(::signalfd(-1, &set, SFD_CLOEXEC));
        if (!sigfd_) sys::fail_errno("signalfd");
        done_ = sys::make_eventfd("the signal watcher");
        thread_ = std::thread([this, &http] { watch(http); });
    }
    ~SignalWatcher() {
        sys::signal_eventfd(done_.get());
        thread_.join();
    }
    SignalWatcher(const SignalWatcher&) = delete;
    SignalWatcher& operator=(const SignalWatcher&) = delete;

  private:
    void watch(HttpServer& http) {
        pollfd fds[2] = {{sigfd_.get(), POLLIN, 0}, {done_.get(), POLLIN, 0}};
        for (;;) {
            if (::poll(fds, 2, -1) < 0 && errno == EINTR) continue;
            if (fds[1].revents) return;
            signalfd_siginfo info;
            if (::read(sigfd_.get(), &info, sizeof info) != sizeof info) continue;
            if (info.ssi_signo == SIGHUP) continue;  // a closed terminal does not end a daemon
            std::fprintf(stderr, "[server] signal %u: stopping\n", info.ssi_signo);
            http.request_stop();
            return;
        }
    }
    sys::unique_fd sigfd_, done_;
    std::thread thread_;
};

std::string now_ms_text(std::chrono::steady_clock::time_point start) {
    auto ms = std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ms) / 1000.0);
    return buf;
}

// The request being served on this thread (one thread per connection), for the log line.
thread_local std::chrono::steady_clock::time_point t_request_start;

class Server {
  public:
    Server(const Workspace& ws, const ServeOptions& options, uint16_t port, std::string token,
           std::string webroot)
        : ws_(ws),
          listen_(options.listen.empty() ? kLoopback : options.listen),
          guards_(GuardConfig{port, listen_, std::move(token)}),
          api_(ws, ServerFacts{::getpid(), port, listen_, static_cast<long>(::time(nullptr))}),
          streams_(ws, http_,
                   [this](const http::Request& req, http::Response& res) {
                       send(res, api_.handle(api_request(req)));
                   }),
          webroot_(std::move(webroot)) {
        if (!webroot_.empty()) {
            webroot_fd_.reset(::open(webroot_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!webroot_fd_) sys::fail_errno("open webroot " + webroot_);
        }
        wire();
    }

    void serve(std::vector<sys::unique_fd> listeners) {
        http_.serve(std::move(listeners));
        streams_.shutdown();
    }
    HttpServer& http() { return http_; }

  private:
    void wire() {
        http_.set_default_headers(
            http::Fields(security_headers().begin(), security_headers().end()));
        http_.set_pre_routing_handler(
            [this](const http::Request& req, http::Response& res) { return guard(req, res); });
        http_.set_logger([](const http::Request& req, const http::Response& res) {
            // The path only: no query, no header (the token never reaches the log).
            std::fprintf(stderr, "%s %s %d %s ms\n", req.method.c_str(), req.path.c_str(),
                         res.status, now_ms_text(t_request_start).c_str());
        });
        streams_.register_routes();
        auto api_route = [this](const http::Request& req, http::Response& res) {
            send(res, api_.handle(api_request(req)));
        };
        http_.Get("/api/*", api_route);
        http_.Post("/api/*", api_route);
        http_.Put("/api/*", api_route);
        http_.Patch("/api/*", api_route);
        http_.Delete("/api/*", api_route);
        http_.Get("/*", [this](const http::Request& req, http::Response& res) {
            serve_static(req, res);
        });
    }

    http::HandlerResponse guard(const http::Request& req, http::Response& res) {
        t_request_start = std::chrono::steady_clock::now();
        HeadValues values(req);
        if (req.method == "OPTIONS") {
            if (!values.host || !guards_.host_allowed(*values.host))
                return reject(
                    res, {421, "misdirected", "this server answers only to its own host names"});
            auto headers = guards_.preflight_headers(
                view(values.origin), req.has_header("Access-Control-Request-Private-Network"));
            if (!headers) return reject(res, {403, "forbidden_origin", "origin not allowed"});
            for (const auto& [k, v] : *headers)
                res.set_header(k, v);
            res.status = 204;
            return http::HandlerResponse::Handled;
        }
        if (auto rejection = guards_.check(values.head(req))) return reject(res, *rejection);
        for (const auto& [k, v] : guards_.cors_headers(view(values.origin)))
            res.set_header(k, v);
        return http::HandlerResponse::Unhandled;
    }

    // The headers the guards look at. The guards run before any byte of a body is read and
    // before "100 Continue" is sent: a refused request's body never leaves the client.
    struct HeadValues {
        explicit HeadValues(const http::Request& req)
            : host(header(req, "Host")),
              origin(header(req, "Origin")),
              authorization(header(req, "Authorization")),
              length(header(req, "Content-Length")),
              transfer_encoding(header(req, "Transfer-Encoding")),
              content_type(req.get_header_value("Content-Type")) {}
        RequestHead head(const http::Request& req) const {
            return RequestHead{req.method,
                               req.path,
                               view(host),
                               view(origin),
                               view(authorization),
                               view(length),
                               view(transfer_encoding),
                               Streams::is_upload(req.method, req.path, content_type)};
        }
        std::optional<std::string> host, origin, authorization, length, transfer_encoding;
        std::string content_type;
    };

    static std::optional<std::string_view> view(const std::optional<std::string>& value) {
        if (!value) return std::nullopt;
        return std::string_view(*value);
    }

    static http::HandlerResponse reject(http::Response& res, const Rejection& r) {
        send(res, error_response(r.status, r.error, r.detail));
        if (r.status == 401) res.set_header("WWW-Authenticate", "Bearer");
        // A refused request's body is not read: the connection cannot carry another one.
        res.set_header("Connection", "close");
        return http::HandlerResponse::Handled;
    }

    void serve_static(const http::Request& req, http::Response& res) {
        if (!webroot_fd_) {
            if (req.path != "/" && req.path != "/index.html") {
                send(res, error_response(404, "not_found", "no such file: " + req.path));
                return;
            }
            res.set_content(std::string(fallback_page()), "text/html; charset=utf-8");
            return;
        }
        auto file = read_static(webroot_fd_.get(), req.path);
        if (!file) {
            send(res, error_response(404, "not_found", "no such file: " + req.path));
            return;
        }
        // index.html carries no secret, but it must be re-read after an upgrade of the module.
        res.set_header("Cache-Control", "no-cache");
        res.set_content(std::move(file->content), file->mime);
    }

    Workspace ws_;
    std::vector<std::string> listen_;
    Guards guards_;
    HttpServer http_;
    Api api_;
    Streams streams_;
    std::string webroot_;
    sys::unique_fd webroot_fd_;
};

}  // namespace

ServerPaths::ServerPaths(const Workspace& ws)
    : pidfile(ws.root + "/droidspacesd.pid"),
      token(ws.root + "/droidspacesd.token"),
      state(ws.root + "/droidspacesd.json"),
      log(ws.logs_root() + "/droidspacesd.log") {}

std::string dashboard_url(const std::vector<std::string>& listen, uint16_t port,
                          const std::string& token) {
    // Loopback when it is listened on (a wildcard covers it), else the first address.
    std::string host;
    for (const auto& a : listen)
        if (a == "127.0.0.1" || a == "0.0.0.0") host = "127.0.0.1";
    for (const auto& a : listen)
        if (host.empty() && (a == "::1" || a == "::")) host = "[::1]";
    if (host.empty()) host = listen.empty() ? "127.0.0.1" : host_for_url(listen.front());
    return "http://" + host + ":" + std::to_string(port) + "/#token=" + token;
}

std::vector<std::string> exposed_addresses(const std::vector<std::string>& listen) {
    std::vector<std::string> out;
    for (const auto& a : listen) {
        in_addr v4{};
        in6_addr v6{};
        bool loopback =
            (::inet_pton(AF_INET, a.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127) ||
            (::inet_pton(AF_INET6, a.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6));
        if (!loopback) out.push_back(a);
    }
    return out;
}

int run_server(const Workspace& ws, const ServeOptions& options,
               const std::function<void(const std::string& url)>& ready) {
    ServerPaths paths(ws);
    sigset_t blocked = stop_signals();
    ::pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    make_private_dirs(ws);
    PidfileLock lock(paths.pidfile);
    const auto& addresses = options.listen.empty() ? kLoopback : options.listen;
    uint16_t port = options.port;
    auto listeners = bind_all(addresses, port);
    std::string token = new_token();
    RemoveOnExit cleanup{{paths.token, paths.state}};
    sys::write_file_atomic(paths.token, token + "\n", 0600, sys::Durability::volatile_state);
    ::signal(SIGPIPE, SIG_IGN);  // a client gone mid-write is an error return, not a death

    Server server(ws, options, port, token, find_webroot(options.webroot));
    SignalWatcher signals(server.http());
    nlohmann::json state = {{"pid", ::getpid()},
                            {"port", port},
                            {"listen", addresses},
                            {"started_at", static_cast<long>(::time(nullptr))}};
    sys::write_file_atomic(paths.state, state.dump() + "\n", 0600, sys::Durability::volatile_state);
    ready(dashboard_url(addresses, port, token));
    server.serve(std::move(listeners));
    return 0;
}

std::optional<ServerStatus> running_server(const Workspace& ws) {
    ServerPaths paths(ws);
    sys::unique_fd fd(::open(paths.pidfile.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::nullopt;
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return std::nullopt;  // nobody holds it
    ServerStatus status;
    try {
        status.pid = std::stoi(sys::try_read_file(paths.pidfile).value_or("0"));
    } catch (const std::exception&) {
    }
    if (auto text = sys::try_read_file(paths.state)) {
        auto j = nlohmann::json::parse(*text, nullptr, false);
        if (j.is_object()) {
            status.port = j.value("port", uint16_t{0});
            status.listen = j.value("listen", std::vector<std::string>{});
            status.started_at = j.value("started_at", 0L);
        }
    }
    return status;
}

}  // namespace ds::server
