#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "core/error.hpp"
#include "core/text.hpp"

namespace ds {
namespace {

// Hand-written priorities beyond the API's 0..9999 still load: a config must not become
// unreadable over its boot order.
constexpr uint64_t kMaxBootPriority = 2147483647;

using Format = std::optional<std::string> (*)(const Config&);
using Parse = void (*)(Config&, std::string_view);

// One row per known key, in upstream's serialisation order.
struct Field {
    std::string_view key;
    Parse parse;
    Format format;
    // How the value is written when the file already has a line for the key; nullptr: `format`.
    // Switches keep their line ("=0") once the file has one, as upstream's Android build writes
    // them, so an unchanged file is rewritten byte-for-byte.
    Format present = nullptr;
};

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items)
        out += (out.empty() ? "" : ",") + item;
    return out;
}

std::optional<std::string> if_set(const std::string& s) {
    if (s.empty()) return std::nullopt;
    return s;
}
std::optional<std::string> if_positive(uint64_t n) {
    if (n == 0) return std::nullopt;
    return std::to_string(n);
}
std::optional<std::string> flag(bool b) {
    return b ? "1" : "0";
}
// Android-only switches are written only when on, so desktop configs stay short.
std::optional<std::string> flag_if_on(bool b) {
    if (!b) return std::nullopt;
    return "1";
}

#define DS_BOOL(key, fmt)                                                          \
    Field {                                                                        \
#key, [](Config& c, std::string_view v) { c.key = parse_bool(#key, v); },        \
            [](const Config& c) { return fmt(c.key); },                                  \
            [](const Config& c) { return flag(c.key); } \
    }
#define DS_TEXT(key, check)                                                        \
    Field {                                                                        \
#key,                                                                            \
            [](Config& c, std::string_view v) {                                          \
                if (!v.empty()) check;                                                   \
                c.key = std::string(v);                                                  \
            },                                                                           \
            [](const Config& c) { return if_set(c.key); } \
    }
// An empty value unsets the count (0 = no limit), as an empty string unsets a text key.
#define DS_COUNT(key, min, max)                                                          \
    Field {                                                                              \
#key,                                                                                  \
            [](Config& c, std::string_view v) {                                        \
                c.key = v.empty() ? 0 : parse_positive(#key, v, min, max);             \
            },                                                                         \
            [](const Config& c) { return if_positive(c.key); } \
    }

bool is_container_name(std::string_view v) {
    try {
        check_container_name(v);
        return true;
    } catch (const Error&) {
        return false;
    }
}

bool is_gateway(const Config& c) {
    return c.net_mode == NetMode::gateway;
}
bool is_nat(const Config& c) {
    return c.net_mode == NetMode::nat;
}

const std::vector<Field>& fields() {
    static const std::vector<Field> table = {
        DS_TEXT(name, check_container_name(v)),
        // Upstream's start saves hostname=<container name> when no hostname was given, so a
        // valid container name ("my box", "kali_linux") is accepted as well.
        Field{"hostname",
              [](Config& c, std::string_view v) {
                  if (!v.empty()) {
                      try {
                          check_hostname(v);
                      } catch (const Error&) {
                          if (!is_container_name(v)) throw;
                      }
                  }
                  c.hostname = std::string(v);
              },
              [](const Config& c) { return if_set(c.hostname); }},
        Field{"rootfs_path",
              [](Config& c, std::string_view v) {
                  if (!v.empty() && v[0] != '/')
                      fail_usage("invalid rootfs_path " + quote_value(v) +
                                 ": must be an absolute path");
                  c.rootfs_path = std::string(v);
              },
              [](const Config& c) { return if_set(c.rootfs_path); }},
        DS_BOOL(disable_ipv6, flag),
        DS_BOOL(enable_android_storage, flag_if_on),
        DS_BOOL(enable_termux_x11, flag_if_on),
        DS_TEXT(tx11_extra_flags, (void)0),
        DS_BOOL(enable_virgl, flag_if_on),
        DS_TEXT(virgl_extra_flags, (void)0),
        DS_BOOL(enable_pulseaudio, flag_if_on),
        DS_BOOL(enable_hw_access, flag),
        DS_BOOL(enable_gpu_mode, flag),
        DS_BOOL(selinux_permissive, flag),
        DS_BOOL(allow_userns, flag),
        DS_BOOL(volatile_mode, flag),
        DS_BOOL(force_cgroupv1, flag),
        DS_BOOL(block_nested_ns, flag),
        DS_COUNT(memory_limit, 4ull << 20, UINT64_MAX),
        DS_COUNT(cpu_quota, 1000, UINT64_MAX),
        DS_COUNT(cpu_period, 1000, 1000000),
        DS_COUNT(pids_limit, 1, 4194304),
        Field{"privileged",
              [](Config& c, std::string_view v) { c.privileged = normalize_privileged(v); },
              [](const Config& c) { return if_set(c.privileged); }},
        DS_BOOL(foreground, flag),
        Field{"net_mode", [](Config& c, std::string_view v) { c.net_mode = parse_net_mode(v); },
              [](const Config& c) -> std::optional<std::string> {
                  return std::string(to_string(c.net_mode));
              }},
        Field{"gateway_container",
              [](Config& c, std::string_view v) {
                  if (!v.empty()) check_container_name(v);
                  c.gateway_container = std::string(v);
              },
              [](const Config& c) {
                  return is_gateway(c) ? if_set(c.gateway_container) : std::nullopt;
              }},
        Field{"gateway_net",
              [](Config& c, std::string_view v) {
                  if (!v.empty()) check_interface_name("gateway network", v, false);
                  c.gateway_net = std::string(v);
              },
              [](const Config& c) { return is_gateway(c) ? if_set(c.gateway_net) : std::nullopt; }},
        Field{"gateway_bridge",
              [](Config& c, std::string_view v) {
                  if (!v.empty()) check_interface_name("gateway bridge", v, false);
                  c.gateway_bridge = std::string(v);
              },
              [](const Config& c) {
                  return is_gateway(c) ? if_set(c.gateway_bridge) : std::nullopt;
              }},
        Field{"gateway_lan_ifname",
              [](Config& c, std::string_view v) {
                  if (!v.empty()) check_interface_name("gateway interface", v, false);
                  c.gateway_lan_ifname = std::string(v);
              },
              [](const Config& c) {
                  return is_gateway(c) ? if_set(c.gateway_lan_ifname) : std::nullopt;
              }},
        Field{"upstream_interfaces",
              [](Config& c, std::string_view v) {
                  c.upstream_interfaces.clear();
                  for (auto& name : split_list(v, ", ")) {
                      check_interface_name("upstream interface", name, true);
                      if (c.upstream_interfaces.size() >= kMaxUpstreamInterfaces)
                          fail_usage("too many upstream interfaces: at most 32 are allowed");
                      c.upstream_interfaces.push_back(name);
                  }
              },
              [](const Config& c) {
                  return is_nat(c) ? if_set(join(c.upstream_interfaces)) : std::nullopt;
              }},
        Field{"port_forwards",
              [](Config& c, std::string_view v) {
                  c.port_forwards.clear();
                  for (auto& spec : split_list(v, ", ")) {
                      auto canonical = normalize_port_forward(spec);
                      if (std::count(c.port_forwards.begin(), c.port_forwards.end(), canonical))
                          continue;
                      if (c.port_forwards.size() >= kMaxPortForwards)
                          fail_usage("too many port forwards: at most 32 are allowed");
                      c.port_forwards.push_back(canonical);
                  }
              },
              [](const Config& c) {
                  return is_nat(c) ? if_set(join(c.port_forwards)) : std::nullopt;
              }},
        Field{"static_nat_ip",
              [](Config& c, std::string_view v) {
                  if (!v.empty()) check_nat_ip(v);
                  c.static_nat_ip = std::string(v);
              },
              [](const Config& c) { return is_nat(c) ? if_set(c.static_nat_ip) : std::nullopt; }},
        DS_TEXT(env_file, (void)0),
        DS_TEXT(uuid, check_uuid(v)),
        DS_TEXT(custom_init, check_init_path(v)),
        Field{"dns_servers",
              [](Config& c, std::string_view v) { c.dns_servers = parse_dns_servers(v); },
              [](const Config& c) { return if_set(join(c.dns_servers)); }},
        Field{"bind_mounts",
              [](Config& c, std::string_view v) {
                  c.bind_mounts.clear();
                  add_binds(c.bind_mounts, v);
              },
              [](const Config& c) -> std::optional<std::string> {
                  // Sorted by destination so parents are mounted before children.
                  auto binds = c.bind_mounts;
                  std::stable_sort(binds.begin(), binds.end(),
                                   [](auto& a, auto& b) { return a.dest < b.dest; });
                  std::vector<std::string> items;
                  for (const auto& b : binds)
                      items.push_back(format_bind(b));
                  return if_set(join(items));
              }},
        // Last, where upstream's app appends them. Written only when on, as the app does; an
        // existing line keeps its place and says 0 or 1.
        DS_BOOL(run_at_boot, flag_if_on),
        Field{"run_at_boot_priority",
              [](Config& c, std::string_view v) {
                  c.run_at_boot_priority =
                      v.empty() ? -1
                                : static_cast<int64_t>(parse_positive("run_at_boot_priority", v, 0,
                                                                      kMaxBootPriority));
              },
              [](const Config& c) -> std::optional<std::string> {
                  if (c.run_at_boot_priority < 0) return std::nullopt;
                  return std::to_string(c.run_at_boot_priority);
              }},
    };
    return table;
}

const Field* find_field(std::string_view key) {
    for (const auto& f : fields())
        if (f.key == key) return &f;
    return nullptr;
}

// The key of a "key=value" line, or nullopt for comments, blanks and malformed lines.
std::optional<std::string_view> line_key(std::string_view line) {
    auto t = trim(line);
    if (t.empty() || t[0] == '#') return std::nullopt;
    auto eq = t.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    return trim(t.substr(0, eq));
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        lines.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

}  // namespace

std::string_view to_string(NetMode mode) {
    switch (mode) {
        case NetMode::host:
            return "host";
        case NetMode::nat:
            return "nat";
        case NetMode::none:
            return "none";
        case NetMode::gateway:
            return "gateway";
    }
    return "host";
}

NetMode parse_net_mode(std::string_view value) {
    if (value == "host") return NetMode::host;
    if (value == "nat") return NetMode::nat;
    if (value == "none") return NetMode::none;
    if (value == "gateway" || value == "delegated-gateway") return NetMode::gateway;
    fail_usage("invalid network mode " + quote_value(value) +
               ": expected host, nat, none or gateway");
}

bool is_known_config_key(std::string_view key) {
    return find_field(key) != nullptr;
}

bool set_config_key(Config& config, std::string_view key, std::string_view value) {
    const Field* field = find_field(key);
    if (!field) return false;
    // A newline in a value would come back as a line of its own on the next load.
    if (std::any_of(value.begin(), value.end(),
                    [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; }))
        fail_usage("invalid value " + quote_value(value) + " for " + std::string(key) +
                   ": must not contain control characters");
    // The file trims what follows '=': such a value would load back as another one (a path
    // "/srv/box " as "/srv/box").
    if (!value.empty() && (std::isspace(static_cast<unsigned char>(value.front())) ||
                           std::isspace(static_cast<unsigned char>(value.back()))))
        fail_usage("invalid value " + quote_value(value) + " for " + std::string(key) +
                   ": must not start or end with a space");
    field->parse(config, value);
    return true;
}

Config parse_config(std::string_view text, std::string_view origin,
                    std::vector<std::string>* warnings) {
    Config config;
    std::vector<std::string> lines = split_lines(text);
    for (size_t i = 0; i < lines.size(); ++i) {
        auto t = trim(lines[i]);
        if (t.empty() || t[0] == '#') continue;
        try {
            auto eq = t.find('=');
            if (eq == std::string_view::npos || trim(t.substr(0, eq)).empty())
                fail_usage("malformed line " + quote_value(t) + ": expected key=value");
            // On a copy: a list key that fails half way leaves nothing of the bad line behind.
            // Unknown keys are kept by source_lines.
            Config next = config;
            set_config_key(next, trim(t.substr(0, eq)), trim(t.substr(eq + 1)));
            config = std::move(next);
        } catch (const Error& e) {
            auto where = std::string(origin) + ":" + std::to_string(i + 1) + ": ";
            if (!warnings) fail_usage(where + e.what());
            warnings->push_back(where + e.what() + ": line ignored");
        }
    }
    config.source_lines = std::move(lines);
    return config;
}

std::string serialize_config(const Config& config) {
    // The known keys' new values, in canonical order.
    std::vector<std::pair<std::string_view, std::string>> values;
    for (const auto& f : fields())
        if (auto v = f.format(config)) values.emplace_back(f.key, *v);

    std::string out;
    std::set<std::string_view> written;
    if (config.source_lines.empty()) {
        out =
            "# Droidspaces Container Configuration\n"
            "# Comments and unknown keys in this file are preserved when it is rewritten\n\n";
    }
    for (const auto& line : config.source_lines) {
        auto key = line_key(line);
        const Field* field = key ? find_field(*key) : nullptr;
        if (!field) {  // comment, blank or a key we do not own: verbatim
            out += line + "\n";
            continue;
        }
        if (written.count(field->key)) continue;  // a duplicate of a key already written
        auto value = (field->present ? field->present : field->format)(config);
        if (!value) continue;  // the key is now unset
        out += std::string(field->key) + "=" + *value + "\n";
        written.insert(field->key);
    }
    for (const auto& [key, value] : values)
        if (!written.count(key)) out += std::string(key) + "=" + value + "\n";
    return out;
}

void reset_config(Config& config) {
    Config fresh;
    fresh.name = config.name;
    fresh.rootfs_path = config.rootfs_path;
    fresh.rootfs_is_image = config.rootfs_is_image;
    fresh.uuid = config.uuid;
    fresh.block_nested_ns = config.block_nested_ns;
    // Whether and when the device boots it is not a runtime setting of the container: a reset of
    // its features keeps it (as it did when these were unknown keys kept verbatim).
    fresh.run_at_boot = config.run_at_boot;
    fresh.run_at_boot_priority = config.run_at_boot_priority;
    fresh.source_lines = std::move(config.source_lines);
    config = std::move(fresh);
}

}  // namespace ds
