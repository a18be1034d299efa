// Validators and small parsers for user input. Each failure throws a usage error whose one line
// names the offending value and the rule it broke. No syscalls here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ds {

// A container's hostname defaults to its name, and a hostname holds at most 64 bytes
// (HOST_NAME_MAX); 64 also leaves room in every derived file name (Pids/<name>.state.XXXXXX,
// Containers/.install-<name>.XXXXXX, cgroup droidspaces/<name>) below NAME_MAX.
constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxBindMounts = 16;
constexpr size_t kMaxPortForwards = 32;
constexpr size_t kMaxUpstreamInterfaces = 32;

// Container names: 1..64 characters of [A-Za-z0-9._- ], not starting with '.' (entries starting
// with '.' in Containers/ belong to the runtime, e.g. install's staging directories).
void check_container_name(std::string_view name);
// Names as used on the filesystem (directories, pidfiles, cgroups): spaces become '-', as
// upstream stores them. Two names with one sanitised form are one identity: the workspace never
// holds both (see container::check_name_available).
std::string sanitize_name(std::string_view name);
// "a,b c" -> {"a","b","c"}; empty items dropped.
std::vector<std::string> split_list(std::string_view text, std::string_view separators = ",");

struct BindMount {
    std::string src;
    std::string dest;
    bool read_only = false;
    bool operator==(const BindMount&) const = default;
};
// One "SRC:DEST[:ro|:rw]" entry.
BindMount parse_bind(std::string_view spec);
// Appends comma-separated entries, skipping exact duplicates, enforcing kMaxBindMounts.
void add_binds(std::vector<BindMount>& binds, std::string_view specs);
std::string format_bind(const BindMount& bind);
void check_bind_dest(std::string_view dest);

// 1/true/yes/on and 0/false/no/off, case-insensitive; `what` names the key or flag.
bool parse_bool(std::string_view what, std::string_view value);
// Strictly positive decimal integer within [min, max].
uint64_t parse_positive(std::string_view what, std::string_view value, uint64_t min = 1,
                        uint64_t max = UINT64_MAX);
// "512M", "1.5G", "4096" (bytes), binary units K/M/G/T; at least 4 MiB.
uint64_t parse_memory_size(std::string_view value);

std::vector<std::string> parse_dns_servers(std::string_view value);
void check_hostname(std::string_view hostname);
void check_init_path(std::string_view path);
void check_uuid(std::string_view uuid);
void check_nat_ip(std::string_view ip);
void check_interface_name(std::string_view what, std::string_view name, bool allow_wildcards);
// "[H:]C[/tcp|udp]" with N or A-B ranges; returns the canonical "H:C/proto".
std::string normalize_port_forward(std::string_view spec);
// Comma list of privileged tags; returns the canonical list ("full" when all are set).
std::string normalize_privileged(std::string_view tags);
bool privileged_has(std::string_view normalized, std::string_view tag);

}  // namespace ds
