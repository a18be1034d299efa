#include "sys/eventfd.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "sys/syscall_error.hpp"

namespace ds::sys {

unique_fd make_eventfd(const std::string& what) {
    unique_fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) fail_errno("eventfd for " + what);
    return fd;
}

void signal_eventfd(int fd) {
    const uint64_t one = 1;
    // EAGAIN (counter saturated) still leaves it readable: nothing to handle.
    while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void drain_eventfd(int fd) {
    uint64_t value = 0;
    // EAGAIN: already drained.
    while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
    }
}

}  // namespace ds::sys
