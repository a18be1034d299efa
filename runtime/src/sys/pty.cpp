#include "sys/pty.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

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

bool send_fd(int socket, int fd) {
    char byte = 'F';
    struct iovec iov = {&byte, 1};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    ssize_t n;
    do
        n = ::sendmsg(socket, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == 1;
}

unique_fd receive_fd(int socket) {
    char byte = 0;
    struct iovec iov = {&byte, 1};
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do
        n = ::recvmsg(socket, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) fail_errno("receive the terminal from the console socket");
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd = -1;
            std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
            return unique_fd(fd);
        }
    }
    fail_errno("receive the terminal from the console socket: no descriptor came", EBADMSG);
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
