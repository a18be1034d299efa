#include "container/runtime_log.hpp"

#include <fcntl.h>
#include <time.h>

#include <cstdio>

#include "sys/process.hpp"

namespace ds::container {

namespace {

struct UtcTime {
    long long year;
    unsigned month, day, hour, minute, second;
};

// Seconds since the epoch as a UTC calendar date (the proleptic Gregorian calendar counted in
// 400-year eras of 146097 days, each era starting on 1 March). Not gmtime_r: glibc's goes
// through the time zone code, which links its TZ-file reader and the whole scanf family
// (about 37 KB of the static binary) for a conversion that needs no zone at all.
UtcTime utc_time(time_t seconds) {
    long long days = seconds / 86400, rest = seconds % 86400;
    if (rest < 0) {
        rest += 86400;
        --days;
    }
    const long long z = days + 719468;  // days since 0000-03-01
    const long long era = (z >= 0 ? z : z - 146096) / 146097;
    const long long day_of_era = z - era * 146097;
    const long long year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    const long long day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    const long long month_from_march = (5 * day_of_year + 2) / 153;
    UtcTime t;
    t.day = static_cast<unsigned>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
    t.month =
        static_cast<unsigned>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
    t.year = year_of_era + era * 400 + (t.month <= 2 ? 1 : 0);
    t.hour = static_cast<unsigned>(rest / 3600);
    t.minute = static_cast<unsigned>(rest / 60 % 60);
    t.second = static_cast<unsigned>(rest % 60);
    return t;
}

}  // namespace

std::string utc_timestamp(time_t seconds, long nanoseconds) {
    const UtcTime t = utc_time(seconds);
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "%04lld-%02u-%02u %02u:%02u:%02u.%03ldZ", t.year, t.month,
                  t.day, t.hour, t.minute, t.second, nanoseconds / 1000000);
    return stamp;
}

RuntimeLog::RuntimeLog(const std::string& path, const char* who)
    : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644)),
      who_(who) {}

void RuntimeLog::write(const std::string& message) {
    if (!fd_) return;
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    // UTC: no time zone files to load into a long-lived process.
    std::string line =
        "[" + utc_timestamp(ts.tv_sec, ts.tv_nsec) + "] [" + who_ + "] " + message + "\n";
    sys::write_all(fd_.get(), line.data(), line.size());
}

}  // namespace ds::container
