// Unit tests for the API router (server/api.hpp) on a temporary workspace, without starting any
// container: route matching, 404 no_route and 405 method_not_allowed, the error document's
// shape, bad bodies (400), unknown containers (404), a held container lock (409 at once), and
// the documents equal to the CLI's (config_json, to_json) for config create/edit/show/delete
// and autostart.
#include "server/api.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "container/inspect.hpp"
#include "container/lifecycle.hpp"
#include "container/runtime.hpp"
#include "core/error.hpp"
#include "sys/file.hpp"
#include "test_support.hpp"

namespace ds::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using ds::test::TempDir;

struct ApiTest : ::testing::Test {
    TempDir dir;
    Workspace ws{dir.path() + "/ws", dir.path() + "/ws/mnt"};
    Api api{ws};

    ApiResponse call(const std::string& method, const std::string& path,
                     const std::string& body = "", std::map<std::string, std::string> query = {}) {
        return api.handle({method, path, std::move(query), body});
    }
    // The body as JSON; every response is one compact document and "\n".
    static json doc(const ApiResponse& r) {
        EXPECT_FALSE(r.body.empty());
        EXPECT_EQ(r.body.back(), '\n');
        EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << r.body;
        return json::parse(r.body);
    }
    // An error document: {"error": kind, "detail": one line}, and nothing else.
    static void expect_error(const ApiResponse& r, int status, const std::string& kind,
                             const std::string& needle) {
        EXPECT_EQ(r.status, status) << r.body;
        json d = doc(r);
        EXPECT_EQ(d.size(), 2u) << r.body;
        EXPECT_EQ(d["error"], kind) << r.body;
        ASSERT_TRUE(d["detail"].is_string()) << r.body;
        EXPECT_NE(d["detail"].get<std::string>().find(needle), std::string::npos) << r.body;
    }
    void create(const std::string& name, const std::string& options = "{}") {
        auto r = call("POST", "/api/v1/containers",
                      R"({"name":")" + name + R"(","options":)" + options + "}");
        ASSERT_EQ(r.status, 201) << r.body;
    }
};

TEST(ApiStatus, KindsAndExitCodes) {
    EXPECT_EQ(status_for(ErrorKind::invalid), 400);
    EXPECT_EQ(status_for(ErrorKind::not_found), 404);
    EXPECT_EQ(status_for(ErrorKind::busy), 409);
    EXPECT_EQ(status_for(ErrorKind::system), 500);
    EXPECT_EQ(error_name(ErrorKind::not_found), "not_found");
    EXPECT_EQ(exit_code_for_status(200), 0);
    EXPECT_EQ(exit_code_for_status(201), 0);
    EXPECT_EQ(exit_code_for_status(404), 1);
    EXPECT_EQ(exit_code_for_status(409), 1);
    EXPECT_EQ(exit_code_for_status(500), 2);
    auto r = error_response(ErrorKind::busy, "held");
    EXPECT_EQ(r.status, 409);
    EXPECT_EQ(r.body, "{\"detail\":\"held\",\"error\":\"busy\"}\n");
    EXPECT_EQ(json_body({{"a", "\xff"}}), "{\"a\":\"\xef\xbf\xbd\"}\n");  // replaced, no throw
}

TEST_F(ApiTest, UnknownPathIs404NoRoute) {
    expect_error(call("GET", "/api/v1/nothing"), 404, "no_route", "GET /api/v1/nothing");
    expect_error(call("GET", "/api/v2/containers"), 404, "no_route", "/api/v2/containers");
    expect_error(call("GET", "/api/v1/containers/a/b/c"), 404, "no_route", "");
    expect_error(call("GET", "/api/v1/containers/"), 404, "no_route", "");  // empty {name}
    expect_error(call("GET", "/api/v1/containers//config"), 404, "no_route", "");
}

TEST_F(ApiTest, KnownPathWithAnotherMethodIs405WithTheAllowedOnes) {
    expect_error(call("DELETE", "/api/v1/containers"), 405, "method_not_allowed",
                 "allowed GET, POST");
    expect_error(call("POST", "/api/v1/check"), 405, "method_not_allowed", "allowed GET");
    expect_error(call("GET", "/api/v1/containers/box/start"), 405, "method_not_allowed",
                 "allowed POST");
    expect_error(call("POST", "/api/v1/containers/box"), 405, "method_not_allowed",
                 "allowed GET, PUT, DELETE");
    expect_error(call("POST", "/api/v1/autostart"), 405, "method_not_allowed", "GET, PUT");
}

TEST_F(ApiTest, BadBodiesAre400) {
    expect_error(call("POST", "/api/v1/containers", "{not json"), 400, "invalid", "not valid JSON");
    expect_error(call("POST", "/api/v1/containers", "[]"), 400, "invalid", "JSON object");
    expect_error(call("POST", "/api/v1/containers", R"({"options":{}})"), 400, "invalid",
                 "field 'name'");
    expect_error(call("POST", "/api/v1/containers", R"({"name":"a","colour":"red"})"), 400,
                 "invalid", "field 'colour'");
    expect_error(call("POST", "/api/v1/containers", R"({"name":"a","options":{"memory":"x"}})"),
                 400, "invalid", "field 'options.memory'");
    expect_error(call("POST", "/api/v1/containers", R"({"name":"../etc"})"), 400, "invalid",
                 "../etc");
    // Nothing was created by the refused requests.
    EXPECT_FALSE(sys::path_exists(ws.config_path("a")));
    // A GET's body is not read.
    EXPECT_EQ(call("GET", "/api/v1/containers", "{broken").status, 200);
}

TEST_F(ApiTest, UnknownContainerIs404) {
    for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/api/v1/containers/ghost"},
             {"GET", "/api/v1/containers/ghost/config"},
             {"PUT", "/api/v1/containers/ghost"},
             {"DELETE", "/api/v1/containers/ghost"},
             {"POST", "/api/v1/containers/ghost/stop"},
             {"POST", "/api/v1/containers/ghost/start"},
             {"POST", "/api/v1/containers/ghost/restart"},
             {"GET", "/api/v1/containers/ghost/console"}}) {
        SCOPED_TRACE(method + " " + path);
        expect_error(call(method, path), 404, "not_found", "ghost");
    }
    expect_error(call("POST", "/api/v1/containers/ghost/run", R"({"command":["true"]})"), 404,
                 "not_found", "not running");
}

TEST_F(ApiTest, ConfigDocumentsAreTheClisOnes) {
    create("box", R"({"net":"none","memory":"64M","bind":["/srv/a:/a"]})");
    container::Output quiet;
    container::Runtime rt(ws, quiet);
    Config saved = rt.read_config("box");
    json cli = container::config_json(saved, ws.config_path("box"));

    auto shown = call("GET", "/api/v1/containers/box/config");
    EXPECT_EQ(shown.status, 200);
    EXPECT_EQ(doc(shown), cli);
    EXPECT_EQ(doc(shown)["features"]["memory_limit"], 64 << 20);
    EXPECT_EQ(doc(shown)["features"]["run_at_boot"], false);
    EXPECT_TRUE(doc(shown)["features"]["run_at_boot_priority"].is_null());

    auto edited = call("PUT", "/api/v1/containers/box", R"({"options":{"pids-limit":32}})");
    EXPECT_EQ(edited.status, 200) << edited.body;
    EXPECT_EQ(doc(edited)["features"]["pids_limit"], 32);
    EXPECT_EQ(doc(edited)["features"]["memory_limit"], 64 << 20);
    EXPECT_EQ(doc(edited), container::config_json(rt.read_config("box"), ws.config_path("box")));
    auto reset = call("PUT", "/api/v1/containers/box", R"({"reset":true,"options":{}})");
    EXPECT_TRUE(doc(reset)["features"]["memory_limit"].is_null());

    auto info = call("GET", "/api/v1/containers/box");
    EXPECT_EQ(info.status, 200);  // stopped is not an error here
    EXPECT_EQ(doc(info), container::to_json(rt.inspect("box")));
    EXPECT_EQ(doc(info)["state"], "STOPPED");

    auto list = call("GET", "/api/v1/containers");
    ASSERT_EQ(doc(list).size(), 1u);
    EXPECT_EQ(doc(list)[0], container::to_json(rt.list().containers[0]));

    expect_error(call("POST", "/api/v1/containers", R"({"name":"box"})"), 409, "busy",
                 "already has a config");
}

TEST_F(ApiTest, DeleteKeepsTheRootfsUnlessConfirmed) {
    create("box", "{}");
    std::string rootfs = ws.container_dir("box") + "/rootfs";
    sys::make_dirs(rootfs + "/etc");
    auto r = call("PUT", "/api/v1/containers/box", R"({"options":{"rootfs":")" + rootfs + "\"}}");
    ASSERT_EQ(r.status, 200) << r.body;
    expect_error(call("DELETE", "/api/v1/containers/box", R"({"remove_rootfs":true})"), 400,
                 "invalid", "field 'confirm'");
    expect_error(
        call("DELETE", "/api/v1/containers/box", R"({"remove_rootfs":true,"confirm":"other"})"),
        400, "invalid", "field 'confirm'");
    EXPECT_TRUE(sys::path_exists(ws.config_path("box")));
    auto deleted = call("DELETE", "/api/v1/containers/box");
    EXPECT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(doc(deleted)["name"], "box");
    EXPECT_FALSE(sys::path_exists(ws.config_path("box")));
    EXPECT_TRUE(sys::is_directory(rootfs + "/etc"));  // kept

    create("two", "{}");
    rootfs = ws.container_dir("two") + "/rootfs";
    sys::make_dirs(rootfs + "/etc");
    call("PUT", "/api/v1/containers/two", R"({"options":{"rootfs":")" + rootfs + "\"}}");
    deleted = call("DELETE", "/api/v1/containers/two", R"({"remove_rootfs":true,"confirm":"two"})");
    EXPECT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_FALSE(sys::path_exists(rootfs));
}

TEST_F(ApiTest, HeldLockIs409AtOnce) {
    create("box", "{}");
    // Another command (here: this test) holds the container's lock.
    auto held = container::lock_container(ws, "box", container::LockMode::wait);
    auto began = std::chrono::steady_clock::now();
    expect_error(call("PUT", "/api/v1/containers/box", R"({"options":{"memory":"8M"}})"), 409,
                 "busy", "'box'");
    expect_error(call("DELETE", "/api/v1/containers/box"), 409, "busy", "'box'");
    expect_error(
        call("PUT", "/api/v1/autostart", R"({"containers":[{"name":"box","run_at_boot":true}]})"),
        409, "busy", "'box'");
    EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(5));
    // Reads take no lock.
    EXPECT_EQ(call("GET", "/api/v1/containers/box/config").status, 200);
}

TEST_F(ApiTest, AutostartOrdersByPriorityThenNameAndPersists) {
    for (auto name : {"c", "a", "b", "d"})
        create(name, "{}");
    auto put = call("PUT", "/api/v1/autostart",
                    R"({"containers":[{"name":"c","run_at_boot":true,"priority":1},
                                      {"name":"b","run_at_boot":true,"priority":1},
                                      {"name":"d","run_at_boot":true}]})");
    ASSERT_EQ(put.status, 200) << put.body;
    json want = json::parse(R"({"containers":[
        {"name":"b","run_at_boot":true,"priority":1},
        {"name":"c","run_at_boot":true,"priority":1},
        {"name":"d","run_at_boot":true,"priority":null},
        {"name":"a","run_at_boot":false,"priority":null}]})");
    EXPECT_EQ(doc(put), want);
    EXPECT_EQ(doc(call("GET", "/api/v1/autostart")), want);
    std::string file = sys::read_file(ws.config_path("c"));
    EXPECT_NE(file.find("\nrun_at_boot=1\n"), std::string::npos) << file;
    EXPECT_NE(file.find("\nrun_at_boot_priority=1\n"), std::string::npos) << file;
    // The inspect document says the same.
    EXPECT_EQ(doc(call("GET", "/api/v1/containers/c"))["features"]["run_at_boot_priority"], 1);

    // Off again, priority cleared.
    put = call("PUT", "/api/v1/autostart",
               R"({"containers":[{"name":"c","run_at_boot":false,"priority":null}]})");
    ASSERT_EQ(put.status, 200) << put.body;
    file = sys::read_file(ws.config_path("c"));
    EXPECT_NE(file.find("\nrun_at_boot=0\n"), std::string::npos) << file;
    EXPECT_EQ(file.find("run_at_boot_priority"), std::string::npos) << file;
}

TEST_F(ApiTest, AutostartValidatesEveryEntryBeforeWriting) {
    create("a", "{}");
    std::string before = sys::read_file(ws.config_path("a"));
    expect_error(call("PUT", "/api/v1/autostart",
                      R"({"containers":[{"name":"a","run_at_boot":true},{"name":"ghost"}]})"),
                 404, "not_found", "field 'containers[1].name'");
    expect_error(call("PUT", "/api/v1/autostart",
                      R"({"containers":[{"name":"a","run_at_boot":true,"priority":10000}]})"),
                 400, "invalid", "field 'containers[0].priority'");
    expect_error(call("PUT", "/api/v1/autostart",
                      R"({"containers":[{"name":"a","run_at_boot":true,"priority":-1}]})"),
                 400, "invalid", "0 to 9999");
    expect_error(
        call("PUT", "/api/v1/autostart", R"({"containers":[{"name":"a","run_at_boot":"yes"}]})"),
        400, "invalid", "field 'containers[0].run_at_boot'");
    expect_error(call("PUT", "/api/v1/autostart", R"({"containers":[{"name":"a"},{"name":"a"}]})"),
                 400, "invalid", "listed twice");
    expect_error(call("PUT", "/api/v1/autostart", R"({"containers":{}})"), 400, "invalid",
                 "field 'containers'");
    EXPECT_EQ(sys::read_file(ws.config_path("a")), before);
}

TEST_F(ApiTest, ConsoleTailReadsTheLogAndItsRotation) {
    create("box", "{}");
    auto empty = call("GET", "/api/v1/containers/box/console");
    ASSERT_EQ(empty.status, 200) << empty.body;
    EXPECT_EQ(doc(empty), json::parse(R"({"name":"box","lines":[],"truncated":false})"));

    std::string logs = ws.logs_dir("box");
    sys::make_dirs(logs);
    sys::write_file_atomic(logs + "/console.old", "old1\nold2\nold3\n");
    sys::write_file_atomic(logs + "/console", "new1\r\nnew2\n\xff bad\npartial");
    auto all = call("GET", "/api/v1/containers/box/console", "", {{"lines", "100"}});
    EXPECT_EQ(doc(all)["lines"],
              json::parse(R"(["old1","old2","old3","new1","new2","\ufffd bad","partial"])"));
    EXPECT_EQ(doc(all)["truncated"], false);
    auto some = call("GET", "/api/v1/containers/box/console", "", {{"lines", "5"}});
    EXPECT_EQ(doc(some)["lines"], json::parse(R"(["old3","new1","new2","\ufffd bad","partial"])"));
    EXPECT_EQ(doc(some)["truncated"], true);
    auto last = call("GET", "/api/v1/containers/box/console", "", {{"lines", "1"}});
    EXPECT_EQ(doc(last)["lines"], json::parse(R"(["partial"])"));
    EXPECT_EQ(doc(last)["truncated"], true);

    expect_error(call("GET", "/api/v1/containers/box/console", "", {{"lines", "0"}}), 400,
                 "invalid", "lines");
    expect_error(call("GET", "/api/v1/containers/box/console", "", {{"lines", "5001"}}), 400,
                 "invalid", "5000");
    // A log without a config (the config was deleted) still has a tail.
    sys::make_dirs(ws.logs_dir("gone"));
    sys::write_file_atomic(ws.logs_dir("gone") + "/console", "bye\n");
    EXPECT_EQ(doc(call("GET", "/api/v1/containers/gone/console"))["lines"], json({"bye"}));
}

TEST_F(ApiTest, ConsoleRefusesALogThatIsNotARegularFile) {
    create("box", "{}");
    sys::make_dirs(ws.logs_dir("box"));
    // A symlink planted where the log lives must not be followed to another file.
    ASSERT_EQ(::symlink("/etc/shadow", (ws.logs_dir("box") + "/console").c_str()), 0);
    auto r = call("GET", "/api/v1/containers/box/console");
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.body.find("root:"), std::string::npos);
}

TEST_F(ApiTest, SystemAndCheck) {
    auto sys_doc = doc(call("GET", "/api/v1/system"));
    for (auto key : {"version", "upstream_compatible", "kernel", "arch", "platform", "cgroup",
                     "workspace", "server"})
        EXPECT_TRUE(sys_doc.contains(key)) << key;
    EXPECT_EQ(sys_doc["workspace"], ws.root);
    EXPECT_TRUE(sys_doc["server"].is_null());
    EXPECT_TRUE(sys_doc["cgroup"].contains("layout"));

    Api served(ws, ServerFacts{1234, 8420, {"127.0.0.1", "::1"}, 1700000000});
    auto with_server = json::parse(served.handle({"GET", "/api/v1/system", {}, ""}).body);
    EXPECT_EQ(with_server["server"],
              json::parse(R"({"pid":1234,"port":8420,"listen":["127.0.0.1","::1"],
                              "started_at":1700000000})"));

    auto check = call("GET", "/api/v1/check");
    EXPECT_EQ(check.status, 200);
    auto c = doc(check);
    for (auto key : {"version", "root", "kernel", "sections", "cgroup", "missing_required", "ok"})
        EXPECT_TRUE(c.contains(key)) << key;
}

TEST_F(ApiTest, RunAndInstallValidateTheirBodies) {
    expect_error(call("POST", "/api/v1/containers/box/run", "{}"), 400, "invalid",
                 "field 'command'");
    expect_error(
        call("POST", "/api/v1/containers/box/run", R"({"command":["true"],"timeout_seconds":0})"),
        400, "invalid", "field 'timeout_seconds'");
    expect_error(call("POST", "/api/v1/containers/box/stop", R"({"timeout_seconds":"x"})"), 400,
                 "invalid", "field 'timeout_seconds'");
    expect_error(call("POST", "/api/v1/install", R"({"name":"x"})"), 400, "invalid",
                 "field 'source'");
    expect_error(call("POST", "/api/v1/install",
                      R"({"name":"x","source":")" + dir.path() + R"(/missing.tar"})"),
                 400, "invalid", "missing.tar");
}

}  // namespace
}  // namespace ds::server
