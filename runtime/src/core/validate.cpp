#include "core/validate.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>

#include "core/error.hpp"
#include "core/text.hpp"

namespace ds {
namespace {

std::string quoted_value(std::string_view value) {
    return quote_value(value);
}

bool has_control_chars(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool parse_u64(std::string_view s, uint64_t& out) {
    if (s.empty()) return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

// "N" or "A-B" with 1..65535 and A <= B.
bool parse_port_range(std::string_view s, unsigned& first, unsigned& last) {
    auto dash = s.find('-');
    uint64_t a = 0, b = 0;
    if (dash == std::string_view::npos) {
        if (!parse_u64(s, a)) return false;
        b = a;
    } else if (!parse_u64(s.substr(0, dash), a) || !parse_u64(s.substr(dash + 1), b)) {
        return false;
    }
    if (a < 1 || b > 65535 || a > b) return false;
    first = static_cast<unsigned>(a);
    last = static_cast<unsigned>(b);
    return true;
}

constexpr std::array<std::string_view, 5> kPrivilegedTags = {"nomask", "nocaps", "noseccomp",
                                                             "shared", "unfiltered-dev"};

}  // namespace

void check_container_name(std::string_view name) {
    if (name.empty()) fail_usage("invalid container name '': a name must not be empty");
    if (name.size() > kMaxNameLength)
        fail_usage("invalid container name " + quoted_value(name.substr(0, 40)) +
                   "...: longer than " + std::to_string(kMaxNameLength) +
                   " characters (the hostname defaults to the name)");
    if (name == "." || name == "..")
        fail_usage("invalid container name " + quoted_value(name) + ": '.' and '..' are reserved");
    for (unsigned char c : name) {
        if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != ' ')
            fail_usage("invalid container name " + quoted_value(name) +
                       ": use only letters, digits, '.', '_', '-' and spaces");
    }
    if (name.front() == ' ' || name.back() == ' ')
        fail_usage("invalid container name " + quoted_value(name) +
                   ": must not start or end with a space (a config file would not keep it)");
    if (name.front() == '.')
        fail_usage("invalid container name " + quoted_value(name) +
                   ": must not start with '.' (reserved for the runtime's own entries)");
}

std::string sanitize_name(std::string_view name) {
    std::string out(name);
    std::replace(out.begin(), out.end(), ' ', '-');
    return out;
}

std::vector<std::string> split_list(std::string_view text, std::string_view separators) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find_first_of(separators, start);
        if (end == std::string_view::npos) end = text.size();
        if (end > start) out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

void check_bind_dest(std::string_view dest) {
    auto bad = [&](const std::string& rule) {
        fail_usage("invalid bind destination " + quoted_value(dest) + ": " + rule);
    };
    if (dest.empty() || dest[0] != '/') bad("must be an absolute path");
    if (dest.find_first_not_of('/') == std::string_view::npos) bad("must not be '/'");
    if (dest.size() >= 4096) bad("longer than 4095 characters");
    if (has_control_chars(dest)) bad("must not contain control characters");
    // The config file trims its values, so a last bind's "/mnt/x " would load back as "/mnt/x"
    // (trailing slashes are dropped first: "/mnt/x /" is "/mnt/x ").
    if (std::isspace(static_cast<unsigned char>(dest[dest.find_last_not_of('/')])))
        bad("must not end with a space");
    for (const auto& part : split_list(dest, "/"))
        if (part == "." || part == "..") bad("must not contain '.' or '..' components");
}

BindMount parse_bind(std::string_view spec) {
    auto first = spec.find(':');
    if (first == std::string_view::npos || first == 0)
        fail_usage("invalid bind mount " + quoted_value(spec) + ": expected SRC:DEST[:ro]");
    BindMount bind;
    bind.src = std::string(spec.substr(0, first));
    std::string_view rest = spec.substr(first + 1);
    auto second = rest.find(':');
    if (second != std::string_view::npos) {
        std::string_view mode = rest.substr(second + 1);
        if (mode != "ro" && mode != "rw")
            fail_usage("invalid bind mount " + quoted_value(spec) +
                       ": the third field must be 'ro' or 'rw'");
        bind.read_only = mode == "ro";
        rest = rest.substr(0, second);
    }
    if (bind.src[0] != '/')
        fail_usage("invalid bind source " + quoted_value(bind.src) + ": must be an absolute path");
    if (has_control_chars(bind.src))
        fail_usage("invalid bind source " + quoted_value(bind.src) +
                   ": must not contain control characters");
    check_bind_dest(rest);
    bind.dest = std::string(rest);
    while (bind.dest.size() > 1 && bind.dest.back() == '/')
        bind.dest.pop_back();
    return bind;
}

void add_binds(std::vector<BindMount>& binds, std::string_view specs) {
    for (const auto& spec : split_list(specs, ",")) {
        BindMount bind = parse_bind(spec);
        // Upstream: same src and dest is a duplicate whatever the mode; the first one wins.
        if (std::any_of(binds.begin(), binds.end(), [&](const BindMount& b) {
                return b.src == bind.src && b.dest == bind.dest;
            }))
            continue;
        if (binds.size() >= kMaxBindMounts)
            fail_usage("too many bind mounts at " + quoted_value(spec) + ": at most " +
                       std::to_string(kMaxBindMounts) + " are allowed");
        binds.push_back(std::move(bind));
    }
}

std::string format_bind(const BindMount& bind) {
    return bind.src + ":" + bind.dest + (bind.read_only ? ":ro" : "");
}

bool parse_bool(std::string_view what, std::string_view value) {
    std::string v = lower(value);
    if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
    if (v == "0" || v == "false" || v == "no" || v == "off") return false;
    fail_usage("invalid value " + quoted_value(value) + " for " + std::string(what) +
               ": expected 1/0, true/false, yes/no or on/off");
}

uint64_t parse_positive(std::string_view what, std::string_view value, uint64_t min, uint64_t max) {
    uint64_t n = 0;
    if (!parse_u64(value, n) || n < min || n > max)
        fail_usage("invalid value " + quoted_value(value) + " for " + std::string(what) +
                   ": expected an integer from " + std::to_string(min) + " to " +
                   std::to_string(max));
    return n;
}

uint64_t parse_memory_size(std::string_view value) {
    auto bad = [&] {
        fail_usage("invalid memory size " + quoted_value(value) +
                   ": expected a number with an optional K, M, G or T suffix, at least 4M");
    };
    if (value.empty()) bad();
    double multiplier = 1;
    std::string_view number = value;
    switch (std::toupper(static_cast<unsigned char>(value.back()))) {
        case 'K':
            multiplier = 1024.0;
            break;
        case 'M':
            multiplier = 1024.0 * 1024;
            break;
        case 'G':
            multiplier = 1024.0 * 1024 * 1024;
            break;
        case 'T':
            multiplier = 1024.0 * 1024 * 1024 * 1024;
            break;
        case 'B':
            multiplier = 1;
            break;
        default:
            number = value;
            multiplier = 0;
    }
    if (multiplier != 0)
        number = value.substr(0, value.size() - 1);
    else
        multiplier = 1;
    double n = parse_plain_decimal(number).value_or(0);
    if (n <= 0) bad();
    double bytes = n * multiplier;
    if (bytes < 4.0 * 1024 * 1024 || bytes > 1e18) bad();
    return static_cast<uint64_t>(bytes);
}

std::vector<std::string> parse_dns_servers(std::string_view value) {
    auto servers = split_list(value, ", ");
    for (const auto& s : servers) {
        unsigned char buf[16];
        if (inet_pton(AF_INET, s.c_str(), buf) != 1 && inet_pton(AF_INET6, s.c_str(), buf) != 1)
            fail_usage("invalid DNS server " + quoted_value(s) +
                       ": expected an IPv4 or IPv6 address");
    }
    return servers;
}

void check_hostname(std::string_view hostname) {
    auto bad = [&](const std::string& rule) {
        fail_usage("invalid hostname " + quoted_value(hostname) + ": " + rule);
    };
    if (hostname.empty() || hostname.size() > 64) bad("must be 1 to 64 characters");
    for (const auto& label : split_list(hostname, ".")) {
        if (label.front() == '-' || label.back() == '-')
            bad("labels must not start or end with '-'");
    }
    for (unsigned char c : hostname)
        if (!std::isalnum(c) && c != '-' && c != '.') bad("use only letters, digits, '-' and '.'");
}

void check_init_path(std::string_view path) {
    if (path.empty() || path[0] != '/' || path.find_first_of(" \t") != std::string_view::npos ||
        has_control_chars(path))
        fail_usage("invalid init path " + quoted_value(path) +
                   ": must be an absolute path without spaces");
}

void check_uuid(std::string_view uuid) {
    if (uuid.size() != 32 || !std::all_of(uuid.begin(), uuid.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }))
        fail_usage("invalid uuid " + quoted_value(uuid) + ": expected 32 lowercase hex characters");
}

void check_nat_ip(std::string_view ip) {
    auto parts = split_list(ip, ".");
    uint64_t x = 0, y = 0;
    if (parts.size() != 4 || parts[0] != "172" || parts[1] != "28" || !parse_u64(parts[2], x) ||
        !parse_u64(parts[3], y) || x < 1 || x > 254 || y < 1 || y > 254 ||
        std::count(ip.begin(), ip.end(), '.') != 3)
        fail_usage("invalid NAT IP " + quoted_value(ip) +
                   ": expected 172.28.X.Y with X and Y in 1..254");
}

void check_interface_name(std::string_view what, std::string_view name, bool allow_wildcards) {
    bool ok = !name.empty() && name.size() < 16;
    for (unsigned char c : name) {
        if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' ||
              (allow_wildcards && (c == '*' || c == '?'))))
            ok = false;
    }
    if (!ok)
        fail_usage("invalid " + std::string(what) + " " + quoted_value(name) +
                   ": expected an interface name of 1 to 15 characters");
}

std::string normalize_port_forward(std::string_view spec) {
    auto bad = [&](const std::string& rule) {
        fail_usage("invalid port forward " + quoted_value(spec) + ": " + rule);
    };
    std::string_view body = spec;
    std::string proto = "tcp";
    if (auto slash = body.find('/'); slash != std::string_view::npos) {
        proto = lower(body.substr(slash + 1));
        if (proto != "tcp" && proto != "udp") bad("protocol must be tcp or udp");
        body = body.substr(0, slash);
    }
    std::string_view host = body, container = body;
    if (auto colon = body.find(':'); colon != std::string_view::npos) {
        host = body.substr(0, colon);
        container = body.substr(colon + 1);
    }
    unsigned h1, h2, c1, c2;
    if (!parse_port_range(host, h1, h2) || !parse_port_range(container, c1, c2))
        bad("expected [HOST:]CONTAINER[/tcp|udp] with ports or ranges in 1..65535");
    if (h2 - h1 != c2 - c1) bad("port range width mismatch");
    auto range = [](unsigned a, unsigned b) {
        return a == b ? std::to_string(a) : std::to_string(a) + "-" + std::to_string(b);
    };
    return range(h1, h2) + ":" + range(c1, c2) + "/" + proto;
}

std::string normalize_privileged(std::string_view tags) {
    std::vector<std::string_view> set;
    for (const auto& raw : split_list(tags, ",")) {
        std::string tag = lower(raw);
        if (tag == "full") return "full";
        auto it = std::find(kPrivilegedTags.begin(), kPrivilegedTags.end(), tag);
        if (it == kPrivilegedTags.end())
            fail_usage("invalid privileged tag " + quoted_value(raw) +
                       ": expected nomask, nocaps, noseccomp, shared, unfiltered-dev or full");
        if (std::find(set.begin(), set.end(), *it) == set.end()) set.push_back(*it);
    }
    if (set.size() == kPrivilegedTags.size()) return "full";
    std::string out;
    for (auto tag : kPrivilegedTags) {  // canonical order
        if (std::find(set.begin(), set.end(), tag) == set.end()) continue;
        if (!out.empty()) out += ",";
        out += tag;
    }
    return out;
}

bool privileged_has(std::string_view normalized, std::string_view tag) {
    if (normalized == "full") return true;
    for (const auto& t : split_list(normalized, ","))
        if (t == tag) return true;
    return false;
}

}  // namespace ds
