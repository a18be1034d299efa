// HTTP/1.1 messages, the request-head parser and the router (http.hpp).
#include "server/http.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace ds::server::http {
namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// RFC 9110 5.6.2 tchar.
bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
    return c != 0 && kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (const char c : s)
        if (!is_tchar(static_cast<unsigned char>(c))) return false;
    return true;
}

// field-value bytes: VCHAR, SP, HTAB, obs-text. No CTL (NUL, CR, LF, DEL, ...).
bool is_field_value(std::string_view s) {
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\t') continue;
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A comma-separated list has `token` (case-insensitive): "keep-alive, Upgrade".
bool list_has(std::string_view list, std::string_view token) {
    while (!list.empty()) {
        const auto comma = list.find(',');
        if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

bool known_method(std::string_view m) {
    constexpr std::array<std::string_view, 7> kMethods = {"GET",    "HEAD",    "POST", "PUT",
                                                          "DELETE", "OPTIONS", "PATCH"};
    for (const auto k : kMethods)
        if (m == k) return true;
    return false;
}

std::optional<HeadError> parse_request_line(std::string_view line, Request& req) {
    const auto sp1 = line.find(' ');
    if (sp1 == std::string_view::npos)
        return HeadError{400, "the request line is not METHOD SP /path SP HTTP/1.x"};
    const auto sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
        return HeadError{400, "the request line is not METHOD SP /path SP HTTP/1.x"};
    const auto method = line.substr(0, sp1);
    const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const auto version = line.substr(sp2 + 1);
    if (!is_token(method)) return HeadError{400, "the method is not a token"};
    if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        const bool http = version.size() == 8 && version.starts_with("HTTP/") &&
                          hex_value(version[5]) >= 0 && hex_value(version[5]) <= 9 &&
                          version[6] == '.' && hex_value(version[7]) >= 0 &&
                          hex_value(version[7]) <= 9;
        if (http) return HeadError{505, "only HTTP/1.0 and HTTP/1.1 are spoken"};
        return HeadError{400, "the request line does not end in HTTP/1.x"};
    }
    if (target.size() > kMaxTarget) return HeadError{414, "the request target exceeds 8 KiB"};
    // origin-form only: no absolute-form (we are no proxy), no asterisk-form, no fragment.
    if (target.empty() || target.front() != '/')
        return HeadError{400, "the request target must start with '/'"};
    for (const char ch : target) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f || c == '#')
            return HeadError{400, "the request target has a byte outside visible ASCII or '#'"};
    }
    if (!known_method(method)) return HeadError{501, "the method is not implemented"};
    req.method = method;
    req.target = target;
    req.version = version;
    const auto q = target.find('?');
    auto path = decode_path(target.substr(0, q));
    if (!path)
        return HeadError{400,
                         "the path has a bad %-escape, a control byte or a '.' or '..' segment"};
    req.path = std::move(*path);
    if (q == std::string_view::npos) return std::nullopt;
    auto query = target.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(
            eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
        if (!key || !value || key->find('\0') != std::string::npos ||
            value->find('\0') != std::string::npos)
            return HeadError{400, "the query has a bad %-escape or a NUL"};
        if (!key->empty()) req.query.emplace(std::move(*key), std::move(*value));
    }
    return std::nullopt;
}

// The framing headers: one Content-Length of digits, or Transfer-Encoding: chunked, never both.
std::optional<HeadError> check_framing(Request& req) {
    bool has_length = false;
    bool has_te = false;
    bool has_host = false;
    req.keep_alive = req.version == "HTTP/1.1";
    for (const auto& [name, value] : req.headers) {
        if (iequals(name, "Content-Length")) {
            if (has_length) return HeadError{400, "more than one Content-Length"};
            has_length = true;
            if (value.empty() || value.size() > 18)
                return HeadError{400, "Content-Length is not 1 to 18 digits"};
            uint64_t n = 0;
            for (const char c : value) {
                if (c < '0' || c > '9')
                    return HeadError{400, "Content-Length is not 1 to 18 digits"};
                n = n * 10 + static_cast<uint64_t>(c - '0');
            }
            req.content_length = n;
        } else if (iequals(name, "Transfer-Encoding")) {
            if (has_te) return HeadError{400, "more than one Transfer-Encoding"};
            has_te = true;
            if (!iequals(value, "chunked"))
                return HeadError{501, "the only transfer coding understood is chunked"};
            req.chunked = true;
        } else if (iequals(name, "Host")) {
            if (has_host) return HeadError{400, "more than one Host"};
            has_host = true;
        } else if (iequals(name, "Connection")) {
            if (list_has(value, "close")) req.keep_alive = false;
            if (req.version == "HTTP/1.0" && list_has(value, "keep-alive")) req.keep_alive = true;
        } else if (iequals(name, "Expect")) {
            if (iequals(value, "100-continue")) req.expect_continue = true;
        }
    }
    if (has_length && has_te)
        return HeadError{400, "Content-Length and Transfer-Encoding together"};
    if (req.expect_continue && req.version == "HTTP/1.0") req.expect_continue = false;
    return std::nullopt;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool method_may_have_body(std::string_view method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

// --- Request ------------------------------------------------------------------------------------

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return std::string_view(v);
    return std::nullopt;
}

bool Request::has_header(std::string_view name) const {
    return header(name).has_value();
}

std::string Request::get_header_value(std::string_view name) const {
    return std::string(header(name).value_or(""));
}

bool Request::has_param(std::string_view key) const {
    return query.find(std::string(key)) != query.end();
}

std::string Request::get_param_value(std::string_view key) const {
    const auto it = query.find(std::string(key));
    return it == query.end() ? std::string() : it->second;
}

std::string Request::path_param(std::string_view name) const {
    for (const auto& [k, v] : path_params)
        if (k == name) return v;
    return {};
}

// --- Response -----------------------------------------------------------------------------------

Response::~Response() {
    if (releaser_) releaser_(provider_success_);
}

void Response::set_header(std::string_view name, std::string_view value) {
    if (!is_token(name) || !is_field_value(value))
        throw std::invalid_argument("a response header with a bad name or a control byte");
    for (auto& [k, v] : headers) {
        if (iequals(k, name)) {
            v = value;
            return;
        }
    }
    headers.emplace_back(name, value);
}

bool Response::has_header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return true;
    return false;
}

std::string Response::get_header_value(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return {};
}

void Response::set_content(std::string content, std::string_view content_type) {
    body = std::move(content);
    set_header("Content-Type", content_type);
}

void Response::set_chunked_content_provider(std::string_view content_type, ContentProvider provider,
                                            ContentProviderReleaser releaser) {
    set_header("Content-Type", content_type);
    body.clear();
    provider_ = std::move(provider);
    if (releaser_) releaser_(false);
    releaser_ = std::move(releaser);
}

// --- the head -----------------------------------------------------------------------------------

HeadScan scan_head(std::string_view buffered, size_t max_head_bytes, size_t from) {
    HeadScan scan;
    // Leading empty lines (a CRLF some clients send after a body) are skipped, within the cap.
    size_t begin = 0;
    while (begin + 1 < buffered.size() && buffered[begin] == '\r' && buffered[begin + 1] == '\n')
        begin += 2;
    scan.begin = begin;
    if (begin > max_head_bytes) {
        scan.state = HeadScan::too_large;
        return scan;
    }
    const size_t limit = std::min(buffered.size(), begin + max_head_bytes);
    for (size_t i = std::max(from, begin); i < limit; ++i) {
        const char c = buffered[i];
        // (Only within the cap: the verdict must not depend on bytes past it.)
        if (c == '\r' && i + 1 < limit && buffered[i + 1] != '\n') {
            scan.state = HeadScan::bad;  // a bare CR
            return scan;
        }
        if (c != '\n') continue;
        if (i == begin || buffered[i - 1] != '\r') {
            scan.state = HeadScan::bad;  // a bare LF
            return scan;
        }
        if (i >= begin + 3 && buffered[i - 2] == '\n' && buffered[i - 3] == '\r') {
            scan.state = HeadScan::complete;
            scan.end = i + 1;
            return scan;
        }
    }
    if (buffered.size() >= begin + max_head_bytes) {
        scan.state = HeadScan::too_large;
        return scan;
    }
    // Resume one byte back: a CR at the end is checked against the byte after it.
    scan.scanned = limit > begin ? limit - 1 : begin;
    return scan;
}

std::optional<HeadError> parse_request_head(std::string_view head, Request& req) {
    if (!head.ends_with("\r\n\r\n")) return HeadError{400, "the head does not end in CRLF CRLF"};
    head.remove_suffix(2);  // every line now ends in CRLF
    const auto line_end = head.find("\r\n");
    if (auto error = parse_request_line(head.substr(0, line_end), req)) return error;
    head.remove_prefix(line_end + 2);
    while (!head.empty()) {
        const auto end = head.find("\r\n");
        const auto line = head.substr(0, end);
        head.remove_prefix(end + 2);
        if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos)
            return HeadError{400, "a header line has a bare CR or LF"};
        if (line.empty() || is_ows(line.front()))
            return HeadError{400, "obsolete line folding is not accepted"};
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) return HeadError{400, "a header line has no ':'"};
        const auto name = line.substr(0, colon);
        if (!is_token(name))
            return HeadError{400, "a header name is not a token (or has space before ':')"};
        const auto value = trim_ows(line.substr(colon + 1));
        if (!is_field_value(value)) return HeadError{400, "a header value has a control byte"};
        if (req.headers.size() >= kMaxHeaderFields)
            return HeadError{431, "more than 100 header fields"};
        req.headers.emplace_back(name, value);
    }
    return check_framing(req);
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '%') {
            if (i + 2 >= text.size()) return std::nullopt;
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (plus_as_space && c == '+') {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

std::optional<std::string> decode_path(std::string_view raw_path) {
    if (raw_path.empty() || raw_path.front() != '/') return std::nullopt;
    auto path = percent_decode(raw_path, false);
    if (!path) return std::nullopt;
    for (const char ch : *path) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) return std::nullopt;
    }
    std::string_view rest(*path);
    while (!rest.empty()) {
        rest.remove_prefix(1);  // the '/'
        const auto slash = rest.find('/');
        const auto segment = rest.substr(0, slash);
        if (segment == "." || segment == "..") return std::nullopt;
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash);
    }
    return path;
}

std::string_view status_text(int status) {
    switch (status) {
        case 100:
            return "Continue";
        case 200:
            return "OK";
        case 201:
            return "Created";
        case 202:
            return "Accepted";
        case 204:
            return "No Content";
        case 206:
            return "Partial Content";
        case 304:
            return "Not Modified";
        case 400:
            return "Bad Request";
        case 401:
            return "Unauthorized";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 408:
            return "Request Timeout";
        case 409:
            return "Conflict";
        case 410:
            return "Gone";
        case 411:
            return "Length Required";
        case 413:
            return "Payload Too Large";
        case 414:
            return "URI Too Long";
        case 415:
            return "Unsupported Media Type";
        case 416:
            return "Range Not Satisfiable";
        case 417:
            return "Expectation Failed";
        case 421:
            return "Misdirected Request";
        case 422:
            return "Unprocessable Content";
        case 423:
            return "Locked";
        case 429:
            return "Too Many Requests";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 501:
            return "Not Implemented";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        case 505:
            return "HTTP Version Not Supported";
        case 507:
            return "Insufficient Storage";
        default:
            return "Unknown";
    }
}

// --- routes -------------------------------------------------------------------------------------

void Router::add(std::string_view method, std::string pattern, Handler handler) {
    routes_.push_back(Route{std::string(method), std::move(pattern), std::move(handler), nullptr});
}

void Router::add(std::string_view method, std::string pattern, ReaderHandler handler) {
    routes_.push_back(Route{std::string(method), std::move(pattern), nullptr, std::move(handler)});
}

bool Router::match(std::string_view pattern, std::string_view path, Fields& params) {
    params.clear();
    while (true) {
        if (pattern == "*") return true;  // a trailing '*' takes any rest, even none
        if (pattern.empty() || path.empty()) return pattern.empty() && path.empty();
        if (pattern.front() == '{') {
            const auto close = pattern.find('}');
            if (close == std::string_view::npos) return false;
            auto name = pattern.substr(1, close - 1);
            std::string_view kind;
            if (const auto colon = name.find(':'); colon != std::string_view::npos) {
                kind = name.substr(colon + 1);
                name = name.substr(0, colon);
            }
            const auto slash = path.find('/');
            const auto value = path.substr(0, slash);
            if (value.empty()) return false;
            if (kind == "hex32") {
                if (value.size() != 32) return false;
                for (const char c : value)
                    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
            }
            params.emplace_back(name, value);
            pattern.remove_prefix(close + 1);
            path.remove_prefix(value.size());
            continue;
        }
        if (pattern.front() != path.front()) return false;
        pattern.remove_prefix(1);
        path.remove_prefix(1);
    }
}

std::optional<Router::Match> Router::find(std::string_view method, std::string_view path) const {
    const std::string_view table = method == "HEAD" ? std::string_view("GET") : method;
    Match m;
    for (const auto& route : routes_) {
        if (route.method != table || !match(route.pattern, path, m.params)) continue;
        if (route.reader) {
            m.reader = &route.reader;
        } else {
            m.handler = &route.handler;
        }
        return m;
    }
    return std::nullopt;
}

}  // namespace ds::server::http
