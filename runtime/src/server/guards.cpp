// The server's security decisions (guards.hpp). Pure functions of the request head and the
// configuration, except new_token (sys::random_hex): server.cpp applies them, the unit tests drive
// them with hostile inputs.
#include "server/guards.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>

#include "server/http.hpp"
#include "sys/random.hpp"

namespace ds::server {
namespace {

// The origins that may call the API cross-origin: the WebView origin of root managers' module
// WebUIs. KernelSU serves module pages from https://mui.kernelsu.org (its WebUIActivity builds a
// WebViewAssetLoader with setDomain("mui.kernelsu.org")). MMRL's WebUI does the same, so that
// KernelSU module UIs work unchanged: the WebUIScreen composable of MMRL (Kotlin package
// com.dergoogler.mmrl.ui.activity.webui, found through the code search index) calls
// setDomain("mui.kernelsu.org") and its own assets are served as https://mui.kernelsu.org/mmrl/...;
// APatch's WebUI (APApplication) uses the same domain. No MMRL-specific origin was found, so the
// list is this one origin.
constexpr std::array<std::string_view, 1> kTrustedOrigins = {"https://mui.kernelsu.org"};

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// "host:port" or "[v6]:port" split into the host (brackets removed) and the port text; nullopt
// when the port is missing (a browser always sends it for a non-default port, and the server
// never listens on 80).
struct HostPort {
    std::string_view host;
    std::string_view port;
    bool bracketed;
};
std::optional<HostPort> split_host(std::string_view value) {
    if (!value.empty() && value.front() == '[') {
        const auto close = value.find(']');
        if (close == std::string_view::npos || close + 1 >= value.size() || value[close + 1] != ':')
            return std::nullopt;
        return HostPort{value.substr(1, close - 1), value.substr(close + 2), true};
    }
    const auto colon = value.rfind(':');
    if (colon == std::string_view::npos || value.find(':') != colon) return std::nullopt;
    return HostPort{value.substr(0, colon), value.substr(colon + 1), false};
}

// The port exactly as decimal digits equal to `port` (no sign, no leading zero, no spaces).
bool port_matches(std::string_view text, uint16_t port) {
    return !text.empty() && text == std::to_string(port);
}

// Binary address of a numeric host (v4, or v6 when bracketed), for comparisons that ignore
// spelling ("[0:0::1]" is "[::1]").
struct Address {
    int family = 0;
    std::array<unsigned char, 16> bytes{};
    bool operator==(const Address&) const = default;
};
std::optional<Address> parse_address(std::string_view text, bool v6) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    const std::string s(text);
    Address a;
    a.family = v6 ? AF_INET6 : AF_INET;
    if (inet_pton(a.family, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
}

bool is_wildcard(const Address& a) {
    return a == Address{a.family, {}};
}

bool is_state_changing(std::string_view method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

bool is_api_path(std::string_view path) {
    return path == "/api" || path.starts_with("/api/");
}

// Content-Length as a number; nullopt for anything but plain digits (the transport refuses
// such a head already; this layer does not rely on it).
std::optional<size_t> parse_length(std::string_view text) {
    size_t value = 0;
    if (text.empty()) return std::nullopt;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

std::string new_token() {
    return sys::random_hex(32, "the server token");  // 256 bits
}

bool tokens_equal(std::string_view a, std::string_view b) {
    // The length is not secret (always 64); the bytes are.
    if (a.size() != b.size() || a.empty()) return false;
    return all_equal_constant_time(a.size(), [&](size_t i) { return a[i] ^ b[i]; });
}

std::optional<std::string_view> bearer_token(std::string_view authorization) {
    constexpr std::string_view kScheme = "bearer";
    if (!starts_with_icase(authorization, kScheme)) return std::nullopt;
    auto rest = authorization.substr(kScheme.size());
    if (rest.empty() || (rest.front() != ' ' && rest.front() != '\t')) return std::nullopt;
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t'))
        rest.remove_prefix(1);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t'))
        rest.remove_suffix(1);
    if (rest.empty() || rest.find_first_of(" \t,") != std::string_view::npos) return std::nullopt;
    return rest;
}

bool Guards::host_allowed(std::string_view host) const {
    const auto hp = split_host(host);
    if (!hp || !port_matches(hp->port, config_.port)) return false;
    if (!hp->bracketed && iequals(hp->host, "localhost")) return true;
    // Only numeric hosts beyond "localhost": a DNS-rebinding page reaches us under its own
    // name, never under an address literal, so literals we listen on are safe.
    const auto addr = parse_address(hp->host, hp->bracketed);
    if (!addr) return false;
    if (*addr == *parse_address("127.0.0.1", false) || *addr == *parse_address("::1", true))
        return true;
    for (const auto& listen : config_.listen) {
        const bool v6 = listen.find(':') != std::string::npos;
        const auto l = parse_address(listen, v6);
        if (!l) continue;
        // A wildcard listener is reached through any of the machine's addresses, which we do
        // not enumerate: any literal of that family is accepted (still never a name).
        if (*l == *addr || (is_wildcard(*l) && l->family == addr->family)) return true;
    }
    return false;
}

OriginKind Guards::classify_origin(std::string_view origin) const {
    for (const auto trusted : kTrustedOrigins) {
        if (iequals(origin, trusted)) return OriginKind::trusted;
    }
    // Our own pages: http://<an allowed host>. "null" (sandboxed frames, file://) and every
    // other scheme is foreign.
    constexpr std::string_view kHttp = "http://";
    if (starts_with_icase(origin, kHttp)) {
        const auto rest = origin.substr(kHttp.size());
        if (rest.find('/') == std::string_view::npos && host_allowed(rest)) return OriginKind::own;
    }
    return OriginKind::foreign;
}

std::optional<Rejection> Guards::check(const RequestHead& head) const {
    // 1. DNS rebinding: the browser sends the attacker's name in Host.
    if (!head.host || !host_allowed(*head.host)) {
        return Rejection{421, "misdirected", "the Host header does not name this server"};
    }
    // Preflights are answered by preflight_headers (the caller checks the method first).
    if (head.method == "OPTIONS") return std::nullopt;
    // 3. CSRF: a foreign page may send a simple POST without a preflight.
    if (is_state_changing(head.method) && head.origin &&
        classify_origin(*head.origin) == OriginKind::foreign) {
        return Rejection{403, "forbidden_origin", "requests from this origin are not allowed"};
    }
    if (!is_api_path(head.path)) return std::nullopt;
    // 4. The token, in the Authorization header only (never a query string: it would land in
    // logs and the browser's history).
    const auto presented = head.authorization ? bearer_token(*head.authorization) : std::nullopt;
    if (!presented || config_.token.empty() || !tokens_equal(*presented, config_.token)) {
        return Rejection{401, "unauthorized", "a valid Authorization: Bearer token is required"};
    }
    // 5. Bodies: decided on the head, before the transport reads any of it.
    if (head.is_upload || !http::method_may_have_body(head.method)) return std::nullopt;
    if (head.transfer_encoding) {
        return Rejection{411, "length_required",
                         "a JSON body must be sent with Content-Length, not chunked"};
    }
    if (head.content_length) {
        const auto length = parse_length(*head.content_length);
        if (!length) return Rejection{400, "invalid", "Content-Length is not a number"};
        if (*length > config_.max_json_body) {
            return Rejection{
                413, "too_large",
                "the body is larger than " + std::to_string(config_.max_json_body) + " bytes"};
        }
    }
    return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> Guards::cors_headers(
    std::optional<std::string_view> origin) const {
    if (!origin) return {};
    const auto kind = classify_origin(*origin);
    if (kind != OriginKind::own && kind != OriginKind::trusted) return {};
    // Echo the one origin, never "*": "*" would let any page read the responses.
    return {{"Access-Control-Allow-Origin", std::string(*origin)}, {"Vary", "Origin"}};
}

std::optional<std::vector<std::pair<std::string, std::string>>> Guards::preflight_headers(
    std::optional<std::string_view> origin, bool private_network) const {
    if (!origin) return std::nullopt;
    auto headers = cors_headers(origin);
    if (headers.empty()) return std::nullopt;
    headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS");
    headers.emplace_back("Access-Control-Allow-Headers",
                         "Authorization, Content-Type, Last-Event-ID");
    headers.emplace_back("Access-Control-Max-Age", "600");
    // Chrome's Private Network Access: a public-looking origin (the WebView's https origin)
    // calling a loopback address must be allowed explicitly.
    if (private_network) headers.emplace_back("Access-Control-Allow-Private-Network", "true");
    return headers;
}

const std::vector<std::pair<std::string, std::string>>& security_headers() {
    static const std::vector<std::pair<std::string, std::string>> headers = [] {
        std::string frame_ancestors = "frame-ancestors 'self'";
        for (const auto origin : kTrustedOrigins) {
            frame_ancestors += ' ';
            frame_ancestors += origin;
        }
        return std::vector<std::pair<std::string, std::string>>{
            {"Content-Security-Policy",
             "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
             "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
                 frame_ancestors},
            {"X-Content-Type-Options", "nosniff"},
            {"Referrer-Policy", "no-referrer"},
        };
    }();
    return headers;
}

}  // namespace ds::server
