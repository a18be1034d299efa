// `enter`: a login shell in the container on a pty of its own devpts. The library starts the
// shell and hands the pty master over a console socket (as it would to a web terminal); this
// front end receives it, puts the caller's terminal in raw mode (restored on every exit path)
// and proxies it, with the signals it needs read from a signalfd (the CLI owns its process).
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "cli/commands.hpp"
#include "cli/config_source.hpp"
#include "cli/output.hpp"
#include "container/attach.hpp"
#include "container/state.hpp"
#include "container/terminal_proxy.hpp"
#include "core/error.hpp"
#include "sys/fd.hpp"
#include "sys/pty.hpp"
#include "sys/seccomp_notify.hpp"
#include "sys/syscall_error.hpp"

namespace ds::cli {
namespace {

// The signals the proxy handles, blocked and readable from a signalfd; terminal-stop signals
// ignored (tcsetattr from a background job). All undone on scope exit.
class EnterSignals {
  public:
    EnterSignals() {
        sigemptyset(&set_);
        for (int sig : {SIGWINCH, SIGCHLD, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE})
            sigaddset(&set_, sig);
        ::sigprocmask(SIG_BLOCK, &set_, &old_mask_);
        struct sigaction ignore = {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGTTIN, &ignore, &old_ttin_);
        ::sigaction(SIGTTOU, &ignore, &old_ttou_);
        fd_.reset(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) {
            restore();
            sys::fail_errno("signalfd");
        }
    }
    ~EnterSignals() { restore(); }
    EnterSignals(const EnterSignals&) = delete;
    EnterSignals& operator=(const EnterSignals&) = delete;
    int fd() const { return fd_.get(); }

  private:
    void restore() {
        ::sigaction(SIGTTIN, &old_ttin_, nullptr);
        ::sigaction(SIGTTOU, &old_ttou_, nullptr);
        ::sigprocmask(SIG_SETMASK, &old_mask_, nullptr);
    }
    sigset_t set_, old_mask_;
    struct sigaction old_ttin_ = {}, old_ttou_ = {};
    sys::unique_fd fd_;
};

// The caller's window size (stdin, else stdout), else 24 x 80.
void window_size(container::EnterRequest& request) {
    struct winsize size = {};
    if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) != 0 &&
        ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0)
        return;
    if (size.ws_row) request.rows = size.ws_row;
    if (size.ws_col) request.cols = size.ws_col;
}

}  // namespace

int cmd_enter(Context& ctx) {
    if (ctx.inv.args.size() > 1)
        fail_usage("'enter' takes at most one argument (the user), got " +
                   std::to_string(ctx.inv.args.size()));
    std::string name = resolve_single_name(ctx);
    container::EnterRequest request;
    if (!ctx.inv.args.empty()) request.user = ctx.inv.args[0];
    if (const char* term = std::getenv("TERM")) request.term = term;
    window_size(request);

    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        sys::fail_errno("socketpair for the console socket");
    sys::unique_fd ours(pair[0]), theirs(pair[1]);
    EnterSignals signals;
    auto shell = ctx.rt().open_terminal(name, request, theirs.get());
    theirs.reset();
    if (!shell.error().empty()) {
        print_error(shell.error());
        return shell.wait();
    }
    // Already queued: the helper sent it before it started the shell.
    sys::unique_fd master;
    sys::receive_fd(ours.get(), master);
    if (!master) fail_runtime("enter: no terminal came over the console socket");
    int flags = ::fcntl(master.get(), F_GETFL);
    if (flags < 0 || ::fcntl(master.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        sys::fail_errno("make the pty master non-blocking");
    // Piped stdin: a slave fd shows when the shell has read everything (see the proxy).
    sys::unique_fd probe;
    if (!::isatty(STDIN_FILENO)) probe = sys::open_pty_peer(master.get());
    sys::RawTerminal raw(STDIN_FILENO);
    return container::proxy_terminal(std::move(master), std::move(probe), shell, signals.fd());
}

}  // namespace ds::cli
