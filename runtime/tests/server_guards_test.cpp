// server/guards: every decision of the security layers, driven with the forms an attacker sends.
// Each test names the guard it proves; without that guard its expectation fails.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "server/guards.hpp"
#include "server/static_files.hpp"

namespace {

using ds::server::bearer_token;
using ds::server::GuardConfig;
using ds::server::Guards;
using ds::server::OriginKind;
using ds::server::RequestHead;
using ds::server::tokens_equal;

const std::string kToken(64, 'a');

Guards make_guards(std::vector<std::string> listen = {"127.0.0.1", "::1"}) {
    GuardConfig c;
    c.port = 8420;
    c.listen = std::move(listen);
    c.token = kToken;
    c.max_json_body = 1024 * 1024;
    return Guards(c);
}

const std::string kAuth = "Bearer " + kToken;

RequestHead api_get() {
    return {.method = "GET",
            .path = "/api/v1/containers",
            .host = "127.0.0.1:8420",
            .authorization = kAuth};
}

// Guard 1 (DNS rebinding): only our own names and addresses, with our port.
TEST(ServerGuards, HostAllowlist) {
    const auto g = make_guards();
    EXPECT_TRUE(g.host_allowed("127.0.0.1:8420"));
    EXPECT_TRUE(g.host_allowed("localhost:8420"));
    EXPECT_TRUE(g.host_allowed("LocalHost:8420"));  // names are case-insensitive
    EXPECT_TRUE(g.host_allowed("[::1]:8420"));
    EXPECT_TRUE(g.host_allowed("[0:0:0:0:0:0:0:1]:8420"));  // the same address, spelled out
    EXPECT_FALSE(g.host_allowed("127.0.0.1"));              // missing port
    EXPECT_FALSE(g.host_allowed("localhost"));
    EXPECT_FALSE(g.host_allowed("127.0.0.1:8421"));   // wrong port
    EXPECT_FALSE(g.host_allowed("127.0.0.1:08420"));  // not the canonical port
    EXPECT_FALSE(g.host_allowed("127.0.0.1:"));
    EXPECT_FALSE(g.host_allowed("::1:8420"));  // IPv6 without brackets
    EXPECT_FALSE(g.host_allowed("[::1]"));
    EXPECT_FALSE(g.host_allowed("[::1"));
    EXPECT_FALSE(g.host_allowed("evil.example:8420"));
    EXPECT_FALSE(g.host_allowed("localhost.evil.com:8420"));
    EXPECT_FALSE(g.host_allowed("127.0.0.1.evil.com:8420"));
    EXPECT_FALSE(g.host_allowed("192.168.1.5:8420"));  // not listened on
    EXPECT_FALSE(g.host_allowed(""));
    EXPECT_FALSE(g.host_allowed(":8420"));
}

TEST(ServerGuards, HostAllowlistFollowsListenAddresses) {
    const auto lan = make_guards({"192.168.1.5"});
    EXPECT_TRUE(lan.host_allowed("192.168.1.5:8420"));
    EXPECT_FALSE(lan.host_allowed("192.168.1.6:8420"));
    // A wildcard listener accepts address literals of its family, never a name.
    const auto any4 = make_guards({"0.0.0.0"});
    EXPECT_TRUE(any4.host_allowed("10.0.0.7:8420"));
    EXPECT_FALSE(any4.host_allowed("[fe80::1]:8420"));
    EXPECT_FALSE(any4.host_allowed("evil.example:8420"));
    const auto any6 = make_guards({"::"});
    EXPECT_TRUE(any6.host_allowed("[fe80::1]:8420"));
    EXPECT_FALSE(any6.host_allowed("10.0.0.7:8420"));
}

TEST(ServerGuards, MissingOrForeignHostIs421) {
    const auto g = make_guards();
    auto h = api_get();
    h.host = std::nullopt;
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 421);
    EXPECT_EQ(g.check(h)->error, "misdirected");
    h.host = "evil.example:8420";
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 421);
    // Host is checked on static pages too: a rebinding page must not read the dashboard.
    h.path = "/";
    h.authorization = std::nullopt;
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 421);
}

// Guards 2 and 3: origin classification.
TEST(ServerGuards, Origins) {
    const auto g = make_guards();
    EXPECT_EQ(g.classify_origin("https://mui.kernelsu.org"), OriginKind::trusted);
    for (const char* own : {"http://127.0.0.1:8420", "http://localhost:8420", "http://[::1]:8420"})
        EXPECT_EQ(g.classify_origin(own), OriginKind::own) << own;
    for (const char* foreign : {
             "http://mui.kernelsu.org",  // http
             "https://mui.kernelsu.org:444",
             "https://mui.kernelsu.org.evil.com",
             "https://127.0.0.1:8420",  // not us
             "http://127.0.0.1:9999",   // port
             "http://127.0.0.1",
             "http://evil.example",
             "http://localhost.evil.com:8420",
             "null",
             "",
         })
        EXPECT_EQ(g.classify_origin(foreign), OriginKind::foreign) << foreign;
}

// Guard 3 (CSRF): a state-changing request from a foreign origin is refused even with the token.
TEST(ServerGuards, ForeignOriginOnStateChangingMethodIs403) {
    const auto g = make_guards();
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE"}) {
        auto h = api_get();
        h.method = method;
        h.origin = "http://evil.example";
        const auto r = g.check(h);
        ASSERT_TRUE(r) << method;
        EXPECT_EQ(r->status, 403) << method;
        EXPECT_EQ(r->error, "forbidden_origin");
        h.origin = "null";
        ASSERT_TRUE(g.check(h)) << method;
        EXPECT_EQ(g.check(h)->status, 403);
        h.origin = "https://mui.kernelsu.org";
        EXPECT_FALSE(g.check(h)) << method;
        h.origin = std::nullopt;  // curl, the CLI
        EXPECT_FALSE(g.check(h)) << method;
    }
}

// Guard 2 (CORS): preflights answered for allowed origins only, never with "*".
TEST(ServerGuards, Preflight) {
    const auto g = make_guards();
    EXPECT_FALSE(g.preflight_headers("http://evil.example", false));
    EXPECT_FALSE(g.preflight_headers("null", true));
    EXPECT_FALSE(g.preflight_headers(std::nullopt, false));
    const auto ok = g.preflight_headers("https://mui.kernelsu.org", true);
    ASSERT_TRUE(ok);
    std::map<std::string, std::string> h(ok->begin(), ok->end());
    EXPECT_EQ(h["Access-Control-Allow-Origin"], "https://mui.kernelsu.org");
    EXPECT_EQ(h["Access-Control-Allow-Private-Network"], "true");
    EXPECT_EQ(h["Vary"], "Origin");
    EXPECT_NE(h["Access-Control-Allow-Headers"].find("Authorization"), std::string::npos);
    const auto no_pn = g.preflight_headers("https://mui.kernelsu.org", false);
    ASSERT_TRUE(no_pn);
    for (const auto& [k, v] : *no_pn) {
        EXPECT_NE(k, "Access-Control-Allow-Private-Network");
        EXPECT_NE(v, "*");
    }
    EXPECT_TRUE(g.cors_headers("http://evil.example").empty());
    EXPECT_TRUE(g.cors_headers(std::nullopt).empty());
    EXPECT_EQ(g.cors_headers("https://mui.kernelsu.org").size(), 2u);
}

// Guard 4 (token): header only, Bearer scheme, exact token.
TEST(ServerGuards, BearerParsing) {
    EXPECT_EQ(bearer_token("Bearer abc"), "abc");
    EXPECT_EQ(bearer_token("bearer abc"), "abc");
    EXPECT_EQ(bearer_token("BEARER   abc  "), "abc");
    for (const char* bad :
         {"Bearer", "Bearer ", "Bearerabc", "Basic YWJj", "Bearer a b", "Bearer a,b", ""})
        EXPECT_FALSE(bearer_token(bad)) << bad;
}

TEST(ServerGuards, TokensEqual) {
    EXPECT_TRUE(tokens_equal(kToken, kToken));
    EXPECT_FALSE(tokens_equal(kToken, std::string(64, 'b')));
    EXPECT_FALSE(tokens_equal(kToken, kToken.substr(0, 63)));
    EXPECT_FALSE(tokens_equal(kToken, kToken + "a"));
    std::string last = kToken;
    last.back() = 'b';
    EXPECT_FALSE(tokens_equal(kToken, last));
    EXPECT_FALSE(tokens_equal("", ""));  // an empty token never authenticates
}

TEST(ServerGuards, NewTokenIs64HexAndFresh) {
    std::set<std::string> seen;
    for (int i = 0; i < 8; ++i) {
        const auto t = ds::server::new_token();
        ASSERT_EQ(t.size(), 64u);
        EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(t);
    }
    EXPECT_EQ(seen.size(), 8u);
}

TEST(ServerGuards, ApiNeedsTheToken) {
    const auto g = make_guards();
    EXPECT_FALSE(g.check(api_get()));
    auto h = api_get();
    h.authorization = std::nullopt;
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 401);
    EXPECT_EQ(g.check(h)->error, "unauthorized");
    h.authorization = "Bearer " + std::string(64, 'b');
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 401);
    h.authorization = "Basic " + kToken;
    ASSERT_TRUE(g.check(h));
    // The detail never carries the presented value.
    EXPECT_EQ(g.check(h)->detail.find(kToken), std::string::npos);
    h.path = "/api";
    ASSERT_TRUE(g.check(h));
    // Static pages carry no secret: no token needed.
    h.path = "/index.html";
    EXPECT_FALSE(g.check(h));
    // A path that only starts like the API is not the API (and is a 404 later).
    h.path = "/apix";
    EXPECT_FALSE(g.check(h));
}

TEST(ServerGuards, EmptyConfiguredTokenRefusesEverything) {
    GuardConfig c;
    c.port = 8420;
    const Guards g(c);
    auto h = api_get();
    h.authorization = "Bearer ";
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 401);
}

// Guard 5 (bodies): decided on the head.
TEST(ServerGuards, BodyRules) {
    const auto g = make_guards();
    auto h = api_get();
    h.method = "POST";
    h.content_length = "1048576";
    EXPECT_FALSE(g.check(h));
    h.content_length = "1048577";
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 413);
    EXPECT_EQ(g.check(h)->error, "too_large");
    h.content_length = "99999999999999999999999";  // overflows size_t
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 400);
    h.content_length = "-1";
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 400);
    h.content_length = std::nullopt;
    h.transfer_encoding = "chunked";
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 411);
    EXPECT_EQ(g.check(h)->error, "length_required");
    // Uploads stream to disk with their own cap.
    h.is_upload = true;
    h.content_length = "5000000000";
    h.transfer_encoding = std::nullopt;
    EXPECT_FALSE(g.check(h));
    // Body rules come after the token: no token, 401 before any body decision.
    h.is_upload = false;
    h.authorization = std::nullopt;
    ASSERT_TRUE(g.check(h));
    EXPECT_EQ(g.check(h)->status, 401);
}

TEST(ServerGuards, SecurityHeaders) {
    std::map<std::string, std::string> h;
    for (const auto& [k, v] : ds::server::security_headers())
        h[k] = v;
    const auto& csp = h["Content-Security-Policy"];
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
    EXPECT_NE(csp.find("script-src 'self';"), std::string::npos);
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
    EXPECT_NE(csp.find("frame-ancestors 'self' https://mui.kernelsu.org"), std::string::npos);
    EXPECT_NE(csp.find("object-src 'none'"), std::string::npos);
    EXPECT_EQ(h["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ(h["Referrer-Policy"], "no-referrer");
}

// Static files (static_files.hpp): the webroot is a jail.
class StaticFilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ds-static-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        write(dir_ + "/index.html", "<h1>hi</h1>");
        ASSERT_EQ(mkdir((dir_ + "/assets").c_str(), 0755), 0);
        write(dir_ + "/assets/app.js", "x()");
        write(dir_ + "/.secret.txt", "hidden");
        write(dir_ + "/noext", "x");
        write(dir_ + "/a.exe", "x");
        write("/tmp/ds-static-outside-" + std::to_string(getpid()) + ".txt", "outside");
        ASSERT_EQ(symlink(("/tmp/ds-static-outside-" + std::to_string(getpid()) + ".txt").c_str(),
                          (dir_ + "/link.txt").c_str()),
                  0);
        ASSERT_EQ(symlink("/tmp", (dir_ + "/tmpdir").c_str()), 0);
        ASSERT_EQ(mkfifo((dir_ + "/fifo.txt").c_str(), 0600), 0);
        ASSERT_EQ(mkdir((dir_ + "/dir.html").c_str(), 0755), 0);
        fd_ = ::open(dir_.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd_, 0);
    }
    void TearDown() override {
        if (fd_ >= 0) ::close(fd_);
        ::unlink(("/tmp/ds-static-outside-" + std::to_string(getpid()) + ".txt").c_str());
        std::string cmd = "rm -rf '" + dir_ + "'";
        if (!dir_.empty()) EXPECT_EQ(std::system(cmd.c_str()), 0);
    }
    static void write(const std::string& path, const std::string& content) {
        FILE* f = std::fopen(path.c_str(), "w");
        ASSERT_NE(f, nullptr) << path;
        std::fputs(content.c_str(), f);
        std::fclose(f);
    }
    std::string dir_;
    int fd_ = -1;
};

TEST_F(StaticFilesTest, ServesFilesBeneathTheWebroot) {
    const auto index = ds::server::read_static(fd_, "/");
    ASSERT_TRUE(index);
    EXPECT_EQ(index->content, "<h1>hi</h1>");
    EXPECT_EQ(index->mime, "text/html; charset=utf-8");
    const auto js = ds::server::read_static(fd_, "/assets/app.js");
    ASSERT_TRUE(js);
    EXPECT_EQ(js->mime, "text/javascript; charset=utf-8");
}

TEST_F(StaticFilesTest, RefusesEscapesAndOddFiles) {
    for (const char* path :
         {"/../etc/passwd", "/assets/../index.html", "/./index.html", "//index.html",
          "/index.html/", "/.secret.txt", "/link.txt", "/tmpdir/x.txt", "/fifo.txt", "/dir.html",
          "/noext", "/a.exe", "/missing.html", "index.html", "", "/assets/", "/a b.html",
          "/%2e%2e/x.txt"}) {
        EXPECT_FALSE(ds::server::read_static(fd_, path)) << path;
    }
}

TEST(StaticFiles, FallbackPageHasNoInlineCode) {
    const auto& page = ds::server::fallback_page();
    EXPECT_NE(page.find("/api/v1"), std::string::npos);
    EXPECT_EQ(page.find("<script"), std::string::npos);
    EXPECT_EQ(page.find("<style"), std::string::npos);
    EXPECT_EQ(page.find("style="), std::string::npos);
}

}  // namespace
