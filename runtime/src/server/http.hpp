// The HTTP/1.1 messages the server speaks, and the strict parser of a request head. Only what
// the server needs: origin-form targets, Content-Length bodies (a chunked request body is
// refused: 411), keep-alive, Expect: 100-continue, chunked responses for streams (SSE).
// No <regex>, no iostreams: they would pull libstdc++'s locale machinery into the static binary.
//
// The parser is a pure function of the head's bytes (fuzzed: runtime/fuzz/http_head_fuzz.cpp).
// It refuses every shape that lets two parsers disagree about where a request ends (request
// smuggling): Content-Length with Transfer-Encoding, several or non-digit Content-Length, a
// transfer coding other than chunked, obs-fold, whitespace before a colon, bare CR or LF.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ds::server::http {

using Fields = std::vector<std::pair<std::string, std::string>>;

bool iequals(std::string_view a, std::string_view b);
// POST, PUT, PATCH and DELETE: the methods whose requests this server lets carry a body.
bool method_may_have_body(std::string_view method);

struct Request {
    std::string method;   // "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
    std::string target;   // as received: "/api/v1/x?follow=1"
    std::string version;  // "HTTP/1.1" or "HTTP/1.0"
    std::string path;     // percent-decoded, without the query
    std::multimap<std::string, std::string> query;  // decoded ('+' is a space)
    Fields headers;                                 // in order; names compared case-insensitively
    std::string body;                               // a routed request's body, read in full
    Fields path_params;                             // {"name", "web"} for ".../{name}/..."

    // Framing, from the head.
    uint64_t content_length = 0;  // 0 without the header
    bool chunked = false;         // Transfer-Encoding: chunked (refused after the guards)
    bool keep_alive = true;       // HTTP/1.1 without "Connection: close", or 1.0 keep-alive
    bool expect_continue = false;

    bool has_header(std::string_view name) const;
    // The first value of `name`; "" when absent.
    std::string get_header_value(std::string_view name) const;
    std::optional<std::string_view> header(std::string_view name) const;
    bool has_param(std::string_view key) const;
    // The first value of the query parameter; "" when absent.
    std::string get_param_value(std::string_view key) const;
    // The route's named parameter; "" when the route has none of that name.
    std::string path_param(std::string_view name) const;
};

// Where a stream writes its body (a chunked response).
class DataSink {
  public:
    virtual ~DataSink() = default;
    // False once the client is gone or stopped reading for write_stall.
    virtual bool write(const char* data, size_t size) = 0;
    // The stream ends normally (the last chunk).
    virtual void done() = 0;
    // False when the client hung up (or cannot take bytes for write_stall).
    virtual bool is_writable() = 0;
};

// Runs the whole stream (or part of it: it is called again until it calls sink.done()); false
// ends the response early (the connection closes).
using ContentProvider = std::function<bool(size_t offset, DataSink& sink)>;
// Runs once the response is gone, whatever happened (success: the stream ended with done()).
using ContentProviderReleaser = std::function<void(bool success)>;

class Response {
  public:
    Response() = default;
    Response(const Response&) = delete;
    Response& operator=(const Response&) = delete;
    ~Response();

    int status = 200;
    Fields headers;
    std::string body;

    // Replaces the header of that name. Throws std::invalid_argument for a name that is not a
    // token or a value with CR, LF or NUL (response splitting): the handler's exception becomes
    // a 500.
    void set_header(std::string_view name, std::string_view value);
    bool has_header(std::string_view name) const;
    std::string get_header_value(std::string_view name) const;
    void set_content(std::string content, std::string_view content_type);
    // A streamed body (Transfer-Encoding: chunked; raw until close for an HTTP/1.0 client).
    void set_chunked_content_provider(std::string_view content_type, ContentProvider provider,
                                      ContentProviderReleaser releaser = nullptr);

    const ContentProvider& provider() const { return provider_; }
    void drop_provider() { provider_ = nullptr; }
    void set_provider_success(bool ok) { provider_success_ = ok; }

  private:
    ContentProvider provider_;
    ContentProviderReleaser releaser_;
    bool provider_success_ = false;
};

using ContentReceiver = std::function<bool(const char* data, size_t size)>;

// Reads a request's body as it arrives (an upload streamed to disk). The first call sends
// "100 Continue" when the client asked for it. Returns true once the whole body was received;
// false when the receiver returned false, the client stalled, or the body was already read.
class ContentReader {
  public:
    using Read = std::function<bool(const ContentReceiver&)>;
    explicit ContentReader(Read read) : read_(std::move(read)) {}
    bool operator()(const ContentReceiver& receiver) const { return read_(receiver); }

  private:
    Read read_;
};

enum class HandlerResponse { Handled, Unhandled };

using Handler = std::function<void(const Request&, Response&)>;
using ReaderHandler = std::function<void(const Request&, Response&, const ContentReader&)>;

// --- the head ---------------------------------------------------------------------------------

// Where a head ends in the bytes received so far (scan_head).
struct HeadScan {
    enum State { incomplete, complete, too_large, bad } state = incomplete;
    size_t begin = 0;    // after leading empty lines (RFC 9112 2.2 allows them)
    size_t end = 0;      // one past the empty line that ends the head (complete)
    size_t scanned = 0;  // pass back as `from` when more bytes arrive (incomplete)
};
// Finds the end of the head in `buffered` (a connection's unread bytes), resuming at `from`.
// too_large: no end within max_head_bytes; bad: a CR not followed by LF or a bare LF.
HeadScan scan_head(std::string_view buffered, size_t max_head_bytes, size_t from = 0);

struct HeadError {
    int status;               // 400, 414, 431, 501, 505
    std::string_view detail;  // a fixed sentence: the rule, never the client's bytes
};

inline constexpr size_t kMaxTarget = 8 * 1024;
inline constexpr size_t kMaxHeaderFields = 100;

// Parses a complete head (request line, header lines, empty line; CRLF line ends) into `req`.
// nullopt when it is valid.
std::optional<HeadError> parse_request_head(std::string_view head, Request& req);

// "%2e%2E" -> ".."; nullopt for a bad escape. plus_as_space: the query's form encoding.
std::optional<std::string> percent_decode(std::string_view text, bool plus_as_space);
// The decoded path of an origin-form target; nullopt for a bad escape, a NUL or other control
// byte, or a "." or ".." segment (the transport refuses them: no route needs them).
std::optional<std::string> decode_path(std::string_view raw_path);

// "OK", "Not Found", ...; "Unknown" for a code not in the table.
std::string_view status_text(int status);

// --- routes -----------------------------------------------------------------------------------

// A pattern is literal segments and named parameters: "/api/v1/containers/{name}/start";
// "{id:hex32}" takes exactly 32 lowercase hex digits; a trailing "*" matches any rest
// ("/api/*"). A parameter never takes an empty segment or a '/'.
class Router {
  public:
    void add(std::string_view method, std::string pattern, Handler handler);
    void add(std::string_view method, std::string pattern, ReaderHandler handler);

    struct Match {
        const Handler* handler = nullptr;
        const ReaderHandler* reader = nullptr;
        Fields params;
    };
    // The first route of `method` (HEAD: the GET routes) that matches `path`, in the order
    // added; nullopt when none does.
    std::optional<Match> find(std::string_view method, std::string_view path) const;
    // True when `pattern` matches `path`; fills `params`. Exposed for the tests.
    static bool match(std::string_view pattern, std::string_view path, Fields& params);

  private:
    struct Route {
        std::string method;
        std::string pattern;
        Handler handler;
        ReaderHandler reader;
    };
    std::vector<Route> routes_;
};

}  // namespace ds::server::http
