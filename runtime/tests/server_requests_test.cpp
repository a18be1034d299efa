// Unit tests for the API's request bodies (server/requests.hpp): JSON -> request-layer structs,
// each bad field refused with one line that names it ("field 'options.memory': ...") and, for
// config values, the option table's own message.
#include "server/requests.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "test_support.hpp"

namespace ds::server {
namespace {

using nlohmann::json;

#define EXPECT_INVALID(stmt, ...) EXPECT_ERROR(stmt, ErrorKind::invalid, __VA_ARGS__)

TEST(ServerRequests, BodyMustBeAJsonObject) {
    EXPECT_EQ(parse_body(""), json::object());
    EXPECT_EQ(parse_body(" \n"), json::object());
    EXPECT_EQ(parse_body(R"({"a":1})")["a"], 1);
    EXPECT_INVALID(parse_body("{"), "not valid JSON");
    EXPECT_INVALID(parse_body("[1,2]"), "must be a JSON object", "array");
    EXPECT_INVALID(parse_body("\"x\""), "must be a JSON object", "string");
    EXPECT_INVALID(parse_body("{} {}"), "not valid JSON");
}

TEST(ServerRequests, ConfigEditsTakeStringsBoolsNumbersAndLists) {
    auto edits = config_edits(json::parse(
        R"({"memory":"512M","volatile":true,"disable-ipv6":false,"pids-limit":64,"cpus":1.5,
            "bind":["/a:/b","/c:/d:ro"],"run-at-boot-priority":null})"));
    ConfigEdits want = {{"bind", ""},          {"bind", "/a:/b"},
                        {"bind", "/c:/d:ro"},  {"cpus", "1.5"},
                        {"disable-ipv6", "0"}, {"memory", "512M"},
                        {"pids-limit", "64"},  {"run-at-boot-priority", ""},
                        {"volatile", "1"}};
    EXPECT_EQ(edits, want);
    EXPECT_TRUE(config_edits(json()).empty());
    EXPECT_TRUE(config_edits(json::object()).empty());
}

TEST(ServerRequests, ConfigEditErrorsNameTheFieldAndUseTheTablesMessage) {
    EXPECT_INVALID(config_edits(json::parse(R"({"memory":"lots"})")), "field 'options.memory'",
                   "--memory", "'lots'");
    EXPECT_INVALID(config_edits(json::parse(R"({"nope":"1"})")), "field 'options.nope'",
                   "unknown config option");
    EXPECT_INVALID(config_edits(json::parse(R"({"memory":true})")), "field 'options.memory'",
                   "not a bool");
    EXPECT_INVALID(config_edits(json::parse(R"({"net":["none"]})")), "field 'options.net'",
                   "not a list");
    EXPECT_INVALID(config_edits(json::parse(R"({"bind":["/a:/b", 3]})")), "field 'options.bind[1]'",
                   "expected a string");
    EXPECT_INVALID(config_edits(json::parse(R"({"bind":["/a:/b", "relative:/x"]})")),
                   "field 'options.bind[1]'");
    EXPECT_INVALID(config_edits(json::parse(R"({"rootfs":"rel/path"})")), "field 'options.rootfs'",
                   "absolute");
    EXPECT_INVALID(config_edits(json::parse(R"({"hostname":"a\u0000b"})")),
                   "field 'options.hostname'", "NUL");
    EXPECT_INVALID(config_edits(json::parse(R"({"run-at-boot-priority":-1})")),
                   "field 'options.run-at-boot-priority'");
    EXPECT_INVALID(config_edits(json::parse(R"(["memory"])")), "field 'options'", "object");
}

TEST(ServerRequests, RunRequest) {
    auto r = run_request(json::parse(R"({"command":["ls","-l"],"user":"nobody"})"));
    EXPECT_EQ(r.argv, (std::vector<std::string>{"ls", "-l"}));
    EXPECT_EQ(r.user, "nobody");
    EXPECT_EQ(r.stdio, (std::array<int, 3>{-1, -1, -1}));
    r = run_request(json::parse(R"({"command":"echo hi && true"})"));
    EXPECT_EQ(r.argv, (std::vector<std::string>{"echo hi && true"}));
    EXPECT_EQ(r.user, "");
    EXPECT_INVALID(run_request(json::object()), "field 'command'", "required");
    EXPECT_INVALID(run_request(json::parse(R"({"command":[]})")), "field 'command'", "empty");
    EXPECT_INVALID(run_request(json::parse(R"({"command":"  "})")), "field 'command'", "empty");
    EXPECT_INVALID(run_request(json::parse(R"({"command":["ls",1]})")), "field 'command[1]'");
    EXPECT_INVALID(run_request(json::parse(R"({"command":5})")), "field 'command'", "number");
    EXPECT_INVALID(run_request(json::parse(R"({"command":["a\u0000b"]})")), "field 'command[0]'",
                   "NUL");
    EXPECT_INVALID(run_request(json::parse(R"({"command":["ls"],"user":7})")), "field 'user'");
}

TEST(ServerRequests, InstallRequest) {
    auto r = install_request(
        json::parse(R"({"name":"deb","source":"/tmp/x.tar.xz","image_size":"4G"})"));
    EXPECT_EQ(r.name, "deb");
    EXPECT_EQ(r.source, "/tmp/x.tar.xz");
    EXPECT_EQ(r.image_size, 4ull << 30);
    EXPECT_EQ(r.image_fs, "ext4");
    r = install_request(json::parse(R"({"name":"deb","source":"/d","image_size":67108864})"));
    EXPECT_EQ(r.image_size, 64ull << 20);
    r = install_request(json::parse(R"({"name":"deb","source":"/d"})"));
    EXPECT_EQ(r.image_size, 0u);
    EXPECT_INVALID(install_request(json::parse(R"({"source":"/d"})")), "field 'name'");
    EXPECT_INVALID(install_request(json::parse(R"({"name":"../x","source":"/d"})")),
                   "field 'name'");
    EXPECT_INVALID(install_request(json::parse(R"({"name":"a","source":"d"})")), "field 'source'",
                   "absolute");
    EXPECT_INVALID(install_request(json::parse(R"({"name":"a","source":"/d","image_size":"4Q"})")),
                   "field 'image_size'", "--img");
    EXPECT_INVALID(install_request(json::parse(R"({"name":"a","source":"/d","image_fs":"xfs"})")),
                   "field 'image_fs'", "ext4");
}

TEST(ServerRequests, TerminalRequest) {
    auto r = terminal_request(json::object());
    EXPECT_EQ(r.user, "root");
    EXPECT_EQ(r.rows, 24);
    EXPECT_EQ(r.cols, 80);
    r = terminal_request(json::parse(R"({"user":"me","rows":50,"cols":200})"));
    EXPECT_EQ(r.user, "me");
    EXPECT_EQ(r.rows, 50);
    EXPECT_EQ(r.cols, 200);
    EXPECT_INVALID(terminal_request(json::parse(R"({"rows":0})")), "field 'rows'", "1 to 1000");
    EXPECT_INVALID(terminal_request(json::parse(R"({"cols":-3})")), "field 'cols'");
    EXPECT_INVALID(terminal_request(json::parse(R"({"cols":"80"})")), "field 'cols'");
}

TEST(ServerRequests, FieldHelpers) {
    json body = json::parse(R"({"t":5,"b":true,"s":"x","n":null})");
    EXPECT_EQ(integer_field(body, "t", 1, 10, 3), 5u);
    EXPECT_EQ(integer_field(body, "missing", 1, 10, 3), 3u);
    EXPECT_EQ(integer_field(body, "n", 1, 10, 3), 3u);
    EXPECT_INVALID(integer_field(body, "t", 6, 10, 7), "field 't'", "6 to 10");
    EXPECT_INVALID(integer_field(body, "s", 1, 10, 3), "field 's'");
    EXPECT_INVALID(integer_field(json::parse(R"({"f":1.5})"), "f", 1, 10, 3), "field 'f'");
    EXPECT_TRUE(bool_field(body, "b", false));
    EXPECT_FALSE(bool_field(body, "missing", false));
    EXPECT_INVALID(bool_field(body, "t", false), "field 't'", "true or false");
    EXPECT_EQ(string_field(body, "s"), "x");
    EXPECT_EQ(string_field(body, "missing"), "");
    check_fields(body, {"t", "b", "s", "n"});
    EXPECT_INVALID(check_fields(body, {"t", "b", "s"}), "field 'n'", "unknown field",
                   "expected t, b, s");
}

}  // namespace
}  // namespace ds::server
