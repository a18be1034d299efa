// `droidspaces autoboot [--timeout=SECONDS]`: start every container marked run_at_boot=1, in the
// order GET /api/v1/autostart gives (run_at_boot_priority ascending, none last, then name), one
// after the other. The module's service.sh and the desktop systemd unit both call it at boot.
//
// Each start is this binary re-executed as `--name=N start` in a child process with a deadline:
// a start that hangs is killed and reported, and a start that fails (or crashes) cannot take the
// remaining containers down with it. One line per container on stdout, then a summary; exit 0
// when every marked container runs, 1 when any failed.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "server/api.hpp"
#include "sys/fd.hpp"
#include "sys/spawn.hpp"
#include "sys/syscall_error.hpp"

namespace ds::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned kDefaultStartTimeout = 60;  // seconds; a systemd guest boots well within it
constexpr size_t kMaxCapturedOutput = 64 * 1024;

// The marked containers in boot order. The order is the API's (server/api_autostart.cpp), so the
// dashboard's list, upstream's service.sh rule and this command cannot disagree.
std::vector<std::string> boot_order(const Workspace& ws) {
    auto response = server::Api(ws).handle({"GET", "/api/v1/autostart", {}, ""});
    if (response.status != 200) fail_system("autostart list: " + response.body);
    std::vector<std::string> names;
    auto document = nlohmann::json::parse(response.body, nullptr, false);
    if (!document.is_object() || !document["containers"].is_array())
        fail_system("autostart list: unexpected document " + response.body);
    for (const auto& row : document["containers"])
        if (row.value("run_at_boot", false)) names.push_back(row.value("name", std::string()));
    return names;
}

// Hook for the networking issue: a container with net_mode=gateway whose gateway container
// neither started in this run nor runs should be skipped (upstream's service.sh does so), not
// started into a dead network. Returns the reason to skip, or nullopt to start it. Until the
// gateway feature lands, every marked container is started.
std::optional<std::string> skip_reason(const Context& ctx, const std::string& name,
                                       const std::vector<std::string>& started) {
    (void)ctx;
    (void)name;
    (void)started;
    return std::nullopt;
}

struct Outcome {
    bool ok = false;
    std::string detail;  // "already running" / the failure's reason
};

// The last "[-] ..." line the start command printed: its one-line error.
std::string failure_line(const std::string& output) {
    std::string reason;
    size_t pos = 0;
    while (pos < output.size()) {
        size_t end = output.find('\n', pos);
        if (end == std::string::npos) end = output.size();
        std::string line = output.substr(pos, end - pos);
        if (line.rfind("[-] ", 0) == 0) reason = line.substr(4);
        pos = end + 1;
    }
    return reason;
}

// Collects the child's output until it closes it (exits) or the deadline passes; false then.
bool read_until(int fd, Clock::time_point deadline, std::string& output) {
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) sys::fail_errno("poll the start command's output");
        if (r == 0) return false;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return true;  // EOF (or an error: the exit status tells the rest)
        if (output.size() < kMaxCapturedOutput) output.append(buf, static_cast<size_t>(n));
    }
}

Outcome start_one(const std::string& name, std::chrono::seconds timeout) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) sys::fail_errno("pipe for the start command");
    sys::unique_fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    sys::SpawnOptions options;
    options.path = "/proc/self/exe";
    options.argv = {"droidspaces", "--name=" + name, "start"};
    // stdin is /dev/null: no terminal, so a foreground=1 config starts in the background.
    options.fds = {{write_end.get(), STDOUT_FILENO}, {write_end.get(), STDERR_FILENO}};
    sys::Child child = sys::spawn(options);
    write_end.reset();
    auto deadline = Clock::now() + timeout;
    std::string output;
    bool closed = read_until(read_end.get(), deadline, output);
    std::optional<int> status;
    if (closed) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        status = child.wait_for(std::max(left, std::chrono::milliseconds(0)));
    }
    if (!status)  // the Child's destructor kills and reaps it
        return {false, "timed out after " + std::to_string(timeout.count()) + " s"};
    if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) return {true, ""};
    std::string reason = failure_line(output);
    if (reason.find("already running") != std::string::npos) return {true, "already running"};
    if (reason.empty()) reason = "start " + sys::describe_wait_status(*status);
    return {false, reason};
}

void log_line(const std::string& line) {
    std::printf("[autoboot] %s\n", line.c_str());
    std::fflush(stdout);
}

}  // namespace

int cmd_autoboot(Context& ctx) {
    if (!ctx.inv.names.empty() || !ctx.inv.args.empty() || !ctx.inv.overrides.empty())
        fail_usage(
            "autoboot takes no container names or config options: it starts every "
            "container saved with --run-at-boot, see 'droidspaces help autoboot'");
    std::chrono::seconds timeout(ctx.inv.timeout_seconds.value_or(kDefaultStartTimeout));
    auto names = boot_order(ctx.workspace);
    log_line(std::to_string(names.size()) + " container(s) marked run_at_boot in " +
             ctx.workspace.root);
    std::vector<std::string> started;
    size_t failed = 0, skipped = 0;
    for (const auto& name : names) {
        if (auto why = skip_reason(ctx, name, started)) {
            ++skipped;
            log_line(name + ": skipped: " + *why);
            continue;
        }
        auto begin = Clock::now();
        Outcome outcome = start_one(name, timeout);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
        std::string took = " (" + std::to_string(ms.count()) + " ms)";
        if (outcome.ok) {
            started.push_back(name);
            log_line(name + ": ok" + (outcome.detail.empty() ? "" : ": " + outcome.detail) + took);
        } else {
            ++failed;
            log_line(name + ": failed: " + outcome.detail + took);
        }
    }
    log_line("done: " + std::to_string(started.size()) + " started, " + std::to_string(failed) +
             " failed, " + std::to_string(skipped) + " skipped");
    return failed == 0 ? kExitOk : kExitUsage;
}

}  // namespace ds::cli
