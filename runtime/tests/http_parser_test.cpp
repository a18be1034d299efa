// server/http: the request-head parser, the head scanner, percent-decoding and the router, driven
// with the shapes an attacker sends (request smuggling, header injection, path escapes). Each
// refusal below is a guard: without it the head parses and the test fails.
#include <gtest/gtest.h>

#include <string>

#include "server/http.hpp"

namespace {

using ds::server::http::decode_path;
using ds::server::http::Fields;
using ds::server::http::HeadScan;
using ds::server::http::parse_request_head;
using ds::server::http::percent_decode;
using ds::server::http::Request;
using ds::server::http::Response;
using ds::server::http::Router;
using ds::server::http::scan_head;

// The status the parser answers for `head` (0: accepted).
int verdict(const std::string& head, Request* out = nullptr) {
    Request req;
    const auto error = parse_request_head(head, req);
    if (out) *out = req;
    return error ? error->status : 0;
}

std::string get_with(const std::string& headers) {
    return "GET / HTTP/1.1\r\nHost: 127.0.0.1:8420\r\n" + headers + "\r\n";
}

std::string post_with(const std::string& headers) {
    return "POST /api/v1/containers HTTP/1.1\r\nHost: 127.0.0.1:8420\r\n" + headers + "\r\n";
}

TEST(HttpHead, ParsesAPlainRequest) {
    Request req;
    ASSERT_EQ(verdict("GET /api/v1/containers/web%20x/console?follow=1&lines=5&q=a+b HTTP/1.1\r\n"
                      "Host: 127.0.0.1:8420\r\nAuthorization:  Bearer abc \r\n"
                      "X-Empty:\r\n\r\n",
                      &req),
              0);
    EXPECT_EQ(req.method, "GET");
    EXPECT_EQ(req.path, "/api/v1/containers/web x/console");
    EXPECT_EQ(req.get_param_value("follow"), "1");
    EXPECT_EQ(req.get_param_value("q"), "a b");
    EXPECT_FALSE(req.has_param("token"));
    EXPECT_EQ(req.get_header_value("authorization"), "Bearer abc");  // OWS trimmed
    EXPECT_TRUE(req.has_header("X-EMPTY"));
    EXPECT_TRUE(req.keep_alive);
    EXPECT_EQ(req.content_length, 0u);
}

// Smuggling: two parsers must never disagree on where the body ends.
TEST(HttpHead, RefusesAmbiguousFraming) {
    EXPECT_EQ(verdict(post_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 5\r\nContent-Length: 5\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 5\r\nContent-Length: 6\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 5, 5\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: +5\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: -1\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 0x10\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 1 0\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length:\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 99999999999999999999999\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Transfer-Encoding: gzip, chunked\r\n")), 501);
    EXPECT_EQ(verdict(post_with("Transfer-Encoding: identity\r\n")), 501);
    EXPECT_EQ(verdict(post_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
              400);
    EXPECT_EQ(verdict(post_with("Transfer-Encoding : chunked\r\n")), 400);  // space before ':'
    EXPECT_EQ(verdict(post_with("Content-Length : 5\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Content-Length: 5\r\n  , 6\r\n")), 400);  // obs-fold
    EXPECT_EQ(verdict(post_with(" Content-Length: 5\r\n")), 400);
    EXPECT_EQ(verdict(post_with("Host: 127.0.0.1:8420\r\n")), 400);  // a second Host
    Request req;
    ASSERT_EQ(verdict(post_with("Content-Length: 0012\r\n"), &req), 0);
    EXPECT_EQ(req.content_length, 12u);
    ASSERT_EQ(verdict(post_with("transfer-encoding: Chunked\r\n"), &req), 0);
    EXPECT_TRUE(req.chunked);  // refused later (411), after the guards
}

// Header injection: a CR, LF or NUL inside a field must not reach the guards or the log.
TEST(HttpHead, RefusesControlBytesAndBadNames) {
    EXPECT_EQ(verdict(get_with(std::string("X-A: a\0b\r\n", 10))), 400);
    EXPECT_EQ(verdict(get_with("X-A: a\rb\r\n")), 400);
    EXPECT_EQ(verdict(get_with("X-A: a\x7f\r\n")), 400);
    EXPECT_EQ(verdict(get_with("X A: b\r\n")), 400);
    EXPECT_EQ(verdict(get_with(": b\r\n")), 400);
    EXPECT_EQ(verdict(get_with("X-A b\r\n")), 400);
    EXPECT_EQ(verdict(get_with("X-(A): b\r\n")), 400);
    EXPECT_EQ(verdict(get_with("X-A: caf\xc3\xa9\r\n")), 0);  // obs-text is allowed
}

TEST(HttpHead, RequestLineIsStrict) {
    EXPECT_EQ(verdict("GET  / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET / HTTP/1.1 \r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET /\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET\t/ HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET / http/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET / HTTP/2.0\r\n\r\n"), 505);
    EXPECT_EQ(verdict("GET / HTTP/1.1x\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET http://evil.example/ HTTP/1.1\r\n\r\n"), 400);  // absolute-form
    EXPECT_EQ(verdict("OPTIONS * HTTP/1.1\r\n\r\n"), 400);                 // asterisk-form
    EXPECT_EQ(verdict("GET /a#frag HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET /a\x01 HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("G(T / HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("TRACE / HTTP/1.1\r\n\r\n"), 501);
    EXPECT_EQ(verdict("CONNECT / HTTP/1.1\r\n\r\n"), 501);
    EXPECT_EQ(verdict("get / HTTP/1.1\r\n\r\n"), 501);  // methods are case-sensitive
    EXPECT_EQ(verdict("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n"), 414);
    EXPECT_EQ(verdict("GET / HTTP/1.1\r\n"), 400);  // no empty line
    EXPECT_EQ(verdict("\r\n\r\n"), 400);
    EXPECT_EQ(verdict(""), 400);
}

TEST(HttpHead, TooManyHeaderFields) {
    std::string many;
    for (int i = 0; i < 101; ++i)
        many += "X-" + std::to_string(i) + ": y\r\n";
    EXPECT_EQ(verdict(get_with(many)), 431);
}

TEST(HttpHead, KeepAliveAndExpect) {
    Request req;
    ASSERT_EQ(verdict(get_with("Connection: keep-alive, Close\r\n"), &req), 0);
    EXPECT_FALSE(req.keep_alive);
    ASSERT_EQ(verdict("GET / HTTP/1.0\r\n\r\n", &req), 0);
    EXPECT_FALSE(req.keep_alive);  // HTTP/1.0 closes by default
    ASSERT_EQ(verdict("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req), 0);
    EXPECT_TRUE(req.keep_alive);
    ASSERT_EQ(verdict(post_with("Content-Length: 3\r\nExpect: 100-Continue\r\n"), &req), 0);
    EXPECT_TRUE(req.expect_continue);
    ASSERT_EQ(verdict("POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n", &req),
              0);
    EXPECT_FALSE(req.expect_continue);  // an HTTP/1.0 client does not wait for it
}

// Path escapes: the decoded path never has a dot segment, a NUL or another control byte (the
// log line prints the path: a decoded LF would forge log lines).
TEST(HttpHead, PercentDecodingOfThePath) {
    EXPECT_EQ(decode_path("/a%2Fb"), "/a/b");
    EXPECT_EQ(decode_path("/a+b"), "/a+b");
    EXPECT_EQ(decode_path("/%41%62"), "/Ab");
    EXPECT_FALSE(decode_path("/%2e%2e/etc/passwd"));
    EXPECT_FALSE(decode_path("/%2E%2E"));
    EXPECT_FALSE(decode_path("/a/%2e/b"));
    EXPECT_FALSE(decode_path("/a/../b"));
    EXPECT_FALSE(decode_path("/a/./b"));
    EXPECT_FALSE(decode_path("/a%2f..%2fb"));
    EXPECT_FALSE(decode_path("/a%00.html"));
    EXPECT_FALSE(decode_path("/a%0aGET / 200"));
    EXPECT_FALSE(decode_path("/a%0d"));
    EXPECT_FALSE(decode_path("/a%7f"));
    EXPECT_FALSE(decode_path("/a%"));
    EXPECT_FALSE(decode_path("/a%2"));
    EXPECT_FALSE(decode_path("/a%zz"));
    EXPECT_FALSE(decode_path("%2fa"));
    EXPECT_EQ(decode_path("/..a/b.."), "/..a/b..");  // not dot segments
    EXPECT_EQ(verdict("GET /%2e%2e/x HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET /x?name=%00 HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(verdict("GET /x?name=%zz HTTP/1.1\r\n\r\n"), 400);
    EXPECT_EQ(percent_decode("a+b%2B", true), "a b+");
}

TEST(HttpHead, ScanFindsTheEndAndRefusesBareLineEnds) {
    const std::string two = "GET / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n";
    auto scan = scan_head(two, 1024);
    ASSERT_EQ(scan.state, HeadScan::complete);
    EXPECT_EQ(scan.end, 18u);  // the first of two pipelined heads
    EXPECT_EQ(scan_head("\r\n\r\nGET / HTTP/1.1\r\n\r\n", 1024).begin, 4u);
    EXPECT_EQ(scan_head("GET / HTTP/1.1\n\n", 1024).state, HeadScan::bad);
    EXPECT_EQ(scan_head("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 1024).state, HeadScan::bad);
    EXPECT_EQ(scan_head("\nGET / HTTP/1.1\r\n\r\n", 1024).state, HeadScan::bad);
    EXPECT_EQ(scan_head("GET / HTTP/1.1\r\n", 1024).state, HeadScan::incomplete);
    EXPECT_EQ(scan_head("GET / HTTP/1.1\r", 1024).state, HeadScan::incomplete);
    // The cap counts the whole head, its empty line included.
    const std::string head = "GET / HTTP/1.1\r\nX: " + std::string(100, 'y') + "\r\n\r\n";
    EXPECT_EQ(scan_head(head, head.size()).state, HeadScan::complete);
    EXPECT_EQ(scan_head(head, head.size() - 1).state, HeadScan::too_large);
    EXPECT_EQ(scan_head(std::string(5000, 'a'), 4096).state, HeadScan::too_large);
    EXPECT_EQ(scan_head(std::string(5000, '\r') + "\n", 4096).state, HeadScan::bad);
    std::string crlf_flood;
    for (int i = 0; i < 3000; ++i)
        crlf_flood += "\r\n";
    EXPECT_EQ(scan_head(crlf_flood, 4096).state, HeadScan::too_large);
}

// Trickled bytes: resuming the scan gives the same verdict as one scan of the whole.
TEST(HttpHead, ScanResumesByteByByte) {
    const std::string head = "\r\nPOST /a HTTP/1.1\r\nHost: x:1\r\nContent-Length: 2\r\n\r\nab";
    std::string got;
    size_t from = 0;
    HeadScan scan;
    for (const char c : head) {
        got += c;
        scan = scan_head(got, 4096, from);
        if (scan.state != HeadScan::incomplete) break;
        from = scan.scanned;
    }
    ASSERT_EQ(scan.state, HeadScan::complete);
    EXPECT_EQ(scan.begin, 2u);
    EXPECT_EQ(got.substr(scan.end), "");
    EXPECT_EQ(head.substr(scan.end), "ab");
}

// Response splitting: a handler can never put CR or LF into the response head.
TEST(HttpResponse, SetHeaderRefusesInjection) {
    Response res;
    EXPECT_THROW(res.set_header("X-A", "a\r\nSet-Cookie: x=1"), std::invalid_argument);
    EXPECT_THROW(res.set_header("X-A", "a\nb"), std::invalid_argument);
    EXPECT_THROW(res.set_header("X-A", std::string("a\0b", 3)), std::invalid_argument);
    EXPECT_THROW(res.set_header("X-A\r\nB", "c"), std::invalid_argument);
    EXPECT_THROW(res.set_header("", "c"), std::invalid_argument);
    res.set_header("X-A", "1");
    res.set_header("x-a", "2");
    EXPECT_EQ(res.headers.size(), 1u);
    EXPECT_EQ(res.get_header_value("X-A"), "2");
}

TEST(HttpResponse, ReleaserRunsOnceEvenWhenTheStreamNeverRuns) {
    int released = 0;
    bool success = true;
    {
        Response res;
        res.set_chunked_content_provider(
            "text/event-stream", [](size_t, ds::server::http::DataSink&) { return true; },
            [&](bool ok) {
                ++released;
                success = ok;
            });
    }
    EXPECT_EQ(released, 1);
    EXPECT_FALSE(success);
}

TEST(HttpRouter, LiteralsParametersAndWildcards) {
    Fields p;
    EXPECT_TRUE(
        Router::match("/api/v1/containers/{name}/start", "/api/v1/containers/web/start", p));
    ASSERT_EQ(p.size(), 1u);
    EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"name", "web"}));
    EXPECT_FALSE(Router::match("/api/v1/containers/{name}/start", "/api/v1/containers//start", p));
    EXPECT_FALSE(
        Router::match("/api/v1/containers/{name}/start", "/api/v1/containers/a/b/start", p));
    EXPECT_FALSE(
        Router::match("/api/v1/containers/{name}/start", "/api/v1/containers/a/start/", p));
    EXPECT_FALSE(Router::match("/api/v1/containers/{name}", "/api/v1/containers", p));
    const std::string id(32, 'a');
    EXPECT_TRUE(Router::match("/t/{name}/terminal/{id:hex32}", "/t/x/terminal/" + id, p));
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[1].second, id);
    EXPECT_FALSE(Router::match("/t/{id:hex32}", "/t/" + std::string(32, 'A'), p));
    EXPECT_FALSE(Router::match("/t/{id:hex32}", "/t/" + std::string(31, 'a'), p));
    EXPECT_FALSE(Router::match("/t/{id:hex32}", "/t/" + std::string(33, 'a'), p));
    EXPECT_TRUE(Router::match("/api/*", "/api/", p));
    EXPECT_TRUE(Router::match("/api/*", "/api/v1/x/y", p));
    EXPECT_FALSE(Router::match("/api/*", "/api", p));
    EXPECT_FALSE(Router::match("/api/*", "/apix", p));
    EXPECT_TRUE(Router::match("/*", "/", p));
}

TEST(HttpRouter, FirstMatchInOrderAndHeadUsesGet) {
    Router router;
    int hit = 0;
    router.add("GET", "/api/v1/containers/{name}/console",
               [&](const Request&, Response&) { hit = 1; });
    router.add("GET", "/api/*", [&](const Request&, Response&) { hit = 2; });
    router.add("POST", "/api/v1/install",
               [&](const Request&, Response&, const ds::server::http::ContentReader&) { hit = 3; });
    Request req;
    Response res;
    auto m = router.find("HEAD", "/api/v1/containers/web/console");
    ASSERT_TRUE(m && m->handler);
    (*m->handler)(req, res);
    EXPECT_EQ(hit, 1);
    EXPECT_EQ(m->params.at(0).second, "web");
    m = router.find("GET", "/api/v1/system");
    ASSERT_TRUE(m && m->handler);
    (*m->handler)(req, res);
    EXPECT_EQ(hit, 2);
    m = router.find("POST", "/api/v1/install");
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->reader);
    EXPECT_FALSE(router.find("POST", "/api/v1/system"));
    EXPECT_FALSE(router.find("PUT", "/api/v1/system"));
    EXPECT_FALSE(router.find("GET", "/index.html"));
}

}  // namespace
