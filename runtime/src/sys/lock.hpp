// An exclusive lock on a file (flock): released by the kernel if the holder dies, so it can
// never go stale, not even across a reboot.
#pragma once

#include <chrono>
#include <string>

#include "sys/fd.hpp"

namespace ds::sys {

class FileLock {
  public:
    // Waits up to `timeout` for the lock; throws a busy error naming `what` when it stays held.
    FileLock(const std::string& path, std::chrono::milliseconds timeout, const std::string& what);
    ~FileLock();
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

  private:
    std::string path_;
    unique_fd fd_;
};

}  // namespace ds::sys
