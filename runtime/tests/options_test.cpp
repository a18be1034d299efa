// Unit tests for cli/options: upstream's flags and short forms, value forms, clusters, the
// command word and its arguments, and errors that name the offending option.
#include "cli/options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/config_options.hpp"
#include "core/error.hpp"

namespace {

void check_message(const std::string& message, std::initializer_list<std::string_view> needles) {
    if (message.empty()) return;  // EXPECT_THROW already reported the missing throw
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    for (auto needle : needles)
        EXPECT_NE(message.find(needle), std::string::npos)
            << "message: " << message << "\nmissing: " << needle;
}

}  // namespace

// `stmt` must throw ds::Error with exit code 1 whose message contains every further argument.
#define EXPECT_USAGE_ERROR(stmt, ...)                                 \
    do {                                                              \
        std::string ds_message_;                                      \
        EXPECT_THROW(                                                 \
            {                                                         \
                try {                                                 \
                    stmt;                                             \
                } catch (const ds::Error& ds_error_) {                \
                    EXPECT_EQ(ds_error_.exit_code(), ds::kExitUsage); \
                    ds_message_ = ds_error_.what();                   \
                    throw;                                            \
                }                                                     \
            },                                                        \
            ds::Error);                                               \
        check_message(ds_message_, {__VA_ARGS__});                    \
    } while (0)

namespace ds::cli {
namespace {

using Args = std::vector<std::string>;

Invocation parse(Args argv) {
    return parse_command_line(argv);
}

// Parses and applies the overrides to a default config.
Config apply(Args argv) {
    Config config;
    apply_overrides(parse_command_line(argv), config);
    return config;
}

std::string cwd() {
    char buf[PATH_MAX];
    EXPECT_NE(::getcwd(buf, sizeof buf), nullptr);
    return buf;
}

// A path that certainly does not exist, so absolute_path cannot resolve it through symlinks.
constexpr std::string_view kMissing = "/ds-options-test-missing";

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

TEST(Options, NameForms) {
    for (Args argv : {Args{"--name=x", "start"}, Args{"--name", "x", "start"},
                      Args{"-n", "x", "start"}, Args{"-nx", "start"}, Args{"start", "-n", "x"}}) {
        SCOPED_TRACE(argv[0]);
        Invocation inv = parse(argv);
        EXPECT_EQ(inv.names, Args{"x"});
        EXPECT_EQ(inv.command, "start");
        EXPECT_TRUE(inv.args.empty());
    }
}

TEST(Options, NameListIsSplit) {
    EXPECT_EQ(parse({"-n", "a,b,c", "stop"}).names, (Args{"a", "b", "c"}));
    EXPECT_EQ(parse({"--name=a,,b", "stop"}).names, (Args{"a", "b"}));
    EXPECT_EQ(parse({"-n", "my box", "stop"}).names, Args{"my box"});
}

TEST(Options, BadNamesAreRejectedWhileParsing) {
    EXPECT_USAGE_ERROR(parse({"-n", "../x", "start"}), "'../x'", "letters");
    EXPECT_USAGE_ERROR(parse({"--name=", "start"}), "''", "empty");
    EXPECT_USAGE_ERROR(parse({"-n", ",", "stop"}), "''", "empty");
    EXPECT_USAGE_ERROR(parse({"-n", "a,..", "stop"}), "'..'", "reserved");
    EXPECT_USAGE_ERROR(parse({"-n", std::string(300, 'n'), "start"}), std::string(40, 'n'), "64");
    EXPECT_USAGE_ERROR(parse({"-n", "a\x01", "start"}), "'a\\x01'", "letters");
}

// ---------------------------------------------------------------------------------------------
// Binds, switches, config files, paths
// ---------------------------------------------------------------------------------------------

TEST(Options, RepeatedBindsWithCommaLists) {
    Config c = apply({"-B", "/ds-a:/b", "-B", "/ds-c:/d,/ds-e:/f", "start"});
    ASSERT_EQ(c.bind_mounts.size(), 3u);
    EXPECT_EQ(c.bind_mounts[0], (BindMount{"/ds-a", "/b", false}));
    EXPECT_EQ(c.bind_mounts[1], (BindMount{"/ds-c", "/d", false}));
    EXPECT_EQ(c.bind_mounts[2], (BindMount{"/ds-e", "/f", false}));
}

TEST(Options, BindAliasesAndReadOnly) {
    Config c = apply({"--bind=/ds-a:/b:ro", "--bind-mount", "/ds-c:/d", "start"});
    ASSERT_EQ(c.bind_mounts.size(), 2u);
    EXPECT_TRUE(c.bind_mounts[0].read_only);
    EXPECT_EQ(c.bind_mounts[1].dest, "/d");
}

TEST(Options, RelativeBindSourceBecomesAbsolute) {
    Config c = apply({"-B", "./ds-no-such-src:/mnt/x", "start"});
    ASSERT_EQ(c.bind_mounts.size(), 1u);
    EXPECT_EQ(c.bind_mounts[0].src, cwd() + "/ds-no-such-src");
}

TEST(Options, BadBindsFailWhenApplied) {
    EXPECT_USAGE_ERROR(apply({"-B", "/ds-a:/x/../etc", "start"}), "'/x/../etc'", "'..'");
    EXPECT_USAGE_ERROR(apply({"-B", "/ds-a:relative", "start"}), "'relative'", "absolute");
    std::string specs;
    for (int i = 1; i <= 17; ++i)
        specs +=
            (specs.empty() ? "" : ",") + ("/ds-s" + std::to_string(i) + ":/d" + std::to_string(i));
    EXPECT_USAGE_ERROR(apply({"-B", specs, "start"}), "'/ds-s17:/d17'", "16");
}

TEST(Options, SwitchCluster) {
    Config c = apply({"-fV", "start"});
    EXPECT_TRUE(c.foreground);
    EXPECT_TRUE(c.volatile_mode);
    EXPECT_FALSE(c.enable_hw_access);

    c = apply({"-HISP", "start"});
    EXPECT_TRUE(c.enable_hw_access);
    EXPECT_TRUE(c.disable_ipv6);
    EXPECT_TRUE(c.enable_android_storage);
    EXPECT_TRUE(c.selinux_permissive);
}

TEST(Options, ClusterEndingInAValueOption) {
    Invocation inv = parse({"-fn", "box", "start"});
    EXPECT_EQ(inv.names, Args{"box"});
    EXPECT_TRUE(inv.has_override("foreground"));
    inv = parse({"-Vnbox", "start"});
    EXPECT_EQ(inv.names, Args{"box"});
    EXPECT_TRUE(inv.has_override("volatile"));
}

TEST(Options, ConfigFileForms) {
    std::string path = std::string(kMissing) + "/box.config";
    for (Args argv : {Args{"--conf=" + path, "start"}, Args{"--conf", path, "start"},
                      Args{"--config=" + path, "start"}, Args{"--config", path, "start"},
                      Args{"-C", path, "start"}, Args{"-C" + path, "start"}}) {
        SCOPED_TRACE(argv[0]);
        EXPECT_EQ(parse(argv).conf_path, path);
    }
    EXPECT_EQ(parse({"-C", "./ds-rel.config", "start"}).conf_path, cwd() + "/ds-rel.config");
}

TEST(Options, RelativeRootfsBecomesAbsolute) {
    Config c = apply({"-r", "./ds-no-such-rootfs", "start"});
    EXPECT_EQ(c.rootfs_path, cwd() + "/ds-no-such-rootfs");
    EXPECT_FALSE(c.rootfs_is_image);
    c = apply({"--rootfs=ds-no-such-rootfs/", "start"});
    EXPECT_EQ(c.rootfs_path, cwd() + "/ds-no-such-rootfs");
    c = apply({"-r", std::string(kMissing), "start"});
    EXPECT_EQ(c.rootfs_path, kMissing);
}

TEST(Options, RootfsAndImageLastWins) {
    Config c = apply({"-r", "/ds-dir", "-i", "/ds-img", "start"});
    EXPECT_EQ(c.rootfs_path, "/ds-img");
    EXPECT_TRUE(c.rootfs_is_image);
    c = apply({"--rootfs-img=/ds-img", "--rootfs=/ds-dir", "start"});
    EXPECT_EQ(c.rootfs_path, "/ds-dir");
    EXPECT_FALSE(c.rootfs_is_image);
}

TEST(Options, EnvFileBecomesAbsolute) {
    EXPECT_EQ(apply({"-E", "./ds-env", "start"}).env_file, cwd() + "/ds-env");
    EXPECT_EQ(apply({"--env=/ds-x/.env", "start"}).env_file, "/ds-x/.env");
}

// ---------------------------------------------------------------------------------------------
// Commands and their arguments
// ---------------------------------------------------------------------------------------------

TEST(Options, RunArgumentsAreNotOptions) {
    Invocation inv = parse({"-n", "box", "run", "-u", "u", "ls", "-la"});
    EXPECT_EQ(inv.command, "run");
    EXPECT_EQ(inv.user, "u");
    EXPECT_EQ(inv.args, (Args{"ls", "-la"}));

    inv = parse({"run", "ls", "--bogus", "-n", "x", "--", "y"});
    EXPECT_EQ(inv.args, (Args{"ls", "--bogus", "-n", "x", "--", "y"}));
    EXPECT_TRUE(inv.names.empty());
}

TEST(Options, RunAfterDoubleDash) {
    Invocation inv = parse({"-n", "box", "run", "--", "ls", "-l"});
    EXPECT_EQ(inv.command, "run");
    EXPECT_EQ(inv.args, (Args{"ls", "-l"}));
    inv = parse({"-u", "user", "run", "--", "--version"});
    EXPECT_EQ(inv.user, "user");
    EXPECT_EQ(inv.args, Args{"--version"});
}

TEST(Options, EnterUserAndHelpCommand) {
    Invocation inv = parse({"-n", "box", "enter", "bob"});
    EXPECT_EQ(inv.command, "enter");
    EXPECT_EQ(inv.args, Args{"bob"});
    inv = parse({"help", "start"});
    EXPECT_EQ(inv.command, "help");
    EXPECT_EQ(inv.args, Args{"start"});
    EXPECT_FALSE(inv.help);
}

TEST(Options, NoArguments) {
    Invocation inv = parse({});
    EXPECT_EQ(inv.command, "");
    EXPECT_TRUE(inv.args.empty());
    EXPECT_TRUE(inv.overrides.empty());
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

TEST(Options, UnknownLongOption) {
    EXPECT_USAGE_ERROR(parse({"--bogus"}), "'--bogus'", "unknown option");
    EXPECT_USAGE_ERROR(parse({"-n", "x", "--bogus=1", "start"}), "'--bogus'", "unknown option");
    EXPECT_USAGE_ERROR(parse({"start", "--Name=x"}), "'--Name'", "unknown option");
}

TEST(Options, UnknownShortOption) {
    EXPECT_USAGE_ERROR(parse({"-Z", "start"}), "'-Z'", "unknown option");
    EXPECT_USAGE_ERROR(parse({"-fZ", "start"}), "'-Z'", "unknown option");
}

TEST(Options, MissingValue) {
    EXPECT_USAGE_ERROR(parse({"start", "--name"}), "'--name'", "requires a value");
    EXPECT_USAGE_ERROR(parse({"start", "-n"}), "'-n'", "requires a value");
    EXPECT_USAGE_ERROR(parse({"start", "-fr"}), "'-r'", "requires a value");
    EXPECT_USAGE_ERROR(parse({"start", "--memory"}), "'--memory'", "requires a value");
}

TEST(Options, ValueGivenToASwitch) {
    EXPECT_USAGE_ERROR(parse({"--volatile=1", "start"}), "'--volatile'", "does not take a value");
    EXPECT_USAGE_ERROR(parse({"--reset=yes", "start"}), "'--reset'", "does not take a value");
    EXPECT_USAGE_ERROR(parse({"--help=1"}), "'--help'", "does not take a value");
}

TEST(Options, BadNetModeNamesTheValue) {
    EXPECT_USAGE_ERROR(apply({"--net=bogus", "start"}), "--net", "'bogus'", "nat");
}

// ---------------------------------------------------------------------------------------------
// Values applied to the config
// ---------------------------------------------------------------------------------------------

TEST(Options, NetModes) {
    EXPECT_EQ(apply({"--net=none", "start"}).net_mode, NetMode::none);
    EXPECT_EQ(apply({"--net", "nat", "start"}).net_mode, NetMode::nat);
    EXPECT_EQ(apply({"--net=delegated-gateway", "start"}).net_mode, NetMode::gateway);
    EXPECT_EQ(apply({"start"}).net_mode, NetMode::host);
}

TEST(Options, MemoryAndCpus) {
    Config c = apply({"--memory=512M", "--cpus=1.5", "start"});
    EXPECT_EQ(c.memory_limit, 512ull << 20);
    EXPECT_EQ(c.cpu_quota, 150000u);
    EXPECT_EQ(c.cpu_period, 100000u);
    c = apply({"--cpus", "0.01", "start"});
    EXPECT_EQ(c.cpu_quota, 1000u);
    EXPECT_USAGE_ERROR(apply({"--memory=1M", "start"}), "'1M'", "4M");
    EXPECT_USAGE_ERROR(apply({"--cpus=0.001", "start"}), "'0.001'", "--cpus");
    EXPECT_USAGE_ERROR(apply({"--cpus=abc", "start"}), "'abc'", "--cpus");
    EXPECT_USAGE_ERROR(apply({"--pids-limit=0", "start"}), "'0'", "pids_limit");
}

TEST(Options, HostnameIsDashHAndHelpIsDashV) {
    Invocation inv = parse({"-h", "myhost", "start"});
    EXPECT_FALSE(inv.help);
    EXPECT_EQ(inv.command, "start");
    Config c;
    apply_overrides(inv, c);
    EXPECT_EQ(c.hostname, "myhost");

    EXPECT_TRUE(parse({"-v"}).help);
    EXPECT_TRUE(parse({"--help"}).help);
    EXPECT_TRUE(parse({"start", "-v"}).help);
    EXPECT_TRUE(parse({"-v"}).overrides.empty());
}

TEST(Options, Timeout) {
    EXPECT_EQ(parse({"--timeout=5", "stop"}).timeout_seconds, 5u);
    EXPECT_EQ(parse({"--timeout", "60", "stop"}).timeout_seconds, 60u);
    EXPECT_FALSE(parse({"stop"}).timeout_seconds.has_value());
    EXPECT_USAGE_ERROR(parse({"--timeout=0", "stop"}), "'0'", "--timeout");
    EXPECT_USAGE_ERROR(parse({"--timeout=soon", "stop"}), "'soon'", "--timeout");
}

TEST(Options, DnsPortsUpstreamsPrivileged) {
    Config c =
        apply({"-d", "1.1.1.1 8.8.8.8", "--net=nat", "--port", "80", "--port=53/udp,80",
               "--upstream=wlan0", "--upstream", "rmnet*", "--privileged=nocaps,nomask", "start"});
    EXPECT_EQ(c.dns_servers, (Args{"1.1.1.1", "8.8.8.8"}));
    EXPECT_EQ(c.port_forwards, (Args{"80:80/tcp", "53:53/udp"}));
    EXPECT_EQ(c.upstream_interfaces, (Args{"wlan0", "rmnet*"}));
    EXPECT_EQ(c.privileged, "nomask,nocaps");
    EXPECT_USAGE_ERROR(apply({"--port=0", "start"}), "'0'", "port");
    EXPECT_USAGE_ERROR(apply({"--dns=1.2.3", "start"}), "'1.2.3'", "--dns");
    EXPECT_USAGE_ERROR(apply({"--privileged=all", "start"}), "'all'", "--privileged");
}

TEST(Options, GatewayAliasAndMisc) {
    Config c = apply({"--gateway-container=router", "--gateway-net", "lan",
                      "--init=/sbin/openrc-init", "--nat-ip=172.28.2.3", "--allow-userns", "--gpu",
                      "--block-nested-namespaces", "--force-cgroupv1", "start"});
    EXPECT_EQ(c.gateway_container, "router");
    EXPECT_EQ(c.gateway_net, "lan");
    EXPECT_EQ(c.custom_init, "/sbin/openrc-init");
    EXPECT_EQ(c.static_nat_ip, "172.28.2.3");
    EXPECT_TRUE(c.allow_userns);
    EXPECT_TRUE(c.enable_gpu_mode);
    EXPECT_TRUE(c.block_nested_ns);
    EXPECT_TRUE(c.force_cgroupv1);
    EXPECT_EQ(apply({"--gateway=r2", "start"}).gateway_container, "r2");
    EXPECT_USAGE_ERROR(apply({"--init=sbin/init", "start"}), "'sbin/init'", "--init");
    EXPECT_USAGE_ERROR(apply({"--nat-ip=172.28.0.1", "start"}), "'172.28.0.1'", "--nat-ip");
}

TEST(Options, InvocationFlags) {
    Invocation inv = parse({"--reset", "--format", "--json", "-u", "bob", "info"});
    EXPECT_TRUE(inv.reset);
    EXPECT_TRUE(inv.format);
    EXPECT_TRUE(inv.json);
    EXPECT_EQ(inv.user, "bob");
    EXPECT_TRUE(inv.overrides.empty());
}

TEST(Options, OverridesKeepCommandLineOrder) {
    Config c = apply({"-h", "first", "--hostname=second", "start"});
    EXPECT_EQ(c.hostname, "second");
    Invocation inv = parse({"-h", "a", "-V", "start"});
    ASSERT_EQ(inv.overrides.size(), 2u);
    EXPECT_EQ(inv.overrides[0].first->long_name, "hostname");
    EXPECT_EQ(inv.overrides[1].first->long_name, "volatile");
    EXPECT_TRUE(inv.has_override("volatile"));
    EXPECT_FALSE(inv.has_override("foreground"));
}

// ---------------------------------------------------------------------------------------------
// The option table itself
// ---------------------------------------------------------------------------------------------

TEST(OptionTable, UpstreamShortForms) {
    auto short_of = [](std::string_view long_name) {
        const OptionSpec* o = find_long_option(long_name);
        return o ? o->short_name : '?';
    };
    EXPECT_EQ(short_of("rootfs"), 'r');
    EXPECT_EQ(short_of("rootfs-img"), 'i');
    EXPECT_EQ(short_of("name"), 'n');
    EXPECT_EQ(short_of("hostname"), 'h');
    EXPECT_EQ(short_of("conf"), 'C');
    EXPECT_EQ(short_of("config"), 'C');
    EXPECT_EQ(short_of("dns"), 'd');
    EXPECT_EQ(short_of("foreground"), 'f');
    EXPECT_EQ(short_of("hw-access"), 'H');
    EXPECT_EQ(short_of("termux-x11"), 'X');
    EXPECT_EQ(short_of("disable-ipv6"), 'I');
    EXPECT_EQ(short_of("enable-android-storage"), 'S');
    EXPECT_EQ(short_of("selinux-permissive"), 'P');
    EXPECT_EQ(short_of("volatile"), 'V');
    EXPECT_EQ(short_of("bind"), 'B');
    EXPECT_EQ(short_of("bind-mount"), 'B');
    EXPECT_EQ(short_of("env"), 'E');
    EXPECT_EQ(short_of("user"), 'u');
    EXPECT_EQ(short_of("help"), 'v');
}

TEST(OptionTable, NamesAreUniqueAndConfigKeysExist) {
    std::set<char> shorts;
    std::set<std::string_view> longs;
    for (const auto& o : option_table()) {
        SCOPED_TRACE(std::string(o.long_name));
        if (o.short_name) {
            EXPECT_TRUE(shorts.insert(o.short_name).second);
        }
        EXPECT_TRUE(longs.insert(o.long_name).second);
        if (!o.alias.empty()) {
            EXPECT_TRUE(longs.insert(o.alias).second);
        }
        if (o.id == OptionId::config_key) {
            EXPECT_TRUE(is_known_config_key(o.config_key));
        }
        EXPECT_EQ(find_long_option(o.long_name), &o);
    }
    EXPECT_EQ(find_long_option("bogus"), nullptr);
}

// Found by fuzzing (fuzz_options): "-r '/srv/box '" was accepted, saved as "rootfs_path=/srv/box "
// and loaded back as "/srv/box", another directory. Values the config file cannot keep are
// rejected where they are given.
TEST(Overrides, ValuesWithOuterSpacesAreRejected) {
    EXPECT_USAGE_ERROR(apply({"-r", "/ds-x/box ", "start"}), "'/ds-x/box '", "rootfs_path",
                       "space");
    EXPECT_USAGE_ERROR(apply({"--hostname= box", "start"}), "' box'", "--hostname", "space");
    EXPECT_USAGE_ERROR(apply({"-B", "/ds-x:/mnt/x ", "start"}), "'/mnt/x '", "space");
}

TEST(Options, AllAndPurgeAreSwitches) {
    Invocation inv = parse({"show", "--all"});
    EXPECT_TRUE(inv.all);
    EXPECT_FALSE(inv.purge);
    inv = parse({"-n", "box", "--purge", "config", "delete"});
    EXPECT_TRUE(inv.purge);
    EXPECT_EQ(inv.args, (Args{"delete"}));
    EXPECT_USAGE_ERROR(parse({"--all=1", "show"}), "--all", "does not take a value");
}

// The command line's config options as the request layer's key/value edits.
TEST(Options, OverridesAsEdits) {
    auto edits =
        overrides_as_edits(parse({"-B", "/a:/b", "-f", "--memory=8M", "-n", "x", "start"}));
    ASSERT_EQ(edits.size(), 3u);
    EXPECT_EQ(edits[0], (std::pair<std::string, std::string>{"bind", "/a:/b"}));
    EXPECT_EQ(edits[1], (std::pair<std::string, std::string>{"foreground", "1"}));
    EXPECT_EQ(edits[2], (std::pair<std::string, std::string>{"memory", "8M"}));
}

// Found by fuzzing (fuzz_options): unknown options were quoted raw, so "--a<newline>b" gave a
// two-line error.
TEST(Parse, UnknownOptionsAreShownEscaped) {
    EXPECT_USAGE_ERROR(parse({"--bo\ngus", "start"}), "'--bo\\x0agus'", "unknown option");
    EXPECT_USAGE_ERROR(parse({"-f\x1b", "start"}), "'-\\x1b'", "unknown option");
    EXPECT_USAGE_ERROR(apply({"--cpus=1\n", "start"}), "'1\\x0a'", "--cpus");
}

}  // namespace
}  // namespace ds::cli

// The API's "memory": null (and an empty --memory=) lifts a limit instead of failing: the
// dashboard's form sends null when the user empties a limit field.
TEST(Options, AnEmptyLimitLiftsIt) {
    ds::Config config;
    ds::apply_config_edits(config, {{"memory", "512M"}, {"cpus", "1.5"}, {"pids-limit", "64"}});
    EXPECT_EQ(config.memory_limit, 512ull << 20);
    EXPECT_EQ(config.pids_limit, 64u);
    ds::apply_config_edits(config, {{"memory", ""}, {"cpus", ""}, {"pids-limit", ""}});
    EXPECT_EQ(config.memory_limit, 0u);
    EXPECT_EQ(config.cpu_quota, 0u);
    EXPECT_EQ(config.cpu_period, 0u);
    EXPECT_EQ(config.pids_limit, 0u);
    EXPECT_EQ(ds::serialize_config(config).find("memory_limit="), std::string::npos);
}
