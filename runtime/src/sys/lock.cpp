#include "sys/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "core/error.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {

FileLock::FileLock(const std::string& path, std::chrono::milliseconds timeout,
                   const std::string& what)
    : path_(path) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd_) fail_errno("open lock " + path);
        if (::flock(fd_.get(), LOCK_EX | LOCK_NB) == 0) {
            // The previous holder unlinks the file on release: make sure ours is still the one
            // on disk, or we would be locking a file nobody else can see.
            struct stat held, current;
            if (::fstat(fd_.get(), &held) == 0 && ::stat(path.c_str(), &current) == 0 &&
                held.st_ino == current.st_ino && held.st_dev == current.st_dev)
                return;
            continue;
        }
        if (errno != EWOULDBLOCK) fail_errno("lock " + path);
        if (std::chrono::steady_clock::now() >= deadline)
            fail_busy(what + " is busy: another droidspaces command is managing it");
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

FileLock::~FileLock() {
    if (fd_) ::unlink(path_.c_str());
}

}  // namespace ds::sys
