// The validators and small parsers of user input (core/validate.hpp): bind, port, memory size,
// DNS, hostname, interface, NAT IP, uuid, privileged tags, names. The first byte picks the
// parser (a letter from kParsers, any other byte modulo the table), the rest is its input.
// Whatever a parser accepts must keep the rule it states, and canonical forms must be stable.
#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "fuzz_target.hpp"

namespace {

using std::string;
using std::string_view;

bool has_control(string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

bool has_dot_component(string_view path) {
    for (const auto& part : ds::split_list(path, "/"))
        if (part == "." || part == "..") return true;
    return false;
}

// `in_list`: the bind came from a comma-separated list (config, -B), so it cannot hold a ','.
void check_bind(const ds::BindMount& b, string_view spec, bool in_list) {
    string where = "bind '" + string(spec) + "'";
    DS_FUZZ_CHECK(!b.src.empty() && b.src[0] == '/', where + ": relative source");
    DS_FUZZ_CHECK(!b.dest.empty() && b.dest[0] == '/' && b.dest != "/", where + ": bad dest");
    DS_FUZZ_CHECK(!has_dot_component(b.dest), where + ": dest has . or ..");
    DS_FUZZ_CHECK(b.dest.back() != '/', where + ": dest ends with /");
    DS_FUZZ_CHECK(!has_control(b.src) && !has_control(b.dest), where + ": control characters");
    DS_FUZZ_CHECK(!in_list || b.src.find(',') == string::npos, where + ": ',' in the source");
    DS_FUZZ_CHECK(!std::isspace(static_cast<unsigned char>(b.dest.back())),
                  where + ": dest ends with a space (lost when the config is loaded)");
    // What the config saves loads back as the same bind.
    DS_FUZZ_CHECK(ds::parse_bind(ds::format_bind(b)) == b, where + ": format does not reparse");
}

void bind(string_view text) {
    check_bind(ds::parse_bind(text), text, false);
}

void bind_list(string_view text) {
    std::vector<ds::BindMount> binds;
    ds::add_binds(binds, text);
    DS_FUZZ_CHECK(binds.size() <= ds::kMaxBindMounts, "more binds than allowed");
    for (const auto& b : binds)
        check_bind(b, text, true);
}

void bind_dest(string_view text) {
    ds::check_bind_dest(text);
    DS_FUZZ_CHECK(!text.empty() && text[0] == '/', "relative bind destination accepted");
    DS_FUZZ_CHECK(!has_dot_component(text), "bind destination with . or .. accepted");
}

void port(string_view text) {
    string canonical = ds::normalize_port_forward(text);
    DS_FUZZ_CHECK(ds::normalize_port_forward(canonical) == canonical,
                  "port forward not canonical: " + canonical);
}

void memory(string_view text) {
    DS_FUZZ_CHECK(ds::parse_memory_size(text) >= (4u << 20), "memory size below 4M accepted");
}

void count(string_view text) {
    uint64_t n = ds::parse_positive("count", text, 1, 4194304);
    DS_FUZZ_CHECK(n >= 1 && n <= 4194304, "count out of range");
}

void dns(string_view text) {
    auto servers = ds::parse_dns_servers(text);
    string joined;
    for (const auto& s : servers) {
        DS_FUZZ_CHECK(!s.empty() && s.find_first_of(", ") == string::npos, "bad DNS item");
        joined += (joined.empty() ? "" : ",") + s;
    }
    DS_FUZZ_CHECK(ds::parse_dns_servers(joined) == servers, "DNS list does not reparse");
}

void hostname(string_view text) {
    ds::check_hostname(text);
    DS_FUZZ_CHECK(!text.empty() && text.size() <= 64, "hostname length");
    DS_FUZZ_CHECK(!has_control(text) && text.find('/') == string_view::npos, "hostname chars");
}

void interface(string_view text, bool wildcards) {
    ds::check_interface_name("interface", text, wildcards);
    DS_FUZZ_CHECK(!text.empty() && text.size() <= 15, "interface name length");
    DS_FUZZ_CHECK(text.find('/') == string_view::npos && !has_control(text), "interface chars");
}

void nat_ip(string_view text) {
    ds::check_nat_ip(text);
    DS_FUZZ_CHECK(text.substr(0, 7) == "172.28.", "NAT IP outside 172.28/16 accepted");
}

void uuid(string_view text) {
    ds::check_uuid(text);
    DS_FUZZ_CHECK(text.size() == 32, "uuid length");
}

void privileged(string_view text) {
    string canonical = ds::normalize_privileged(text);
    DS_FUZZ_CHECK(ds::normalize_privileged(canonical) == canonical,
                  "privileged tags not canonical: " + canonical);
    auto tags = ds::split_list(canonical);
    for (string_view tag : {"nomask", "nocaps", "noseccomp", "shared", "unfiltered-dev"}) {
        bool listed = canonical == "full" || std::find(tags.begin(), tags.end(), tag) != tags.end();
        DS_FUZZ_CHECK(ds::privileged_has(canonical, tag) == listed,
                      "privileged_has disagrees for " + string(tag));
    }
}

void boolean(string_view text) {
    (void)ds::parse_bool("switch", text);
}

void init_path(string_view text) {
    ds::check_init_path(text);
    DS_FUZZ_CHECK(!text.empty() && text[0] == '/' && !has_control(text), "init path");
}

void list(string_view text) {
    for (const auto& item : ds::split_list(text, ", "))
        DS_FUZZ_CHECK(!item.empty() && item.find_first_of(", ") == string::npos, "split item");
}

void name(string_view text) {
    ds::check_container_name(text);
    string fs_name = ds::sanitize_name(text);
    DS_FUZZ_CHECK(!fs_name.empty() && fs_name.find('/') == string::npos && fs_name != "." &&
                      fs_name != ".." && !has_control(fs_name),
                  "a container name that is not a safe file name: '" + fs_name + "'");
}

void net_mode(string_view text) {
    auto mode = ds::parse_net_mode(text);
    DS_FUZZ_CHECK(ds::parse_net_mode(ds::to_string(mode)) == mode, "net mode round trip");
}

struct Parser {
    char letter;
    void (*run)(string_view);
};

constexpr Parser kParsers[] = {
    {'b', bind},
    {'a', bind_list},
    {'k', bind_dest},
    {'p', port},
    {'m', memory},
    {'c', count},
    {'d', dns},
    {'h', hostname},
    {'i', [](string_view t) { interface(t, false); }},
    {'I', [](string_view t) { interface(t, true); }},
    {'n', nat_ip},
    {'u', uuid},
    {'P', privileged},
    {'B', boolean},
    {'x', init_path},
    {'s', list},
    {'N', name},
    {'w', net_mode},
};

}  // namespace

DS_FUZZ_TARGET(validate) {
    if (size == 0) return 0;
    const Parser* parser = &kParsers[data[0] % std::size(kParsers)];
    for (const auto& p : kParsers)
        if (p.letter == static_cast<char>(data[0])) parser = &p;
    try {
        parser->run(ds::fuzz::as_text(data + 1, size - 1));
    } catch (const ds::Error& e) {
        string message = e.what();
        DS_FUZZ_CHECK(!message.empty() && message.find('\n') == string::npos,
                      "error is not one line: " + message);
    }
    return 0;
}
