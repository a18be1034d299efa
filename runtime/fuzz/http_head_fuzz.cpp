// The server's request-head scanner and parser (server/http.hpp), the first code an HTTP client
// reaches. The first input byte picks the head cap (64 + 16 * byte) and how the bytes are cut
// into reads; the rest is what the client sends.
// Invariants: the scan's verdict does not depend on how the bytes arrive; an accepted head has a
// known method, an origin-form target, a decoded path without control bytes or dot segments,
// token header names and values without CR, LF or NUL, never both Content-Length and chunked;
// it reparses to the same request when written back; a refusal is a 4xx/5xx with a one-line
// fixed detail; route parameters are never empty and never hold a '/'.
#include <string>
#include <string_view>

#include "fuzz_target.hpp"
#include "server/http.hpp"

namespace {

namespace http = ds::server::http;

bool has_control(std::string_view s) {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
    }
    return false;
}

// The head as it would be written back from the parsed request.
std::string rewrite(const http::Request& req) {
    std::string out = req.method + " " + req.target + " " + req.version + "\r\n";
    for (const auto& [name, value] : req.headers)
        out += name + ": " + value + "\r\n";
    return out + "\r\n";
}

std::string describe(const http::Request& req) {
    std::string out = req.method + " " + req.path + " " + req.version +
                      " cl=" + std::to_string(req.content_length) +
                      (req.chunked ? " chunked" : "") + (req.keep_alive ? " keep" : "") +
                      (req.expect_continue ? " 100" : "");
    for (const auto& [k, v] : req.query)
        out += " q[" + k + "]=" + v;
    for (const auto& [k, v] : req.headers)
        out += " h[" + k + "]=" + v;
    return out;
}

void check_request(const http::Request& req) {
    DS_FUZZ_CHECK(req.method == "GET" || req.method == "HEAD" || req.method == "POST" ||
                      req.method == "PUT" || req.method == "PATCH" || req.method == "DELETE" ||
                      req.method == "OPTIONS",
                  "method " + req.method);
    DS_FUZZ_CHECK(req.version == "HTTP/1.1" || req.version == "HTTP/1.0", req.version);
    DS_FUZZ_CHECK(!req.target.empty() && req.target[0] == '/', req.target);
    DS_FUZZ_CHECK(!req.path.empty() && req.path[0] == '/', req.path);
    DS_FUZZ_CHECK(!has_control(req.path) && req.path.find('\t') == std::string::npos, req.path);
    DS_FUZZ_CHECK(req.path.find("/../") == std::string::npos && !req.path.ends_with("/..") &&
                      req.path.find("/./") == std::string::npos && !req.path.ends_with("/."),
                  req.path);
    for (const auto& [k, v] : req.query)
        DS_FUZZ_CHECK(k.find('\0') == std::string::npos && v.find('\0') == std::string::npos,
                      "a NUL in the query");
    bool length = false;
    for (const auto& [name, value] : req.headers) {
        DS_FUZZ_CHECK(!name.empty() && name.find_first_of(" \t:\r\n") == std::string::npos,
                      "header name " + name);
        DS_FUZZ_CHECK(!has_control(value), "header value of " + name);
        DS_FUZZ_CHECK(value.empty() || (value.front() != ' ' && value.back() != ' '),
                      "untrimmed value of " + name);
        length = length || http::iequals(name, "Content-Length");
    }
    DS_FUZZ_CHECK(!(length && req.chunked), "Content-Length and chunked");
    DS_FUZZ_CHECK(length || req.content_length == 0, "a length without the header");
    if (req.version == "HTTP/1.0") DS_FUZZ_CHECK(!req.expect_continue, "1.0 with 100-continue");
}

void check_routes(const std::string& path) {
    http::Fields params;
    for (const char* pattern : {"/api/v1/containers/{name}/terminal/{id:hex32}",
                                "/api/v1/containers/{name}", "/api/*", "/{a}/{b}/*"}) {
        if (!http::Router::match(pattern, path, params)) continue;
        for (const auto& [name, value] : params)
            DS_FUZZ_CHECK(!value.empty() && value.find('/') == std::string::npos,
                          std::string(pattern) + " took " + value);
    }
}

}  // namespace

DS_FUZZ_TARGET(http_head) {
    if (size == 0) return 0;
    const size_t cap = 64 + 16 * static_cast<size_t>(data[0]);
    const size_t step = 1 + data[0] % 7;
    const std::string_view input = ds::fuzz::as_text(data + 1, size - 1);

    // The verdict of one scan equals that of a scan resumed as the bytes trickle in.
    const auto whole = http::scan_head(input, cap);
    http::HeadScan part;
    size_t from = 0;
    for (size_t n = std::min(step, input.size());; n = std::min(n + step, input.size())) {
        part = http::scan_head(input.substr(0, n), cap, from);
        if (part.state != http::HeadScan::incomplete || n == input.size()) break;
        from = part.scanned;
    }
    DS_FUZZ_CHECK(part.state == whole.state, "the verdict depends on how the bytes arrive");
    if (whole.state == http::HeadScan::complete) {
        DS_FUZZ_CHECK(part.end == whole.end && part.begin == whole.begin, "a different end");
        DS_FUZZ_CHECK(whole.end <= whole.begin + cap, "a head over the cap");
    }

    // The parser on its own takes any bytes (the fuzzer reaches more of it this way).
    const auto head = whole.state == http::HeadScan::complete
                          ? input.substr(whole.begin, whole.end - whole.begin)
                          : input;
    http::Request req;
    const auto error = http::parse_request_head(head, req);
    if (error) {
        DS_FUZZ_CHECK(error->status >= 400 && error->status <= 505, std::to_string(error->status));
        DS_FUZZ_CHECK(error->detail.find('\n') == std::string_view::npos, "a multi-line detail");
        return 0;
    }
    check_request(req);
    check_routes(req.path);
    http::Request again;
    const auto text = rewrite(req);
    const auto error2 = http::parse_request_head(text, again);
    DS_FUZZ_CHECK(!error2, "the rewritten head is refused: " + text);
    DS_FUZZ_CHECK(describe(again) == describe(req), describe(req) + "\n---\n" + describe(again));
    return 0;
}
