// Pseudo-terminals and terminal modes.
#pragma once

#include <termios.h>

#include <optional>
#include <string>

#include "sys/fd.hpp"

namespace ds::sys {

struct Pty {
    unique_fd master;
    std::string slave_path;  // /dev/pts/N in the devpts instance the master came from
};

// Opens a new pty pair from `ptmx` (a container's own /dev/ptmx works too); the slave is
// unlocked and owned root:tty 0620.
Pty open_pty(const std::string& ptmx = "/dev/ptmx");
// Opens the slave of `master` (TIOCGPTPEER, so no path lookup races).
unique_fd open_pty_slave(int master, const std::string& slave_path);
// A second fd of the slave of `master` (TIOCGPTPEER), owner and mode untouched: e.g. to watch
// the input queue of a shell whose terminal another process set up. Throws naming the errno.
unique_fd open_pty_peer(int master);
// Copies the window size of terminal `from` onto `to`; false when `from` is no terminal.
bool copy_window_size(int from, int to);

// Puts a terminal into raw mode and restores it exactly when destroyed.
class RawTerminal {
  public:
    explicit RawTerminal(int fd);
    ~RawTerminal();
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    void restore();

  private:
    int fd_;
    std::optional<termios> saved_;
};

}  // namespace ds::sys
