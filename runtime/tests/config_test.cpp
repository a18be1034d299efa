// Unit tests for core/config: container.config as upstream writes it, parsed without loss and
// written back byte-for-byte, with only changed values rewritten.
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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

namespace ds {
namespace {

// A container.config as upstream's Android build saves it (src/config.c ds_config_save): header,
// managed keys in order, then the app's keys after "# Android App Configuration".
constexpr std::string_view kUpstreamFile =
    "# Droidspaces Container Configuration\n"
    "# Generated automatically - Changes may be overwritten\n"
    "\n"
    "name=debian\n"
    "hostname=debian\n"
    "rootfs_path=/data/local/Droidspaces/Containers/debian/rootfs.img\n"
    "disable_ipv6=0\n"
    "enable_android_storage=0\n"
    "enable_termux_x11=0\n"
    "enable_hw_access=1\n"
    "enable_gpu_mode=0\n"
    "selinux_permissive=0\n"
    "allow_userns=0\n"
    "volatile_mode=0\n"
    "force_cgroupv1=0\n"
    "block_nested_ns=1\n"
    "memory_limit=536870912\n"
    "cpu_quota=150000\n"
    "cpu_period=100000\n"
    "pids_limit=4096\n"
    "privileged=nomask,nocaps\n"
    "foreground=0\n"
    "net_mode=nat\n"
    "upstream_interfaces=wlan0,rmnet*\n"
    "port_forwards=22:22/tcp,8080:80/tcp,1000-2000:1000-2000/udp\n"
    "static_nat_ip=172.28.5.9\n"
    "env_file=/data/local/Droidspaces/Containers/debian/.env\n"
    "uuid=0123456789abcdef0123456789abcdef\n"
    "dns_servers=1.1.1.1,2001:4860:4860::8888\n"
    "bind_mounts=/sdcard:/mnt/sdcard,/data/local/tmp:/opt/tmp:ro\n"
    "\n"
    "# Android App Configuration\n"
    "run_at_boot=1\n"
    "run_at_boot_priority=3\n"
    "use_sparse_image=1\n"
    "sparse_image_size_gb=8\n"
    "pidfile=/x\n";

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// The keys of the key=value lines, in order.
std::vector<std::string> keys_of(const std::string& text) {
    std::vector<std::string> keys;
    for (const auto& line : lines_of(text)) {
        if (line.empty() || line[0] == '#') continue;
        keys.push_back(line.substr(0, line.find('=')));
    }
    return keys;
}

// Replaces the one line that starts with `prefix`; fails the test if there is not exactly one.
std::string replace_line(std::string_view text, std::string_view prefix, std::string_view with) {
    std::string out;
    int hits = 0;
    for (const auto& line : lines_of(std::string(text))) {
        if (line.rfind(prefix, 0) == 0) {
            ++hits;
            if (!with.empty()) out += std::string(with) + "\n";
        } else {
            out += line + "\n";
        }
    }
    EXPECT_EQ(hits, 1) << prefix;
    return out;
}

void expect_same_fields(const Config& a, const Config& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.hostname, b.hostname);
    EXPECT_EQ(a.rootfs_path, b.rootfs_path);
    EXPECT_EQ(a.disable_ipv6, b.disable_ipv6);
    EXPECT_EQ(a.enable_android_storage, b.enable_android_storage);
    EXPECT_EQ(a.enable_hw_access, b.enable_hw_access);
    EXPECT_EQ(a.enable_gpu_mode, b.enable_gpu_mode);
    EXPECT_EQ(a.enable_termux_x11, b.enable_termux_x11);
    EXPECT_EQ(a.tx11_extra_flags, b.tx11_extra_flags);
    EXPECT_EQ(a.enable_virgl, b.enable_virgl);
    EXPECT_EQ(a.virgl_extra_flags, b.virgl_extra_flags);
    EXPECT_EQ(a.enable_pulseaudio, b.enable_pulseaudio);
    EXPECT_EQ(a.selinux_permissive, b.selinux_permissive);
    EXPECT_EQ(a.allow_userns, b.allow_userns);
    EXPECT_EQ(a.volatile_mode, b.volatile_mode);
    EXPECT_EQ(a.force_cgroupv1, b.force_cgroupv1);
    EXPECT_EQ(a.block_nested_ns, b.block_nested_ns);
    EXPECT_EQ(a.memory_limit, b.memory_limit);
    EXPECT_EQ(a.cpu_quota, b.cpu_quota);
    EXPECT_EQ(a.cpu_period, b.cpu_period);
    EXPECT_EQ(a.pids_limit, b.pids_limit);
    EXPECT_EQ(a.privileged, b.privileged);
    EXPECT_EQ(a.foreground, b.foreground);
    EXPECT_EQ(a.net_mode, b.net_mode);
    EXPECT_EQ(a.gateway_container, b.gateway_container);
    EXPECT_EQ(a.gateway_net, b.gateway_net);
    EXPECT_EQ(a.gateway_bridge, b.gateway_bridge);
    EXPECT_EQ(a.gateway_lan_ifname, b.gateway_lan_ifname);
    EXPECT_EQ(a.upstream_interfaces, b.upstream_interfaces);
    EXPECT_EQ(a.port_forwards, b.port_forwards);
    EXPECT_EQ(a.static_nat_ip, b.static_nat_ip);
    EXPECT_EQ(a.env_file, b.env_file);
    EXPECT_EQ(a.uuid, b.uuid);
    EXPECT_EQ(a.custom_init, b.custom_init);
    EXPECT_EQ(a.dns_servers, b.dns_servers);
    EXPECT_EQ(a.bind_mounts, b.bind_mounts);
    EXPECT_EQ(a.run_at_boot, b.run_at_boot);
    EXPECT_EQ(a.run_at_boot_priority, b.run_at_boot_priority);
}

// Every field set to a non-default value; NAT mode.
Config full_nat_config() {
    Config c;
    c.name = "my box";
    c.hostname = "box";
    c.rootfs_path = "/srv/box/rootfs";
    c.disable_ipv6 = true;
    c.enable_android_storage = true;
    c.enable_hw_access = true;
    c.enable_gpu_mode = true;
    c.enable_termux_x11 = true;
    c.tx11_extra_flags = "-listen tcp -dpi 120";
    c.enable_virgl = true;
    c.virgl_extra_flags = "--use-gles";
    c.enable_pulseaudio = true;
    c.selinux_permissive = true;
    c.allow_userns = true;
    c.volatile_mode = true;
    c.force_cgroupv1 = true;
    c.block_nested_ns = true;
    c.memory_limit = 512ull << 20;
    c.cpu_quota = 150000;
    c.cpu_period = 100000;
    c.pids_limit = 4096;
    c.privileged = "nomask,noseccomp";
    c.foreground = true;
    c.net_mode = NetMode::nat;
    c.upstream_interfaces = {"wlan0", "rmnet*"};
    c.port_forwards = {"22:22/tcp", "1000-2000:3000-4000/udp"};
    c.static_nat_ip = "172.28.3.4";
    c.env_file = "/srv/box/.env";
    c.uuid = "fedcba9876543210fedcba9876543210";
    c.custom_init = "/lib/systemd/systemd";
    c.dns_servers = {"9.9.9.9", "2620:fe::fe"};
    c.bind_mounts = {{"/home/u", "/home/u", false}, {"/srv/data", "/mnt/data", true}};
    return c;
}

// ---------------------------------------------------------------------------------------------
// Parsing what upstream wrote
// ---------------------------------------------------------------------------------------------

TEST(ConfigParse, UpstreamFileValues) {
    Config c = parse_config(kUpstreamFile, "/x/container.config");
    EXPECT_EQ(c.name, "debian");
    EXPECT_EQ(c.hostname, "debian");
    EXPECT_EQ(c.rootfs_path, "/data/local/Droidspaces/Containers/debian/rootfs.img");
    EXPECT_FALSE(c.disable_ipv6);
    EXPECT_FALSE(c.enable_android_storage);
    EXPECT_FALSE(c.enable_termux_x11);
    EXPECT_TRUE(c.enable_hw_access);
    EXPECT_FALSE(c.enable_gpu_mode);
    EXPECT_FALSE(c.selinux_permissive);
    EXPECT_FALSE(c.allow_userns);
    EXPECT_FALSE(c.volatile_mode);
    EXPECT_FALSE(c.force_cgroupv1);
    EXPECT_TRUE(c.block_nested_ns);
    EXPECT_EQ(c.memory_limit, 536870912u);
    EXPECT_EQ(c.cpu_quota, 150000u);
    EXPECT_EQ(c.cpu_period, 100000u);
    EXPECT_EQ(c.pids_limit, 4096u);
    EXPECT_EQ(c.privileged, "nomask,nocaps");
    EXPECT_FALSE(c.foreground);
    EXPECT_EQ(c.net_mode, NetMode::nat);
    EXPECT_EQ(c.upstream_interfaces, (std::vector<std::string>{"wlan0", "rmnet*"}));
    EXPECT_EQ(c.port_forwards,
              (std::vector<std::string>{"22:22/tcp", "8080:80/tcp", "1000-2000:1000-2000/udp"}));
    EXPECT_EQ(c.static_nat_ip, "172.28.5.9");
    EXPECT_EQ(c.env_file, "/data/local/Droidspaces/Containers/debian/.env");
    EXPECT_EQ(c.uuid, "0123456789abcdef0123456789abcdef");
    EXPECT_EQ(c.custom_init, "");
    EXPECT_EQ(c.dns_servers, (std::vector<std::string>{"1.1.1.1", "2001:4860:4860::8888"}));
    ASSERT_EQ(c.bind_mounts.size(), 2u);
    EXPECT_EQ(c.bind_mounts[0], (BindMount{"/sdcard", "/mnt/sdcard", false}));
    EXPECT_EQ(c.bind_mounts[1], (BindMount{"/data/local/tmp", "/opt/tmp", true}));
    EXPECT_TRUE(c.run_at_boot);
    EXPECT_EQ(c.run_at_boot_priority, 3);
    EXPECT_FALSE(is_known_config_key("use_sparse_image"));
    EXPECT_FALSE(is_known_config_key("pidfile"));
}

TEST(ConfigParse, WhitespaceAndCrlfAreTrimmed) {
    Config c = parse_config("  name =  deb ian  \r\n\tvolatile_mode\t=\tyes\r\n", "f");
    EXPECT_EQ(c.name, "deb ian");
    EXPECT_TRUE(c.volatile_mode);
}

TEST(ConfigParse, BooleanSpellings) {
    Config c = parse_config(
        "disable_ipv6=TRUE\nforeground=on\nvolatile_mode=Yes\n"
        "enable_hw_access=off\n",
        "f");
    EXPECT_TRUE(c.disable_ipv6);
    EXPECT_TRUE(c.foreground);
    EXPECT_TRUE(c.volatile_mode);
    EXPECT_FALSE(c.enable_hw_access);
}

TEST(ConfigParse, NetModes) {
    EXPECT_EQ(parse_config("net_mode=host\n", "f").net_mode, NetMode::host);
    EXPECT_EQ(parse_config("net_mode=none\n", "f").net_mode, NetMode::none);
    EXPECT_EQ(parse_config("net_mode=gateway\n", "f").net_mode, NetMode::gateway);
    EXPECT_EQ(parse_config("net_mode=delegated-gateway\n", "f").net_mode, NetMode::gateway);
    EXPECT_USAGE_ERROR(parse_config("net_mode=bogus\n", "f"), "f:1:", "'bogus'", "nat");
}

TEST(ConfigParse, UpstreamDefaultHostnameIsTheContainerName) {
    // Upstream's start sets hostname = name when none is given and saves it, so every valid
    // container name can appear as a hostname in a file upstream wrote.
    for (std::string name : {"my box", "kali_linux", "Ubuntu 24.04"}) {
        SCOPED_TRACE(name);
        std::string text = "name=" + name + "\nhostname=" + name + "\n";
        Config c;
        ASSERT_NO_THROW(c = parse_config(text, "f"));
        EXPECT_EQ(c.hostname, name);
        EXPECT_EQ(serialize_config(c).substr(0, text.size()), text);
    }
}

TEST(ConfigParse, DuplicateKeysLastWinsOneLineWritten) {
    std::string text = "name=a\nhostname=h1\n# note\nhostname=h2\nvolatile_mode=1\n";
    Config c = parse_config(text, "f");
    EXPECT_EQ(c.hostname, "h2");
    std::string out = serialize_config(c);
    EXPECT_EQ(out,
              "name=a\nhostname=h2\n# note\nvolatile_mode=1\n"
              "disable_ipv6=0\nenable_hw_access=0\nenable_gpu_mode=0\n"
              "selinux_permissive=0\nallow_userns=0\nforce_cgroupv1=0\n"
              "block_nested_ns=0\nforeground=0\nnet_mode=host\n");
}

TEST(ConfigParse, DuplicateBindMountsKeyReplacesNotAppends) {
    Config c = parse_config("bind_mounts=/a:/a\nbind_mounts=/b:/b\n", "f");
    ASSERT_EQ(c.bind_mounts.size(), 1u);
    EXPECT_EQ(c.bind_mounts[0].src, "/b");
}

TEST(ConfigParse, MalformedLineNamesFileLineAndText) {
    EXPECT_USAGE_ERROR(parse_config("name=a\n# c\ngarbage\n", "/etc/box.config"),
                       "/etc/box.config:3:", "'garbage'", "key=value");
    EXPECT_USAGE_ERROR(parse_config("=value\n", "f"), "f:1:", "'=value'", "key=value");
}

TEST(ConfigParse, BadBoolNamesKeyAndValue) {
    EXPECT_USAGE_ERROR(parse_config("name=a\nvolatile_mode=maybe\n", "c.conf"),
                       "c.conf:2:", "volatile_mode", "'maybe'");
}

TEST(ConfigParse, BadValuesNameKeyAndValue) {
    EXPECT_USAGE_ERROR(parse_config("name=../x\n", "f"), "f:1:", "'../x'", "container name");
    EXPECT_USAGE_ERROR(parse_config("rootfs_path=rel/dir\n", "f"), "'rel/dir'", "absolute");
    EXPECT_USAGE_ERROR(parse_config("memory_limit=0\n", "f"), "memory_limit", "'0'");
    EXPECT_USAGE_ERROR(parse_config("pids_limit=lots\n", "f"), "pids_limit", "'lots'");
    EXPECT_USAGE_ERROR(parse_config("uuid=xyz\n", "f"), "'xyz'", "hex");
    EXPECT_USAGE_ERROR(parse_config("static_nat_ip=10.0.0.1\n", "f"), "'10.0.0.1'", "172.28");
    EXPECT_USAGE_ERROR(parse_config("custom_init=init\n", "f"), "'init'", "absolute");
    EXPECT_USAGE_ERROR(parse_config("port_forwards=22,0\n", "f"), "'0'", "port");
    EXPECT_USAGE_ERROR(parse_config("bind_mounts=/a:/../b\n", "f"), "'/../b'", "'..'");
    EXPECT_USAGE_ERROR(parse_config("privileged=nomask,godmode\n", "f"), "'godmode'");
    EXPECT_USAGE_ERROR(parse_config("dns_servers=1.1.1.1,dns\n", "f"), "'dns'", "IPv4");
}

TEST(ConfigParse, TooManyBindsInAFile) {
    std::string binds;
    for (int i = 1; i <= 17; ++i)
        binds +=
            (binds.empty() ? "" : ",") + ("/s" + std::to_string(i) + ":/d" + std::to_string(i));
    EXPECT_USAGE_ERROR(parse_config("bind_mounts=" + binds + "\n", "f"), "f:1:", "16");
}

TEST(ConfigKeys, ValuesCannotInjectLines) {
    // A value with a newline would come back as a separate key=value line on the next load.
    for (std::string key : {"rootfs_path", "tx11_extra_flags", "virgl_extra_flags", "env_file",
                            "hostname", "name", "custom_init"}) {
        SCOPED_TRACE(key);
        Config c;
        EXPECT_USAGE_ERROR(set_config_key(c, key, "/x\nprivileged=full"), key);
        EXPECT_EQ(parse_config(serialize_config(c), "f").privileged, "");
    }
}

TEST(ConfigKeys, UnknownKeyIsNotSet) {
    Config c;
    EXPECT_FALSE(set_config_key(c, "use_sparse_image", "1"));
    EXPECT_TRUE(set_config_key(c, "volatile_mode", "1"));
    EXPECT_TRUE(c.volatile_mode);
    EXPECT_TRUE(is_known_config_key("bind_mounts"));
    EXPECT_FALSE(is_known_config_key("Bind_Mounts"));
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

TEST(ConfigSerialize, UpstreamFileRoundTripsByteForByte) {
    Config c = parse_config(kUpstreamFile, "f");
    EXPECT_EQ(serialize_config(c), kUpstreamFile);
}

TEST(ConfigSerialize, UpstreamLinuxFileRoundTrips) {
    // Upstream on Linux does not write the Android-only switches.
    std::string text(kUpstreamFile);
    text = replace_line(text, "enable_android_storage=", "");
    text = replace_line(text, "enable_termux_x11=", "");
    EXPECT_EQ(serialize_config(parse_config(text, "f")), text);
}

TEST(ConfigSerialize, AndroidSwitchesKeepTheirLinesWhenOn) {
    std::string text(kUpstreamFile);
    text = replace_line(text, "enable_termux_x11=", "enable_termux_x11=1");
    Config c = parse_config(text, "f");
    EXPECT_TRUE(c.enable_termux_x11);
    EXPECT_EQ(serialize_config(c), text);
    c.enable_termux_x11 = false;
    EXPECT_EQ(serialize_config(c), kUpstreamFile);
}

TEST(ConfigSerialize, ChangingOneValueRewritesOnlyThatLine) {
    Config c = parse_config(kUpstreamFile, "f");
    c.memory_limit = 1ull << 30;
    EXPECT_EQ(serialize_config(c),
              replace_line(kUpstreamFile, "memory_limit=", "memory_limit=1073741824"));

    c = parse_config(kUpstreamFile, "f");
    c.volatile_mode = true;
    EXPECT_EQ(serialize_config(c),
              replace_line(kUpstreamFile, "volatile_mode=", "volatile_mode=1"));

    c = parse_config(kUpstreamFile, "f");
    c.net_mode = NetMode::none;  // NAT-only keys go with it
    std::string expected = replace_line(kUpstreamFile, "net_mode=", "net_mode=none");
    expected = replace_line(expected, "upstream_interfaces=", "");
    expected = replace_line(expected, "port_forwards=", "");
    expected = replace_line(expected, "static_nat_ip=", "");
    EXPECT_EQ(serialize_config(c), expected);
}

TEST(ConfigSerialize, CommentsUnknownKeysAndOrderAreKept) {
    std::string text =
        "# my notes\n"
        "volatile_mode=0\n"
        "\n"
        "  # indented comment\n"
        "custom_key = some value \n"
        "name=box\n"
        "run_at_boot=1\n";
    Config c = parse_config(text, "f");
    c.volatile_mode = true;
    c.name = "other";
    std::string out = serialize_config(c);
    EXPECT_EQ(out.substr(0, out.find("run_at_boot=1\n") + 14),
              "# my notes\n"
              "volatile_mode=1\n"
              "\n"
              "  # indented comment\n"
              "custom_key = some value \n"
              "name=other\n"
              "run_at_boot=1\n");
}

// Boot autostart keys, as upstream's app writes them: run_at_boot=1 only when on (a line already
// there keeps its place and says 0), run_at_boot_priority=N whenever one is set (0 included).
TEST(ConfigSerialize, RunAtBootKeysAreWrittenAsTheAppWritesThem) {
    Config c;
    c.name = "box";
    std::string out = serialize_config(c);
    EXPECT_EQ(out.find("run_at_boot"), std::string::npos) << out;
    c.run_at_boot = true;
    c.run_at_boot_priority = 0;
    out = serialize_config(c);
    EXPECT_NE(out.find("\nrun_at_boot=1\nrun_at_boot_priority=0\n"), std::string::npos) << out;
    Config back = parse_config(out, "f");
    EXPECT_TRUE(back.run_at_boot);
    EXPECT_EQ(back.run_at_boot_priority, 0);
    back.run_at_boot = false;
    back.run_at_boot_priority = -1;
    out = serialize_config(back);
    EXPECT_NE(out.find("\nrun_at_boot=0\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("run_at_boot_priority"), std::string::npos) << out;
    EXPECT_USAGE_ERROR(parse_config("run_at_boot_priority=-1\n", "f"), "run_at_boot_priority");
    EXPECT_USAGE_ERROR(parse_config("run_at_boot_priority=x\n", "f"), "run_at_boot_priority");
    EXPECT_USAGE_ERROR(parse_config("run_at_boot=maybe\n", "f"), "run_at_boot");
}

TEST(ConfigSerialize, UnsettingAKeyRemovesItsLine) {
    Config c = parse_config(kUpstreamFile, "f");
    c.hostname.clear();
    EXPECT_EQ(serialize_config(c), replace_line(kUpstreamFile, "hostname=", ""));

    c = parse_config(kUpstreamFile, "f");
    c.bind_mounts.clear();
    c.pids_limit = 0;
    std::string expected = replace_line(kUpstreamFile, "bind_mounts=", "");
    expected = replace_line(expected, "pids_limit=", "");
    EXPECT_EQ(serialize_config(c), expected);

    c = parse_config(kUpstreamFile, "f");
    c.privileged.clear();
    EXPECT_EQ(serialize_config(c), replace_line(kUpstreamFile, "privileged=", ""));
}

TEST(ConfigSerialize, SettingANewKeyAppendsIt) {
    Config c = parse_config(kUpstreamFile, "f");
    c.custom_init = "/sbin/openrc-init";
    EXPECT_EQ(serialize_config(c), std::string(kUpstreamFile) + "custom_init=/sbin/openrc-init\n");
}

TEST(ConfigSerialize, ValuesAreWrittenCanonically) {
    Config c = parse_config(
        "net_mode=nat\nport_forwards=80, 53/udp\nbind_mounts=/z:/z,/a:/a:ro\n"
        "dns_servers=1.1.1.1 8.8.8.8\nprivileged=nocaps,nomask\n",
        "f");
    std::string out = serialize_config(c);
    EXPECT_NE(out.find("port_forwards=80:80/tcp,53:53/udp\n"), std::string::npos) << out;
    EXPECT_NE(out.find("bind_mounts=/a:/a:ro,/z:/z\n"), std::string::npos) << out;
    EXPECT_NE(out.find("dns_servers=1.1.1.1,8.8.8.8\n"), std::string::npos) << out;
    EXPECT_NE(out.find("privileged=nomask,nocaps\n"), std::string::npos) << out;
    // And the canonical text is a fixed point.
    EXPECT_EQ(serialize_config(parse_config(out, "f")), out);
}

TEST(ConfigSerialize, FreshConfigHeaderAndUpstreamOrder) {
    Config c = full_nat_config();
    std::string out = serialize_config(c);
    auto lines = lines_of(out);
    ASSERT_GE(lines.size(), 4u);
    EXPECT_EQ(lines[0], "# Droidspaces Container Configuration");
    EXPECT_EQ(lines[1].rfind("# ", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2], "");
    EXPECT_EQ(keys_of(out), (std::vector<std::string>{"name",
                                                      "hostname",
                                                      "rootfs_path",
                                                      "disable_ipv6",
                                                      "enable_android_storage",
                                                      "enable_termux_x11",
                                                      "tx11_extra_flags",
                                                      "enable_virgl",
                                                      "virgl_extra_flags",
                                                      "enable_pulseaudio",
                                                      "enable_hw_access",
                                                      "enable_gpu_mode",
                                                      "selinux_permissive",
                                                      "allow_userns",
                                                      "volatile_mode",
                                                      "force_cgroupv1",
                                                      "block_nested_ns",
                                                      "memory_limit",
                                                      "cpu_quota",
                                                      "cpu_period",
                                                      "pids_limit",
                                                      "privileged",
                                                      "foreground",
                                                      "net_mode",
                                                      "upstream_interfaces",
                                                      "port_forwards",
                                                      "static_nat_ip",
                                                      "env_file",
                                                      "uuid",
                                                      "custom_init",
                                                      "dns_servers",
                                                      "bind_mounts"}));
}

TEST(ConfigSerialize, FreshDefaultConfig) {
    Config c;
    c.name = "debian";
    c.rootfs_path = "/srv/debian";
    std::string out = serialize_config(c);
    auto header_end = out.find("\n\n");
    ASSERT_NE(header_end, std::string::npos);
    EXPECT_EQ(out.substr(header_end + 2),
              "name=debian\n"
              "rootfs_path=/srv/debian\n"
              "disable_ipv6=0\n"
              "enable_hw_access=0\n"
              "enable_gpu_mode=0\n"
              "selinux_permissive=0\n"
              "allow_userns=0\n"
              "volatile_mode=0\n"
              "force_cgroupv1=0\n"
              "block_nested_ns=0\n"
              "foreground=0\n"
              "net_mode=host\n");
}

TEST(ConfigSerialize, GatewayKeysOnlyInGatewayMode) {
    Config c;
    c.name = "client";
    c.net_mode = NetMode::gateway;
    c.gateway_container = "router";
    c.gateway_net = "lan";
    c.gateway_bridge = "ds-lan";
    c.gateway_lan_ifname = "eth1";
    c.static_nat_ip = "172.28.1.1";
    std::string out = serialize_config(c);
    EXPECT_NE(out.find("net_mode=gateway\ngateway_container=router\ngateway_net=lan\n"
                       "gateway_bridge=ds-lan\ngateway_lan_ifname=eth1\n"),
              std::string::npos)
        << out;
    EXPECT_EQ(out.find("static_nat_ip"), std::string::npos) << out;
    c.net_mode = NetMode::host;
    EXPECT_EQ(serialize_config(c).find("gateway"), std::string::npos);
}

TEST(ConfigSerialize, FreshConfigParsesBackEqual) {
    Config nat = full_nat_config();
    expect_same_fields(parse_config(serialize_config(nat), "f"), nat);

    Config gateway = full_nat_config();
    gateway.net_mode = NetMode::gateway;
    gateway.upstream_interfaces.clear();
    gateway.port_forwards.clear();
    gateway.static_nat_ip.clear();
    gateway.gateway_container = "router";
    gateway.gateway_net = "lan2";
    gateway.gateway_bridge = "ds-lan2";
    gateway.gateway_lan_ifname = "eth2";
    gateway.privileged = "full";
    expect_same_fields(parse_config(serialize_config(gateway), "f"), gateway);

    Config defaults;
    expect_same_fields(parse_config(serialize_config(defaults), "f"), defaults);
}

// ---------------------------------------------------------------------------------------------
// --reset
// ---------------------------------------------------------------------------------------------

TEST(ConfigReset, KeepsIdentityAndUnknownLines) {
    Config c = parse_config(kUpstreamFile, "f");
    c.rootfs_is_image = true;
    c.custom_init = "/sbin/openrc-init";
    c.tx11_extra_flags = "-x";
    reset_config(c);

    EXPECT_EQ(c.name, "debian");
    EXPECT_EQ(c.rootfs_path, "/data/local/Droidspaces/Containers/debian/rootfs.img");
    EXPECT_TRUE(c.rootfs_is_image);
    EXPECT_EQ(c.uuid, "0123456789abcdef0123456789abcdef");
    EXPECT_TRUE(c.block_nested_ns);

    Config defaults;
    defaults.name = c.name;
    defaults.rootfs_path = c.rootfs_path;
    defaults.uuid = c.uuid;
    defaults.block_nested_ns = true;
    defaults.run_at_boot = true;  // boot autostart survives a reset
    defaults.run_at_boot_priority = 3;
    expect_same_fields(c, defaults);

    std::string out = serialize_config(c);
    for (std::string kept :
         {"# Android App Configuration\n", "run_at_boot=1\n", "run_at_boot_priority=3\n",
          "use_sparse_image=1\n", "sparse_image_size_gb=8\n", "pidfile=/x\n", "block_nested_ns=1\n",
          "uuid=0123456789abcdef0123456789abcdef\n", "enable_hw_access=0\n", "net_mode=host\n"})
        EXPECT_NE(out.find(kept), std::string::npos) << kept << "\n" << out;
    for (std::string gone : {"hostname=", "memory_limit=", "cpu_quota=", "pids_limit=",
                             "privileged=", "port_forwards=", "static_nat_ip=", "env_file=",
                             "dns_servers=", "bind_mounts=", "custom_init="})
        EXPECT_EQ(out.find(gone), std::string::npos) << gone << "\n" << out;
}

// Found by fuzzing (fuzz_options): the file trims what follows '=', so a value with a leading or
// trailing space set from the command line ("-r '/srv/box '") was saved and then loaded back as
// another value ("/srv/box"). Such values are rejected instead.
TEST(ConfigKeys, ValuesThatTheFileCannotKeepAreRejected) {
    Config c;
    EXPECT_USAGE_ERROR(set_config_key(c, "rootfs_path", "/srv/box "), "'/srv/box '", "rootfs_path",
                       "space");
    EXPECT_USAGE_ERROR(set_config_key(c, "env_file", " /srv/env"), "' /srv/env'", "space");
    EXPECT_USAGE_ERROR(set_config_key(c, "hostname", "my box "), "'my box '", "space");
    EXPECT_EQ(c.rootfs_path, "");
    EXPECT_TRUE(set_config_key(c, "rootfs_path", "/srv/my box"));  // inner spaces are kept
    EXPECT_EQ(parse_config(serialize_config(c), "saved").rootfs_path, "/srv/my box");
}

// Found by fuzzing (fuzz_validate): error lines quoted raw values, so a newline in a value split
// the one-line error in two (and an escape sequence reached the terminal).
TEST(ConfigKeys, ErrorsShowControlCharactersEscaped) {
    EXPECT_USAGE_ERROR(parse_net_mode("nat\nnone"), "'nat\\x0anone'", "network mode");
    EXPECT_USAGE_ERROR(parse_config("net\x1b[2J\n", "f"), "'net\\x1b[2J'", "f:1", "key=value");
    Config c;
    EXPECT_USAGE_ERROR(set_config_key(c, "rootfs_path", "x\x1b"), "'x\\x1b'", "control");
}

}  // namespace
}  // namespace ds
