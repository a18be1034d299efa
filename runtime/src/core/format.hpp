// Pure text helpers for what the CLI prints and the small kernel/OS text formats it reads:
// uptimes, byte sizes, aligned tables, os-release and /proc parsing. No syscalls here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds::format {

// Upstream's uptime text: units only from the largest non-zero one down to seconds
// ("5s", "2m 0s", "1h 2m 3s", "3d 0h 0m 7s"); "unknown" for a negative value.
std::string uptime(int64_t seconds);

// Binary units with two decimals, as upstream's info prints them: "512 B", "1.50 KB",
// "3.00 GB" (B, KB, MB, GB, TB; 1 KB = 1024 B).
std::string bytes(uint64_t value);

// Columns a terminal gives `text` (UTF-8: one per code point; no wide-character tables).
size_t display_width(std::string_view text);

enum class TableStyle {
    plain,  // columns separated by two spaces, no trailing blanks
    box,    // upstream's box drawing (┌─┬─┐ │ ├─┼─┤ └─┴─┘)
};
// Lays out `header` and `rows` (each row as many cells as the header; missing cells are blank,
// extra ones ignored). Every line ends with '\n'.
std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, TableStyle style);

// "KEY=VALUE\n" with any line break in the value replaced by a space (one key per line).
std::string key_value(std::string_view key, std::string_view value);

std::string join(const std::vector<std::string>& items, std::string_view separator);

// --- small parsers ---------------------------------------------------------------------------

// The value of `key` in os-release text (shell-style: quotes removed, backslash escapes inside
// double quotes resolved), or nullopt when the key is absent.
std::optional<std::string> os_release_value(std::string_view text, std::string_view key);
// PRETTY_NAME, else "NAME VERSION_ID", else NAME, else "".
std::string os_pretty_name(std::string_view os_release);

// The last PID of an "NSpid:" value ("1234\t1" -> 1) and how many levels it lists.
struct NsPid {
    long innermost = 0;
    int levels = 0;
};
std::optional<NsPid> parse_nspid(std::string_view field);

// Seconds a process has run: host /proc/uptime text minus its start time (clock ticks since
// boot, field 22 of /proc/PID/stat). -1 when the uptime text is unreadable; never below 0.
int64_t process_uptime(std::string_view proc_uptime, uint64_t start_ticks, long ticks_per_second);

// Lines of non-empty text (mountinfo entries, cgroup.procs PIDs).
size_t count_lines(std::string_view text);

// "max" -> nullopt, "123" -> 123, for cgroup limit files; nullopt on anything else too.
std::optional<uint64_t> parse_cgroup_value(std::string_view text);
// A "key value" line of a flat-keyed file (cpu.stat "usage_usec 123", memory.stat ...).
std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key);

// Upstream's architecture names: x86_64, aarch64 (also for arm64), arm (arm*), x86 (i?86),
// else the machine string unchanged.
std::string arch_name(std::string_view machine);

}  // namespace ds::format
