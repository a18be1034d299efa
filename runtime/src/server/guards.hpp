// The server's security layers (docs/server.md "Security"), as pure decisions over a request's
// method, path and headers, and the headers every response carries. server/server.cpp applies
// them in the transport's pre-routing handler, in this order:
//   1. Host allowlist (DNS rebinding): 127.0.0.1:PORT, [::1]:PORT, localhost:PORT, plus the
//      --listen address; missing or other -> 421.
//   2. CORS: a preflight (OPTIONS) from an allowed origin -> 204 with the Allow-* headers (and
//      Allow-Private-Network when asked); from any other origin -> 403. Never "*".
//   3. Origin on state-changing methods (POST, PUT, PATCH, DELETE): absent (curl, CLI) or
//      allowed, else 403.
//   4. /api/...: "Authorization: Bearer <token>", compared in constant time, else 401.
//   5. Bodies: a JSON route's body over max_json_body -> 413; a chunked body on a JSON
//      route -> 411; uploads have their own cap (install's).
// Allowed cross origins: https://mui.kernelsu.org (KernelSU), the MMRL / WebUI X origins, and
// the server's own origins.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ds::server {

// 32 random bytes (getrandom) as 64 hex digits.
std::string new_token();
// Equal length and bytes, in time that does not depend on where they differ.
bool tokens_equal(std::string_view a, std::string_view b);
// The loop behind tokens_equal: visits every index of [0, n) through `differs_at(i)` (nonzero
// when the bytes at i differ), whatever the first difference, so a wrong guess takes as long as
// a right one. A template so that a test can count the visits.
template <class DiffersAt>
bool all_equal_constant_time(size_t n, DiffersAt differs_at) {
    volatile unsigned char diff = 0;  // volatile: the loop must not be cut short
    for (size_t i = 0; i < n; ++i)
        diff = diff | static_cast<unsigned char>(differs_at(i));
    return diff == 0;
}
// The token of "Bearer <token>" (scheme case-insensitive), nullopt for anything else.
std::optional<std::string_view> bearer_token(std::string_view authorization);

struct GuardConfig {
    uint16_t port = 0;
    std::vector<std::string> listen;  // the addresses listened on ("127.0.0.1", "::1", ...)
    std::string token;
    size_t max_json_body = 1024 * 1024;
};

enum class OriginKind { none, own, trusted, foreign };

// What one request looks like to the guards.
struct RequestHead {
    std::string_view method;
    std::string_view path;
    std::optional<std::string_view> host;
    std::optional<std::string_view> origin;
    std::optional<std::string_view> authorization;
    std::optional<std::string_view> content_length;
    std::optional<std::string_view> transfer_encoding;
    bool is_upload = false;  // the route streams its body to disk (its own cap)
};

struct Rejection {
    int status;
    std::string error;   // "misdirected", "forbidden_origin", "unauthorized", ...
    std::string detail;  // one line, never containing the token or the header's value
};

class Guards {
  public:
    explicit Guards(GuardConfig config) : config_(std::move(config)) {}
    bool host_allowed(std::string_view host) const;
    OriginKind classify_origin(std::string_view origin) const;
    // The first layer that refuses the request, nullopt when all pass. Preflights are answered
    // by preflight_headers, not here.
    std::optional<Rejection> check(const RequestHead& head) const;
    // Headers for a response to a request with this Origin: the CORS ones for an own or trusted
    // origin (with Vary: Origin), none otherwise.
    std::vector<std::pair<std::string, std::string>> cors_headers(
        std::optional<std::string_view> origin) const;
    // An OPTIONS preflight: the headers of a 204 when the origin is allowed, nullopt (403) else.
    std::optional<std::vector<std::pair<std::string, std::string>>> preflight_headers(
        std::optional<std::string_view> origin, bool private_network) const;
    const GuardConfig& config() const { return config_; }

  private:
    GuardConfig config_;
};

// On every response: Content-Security-Policy (no inline script, connect-src 'self',
// frame-ancestors the WebUI origins), X-Content-Type-Options, Referrer-Policy: no-referrer,
// X-Frame-Options is not used (frame-ancestors supersedes it).
const std::vector<std::pair<std::string, std::string>>& security_headers();

}  // namespace ds::server
