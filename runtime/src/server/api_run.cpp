// POST /api/v1/containers/{name}/run: one command, its output and exit code in one document.
// The command's stdin is /dev/null, stdout and stderr are pipes read with poll until both
// close; each is capped (kOutputCap: "truncated": true, the rest is read and dropped so the
// command never blocks on a full pipe); past "timeout_seconds" its process group is killed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/error.hpp"
#include "server/api_parts.hpp"
#include "server/requests.hpp"
#include "sys/fd.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kOutputCap = 1 << 20;  // per stream
constexpr uint64_t kDefaultTimeout = 300;
constexpr uint64_t kMaxTimeout = 86400;
// Once the command has exited (or been killed), how long a descendant that kept the pipes open
// may keep the request waiting.
constexpr std::chrono::milliseconds kDrainAfterExit{1000};

// The request layer wants the command's fds above 2 (0-2 are the caller's own stdio).
sys::unique_fd above_stdio(sys::unique_fd fd) {
    if (fd.get() > 2) return fd;
    sys::unique_fd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!moved) sys::fail_errno("fcntl(F_DUPFD_CLOEXEC) of a run pipe");
    return moved;
}

struct Pipe {
    sys::unique_fd read, write;
};

Pipe make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe2 for a run command's output");
    Pipe p{sys::unique_fd(fds[0]), sys::unique_fd(fds[1])};
    p.read = above_stdio(std::move(p.read));
    p.write = above_stdio(std::move(p.write));
    return p;
}

struct Capture {
    sys::unique_fd fd;
    std::string text;
    bool truncated = false;
};

// Reads what is there; closes the fd at EOF or on an error.
void drain(Capture& c) {
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(c.fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            c.fd.reset();
            return;
        }
        size_t room = kOutputCap - std::min(kOutputCap, c.text.size());
        c.text.append(buf, std::min(room, static_cast<size_t>(n)));
        if (static_cast<size_t>(n) > room) c.truncated = true;
    }
}

struct Outcome {
    int exit_code = -1;
    bool timed_out = false;
};

// Polls both captures until they close, killing the command at `deadline`; reaps it.
Outcome collect(container::Command& command, Capture& out, Capture& err,
                std::chrono::seconds timeout) {
    Outcome outcome;
    auto deadline = Clock::now() + timeout;
    std::optional<Clock::time_point> ended;
    while (out.fd || err.fd) {
        if (!ended) {
            if (auto status = command.try_wait()) {
                outcome.exit_code = *status;
                ended = Clock::now();
            } else if (Clock::now() >= deadline) {
                outcome.timed_out = true;
                command.signal_group(SIGKILL);
                command.signal(SIGKILL);
                outcome.exit_code = command.wait();
                ended = Clock::now();
            }
        } else if (Clock::now() - *ended > kDrainAfterExit) {
            break;  // a descendant holds the pipes open: what it writes later is not ours
        }
        struct pollfd fds[2] = {{out.fd.get(), POLLIN, 0}, {err.fd.get(), POLLIN, 0}};
        int ready = ::poll(fds, 2, 100);
        if (ready < 0 && errno != EINTR) sys::fail_errno("poll a run command's output");
        if (ready <= 0) continue;
        if (out.fd && fds[0].revents) drain(out);
        if (err.fd && fds[1].revents) drain(err);
    }
    if (!ended) {  // it closed its output but runs on: the deadline still holds
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (auto status = command.wait_for(std::max(left, std::chrono::milliseconds(0)))) {
            outcome.exit_code = *status;
        } else {
            outcome.timed_out = true;
            command.signal_group(SIGKILL);
            command.signal(SIGKILL);
            outcome.exit_code = command.wait();
        }
    }
    return outcome;
}

}  // namespace

ApiResponse run_command(Call& call) {
    check_fields(call.body, {"command", "user", "timeout_seconds"});
    auto request = run_request(call.body);
    auto timeout = std::chrono::seconds(
        integer_field(call.body, "timeout_seconds", 1, kMaxTimeout, kDefaultTimeout));

    sys::unique_fd null_in(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null_in) sys::fail_errno("open /dev/null for a run command's stdin");
    null_in = above_stdio(std::move(null_in));
    Pipe out_pipe = make_pipe(), err_pipe = make_pipe();
    request.stdio = {null_in.get(), out_pipe.write.get(), err_pipe.write.get()};

    auto command = call.rt.start_command(call.param("name"), request);
    // Only the command holds the write ends now: its exit (and its descendants') is our EOF.
    null_in.reset();
    out_pipe.write.reset();
    err_pipe.write.reset();

    Capture out{std::move(out_pipe.read), {}, false};
    Capture err{std::move(err_pipe.read), {}, false};
    for (Capture* c : {&out, &err})
        if (::fcntl(c->fd.get(), F_SETFL, O_NONBLOCK) != 0)
            sys::fail_errno("fcntl(O_NONBLOCK) of a run command's output");
    Outcome outcome = collect(command, out, err, timeout);

    nlohmann::json error = nullptr;
    if (!command.error().empty()) error = command.error();
    if (outcome.timed_out)
        error = "timed out after " + std::to_string(timeout.count()) + " s: killed";
    nlohmann::json doc = {
        {"exit_code", outcome.exit_code}, {"stdout", std::move(out.text)},
        {"stderr", std::move(err.text)},  {"truncated", out.truncated || err.truncated},
        {"error", std::move(error)},      {"warnings", call.out.warnings}};
    return {200, json_body(doc)};
}

}  // namespace ds::server
