// `enter` in a terminal: the caller's stdin/stdout proxied to the master of the shell's pty
// until the shell ends. A front-end piece: the caller owns the terminal (raw mode) and the
// signal mask; the signals reach the proxy through `signal_fd`, a signalfd the caller made for
// SIGWINCH (resize the pty), SIGCHLD (reap the shell), SIGINT/SIGQUIT (to the shell's
// foreground job) and SIGTERM/SIGHUP (hang up the pty).
#pragma once

#include "container/attach.hpp"
#include "sys/fd.hpp"

namespace ds::container {

// `master`: non-blocking. `slave_probe`: a slave fd (sys::open_pty_peer) to see when the shell
// has read all piped (non-tty) input, invalid for a terminal. Returns the shell's status
// (128+N for a hangup by signal N).
int proxy_terminal(sys::unique_fd master, sys::unique_fd slave_probe, Command& shell,
                   int signal_fd);

}  // namespace ds::container
