#include "container/proc_views.hpp"

#include <gtest/gtest.h>

namespace ds::container {
namespace {

constexpr const char* kHostMeminfo =
    "MemTotal:       16000000 kB\n"
    "MemFree:         8000000 kB\n"
    "MemAvailable:   12000000 kB\n"
    "Buffers:          100000 kB\n"
    "Cached:          3000000 kB\n"
    "SwapTotal:             0 kB\n";

TEST(ProcViewsTest, MeminfoIsTheLimitMinusTheCgroupsUse) {
    auto usage = parse_memory_usage("104857600\n",
                                    "anon 52428800\nfile 52428800\n"
                                    "active_file 10485760\ninactive_file 41943040\n");
    auto text = render_meminfo(kHostMeminfo, 256ull << 20, usage);
    EXPECT_NE(text.find("MemTotal:         262144 kB\n"), std::string::npos) << text;
    EXPECT_NE(text.find("MemFree:          159744 kB\n"), std::string::npos) << text;
    EXPECT_NE(text.find("MemAvailable:     210944 kB\n"), std::string::npos) << text;
    EXPECT_NE(text.find("Cached:            51200 kB\n"), std::string::npos) << text;
    EXPECT_NE(text.find("SwapTotal:             0 kB\n"), std::string::npos) << text;  // kept
}

TEST(ProcViewsTest, MeminfoNeverShowsMoreThanTheHostHasOrANegativeFree) {
    auto text = render_meminfo(kHostMeminfo, 1ull << 40, parse_memory_usage("1\n", ""));
    EXPECT_NE(text.find("MemTotal:       16000000 kB\n"), std::string::npos) << text;
    // Use above the limit (v1 counts page cache past it for a moment): free is 0, not a wrap.
    text = render_meminfo(kHostMeminfo, 1 << 20, parse_memory_usage("999999999\n", ""));
    EXPECT_NE(text.find("MemFree:               0 kB\n"), std::string::npos) << text;
}

TEST(ProcViewsTest, V1MemoryStatPrefersTheHierarchicalTotals) {
    auto usage = parse_memory_usage("4096\n",
                                    "cache 1\nrss 2\ntotal_cache 10\ntotal_rss 20\n"
                                    "total_inactive_file 5\n");
    EXPECT_TRUE(usage.known);
    EXPECT_EQ(usage.file, 10u);
    EXPECT_EQ(usage.anon, 20u);
    EXPECT_EQ(usage.inactive_file, 5u);
    EXPECT_FALSE(parse_memory_usage("", "").known);
}

TEST(ProcViewsTest, CpuinfoKeepsTheFirstCpusRenumberedAndTheTrailer) {
    std::string host =
        "processor\t: 0\nBogoMIPS\t: 38.40\n\n"
        "processor\t: 1\nBogoMIPS\t: 38.40\n\n"
        "processor\t: 2\nBogoMIPS\t: 38.40\n\n"
        "Hardware\t: Qualcomm\n";
    auto text = render_cpuinfo(host, 2);
    EXPECT_EQ(text,
              "processor\t: 0\nBogoMIPS\t: 38.40\n\n"
              "processor\t: 1\nBogoMIPS\t: 38.40\n\n"
              "Hardware\t: Qualcomm\n\n");
}

TEST(ProcViewsTest, StatSumsOnlyTheContainersCpus) {
    std::string host =
        "cpu  6 6 6\ncpu0 1 2 3\ncpu1 2 3 4\ncpu2 3 1 0\nintr 5\nctxt 9\nbtime 100\n";
    EXPECT_EQ(render_stat(host, 2),
              "cpu  3 5 7\ncpu0 1 2 3\ncpu1 2 3 4\nintr 5\nctxt 9\nbtime 100\n");
}

TEST(ProcViewsTest, SmallFiles) {
    EXPECT_EQ(cpu_list(1), "0\n");
    EXPECT_EQ(cpu_list(4), "0-3\n");
    EXPECT_EQ(render_uptime(12.345, -1), "12.35 0.00\n");
    const double load[3] = {0.5, 0.25, 0.125};
    EXPECT_EQ(render_loadavg(load, 1, 7), "0.50 0.25 0.12 1/7 0\n");
}

TEST(ProcViewsTest, LimitsRoundCpusUpAndCapThemAtTheHost) {
    Config c;
    c.cpu_quota = 150000;
    c.cpu_period = 100000;
    EXPECT_EQ(view_limits(c, 8).cpus, 2u);
    EXPECT_EQ(view_limits(c, 1).cpus, 1u);
    EXPECT_FALSE(view_limits(Config{}, 8).enabled());
}

}  // namespace
}  // namespace ds::container
