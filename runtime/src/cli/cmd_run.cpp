// `run`: one command in the container with this process's stdio. The library starts it (this
// process never joins the container); forwarding signals is this front end's business: the CLI
// owns its process, so it blocks the signals it forwards and reads them from a signalfd.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/attach.hpp"
#include "container/state.hpp"
#include "core/error.hpp"
#include "sys/fd.hpp"
#include "sys/syscall_error.hpp"

namespace ds::cli {
namespace {

// What the command gets from us; SIGTSTP stops both (see stop_together), SIGCHLD wakes us.
constexpr int kForwarded[] = {SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH};

// The forwarded signals blocked and readable from a signalfd; the mask restored on scope exit.
// Blocked before the command starts, so a signal sent in between is not lost.
class BlockedSignals {
  public:
    BlockedSignals() {
        sigemptyset(&set_);
        for (int sig : kForwarded)
            sigaddset(&set_, sig);
        sigaddset(&set_, SIGTSTP);
        sigaddset(&set_, SIGCHLD);
        ::sigprocmask(SIG_BLOCK, &set_, &old_);
        fd_.reset(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) {
            ::sigprocmask(SIG_SETMASK, &old_, nullptr);
            sys::fail_errno("signalfd");
        }
    }
    ~BlockedSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    BlockedSignals(const BlockedSignals&) = delete;
    BlockedSignals& operator=(const BlockedSignals&) = delete;
    int fd() const { return fd_.get(); }

  private:
    sigset_t set_, old_;
    sys::unique_fd fd_;
};

// Ctrl+Z: stops the command's group, then this process the usual way (the shell reports the job
// stopped); when the shell continues us, the command continues too.
void stop_together(const container::Command& command) {
    command.signal_group(SIGSTOP);
    sigset_t tstp;
    sigemptyset(&tstp);
    sigaddset(&tstp, SIGTSTP);
    ::raise(SIGTSTP);  // pending while blocked; delivered (default: stop) by the unblock
    ::sigprocmask(SIG_UNBLOCK, &tstp, nullptr);
    ::sigprocmask(SIG_BLOCK, &tstp, nullptr);
    command.signal_group(SIGCONT);
}

// The command is in a session of its own, out of reach of our terminal: signals the terminal
// sends us (si_code SI_KERNEL: Ctrl+C, Ctrl+\, a hangup, a resize) go to the command's process
// group, as the terminal would have sent them; those a process sends (timeout(1), kill) to the
// command alone.
void forward(const container::Command& command, const signalfd_siginfo& info) {
    int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGCHLD) return;
    if (sig == SIGTSTP) {
        stop_together(command);
        return;
    }
    if (info.ssi_code == SI_KERNEL)
        command.signal_group(sig);
    else
        command.signal(sig);
}

int wait_forwarding(container::Command& command, int signal_fd) {
    for (;;) {
        if (auto status = command.try_wait()) return *status;
        struct pollfd fd = {signal_fd, POLLIN, 0};
        if (::poll(&fd, 1, -1) < 0) {
            if (errno == EINTR) continue;
            sys::fail_errno("poll the signalfd");
        }
        struct signalfd_siginfo info;
        while (::read(signal_fd, &info, sizeof info) == sizeof info)
            forward(command, info);
    }
}

}  // namespace

int cmd_run(Context& ctx) {
    if (ctx.inv.args.empty())
        fail_usage("'run' needs a command: " + ctx.argv0 + " --name=NAME run CMD [ARGS...]");
    std::string name = resolve_single_name(ctx);
    container::RunRequest request;
    request.argv = ctx.inv.args;
    request.user = ctx.inv.user;
    if (const char* term = std::getenv("TERM")) request.term = term;
    BlockedSignals signals;
    auto command = ctx.rt().start_command(name, request);
    if (!command.error().empty()) print_error(command.error());
    return wait_forwarding(command, signals.fd());
}

}  // namespace ds::cli
