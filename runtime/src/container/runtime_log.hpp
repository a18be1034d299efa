// Timestamped lines in Logs/<name>/log, as upstream writes them: "[<UTC time>] [<who>] text".
#pragma once

#include <time.h>

#include <string>

#include "sys/fd.hpp"

namespace ds::container {

// "YYYY-MM-DD hh:mm:ss.mmmZ" in UTC, without the C library's time zone code (size).
std::string utc_timestamp(time_t seconds, long nanoseconds);

class RuntimeLog {
  public:
    // `who` tags each line ("monitor", "boot"). A log that cannot be opened drops lines.
    RuntimeLog(const std::string& path, const char* who);
    void write(const std::string& message);

  private:
    sys::unique_fd fd_;
    const char* who_;
};

}  // namespace ds::container
