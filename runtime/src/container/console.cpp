#include "container/console.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string_view>

#include "sys/process.hpp"
#include "sys/pty.hpp"
#include "sys/spawn.hpp"

namespace ds::container {
namespace {

// Starts `droidspaces --name=NAME stop` detached, so the console keeps streaming the shutdown.
// It outlives the console (which ends as soon as the monitor does); failing to start it is said
// on the console's terminal and the session goes on.
void request_stop(const std::string& name) {
    sys::SpawnOptions options;
    options.path = "/proc/self/exe";
    options.argv = {"droidspaces", "--name=" + name, "stop"};
    options.new_session = true;
    options.outlive_parent = true;
    try {
        sys::spawn(options).release();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\r\n[-] %s\r\n", e.what());
    }
}

class BlockedSignals {
  public:
    BlockedSignals() {
        sigemptyset(&set_);
        for (int sig : {SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGCHLD})
            sigaddset(&set_, sig);
        ::sigprocmask(SIG_BLOCK, &set_, &old_);
        fd_.reset(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
    }
    ~BlockedSignals() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }
    int fd() const { return fd_.get(); }

  private:
    sigset_t set_, old_;
    sys::unique_fd fd_;
};

}  // namespace

int attach_console(const Workspace& ws, const ContainerState& state, int master) {
    sys::unique_fd monitor = sys::pidfd_open(state.monitor_pid);
    BlockedSignals signals;
    sys::copy_window_size(STDIN_FILENO, master);
    sys::RawTerminal raw(STDIN_FILENO);
    std::fprintf(stderr, "[+] Console of '%s': Ctrl+Alt+Q stops it, Ctrl+Alt+D detaches.\r\n",
                 state.name.c_str());

    bool stopping = false, stdin_open = true;
    char buf[65536];
    for (;;) {
        struct pollfd fds[4] = {{master, POLLIN, 0},
                                {signals.fd(), POLLIN, 0},
                                {monitor.get(), POLLIN, 0},
                                {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
        if (::poll(fds, 4, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents & POLLIN) {
            ssize_t n = ::read(master, buf, sizeof buf);
            if (n > 0) sys::write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
        }
        if (fds[2].revents) {  // the monitor ended: the container is down and cleaned up
            while (true) {     // flush what is left
                ssize_t n = ::read(master, buf, sizeof buf);
                if (n <= 0) break;
                sys::write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
            }
            raw.restore();
            std::fprintf(stderr, "\n[+] Container '%s' stopped.\n", state.name.c_str());
            return 0;
        }
        if (fds[1].revents) {
            struct signalfd_siginfo info;
            while (::read(signals.fd(), &info, sizeof info) == sizeof info) {
                if (info.ssi_signo == SIGWINCH) {
                    sys::copy_window_size(STDIN_FILENO, master);
                } else if (info.ssi_signo == SIGHUP) {
                    return 0;  // the terminal went away: leave the container running
                } else if (info.ssi_signo == SIGINT || info.ssi_signo == SIGTERM) {
                    if (auto current = read_state(ws, state.name))
                        ::kill(current->init_pid, static_cast<int>(info.ssi_signo));
                }
            }
        }
        if (fds[3].revents & (POLLIN | POLLHUP)) {
            ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
            if (n <= 0) {
                stdin_open = false;
                continue;
            }
            // Terminals send a Ctrl+Alt chord in one write, so one read holds the whole sequence.
            std::string_view input(buf, static_cast<size_t>(n));
            if (input.find(kDetachSequence) != std::string_view::npos) {
                raw.restore();
                std::fprintf(stderr, "\n[+] Detached; '%s' keeps running.\n", state.name.c_str());
                return 0;
            }
            if (input.find(kStopSequence) != std::string_view::npos) {
                if (!stopping) request_stop(state.name);
                stopping = true;
                continue;
            }
            sys::write_all(master, input.data(), input.size());
        }
    }
    return 0;
}

}  // namespace ds::container
