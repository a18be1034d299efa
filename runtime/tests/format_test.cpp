// Unit tests for core/format: the text `show`, `info` and `scan` print and the small /proc and
// os-release formats they read.
#include "core/format.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using namespace ds::format;

TEST(FormatUptime, UnitsFromTheLargestNonZeroOne) {
    EXPECT_EQ(uptime(0), "0s");
    EXPECT_EQ(uptime(5), "5s");
    EXPECT_EQ(uptime(60), "1m 0s");
    EXPECT_EQ(uptime(120), "2m 0s");
    EXPECT_EQ(uptime(3723), "1h 2m 3s");
    EXPECT_EQ(uptime(3600), "1h 0m 0s");
    EXPECT_EQ(uptime(86400), "1d 0h 0m 0s");
    EXPECT_EQ(uptime(3 * 86400 + 7), "3d 0h 0m 7s");
    EXPECT_EQ(uptime(90061), "1d 1h 1m 1s");
}

TEST(FormatUptime, NegativeIsUnknown) {
    EXPECT_EQ(uptime(-1), "unknown");
}

TEST(FormatBytes, BinaryUnitsWithTwoDecimals) {
    EXPECT_EQ(bytes(0), "0 B");
    EXPECT_EQ(bytes(1023), "1023 B");
    EXPECT_EQ(bytes(1024), "1.00 KB");
    EXPECT_EQ(bytes(1536), "1.50 KB");
    EXPECT_EQ(bytes(512ull << 20), "512.00 MB");
    EXPECT_EQ(bytes(3ull << 30), "3.00 GB");
    EXPECT_EQ(bytes(2ull << 40), "2.00 TB");
    // Beyond TB it stays in TB.
    EXPECT_EQ(bytes(2048ull << 40), "2048.00 TB");
}

TEST(FormatWidth, CountsCodePoints) {
    EXPECT_EQ(display_width(""), 0u);
    EXPECT_EQ(display_width("abc"), 3u);
    EXPECT_EQ(display_width("─┬─"), 3u);
    EXPECT_EQ(display_width("/tmp/café"), 9u);
}

TEST(FormatTable, PlainColumnsAlignedWithoutTrailingBlanks) {
    std::string text =
        table({"NAME", "PID", "ROOTFS"}, {{"x", "12345", "/a"}, {"longer-name", "7", "/b/c"}},
              TableStyle::plain);
    EXPECT_EQ(text,
              "NAME         PID    ROOTFS\n"
              "x            12345  /a\n"
              "longer-name  7      /b/c\n");
}

TEST(FormatTable, PlainWithNoRowsIsTheHeader) {
    EXPECT_EQ(table({"NAME", "PID"}, {}, TableStyle::plain), "NAME  PID\n");
}

TEST(FormatTable, MissingCellsAreBlankExtraOnesIgnored) {
    std::string text = table({"A", "B"}, {{"1"}, {"2", "3", "4"}}, TableStyle::plain);
    EXPECT_EQ(text, "A  B\n1\n2  3\n");
}

TEST(FormatTable, BoxLikeUpstream) {
    std::string text = table({"NAME", "PID"}, {{"web", "42"}}, TableStyle::box);
    EXPECT_EQ(text,
              "┌──────┬─────┐\n"
              "│ NAME │ PID │\n"
              "├──────┼─────┤\n"
              "│ web  │ 42  │\n"
              "└──────┴─────┘\n");
}

TEST(FormatTable, BoxPadsByCodePointsNotBytes) {
    std::string text = table({"N"}, {{"é"}, {"ab"}}, TableStyle::box);
    EXPECT_EQ(text,
              "┌────┐\n"
              "│ N  │\n"
              "├────┤\n"
              "│ é  │\n"
              "│ ab │\n"
              "└────┘\n");
}

TEST(FormatKeyValue, OneLinePerKey) {
    EXPECT_EQ(key_value("CONT_x", "42"), "CONT_x=42\n");
    EXPECT_EQ(key_value("DNS_SERVERS", ""), "DNS_SERVERS=\n");
    EXPECT_EQ(key_value("OS", "a\nb\r"), "OS=a b \n");
}

TEST(FormatJoin, Separators) {
    EXPECT_EQ(join({}, ","), "");
    EXPECT_EQ(join({"a"}, ","), "a");
    EXPECT_EQ(join({"a", "b", "c"}, ", "), "a, b, c");
}

TEST(FormatOsRelease, QuotedUnquotedAndEscaped) {
    std::string text =
        "# comment\n"
        "NAME=\"Debian GNU/Linux\"\n"
        "ID=debian\n"
        "VERSION_ID='12'\n"
        "PRETTY_NAME=\"Say \\\"hi\\\" \\\\ there\"\n"
        "EMPTY=\n";
    EXPECT_EQ(os_release_value(text, "NAME"), "Debian GNU/Linux");
    EXPECT_EQ(os_release_value(text, "ID"), "debian");
    EXPECT_EQ(os_release_value(text, "VERSION_ID"), "12");
    EXPECT_EQ(os_release_value(text, "PRETTY_NAME"), "Say \"hi\" \\ there");
    EXPECT_EQ(os_release_value(text, "EMPTY"), "");
    EXPECT_EQ(os_release_value(text, "MISSING"), std::nullopt);
    // A key is matched whole, not as a prefix.
    EXPECT_EQ(os_release_value("IDX=1\nID=2\n", "ID"), "2");
}

TEST(FormatOsRelease, PrettyNameFallbacks) {
    EXPECT_EQ(os_pretty_name("PRETTY_NAME=\"Busybox fixture\"\nNAME=Busybox\n"), "Busybox fixture");
    EXPECT_EQ(os_pretty_name("NAME=Alpine\nVERSION_ID=3.20\n"), "Alpine 3.20");
    EXPECT_EQ(os_pretty_name("PRETTY_NAME=\"\"\nNAME=Arch\n"), "Arch");
    EXPECT_EQ(os_pretty_name(""), "");
}

TEST(FormatNsPid, LastFieldAndLevels) {
    auto host = parse_nspid("1");
    ASSERT_TRUE(host);
    EXPECT_EQ(host->innermost, 1);
    EXPECT_EQ(host->levels, 1);
    auto init = parse_nspid("25593\t1");
    ASSERT_TRUE(init);
    EXPECT_EQ(init->innermost, 1);
    EXPECT_EQ(init->levels, 2);
    auto nested = parse_nspid("900\t12\t1\n");
    ASSERT_TRUE(nested);
    EXPECT_EQ(nested->levels, 3);
    auto child = parse_nspid("901\t2");
    ASSERT_TRUE(child);
    EXPECT_EQ(child->innermost, 2);
    EXPECT_FALSE(parse_nspid(""));
    EXPECT_FALSE(parse_nspid("12 x"));
}

TEST(FormatProcessUptime, HostUptimeMinusStart) {
    // Host up 1000.5 s, process started at tick 50000 with 100 ticks/s = 500 s.
    EXPECT_EQ(process_uptime("1000.50 3999.00\n", 50000, 100), 500);
    // A start "after" now (clock granularity) is clamped to 0.
    EXPECT_EQ(process_uptime("10.00 1.00\n", 1100, 100), 0);
    EXPECT_EQ(process_uptime("", 1, 100), -1);
    EXPECT_EQ(process_uptime("garbage", 1, 100), -1);
    EXPECT_EQ(process_uptime("10.0 1.0", 1, 0), -1);
}

TEST(FormatCountLines, NonEmptyLines) {
    EXPECT_EQ(count_lines(""), 0u);
    EXPECT_EQ(count_lines("1\n"), 1u);
    EXPECT_EQ(count_lines("1\n2\n\n3"), 3u);
    EXPECT_EQ(count_lines("\n\n"), 0u);
}

TEST(FormatCgroup, ValuesAndMax) {
    EXPECT_EQ(parse_cgroup_value("1234\n"), 1234u);
    EXPECT_EQ(parse_cgroup_value("max\n"), std::nullopt);
    EXPECT_EQ(parse_cgroup_value(""), std::nullopt);
    EXPECT_EQ(parse_cgroup_value("12 34"), std::nullopt);
}

TEST(FormatCgroup, FlatKeyedFiles) {
    std::string stat = "usage_usec 3491\nuser_usec 1000\nsystem_usec 2491\n";
    EXPECT_EQ(flat_keyed_value(stat, "usage_usec"), 3491u);
    EXPECT_EQ(flat_keyed_value(stat, "system_usec"), 2491u);
    EXPECT_EQ(flat_keyed_value(stat, "usage"), std::nullopt);  // whole keys only
    EXPECT_EQ(flat_keyed_value(stat, "nr_periods"), std::nullopt);
}

TEST(FormatArch, UpstreamNames) {
    EXPECT_EQ(arch_name("x86_64"), "x86_64");
    EXPECT_EQ(arch_name("aarch64"), "aarch64");
    EXPECT_EQ(arch_name("arm64"), "aarch64");
    EXPECT_EQ(arch_name("armv7l"), "arm");
    EXPECT_EQ(arch_name("armv8l"), "arm");
    EXPECT_EQ(arch_name("i686"), "x86");
    EXPECT_EQ(arch_name("i386"), "x86");
    EXPECT_EQ(arch_name("riscv64"), "riscv64");
}

// Found by fuzzing (fuzz_format): strtod accepts "nan", "inf" and "1e300", and casting those
// (or a start time far above the uptime) to int64_t was undefined behaviour.
TEST(FormatProcessUptime, NonFiniteOrHugeUptimeIsUnknown) {
    EXPECT_EQ(process_uptime("nan 1.0", 1, 100), -1);
    EXPECT_EQ(process_uptime("inf 1.0", 1, 100), -1);
    EXPECT_EQ(process_uptime("-inf", 1, 100), -1);
    EXPECT_EQ(process_uptime("1e300 1.0", 1, 100), -1);
    EXPECT_EQ(process_uptime("-5.0 1.0", 1, 100), -1);
    EXPECT_EQ(process_uptime("100.0 1.0", UINT64_MAX, 1), 0);  // started "after" now
    EXPECT_EQ(process_uptime("1e14", 0, 100), 100000000000000);
}

}  // namespace
