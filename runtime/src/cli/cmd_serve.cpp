// `serve` (the server in the foreground) and `daemon` (the same, detached; upstream's spelling):
// server/server.hpp does the work; this file turns flags into ServeOptions, detaches, and stops
// or reports a running server.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "server/server.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/syscall_error.hpp"

namespace ds::cli {
namespace {

constexpr off_t kLogRotateBytes = 1024 * 1024;
constexpr auto kStopDeadline = std::chrono::seconds(15);

uint16_t parse_port(const std::string& value) {
    unsigned long port = 0;
    size_t used = 0;
    try {
        port = std::stoul(value, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != value.size() || port > 65535)
        fail_usage("--port " + quote_value(value) +
                   ": expected a port number 0..65535 (0: any free port)");
    return static_cast<uint16_t>(port);
}

server::ServeOptions serve_options(const Invocation& inv) {
    server::ServeOptions options;
    for (const auto& [opt, value] : inv.overrides) {
        if (opt->id == OptionId::port)
            options.port = parse_port(value);
        else if (opt->long_name != "foreground")
            fail_usage("option '--" + std::string(opt->long_name) + "' does not apply to '" +
                       inv.command + "'");
    }
    options.listen = inv.listen;
    options.webroot = inv.webroot;
    for (const auto& address : server::exposed_addresses(options.listen))
        print_warning("listening on " + address +
                      ": every device that can reach this address can reach the server (the "
                      "token still guards the API)");
    return options;
}

int serve_here(const Context& ctx, const server::ServeOptions& options) {
    return server::run_server(ctx.workspace, options, [](const std::string& url) {
        std::printf("Dashboard: %s\n", url.c_str());
        std::fflush(stdout);
    });
}

// The daemon's stderr goes to Logs/droidspacesd.log (one .old generation kept).
void redirect_to_log(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && st.st_size > kLogRotateBytes)
        ::rename(path.c_str(), (path + ".old").c_str());
    sys::unique_fd log(
        ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
    sys::unique_fd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!log || !null) ::_exit(kExitRuntime);
    ::dup2(null.get(), STDIN_FILENO);
    ::dup2(log.get(), STDOUT_FILENO);
    ::dup2(log.get(), STDERR_FILENO);
}

// The detached server: setsid, a second fork (no controlling terminal can come back), stdio to
// the log. It tells the waiting parent over `report` "ok URL" once it listens, or why it failed.
[[noreturn]] void daemon_child(const Context& ctx, const server::ServeOptions& options,
                               int report) {
    ::setsid();
    pid_t pid = ::fork();
    if (pid != 0) ::_exit(pid < 0 ? kExitRuntime : 0);
    if (::chdir("/") != 0) ::_exit(kExitRuntime);
    ::umask(077);
    try {
        make_private_dirs(ctx.workspace);
        make_private_dir(ctx.workspace.logs_root());  // may not exist yet
    } catch (const std::exception& e) {
        auto line = std::to_string(static_cast<int>(ErrorKind::system)) + " " + e.what() + "\n";
        sys::write_all(report, line.data(), line.size());
        ::_exit(kExitRuntime);
    }
    redirect_to_log(server::ServerPaths(ctx.workspace).log);
    auto say = [report](const std::string& line) {
        sys::write_all(report, line.data(), line.size());
        ::close(report);
    };
    int status = 0;
    try {
        status = server::run_server(ctx.workspace, options,
                                    [&](const std::string& url) { say("ok " + url + "\n"); });
    } catch (const Error& e) {
        say(std::to_string(static_cast<int>(e.kind())) + " " + e.what() + "\n");
        std::fprintf(stderr, "[server] %s\n", e.what());
        status = e.exit_code();
    } catch (const std::exception& e) {
        say(std::to_string(static_cast<int>(ErrorKind::system)) + " " + e.what() + "\n");
        status = kExitRuntime;
    }
    ::_exit(status);
}

int detach(const Context& ctx, const server::ServeOptions& options) {
    if (auto running = server::running_server(ctx.workspace))
        fail_busy("a server already runs for this workspace (PID " + std::to_string(running->pid) +
                  "): stop it with 'droidspaces daemon --stop'");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
    sys::unique_fd read_end(fds[0]), write_end(fds[1]);
    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) sys::fail_errno("fork");
    if (pid == 0) {
        read_end.reset();
        daemon_child(ctx, options, write_end.release());
    }
    write_end.reset();
    ::waitpid(pid, nullptr, 0);
    std::string line;
    char buf[512];
    for (ssize_t n; (n = ::read(read_end.get(), buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) sys::fail_errno("read the daemon's report");
        line.append(buf, static_cast<size_t>(n));
    }
    while (!line.empty() && line.back() == '\n')
        line.pop_back();
    if (line.rfind("ok ", 0) == 0) {
        std::printf("Dashboard: %s\n", line.substr(3).c_str());
        print_info("server running in the background; log: " +
                   server::ServerPaths(ctx.workspace).log);
        return 0;
    }
    auto space = line.find(' ');
    if (line.empty() || space == std::string::npos)
        fail_system("the daemon exited before it listened: see " +
                    server::ServerPaths(ctx.workspace).log);
    throw Error(static_cast<ErrorKind>(std::stoi(line.substr(0, space))), line.substr(space + 1));
}

bool wait_until_stopped(const Workspace& ws, std::chrono::seconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    while (server::running_server(ws)) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

int stop_daemon(const Context& ctx) {
    auto running = server::running_server(ctx.workspace);
    if (!running) fail_not_found("no server runs for this workspace");
    // A pidfd pins the process: the signal cannot reach a recycled PID.
    sys::unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, running->pid, 0)));
    if (!pidfd) sys::fail_errno("pidfd_open " + std::to_string(running->pid));
    if (!server::running_server(ctx.workspace)) return 0;  // it ended meanwhile
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGTERM, nullptr, 0) != 0 && errno != ESRCH)
        sys::fail_errno("signal server " + std::to_string(running->pid));
    if (!wait_until_stopped(ctx.workspace, kStopDeadline)) {
        print_warning("server " + std::to_string(running->pid) + " did not stop in " +
                      std::to_string(kStopDeadline.count()) + " s: killing it");
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        if (!wait_until_stopped(ctx.workspace, std::chrono::seconds(5)))
            fail_system("server " + std::to_string(running->pid) + " survived SIGKILL");
    }
    if (!ctx.inv.json) print_info("server " + std::to_string(running->pid) + " stopped");
    return 0;
}

int daemon_status(const Context& ctx) {
    auto running = server::running_server(ctx.workspace);
    std::string url;
    if (running) {
        auto token = sys::try_read_file(server::ServerPaths(ctx.workspace).token).value_or("");
        while (!token.empty() && token.back() == '\n')
            token.pop_back();
        url = server::dashboard_url(running->listen, running->port, token);
    }
    if (ctx.inv.json) {
        nlohmann::json j = {{"running", running.has_value()}};
        j["pid"] = running ? nlohmann::json(running->pid) : nlohmann::json(nullptr);
        j["port"] = running ? nlohmann::json(running->port) : nlohmann::json(nullptr);
        j["listen"] = running ? nlohmann::json(running->listen) : nlohmann::json(nullptr);
        j["started_at"] = running ? nlohmann::json(running->started_at) : nlohmann::json(nullptr);
        j["url"] = running ? nlohmann::json(url) : nlohmann::json(nullptr);
        print_json(j);
    } else if (running) {
        std::printf("running: PID %d, port %u\nDashboard: %s\n", running->pid, running->port,
                    url.c_str());
    } else {
        std::printf("not running\n");
    }
    return running ? 0 : 1;
}

}  // namespace

int cmd_serve(Context& ctx) {
    return serve_here(ctx, serve_options(ctx.inv));
}

int cmd_daemon(Context& ctx) {
    if (ctx.inv.daemon_stop && ctx.inv.daemon_status)
        fail_usage("daemon: --stop and --status do not go together");
    if (ctx.inv.daemon_stop) return stop_daemon(ctx);
    if (ctx.inv.daemon_status) return daemon_status(ctx);
    auto options = serve_options(ctx.inv);
    if (ctx.inv.has_override("foreground")) return serve_here(ctx, options);
    return detach(ctx, options);
}

}  // namespace ds::cli
