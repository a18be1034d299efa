// Unit tests for the request layer (container/runtime.hpp) on a temporary workspace: listing
// stopped containers among garbage, config create/edit/delete with the CLI's validation,
// deleting without touching a rootfs unless asked (and then only the workspace's own), the
// non-blocking lock, and the error kinds a server maps to status codes.
#include "container/runtime.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "container/config_store.hpp"
#include "core/error.hpp"
#include "sys/file.hpp"
#include "test_support.hpp"

namespace ds::container {
namespace {

namespace fs = std::filesystem;

using ds::test::TempDir;

// Records what the operations said.
class Recorder : public Output {
  public:
    void warning(const std::string& m) override { warnings.push_back(m); }
    void info(const std::string& m) override { infos.push_back(m); }
    std::vector<std::string> warnings, infos;
};

struct RuntimeTest : ::testing::Test {
    TempDir dir;
    Workspace ws{dir.path() + "/ws", dir.path() + "/ws/mnt"};
    Recorder out;
    Runtime rt{ws, out};

    void write(const std::string& path, const std::string& text) {
        sys::make_dirs(fs::path(path).parent_path().string());
        sys::write_file_atomic(path, text);
    }
};

// --- error kinds ---------------------------------------------------------------------------------

TEST(ErrorKinds, ExitCodesStayAsDocumented) {
    EXPECT_EQ(Error(ErrorKind::invalid, "x").exit_code(), kExitUsage);
    EXPECT_EQ(Error(ErrorKind::not_found, "x").exit_code(), kExitUsage);
    EXPECT_EQ(Error(ErrorKind::busy, "x").exit_code(), kExitUsage);
    EXPECT_EQ(Error(ErrorKind::system, "x").exit_code(), kExitRuntime);
    EXPECT_EQ(to_string(ErrorKind::not_found), "not_found");
    EXPECT_EQ(to_string(ErrorKind::busy), "busy");
}

TEST(ErrorKinds, LegacyHelpersKeepTheirMeaning) {
    EXPECT_ERROR(fail_usage("bad"), ErrorKind::invalid, "bad");
    EXPECT_ERROR(fail_runtime("no"), ErrorKind::system, "no");
    EXPECT_ERROR(fail_not_found("gone"), ErrorKind::not_found, "gone");
    EXPECT_ERROR(fail_busy("held"), ErrorKind::busy, "held");
}

// --- list ----------------------------------------------------------------------------------------

TEST_F(RuntimeTest, ListShowsStoppedContainersAndSkipsGarbage) {
    rt.create_config({"alpha", {{"net", "none"}, {"rootfs", "/srv/alpha"}}});
    rt.create_config({"my box", {}});
    sys::make_dirs(ws.container_dir("garbage"));            // a directory, no config
    sys::make_dirs(ws.containers_dir() + "/.install@x.1");  // install staging
    write(ws.config_path("broken"), "memory_limit=lots\n");
    write(ws.containers_dir() + "/notadir", "x");
    // A stale pidfile of a process that is gone.
    write(ws.pidfile("ghost"), "999999999\n");

    auto table = rt.list();
    std::vector<std::string> names;
    for (const auto& e : table.containers)
        names.push_back(e.name);
    EXPECT_EQ(names, (std::vector<std::string>{"alpha", "broken", "my box"}));
    for (const auto& e : table.containers) {
        EXPECT_FALSE(e.running) << e.name;
        EXPECT_FALSE(e.usage) << e.name;
        auto j = to_json(e);
        EXPECT_EQ(j["state"], "STOPPED");
        EXPECT_TRUE(j["pid"].is_null());
        EXPECT_TRUE(j["usage"].is_null());
    }
    EXPECT_EQ(table.containers[0].net_mode, "none");
    EXPECT_EQ(table.containers[0].rootfs, "/srv/alpha");
    EXPECT_TRUE(table.containers[0].has_config);
    // A bad line is a warning (upstream reads config files so); the container is still listed.
    EXPECT_TRUE(table.containers[1].has_config);
    EXPECT_TRUE(table.containers[1].config_error.empty());
    ASSERT_EQ(table.containers[1].config_warnings.size(), 1u);
    EXPECT_NE(table.containers[1].config_warnings[0].find("lots"), std::string::npos);
    EXPECT_EQ(table.pruned, std::vector<std::string>{"ghost"});
    EXPECT_FALSE(sys::path_exists(ws.pidfile("ghost")));
    // `show` (running only) stays empty.
    EXPECT_TRUE(rt.show().running.empty());
}

TEST_F(RuntimeTest, ListOfAnEmptyWorkspace) {
    EXPECT_TRUE(rt.list().containers.empty());
}

// --- config create / edit / delete -------------------------------------------------------------

TEST_F(RuntimeTest, CreateEditShowDelete) {
    Config c = rt.create_config({"box", {{"memory", "512M"}, {"bind", "/srv/a:/mnt/a:ro"}}});
    EXPECT_EQ(c.memory_limit, 512ull << 20);
    ASSERT_EQ(c.bind_mounts.size(), 1u);
    EXPECT_TRUE(c.bind_mounts[0].read_only);

    // Something the user wrote by hand survives every edit.
    std::string path = ws.config_path("box");
    std::string text = sys::read_file(path);
    write(path, "# mine\n" + text + "my_key=kept\n");

    c = rt.edit_config({"box", false, {{"cpus", "1.5"}, {"bind", "/srv/b:/mnt/b"}}});
    EXPECT_EQ(c.cpu_quota, 150000u);
    EXPECT_EQ(c.bind_mounts.size(), 2u);  // binds add, as repeated --bind flags do
    text = sys::read_file(path);
    EXPECT_EQ(text.rfind("# mine\n", 0), 0u) << text;
    EXPECT_NE(text.find("my_key=kept"), std::string::npos) << text;
    EXPECT_NE(text.find("cpu_quota=150000"), std::string::npos) << text;

    c = rt.edit_config({"box", false, {{"bind", ""}, {"foreground", "true"}}});
    EXPECT_TRUE(c.bind_mounts.empty());  // an empty value clears a list
    EXPECT_TRUE(c.foreground);
    EXPECT_EQ(rt.read_config("box").memory_limit, 512ull << 20);

    auto removed = rt.delete_config({"box", false});
    EXPECT_FALSE(sys::path_exists(path));
    EXPECT_FALSE(sys::path_exists(ws.container_dir("box")));
    EXPECT_EQ(removed.removed.size(), 2u);
}

TEST_F(RuntimeTest, CreateRefusesAnExistingNameOrSpelling) {
    rt.create_config({"my box", {}});
    EXPECT_ERROR(rt.create_config({"my box", {}}), ErrorKind::busy, "already has a config");
    // "my-box" is stored in the same directory: one identity.
    EXPECT_ERROR(rt.create_config({"my-box", {}}), ErrorKind::busy, "'my box'");
}

TEST_F(RuntimeTest, MissingConfigsAreNotFound) {
    EXPECT_ERROR(rt.edit_config({"nobody", false, {{"memory", "8M"}}}), ErrorKind::not_found,
                 "'nobody'");
    EXPECT_ERROR(rt.delete_config({"nobody", false}), ErrorKind::not_found, "'nobody'");
    EXPECT_ERROR(rt.read_config("nobody"), ErrorKind::not_found, "'nobody'");
    EXPECT_ERROR(rt.inspect("nobody"), ErrorKind::not_found, "'nobody'");
    EXPECT_ERROR(rt.stop("nobody"), ErrorKind::not_found, "not running");
    EXPECT_ERROR(rt.run("nobody", {{"true"}, "", ""}), ErrorKind::not_found, "not running");
}

TEST_F(RuntimeTest, BadValuesNameKeyValueAndRuleAndLeaveNothing) {
    EXPECT_ERROR(rt.create_config({"box", {{"memory", "1M"}}}), ErrorKind::invalid, "'1M'");
    EXPECT_ERROR(rt.create_config({"box", {{"memory", "1M"}}}), ErrorKind::invalid, "--memory");
    EXPECT_ERROR(rt.create_config({"box", {{"cpus", "0"}}}), ErrorKind::invalid, "--cpus");
    EXPECT_ERROR(rt.create_config({"box", {{"bind", "/a:relative"}}}), ErrorKind::invalid,
                 "--bind");
    EXPECT_ERROR(rt.create_config({"box", {{"net", "bogus"}}}), ErrorKind::invalid, "'bogus'");
    EXPECT_ERROR(rt.create_config({"box", {{"foreground", "maybe"}}}), ErrorKind::invalid,
                 "'maybe'");
    EXPECT_ERROR(rt.create_config({"box", {{"rootfs", "relative/dir"}}}), ErrorKind::invalid,
                 "absolute");
    EXPECT_ERROR(rt.create_config({"box", {{"memory_limit", "8M"}}}), ErrorKind::invalid,
                 "unknown config option 'memory_limit'");
    EXPECT_ERROR(rt.create_config({"../x", {}}), ErrorKind::invalid, "container name");
    // Nothing was created by the refused requests.
    EXPECT_FALSE(sys::path_exists(ws.container_dir("box")));

    rt.create_config({"box", {{"memory", "64M"}}});
    std::string before = sys::read_file(ws.config_path("box"));
    EXPECT_ERROR(rt.edit_config({"box", false, {{"cpus", "2"}, {"pids-limit", "0"}}}),
                 ErrorKind::invalid, "pids_limit");
    EXPECT_EQ(sys::read_file(ws.config_path("box")), before);  // all or nothing
}

// The same option and value give the same config through the CLI's flags and through edits.
TEST_F(RuntimeTest, EditsMatchTheCommandLine) {
    Config via_cli;
    cli::apply_overrides(cli::parse_command_line({"--memory=1G", "--cpus=0.5", "-B", "/a:/b",
                                                  "--net=nat", "--port=8080:80", "-I",
                                                  "--pids-limit=64", "--hostname=h", "start"}),
                         via_cli);
    Config via_edits;
    apply_config_edits(via_edits, {{"memory", "1G"},
                                   {"cpus", "0.5"},
                                   {"bind", "/a:/b"},
                                   {"net", "nat"},
                                   {"port", "8080:80"},
                                   {"disable-ipv6", "1"},
                                   {"pids-limit", "64"},
                                   {"hostname", "h"}});
    EXPECT_EQ(serialize_config(via_cli), serialize_config(via_edits));
}

// Every command-line option that changes a config is one of the core table's options.
TEST(ConfigOptions, EveryConfigFlagIsInTheCoreTable) {
    size_t config_flags = 0;
    for (const auto& o : cli::option_table()) {
        const ConfigOption* option = cli::config_option_of(o);
        if (!option) continue;
        ++config_flags;
        SCOPED_TRACE(std::string(o.long_name));
        EXPECT_EQ(option->name, o.long_name);
        EXPECT_EQ(option->is_switch, o.metavar.empty());
        if (option->kind == ConfigOptionKind::config_key) {
            EXPECT_EQ(option->config_key, o.config_key);
            EXPECT_TRUE(is_known_config_key(option->config_key));
        }
    }
    EXPECT_EQ(config_flags, config_option_table().size());
}

// --- delete and the rootfs -----------------------------------------------------------------------

TEST_F(RuntimeTest, DeleteKeepsTheRootfsUnlessAsked) {
    std::string rootfs = ws.container_dir("box") + "/rootfs";
    write(rootfs + "/etc/os-release", "ID=x\n");
    rt.create_config({"box", {{"rootfs", rootfs}}});
    auto result = rt.delete_config({"box", false});
    EXPECT_FALSE(sys::path_exists(ws.config_path("box")));
    EXPECT_TRUE(sys::path_exists(rootfs + "/etc/os-release"));
    ASSERT_EQ(result.kept.size(), 1u);  // the container directory, not empty
    EXPECT_NE(result.kept[0].find("not empty"), std::string::npos);
}

TEST_F(RuntimeTest, PurgeRemovesOnlyTheWorkspacesOwnRootfs) {
    TempDir outside;
    write(outside.path() + "/precious", "keep");
    std::string rootfs = ws.container_dir("box") + "/rootfs";
    write(rootfs + "/etc/os-release", "ID=x\n");
    // Links inside the rootfs to host paths: removed as links, never followed.
    ASSERT_EQ(::symlink(outside.path().c_str(), (rootfs + "/escape").c_str()), 0);
    ASSERT_EQ(::symlink((outside.path() + "/precious").c_str(), (rootfs + "/etc/p").c_str()), 0);
    rt.create_config({"box", {{"rootfs", rootfs}}});
    auto result = rt.delete_config({"box", true});
    EXPECT_TRUE(result.kept.empty()) << result.kept[0];
    EXPECT_FALSE(sys::path_exists(ws.container_dir("box")));
    EXPECT_EQ(sys::read_file(outside.path() + "/precious"), "keep");

    // A rootfs elsewhere is never removed, even with purge.
    rt.create_config({"other", {{"rootfs", outside.path()}}});
    result = rt.delete_config({"other", true});
    ASSERT_FALSE(result.kept.empty());
    EXPECT_NE(result.kept[0].find("never removed"), std::string::npos);
    EXPECT_EQ(sys::read_file(outside.path() + "/precious"), "keep");
}

TEST_F(RuntimeTest, PurgeDoesNotFollowARootfsSymlink) {
    TempDir outside;
    write(outside.path() + "/precious", "keep");
    sys::make_dirs(ws.container_dir("box"));
    std::string rootfs = ws.container_dir("box") + "/rootfs";
    ASSERT_EQ(::symlink(outside.path().c_str(), rootfs.c_str()), 0);
    rt.create_config({"box", {{"rootfs", rootfs}}});
    auto result = rt.delete_config({"box", true});
    EXPECT_EQ(sys::read_file(outside.path() + "/precious"), "keep");
    ASSERT_FALSE(result.kept.empty());
}

TEST_F(RuntimeTest, PurgeRemovesAnInstalledImage) {
    std::string image = ws.container_dir("box") + "/rootfs.img";
    write(image, std::string(4096, '\0'));
    rt.create_config({"box", {{"rootfs-img", image}}});
    rt.delete_config({"box", true});
    EXPECT_FALSE(sys::path_exists(image));
    EXPECT_FALSE(sys::path_exists(ws.container_dir("box")));
}

// --- locks ---------------------------------------------------------------------------------------

TEST_F(RuntimeTest, TryOnceLockFailsAtOnceWithBusy) {
    rt.create_config({"box", {}});
    auto held = lock_container(ws, "box", LockMode::wait);  // another command at work
    Runtime server(ws, out, LockMode::try_once);
    auto began = std::chrono::steady_clock::now();
    EXPECT_ERROR(server.edit_config({"box", false, {{"memory", "8M"}}}), ErrorKind::busy,
                 "container 'box' is busy");
    EXPECT_ERROR(server.delete_config({"box", false}), ErrorKind::busy, "'box'");
    EXPECT_ERROR(server.stop("box"), ErrorKind::busy, "'box'");
    // An install of a new name whose lock another install holds (the source passes the checks
    // made before the lock).
    auto held_new = lock_container(ws, "fresh", LockMode::wait);
    sys::make_dirs(ws.root + "/source");
    EXPECT_ERROR(server.install({"fresh", ws.root + "/source", 0, "ext4"}), ErrorKind::busy,
                 "container 'fresh' is busy");
    // Nowhere near the CLI's 30 s wait (generous bound: this is not a timing test).
    EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(10));
    EXPECT_TRUE(sys::path_exists(ws.config_path("box")));
}

TEST_F(RuntimeTest, ReleasedLockIsFree) {
    rt.create_config({"box", {}});
    { auto held = lock_container(ws, "box", LockMode::try_once); }
    Runtime server(ws, out, LockMode::try_once);
    EXPECT_EQ(server.edit_config({"box", false, {{"memory", "8M"}}}).memory_limit, 8ull << 20);
}

}  // namespace
}  // namespace ds::container

namespace ds::container {
namespace {

// --- config resolution (moved out of cli/) ------------------------------------------------------

TEST_F(RuntimeTest, ResolveConfigFollowsUpstreamOrder) {
    // The workspace copy of a named container.
    rt.create_config({"box", {{"memory", "64M"}, {"net", "none"}}});
    auto r = resolve_config(ws, {"box", "", false, {{"cpus", "2"}}});
    EXPECT_EQ(r.path, "");
    EXPECT_EQ(r.config.memory_limit, 64ull << 20);
    EXPECT_EQ(r.config.cpu_quota, 200000u);
    EXPECT_EQ(r.config.name, "box");

    // container.config next to a rootfs given in the request wins over the workspace copy.
    std::string sibling = dir.path() + "/srv/container.config";
    write(sibling, "name=box\nhostname=sib\nrootfs_path=" + dir.path() + "/srv/rootfs\n");
    r = resolve_config(ws, {"box", "", false, {{"rootfs", dir.path() + "/srv/rootfs"}}});
    EXPECT_EQ(r.path, sibling);
    EXPECT_EQ(r.config.hostname, "sib");
    EXPECT_EQ(r.config.memory_limit, 0u);

    // -C FILE wins over both; --reset then clears it back to defaults.
    std::string conf = dir.path() + "/mine.config";
    write(conf, "name=box\nhostname=mine\nnet_mode=none\n");
    r = resolve_config(ws, {"box", conf, false, {{"rootfs", dir.path() + "/srv/rootfs"}}});
    EXPECT_EQ(r.path, conf);
    EXPECT_EQ(r.config.hostname, "mine");
    r = resolve_config(ws, {"box", conf, true, {}});
    EXPECT_EQ(r.config.net_mode, NetMode::host);

    EXPECT_ERROR(resolve_config(ws, {"box", "", false, {{"memory", "x"}}}), ErrorKind::invalid,
                 "--memory");
}

TEST_F(RuntimeTest, ResolveNameNeedsOneRunningContainer) {
    EXPECT_EQ(rt.resolve_name({"a"}, "", "info"), "a");
    EXPECT_ERROR(rt.resolve_name({"a", "b"}, "", "info"), ErrorKind::invalid, "takes one");
    EXPECT_ERROR(rt.resolve_name({}, "", "info"), ErrorKind::not_found, "no containers");
}

}  // namespace
}  // namespace ds::container
