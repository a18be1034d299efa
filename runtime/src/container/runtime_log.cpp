#include "container/runtime_log.hpp"

#include <fcntl.h>
#include <time.h>

#include <cstdio>

#include "sys/process.hpp"

namespace ds::container {

RuntimeLog::RuntimeLog(const std::string& path, const char* who)
    : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644)),
      who_(who) {}

void RuntimeLog::write(const std::string& message) {
    if (!fd_) return;
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    ::gmtime_r(&ts.tv_sec, &tm);  // UTC: no time zone files to load into a long-lived process
    char stamp[64];
    std::snprintf(stamp, sizeof stamp, "[%04d-%02d-%02d %02d:%02d:%02d.%03ldZ] [%s] ",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  ts.tv_nsec / 1000000, who_);
    std::string line = stamp + message + "\n";
    sys::write_all(fd_.get(), line.data(), line.size());
}

}  // namespace ds::container
