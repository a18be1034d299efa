#include "container/runtime_log.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdio>

namespace ds::container {
namespace {

std::string libc_timestamp(time_t seconds, long nanoseconds) {
    struct tm tm {};
    gmtime_r(&seconds, &tm);
    char text[64];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  nanoseconds / 1000000);
    return text;
}

TEST(UtcTimestamp, MatchesTheCLibraryAcrossCenturiesAndLeapDays) {
    // Every ~1.9 days from 1901 to 2400, with a different time of day each step, covers leap
    // years, the 1900/2100/2200/2300 non-leap centuries, 2000 and 2400, and times before 1970.
    for (long long s = -2145916800LL; s < 13569465600LL; s += 166667) {
        ASSERT_EQ(utc_timestamp(static_cast<time_t>(s), 987654321),
                  libc_timestamp(static_cast<time_t>(s), 987654321))
            << "at " << s;
    }
}

TEST(UtcTimestamp, KnownInstants) {
    EXPECT_EQ(utc_timestamp(0, 0), "1970-01-01 00:00:00.000Z");
    EXPECT_EQ(utc_timestamp(951782400, 5000000), "2000-02-29 00:00:00.005Z");
    EXPECT_EQ(utc_timestamp(-1, 0), "1969-12-31 23:59:59.000Z");
    EXPECT_EQ(utc_timestamp(1796252399, 0), "2026-12-02 22:59:59.000Z");
}

}  // namespace
}  // namespace ds::container
