#include "sys/pty.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/syscall_error.hpp"

namespace ds::sys {

Pty open_pty(const std::string& ptmx) {
    Pty pty;
    pty.master = unique_fd(::open(ptmx.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!pty.master) fail_errno("open " + ptmx);
    int unlock = 0, number = 0;
    if (::ioctl(pty.master.get(), TIOCSPTLCK, &unlock) != 0) fail_errno("unlock pty");
    if (::ioctl(pty.master.get(), TIOCGPTN, &number) != 0) fail_errno("get pty number");
    auto dir = ptmx.substr(0, ptmx.rfind('/'));
    // /dev/ptmx may be a symlink or bind of pts/ptmx; the slaves live in the pts directory.
    pty.slave_path = (dir.size() > 4 && dir.substr(dir.size() - 4) == "/pts" ? dir : dir + "/pts") +
                     "/" + std::to_string(number);
    return pty;
}

unique_fd open_pty_slave(int master, const std::string& slave_path) {
    unique_fd slave(::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) slave.reset(::open(slave_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!slave) fail_errno("open pty slave " + slave_path);
    // The console convention: root:tty, 0620.
    if (::fchown(slave.get(), 0, 5) != 0 || ::fchmod(slave.get(), 0620) != 0) {
        // Not fatal: devpts mounted without gid=5 support still works.
    }
    return slave;
}

unique_fd open_pty_peer(int master) {
    unique_fd peer(::ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!peer) fail_errno("open the pty slave of fd " + std::to_string(master));
    return peer;
}

bool copy_window_size(int from, int to) {
    struct winsize ws;
    if (::ioctl(from, TIOCGWINSZ, &ws) != 0) return false;
    return ::ioctl(to, TIOCSWINSZ, &ws) == 0;
}

RawTerminal::RawTerminal(int fd) : fd_(fd) {
    termios t;
    if (::tcgetattr(fd, &t) != 0) return;
    saved_ = t;
    ::cfmakeraw(&t);
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    ::tcsetattr(fd, TCSADRAIN, &t);
}

RawTerminal::~RawTerminal() {
    restore();
}

void RawTerminal::restore() {
    if (saved_) ::tcsetattr(fd_, TCSADRAIN, &*saved_);
    saved_.reset();
}

}  // namespace ds::sys
