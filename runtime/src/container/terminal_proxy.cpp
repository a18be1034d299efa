#include "container/terminal_proxy.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <string_view>

#include "sys/process.hpp"
#include "sys/pty.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

class Proxy {
  public:
    // `slave_probe`: a slave fd to watch the shell's input queue, for piped (non-tty) stdin.
    Proxy(sys::unique_fd master, sys::unique_fd slave_probe, Command& shell, int signal_fd)
        : master_(std::move(master)),
          probe_(std::move(slave_probe)),
          shell_(shell),
          sigfd_(signal_fd) {}

    // Runs until the shell exits (or the caller's terminal goes away); returns its status.
    int run() {
        stdin_tty_ = ::isatty(STDIN_FILENO);
        char buf[16384];
        while (status_ < 0) {
            struct pollfd fds[3] = {
                {sigfd_, POLLIN, 0},
                {master_open_ ? master_.get() : -1,
                 static_cast<short>(POLLIN | (pending_.empty() ? 0 : POLLOUT)), 0},
                {stdin_open_ && pending_.size() < kMaxPending ? STDIN_FILENO : -1, POLLIN, 0}};
            if (::poll(fds, 3, piped_eof_ ? kEofRetryMs : -1) < 0) {
                if (errno == EINTR) continue;
                sys::fail_errno("poll the terminal");
            }
            if (fds[0].revents) handle_signals();
            if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) drain_master(buf, sizeof buf, false);
            if ((fds[1].revents & POLLOUT) && master_open_) flush_pending();
            if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) read_stdin(buf, sizeof buf);
            if (piped_eof_ && pending_.empty()) send_eof();
        }
        if (master_open_) drain_master(buf, sizeof buf, true);
        return status_;
    }

  private:
    static constexpr size_t kMaxPending = 1 << 16;
    static constexpr int kEofRetryMs = 100;

    // Piped input ended: end the session the way a user would, once the shell has read
    // everything before. A line editor (readline, busybox lineedit: raw mode) gets ^U ^D, which
    // clears a line made dirty by a stale EOF and exits; a canonical-mode reader (dash, read, cat)
    // gets one VEOF once the mode has stayed canonical for a round (a shell starting up or
    // running a command is canonical only briefly; an EOF queued then reaches the next raw-mode
    // read as a NUL, which the ^U above clears).
    void send_eof() {
        auto now = std::chrono::steady_clock::now();
        if (now - last_eof_ < std::chrono::milliseconds(kEofRetryMs)) return;
        int queued = 0;
        termios mode;
        if (!master_open_ || ::ioctl(probe_.get(), FIONREAD, &queued) != 0 || queued > 0 ||
            ::tcgetattr(master_.get(), &mode) != 0)
            return;
        std::string_view keys = "\x15\x04";
        char veof = mode.c_cc[VEOF] ? static_cast<char>(mode.c_cc[VEOF]) : '\x04';
        if (mode.c_lflag & ICANON) {
            if (canonical_eof_sent_) return;
            if (!canonical_seen_) {
                canonical_seen_ = true;
                last_eof_ = now;
                return;
            }
            canonical_eof_sent_ = true;
            keys = std::string_view(&veof, 1);
        } else {
            canonical_seen_ = canonical_eof_sent_ = false;
        }
        last_eof_ = now;
        if (::write(master_.get(), keys.data(), keys.size()) < 0) {
            // The pty is full or gone: the next round tries again.
        }
    }

    void handle_signals() {
        struct signalfd_siginfo info;
        while (::read(sigfd_, &info, sizeof info) == sizeof info) {
            int sig = static_cast<int>(info.ssi_signo);
            if (sig == SIGWINCH) {
                sys::copy_window_size(STDIN_FILENO, master_.get());
            } else if (sig == SIGCHLD) {
                reap();
            } else if (sig == SIGINT || sig == SIGQUIT) {
                // Not from our terminal (raw mode sends ^C as a byte): pass it to the shell's
                // foreground job.
                pid_t fg = master_open_ ? ::tcgetpgrp(master_.get()) : -1;
                if (fg > 0) ::kill(-fg, sig);
            } else if (sig == SIGTERM || sig == SIGHUP) {
                hang_up(sig);
            }
        }
    }

    void reap() {
        if (status_ >= 0) return;  // already collected
        if (auto status = shell_.try_wait()) status_ = *status;
    }

    // The caller is going away: hang up the pty (the shell gets SIGHUP) and give it a moment.
    void hang_up(int sig) {
        master_.reset();
        master_open_ = false;
        if (auto status = shell_.wait_for(std::chrono::seconds(2))) status_ = *status;
        if (status_ < 0) status_ = 128 + sig;
    }

    // Everything the shell wrote; `final`: the shell is gone, take what is buffered and stop.
    void drain_master(char* buf, size_t size, bool final) {
        for (;;) {
            ssize_t n = ::read(master_.get(), buf, size);
            if (n > 0) {
                sys::write_all(STDOUT_FILENO, buf, static_cast<size_t>(n));
                if (!final) return;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            // EAGAIN: nothing more now (a read flushes the kernel's pending pty buffers first).
            // EIO: no slave is open any more; only the exit status is left to collect.
            if (n == 0 || errno != EAGAIN) master_open_ = false;
            return;
        }
    }

    void flush_pending() {
        ssize_t n = ::write(master_.get(), pending_.data(), pending_.size());
        if (n > 0)
            pending_.erase(0, static_cast<size_t>(n));
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            pending_.clear();
    }

    void read_stdin(char* buf, size_t size) {
        ssize_t n = ::read(STDIN_FILENO, buf, size);
        if (n > 0) {
            pending_.append(buf, static_cast<size_t>(n));
            flush_pending();
            return;
        }
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
        stdin_open_ = false;
        if (stdin_tty_ || !probe_)
            hang_up(SIGHUP);  // the terminal is gone
        else
            piped_eof_ = true;
    }

    sys::unique_fd master_, probe_;
    Command& shell_;
    int sigfd_;
    bool master_open_ = true, stdin_open_ = true, stdin_tty_ = false;
    bool piped_eof_ = false, canonical_seen_ = false, canonical_eof_sent_ = false;
    std::chrono::steady_clock::time_point last_eof_{};
    int status_ = -1;
    std::string pending_;  // input not yet accepted by the pty
};

}  // namespace

int proxy_terminal(sys::unique_fd master, sys::unique_fd slave_probe, Command& shell,
                   int signal_fd) {
    return Proxy(std::move(master), std::move(slave_probe), shell, signal_fd).run();
}

}  // namespace ds::container
