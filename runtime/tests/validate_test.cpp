// Unit tests for core/validate: every validator accepts what upstream accepts, rejects the rest,
// and every rejection is one line that names the offending value and the rule it broke.
#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace {

// Checks a usage error's message: one line, containing every needle.
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

// ---------------------------------------------------------------------------------------------
// Container names
// ---------------------------------------------------------------------------------------------

TEST(ContainerName, AcceptsUpstreamCharset) {
    EXPECT_NO_THROW(check_container_name("debian"));
    EXPECT_NO_THROW(check_container_name("my box"));
    EXPECT_NO_THROW(check_container_name("a.b_c-d"));
    EXPECT_NO_THROW(check_container_name("Ubuntu 24.04"));
    EXPECT_NO_THROW(check_container_name("x"));
    EXPECT_NO_THROW(check_container_name("a..."));
    EXPECT_NO_THROW(check_container_name(std::string(64, 'a')));
}

TEST(ContainerName, RejectsEmpty) {
    EXPECT_USAGE_ERROR(check_container_name(""), "''", "empty");
}

TEST(ContainerName, RejectsDotAndDotDot) {
    EXPECT_USAGE_ERROR(check_container_name("."), "'.'", "reserved");
    EXPECT_USAGE_ERROR(check_container_name(".."), "'..'", "reserved");
}

TEST(ContainerName, RejectsSlashes) {
    EXPECT_USAGE_ERROR(check_container_name("../x"), "'../x'", "letters");
    EXPECT_USAGE_ERROR(check_container_name("a/b"), "'a/b'", "letters");
    EXPECT_USAGE_ERROR(check_container_name("/"), "'/'", "letters");
}

TEST(ContainerName, RejectsLeadingDot) {
    // Containers/.install-<name>.XXXXXX is install's staging area: no container may own such a
    // directory (install of "keep" would remove ".install-keep.abcdef" as its own leftover).
    EXPECT_USAGE_ERROR(check_container_name(".install-keep.abcdef"), "'.install-keep.abcdef'",
                       "must not start with '.'");
    EXPECT_USAGE_ERROR(check_container_name("..."), "'...'", "must not start with '.'");
    EXPECT_USAGE_ERROR(check_container_name(".hidden"), "'.hidden'", "must not start with '.'");
}

TEST(ContainerName, RejectsTooLong) {
    std::string name(65, 'b');
    EXPECT_USAGE_ERROR(check_container_name(name), name.substr(0, 40), "64");
    std::string longer(255, 'c');
    EXPECT_USAGE_ERROR(check_container_name(longer), longer.substr(0, 40), "64");
}

// Every file name derived from a valid name fits in NAME_MAX (255): the longest is install's
// staging directory ".install-<name>.XXXXXX", then the atomic-write temp "<name>.state.XXXXXX".
TEST(ContainerName, DerivedFileNamesFit) {
    std::string name(kMaxNameLength, 'n');
    ASSERT_NO_THROW(check_container_name(name));
    for (std::string derived : {".install-" + name + ".XXXXXX", name + ".state.XXXXXX",
                                name + ".config.XXXXXX", "ds-monitor:" + name})
        EXPECT_LE(derived.size(), 255u) << derived;
    // The default hostname is the name: sethostname takes at most 64 bytes.
    EXPECT_LE(name.size(), 64u);
}

TEST(ContainerName, TooLongMessageStaysShort) {
    try {
        check_container_name(std::string(300, 'c'));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
    }
}

TEST(ContainerName, RejectsControlCharactersAndShowsThemEscaped) {
    EXPECT_USAGE_ERROR(check_container_name("\x01"), "\\x01", "letters");
    EXPECT_USAGE_ERROR(check_container_name("a\nb"), "'a\\x0ab'", "letters");
    EXPECT_USAGE_ERROR(check_container_name("a\tb"), "'a\\x09b'", "letters");
    EXPECT_USAGE_ERROR(check_container_name("a\x7f"), "\\x7f", "letters");
}

TEST(ContainerName, RejectsOtherPunctuation) {
    for (std::string bad : {"a:b", "a,b", "a$b", "a*b", "a\\b", "ä"})
        EXPECT_USAGE_ERROR(check_container_name(bad), "invalid container name", "letters");
}

// "my box" and "my-box" share one sanitised form: they are one identity on disk, and the
// runtime refuses to store the second spelling (see container::check_name_available).
TEST(SanitizeName, CollidingSpellingsShareOneForm) {
    EXPECT_EQ(sanitize_name("my box"), sanitize_name("my-box"));
    EXPECT_NE(sanitize_name("my box"), sanitize_name("my_box"));
}

TEST(SanitizeName, SpacesBecomeDashes) {
    EXPECT_EQ(sanitize_name("my box"), "my-box");
    EXPECT_EQ(sanitize_name("a  b c"), "a--b-c");
    EXPECT_EQ(sanitize_name("debian"), "debian");
    EXPECT_EQ(sanitize_name("a.b_c-d"), "a.b_c-d");
    EXPECT_EQ(sanitize_name(""), "");
}

TEST(SplitList, DropsEmptyItems) {
    EXPECT_EQ(split_list("a,b,c"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_list(",a,,b,"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(split_list(""), std::vector<std::string>{});
    EXPECT_EQ(split_list("a b,c", ", "), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_list("abc"), std::vector<std::string>{"abc"});
}

// ---------------------------------------------------------------------------------------------
// Bind mounts
// ---------------------------------------------------------------------------------------------

TEST(Bind, SrcDest) {
    EXPECT_EQ(parse_bind("/src:/dest"), (BindMount{"/src", "/dest", false}));
}

TEST(Bind, ReadOnlyAndReadWrite) {
    EXPECT_EQ(parse_bind("/src:/dest:ro"), (BindMount{"/src", "/dest", true}));
    EXPECT_EQ(parse_bind("/src:/dest:rw"), (BindMount{"/src", "/dest", false}));
}

TEST(Bind, BadThirdField) {
    EXPECT_USAGE_ERROR(parse_bind("/src:/dest:rx"), "'/src:/dest:rx'", "ro");
    EXPECT_USAGE_ERROR(parse_bind("/src:/dest:"), "'/src:/dest:'", "ro");
    EXPECT_USAGE_ERROR(parse_bind("/src:/dest:ro:x"), "'/src:/dest:ro:x'", "ro");
}

TEST(Bind, MissingParts) {
    EXPECT_USAGE_ERROR(parse_bind("/src"), "'/src'", "SRC:DEST");
    EXPECT_USAGE_ERROR(parse_bind(":/dest"), "':/dest'", "SRC:DEST");
    EXPECT_USAGE_ERROR(parse_bind("/src:"), "''", "absolute");
}

TEST(Bind, RelativeSource) {
    EXPECT_USAGE_ERROR(parse_bind("src:/dest"), "'src'", "absolute");
    EXPECT_USAGE_ERROR(parse_bind("./src:/dest"), "'./src'", "absolute");
}

TEST(Bind, SourceControlCharacters) {
    EXPECT_USAGE_ERROR(parse_bind("/s\nrc:/dest"), "\\x0a", "control");
}

TEST(Bind, DestinationMustBeAbsolute) {
    EXPECT_USAGE_ERROR(parse_bind("/src:dest"), "'dest'", "absolute");
    EXPECT_USAGE_ERROR(parse_bind("/src:./dest"), "'./dest'", "absolute");
    EXPECT_USAGE_ERROR(check_bind_dest(""), "''", "absolute");
}

TEST(Bind, DestinationMustNotBeRoot) {
    EXPECT_USAGE_ERROR(parse_bind("/src:/"), "'/'", "must not be '/'");
    EXPECT_USAGE_ERROR(parse_bind("/src://"), "'//'", "must not be '/'");
}

TEST(Bind, DestinationDotComponents) {
    EXPECT_USAGE_ERROR(parse_bind("/src:/a/../etc"), "'/a/../etc'", "'..'");
    EXPECT_USAGE_ERROR(parse_bind("/src:/.."), "'/..'", "'..'");
    EXPECT_USAGE_ERROR(parse_bind("/src:/a/.."), "'/a/..'", "'..'");
    EXPECT_USAGE_ERROR(parse_bind("/src:/a/./b"), "'/a/./b'", "'.'");
    EXPECT_USAGE_ERROR(parse_bind("/src:/a/."), "'/a/.'", "'.'");
    // Dots inside a component are fine.
    EXPECT_EQ(parse_bind("/src:/a/..b/.c/d.").dest, "/a/..b/.c/d.");
}

TEST(Bind, DestinationControlCharacters) {
    EXPECT_USAGE_ERROR(parse_bind("/src:/a\tb"), "'/a\\x09b'", "control");
    EXPECT_USAGE_ERROR(parse_bind("/src:/a\nb"), "'/a\\x0ab'", "control");
    EXPECT_USAGE_ERROR(check_bind_dest("/a\x7f"), "\\x7f", "control");
}

TEST(Bind, DestinationTooLong) {
    std::string dest = "/" + std::string(4095, 'a');
    EXPECT_USAGE_ERROR(check_bind_dest(dest), "invalid bind destination", "4095");
    EXPECT_NO_THROW(check_bind_dest("/" + std::string(4094, 'a')));
}

TEST(Bind, TrailingSlashesOnDestinationAreRemoved) {
    EXPECT_EQ(parse_bind("/src:/dest/").dest, "/dest");
    EXPECT_EQ(parse_bind("/src:/dest///").dest, "/dest");
    EXPECT_EQ(parse_bind("/src:/a/b/:ro"), (BindMount{"/src", "/a/b", true}));
}

TEST(Bind, FormatRoundTrips) {
    EXPECT_EQ(format_bind({"/s", "/d", false}), "/s:/d");
    EXPECT_EQ(format_bind({"/s", "/d", true}), "/s:/d:ro");
    for (std::string spec : {"/s:/d", "/s:/d:ro", "/data/x y:/opt/x y"})
        EXPECT_EQ(format_bind(parse_bind(spec)), spec);
}

TEST(AddBinds, CommaList) {
    std::vector<BindMount> binds;
    add_binds(binds, "/a:/b,/c:/d:ro,,/e:/f");
    ASSERT_EQ(binds.size(), 3u);
    EXPECT_EQ(binds[0], (BindMount{"/a", "/b", false}));
    EXPECT_EQ(binds[1], (BindMount{"/c", "/d", true}));
    EXPECT_EQ(binds[2], (BindMount{"/e", "/f", false}));
    add_binds(binds, "/g:/h");
    EXPECT_EQ(binds.size(), 4u);
}

TEST(AddBinds, DuplicatesAreSkipped) {
    std::vector<BindMount> binds;
    add_binds(binds, "/a:/b,/a:/b");
    add_binds(binds, "/a:/b");
    add_binds(binds, "/a:/b/");  // same after normalisation
    EXPECT_EQ(binds.size(), 1u);
}

TEST(AddBinds, SameSourceAndDestinationIsADuplicateWhateverTheMode) {
    // Upstream: "Duplicate (same src+dest) skipped"; the first entry wins.
    std::vector<BindMount> binds;
    add_binds(binds, "/a:/b,/a:/b:ro");
    ASSERT_EQ(binds.size(), 1u);
    EXPECT_FALSE(binds[0].read_only);
}

TEST(AddBinds, SeventeenthBindFails) {
    std::vector<BindMount> binds;
    std::string specs;
    for (int i = 1; i <= 16; ++i)
        specs +=
            (specs.empty() ? "" : ",") + ("/s" + std::to_string(i) + ":/d" + std::to_string(i));
    add_binds(binds, specs);
    ASSERT_EQ(binds.size(), 16u);
    add_binds(binds, "/s3:/d3");  // a duplicate does not count
    EXPECT_EQ(binds.size(), 16u);
    EXPECT_USAGE_ERROR(add_binds(binds, "/s17:/d17"), "'/s17:/d17'", "16");
    EXPECT_EQ(binds.size(), 16u);
}

TEST(AddBinds, InvalidEntryFailsTheList) {
    std::vector<BindMount> binds;
    EXPECT_USAGE_ERROR(add_binds(binds, "/a:/b,/c:/../d"), "'/../d'", "'..'");
}

// ---------------------------------------------------------------------------------------------
// Booleans, integers, sizes
// ---------------------------------------------------------------------------------------------

TEST(ParseBool, AcceptedSpellings) {
    for (std::string t : {"1", "true", "yes", "on", "TRUE", "True", "YES", "On", "oN"})
        EXPECT_TRUE(parse_bool("k", t)) << t;
    for (std::string f : {"0", "false", "no", "off", "FALSE", "False", "NO", "Off"})
        EXPECT_FALSE(parse_bool("k", f)) << f;
}

TEST(ParseBool, RejectsOthersNamingKeyAndValue) {
    EXPECT_USAGE_ERROR(parse_bool("volatile_mode", "maybe"), "'maybe'", "volatile_mode", "true");
    EXPECT_USAGE_ERROR(parse_bool("foreground", ""), "''", "foreground", "true");
    EXPECT_USAGE_ERROR(parse_bool("foreground", "2"), "'2'", "foreground");
    EXPECT_USAGE_ERROR(parse_bool("foreground", " 1"), "' 1'", "foreground");
}

TEST(ParsePositive, Range) {
    EXPECT_EQ(parse_positive("pids_limit", "1"), 1u);
    EXPECT_EQ(parse_positive("pids_limit", "4194304", 1, 4194304), 4194304u);
    EXPECT_USAGE_ERROR(parse_positive("pids_limit", "0"), "'0'", "pids_limit", "integer");
    EXPECT_USAGE_ERROR(parse_positive("pids_limit", "4194305", 1, 4194304), "'4194305'", "4194304");
    EXPECT_USAGE_ERROR(parse_positive("pids_limit", "-5"), "'-5'", "integer");
    EXPECT_USAGE_ERROR(parse_positive("pids_limit", "12a"), "'12a'", "integer");
    EXPECT_USAGE_ERROR(parse_positive("pids_limit", ""), "''", "integer");
    EXPECT_USAGE_ERROR(parse_positive("x", "99999999999999999999999"), "99999999999999999999999");
}

TEST(MemorySize, Accepted) {
    EXPECT_EQ(parse_memory_size("512M"), 512ull << 20);
    EXPECT_EQ(parse_memory_size("512m"), 512ull << 20);
    EXPECT_EQ(parse_memory_size("1.5G"), 3ull << 29);
    EXPECT_EQ(parse_memory_size("4M"), 4ull << 20);
    EXPECT_EQ(parse_memory_size("4096K"), 4ull << 20);
    EXPECT_EQ(parse_memory_size("2G"), 2ull << 30);
    EXPECT_EQ(parse_memory_size("1T"), 1ull << 40);
    EXPECT_EQ(parse_memory_size("4194304"), 4ull << 20);  // bytes
}

TEST(MemorySize, Rejected) {
    for (std::string bad : {"1M", "0", "-1", "abc", "12X", "", "M", "3.99M", "4194303", "1e400",
                            "nan", "inf", "512MB", " 512M"}) {
        SCOPED_TRACE(bad);
        EXPECT_USAGE_ERROR(parse_memory_size(bad), "'" + bad + "'", "4M");
    }
}

// ---------------------------------------------------------------------------------------------
// DNS, hostname, init, uuid, NAT IP, interfaces
// ---------------------------------------------------------------------------------------------

TEST(Dns, Addresses) {
    using V = std::vector<std::string>;
    EXPECT_EQ(parse_dns_servers("1.1.1.1"), V{"1.1.1.1"});
    EXPECT_EQ(parse_dns_servers("2001:4860:4860::8888"), V{"2001:4860:4860::8888"});
    EXPECT_EQ(parse_dns_servers("1.1.1.1,8.8.8.8"), (V{"1.1.1.1", "8.8.8.8"}));
    EXPECT_EQ(parse_dns_servers("1.1.1.1 8.8.8.8"), (V{"1.1.1.1", "8.8.8.8"}));
    EXPECT_EQ(parse_dns_servers("1.1.1.1, ::1"), (V{"1.1.1.1", "::1"}));
    EXPECT_EQ(parse_dns_servers(""), V{});
}

TEST(Dns, BadAddressIsNamed) {
    EXPECT_USAGE_ERROR(parse_dns_servers("1.1.1.1,dns.google"), "'dns.google'", "IPv4");
    EXPECT_USAGE_ERROR(parse_dns_servers("1.1.1.999"), "'1.1.1.999'", "IPv4");
    EXPECT_USAGE_ERROR(parse_dns_servers("8.8.8.8 1.2.3"), "'1.2.3'", "IPv6");
    EXPECT_USAGE_ERROR(parse_dns_servers("1.1.1.1/32"), "'1.1.1.1/32'", "address");
}

TEST(Hostname, Valid) {
    EXPECT_NO_THROW(check_hostname("debian"));
    EXPECT_NO_THROW(check_hostname("my-host"));
    EXPECT_NO_THROW(check_hostname("host.example.org"));
    EXPECT_NO_THROW(check_hostname("A1"));
    EXPECT_NO_THROW(check_hostname(std::string(64, 'h')));
}

TEST(Hostname, Invalid) {
    EXPECT_USAGE_ERROR(check_hostname(""), "invalid hostname ''", "64");
    EXPECT_USAGE_ERROR(check_hostname(std::string(65, 'h')), std::string(65, 'h'), "64");
    EXPECT_USAGE_ERROR(check_hostname("-host"), "'-host'", "'-'");
    EXPECT_USAGE_ERROR(check_hostname("host-"), "'host-'", "'-'");
    EXPECT_USAGE_ERROR(check_hostname("a.-b"), "'a.-b'", "'-'");
    EXPECT_USAGE_ERROR(check_hostname("my host"), "'my host'", "letters");
    EXPECT_USAGE_ERROR(check_hostname("a/b"), "'a/b'", "letters");
    EXPECT_USAGE_ERROR(check_hostname("a\nb"), "'a\\x0ab'", "letters");
}

TEST(InitPath, ValidAndInvalid) {
    EXPECT_NO_THROW(check_init_path("/sbin/init"));
    EXPECT_NO_THROW(check_init_path("/usr/lib/systemd/systemd"));
    EXPECT_USAGE_ERROR(check_init_path("sbin/init"), "'sbin/init'", "absolute");
    EXPECT_USAGE_ERROR(check_init_path(""), "''", "absolute");
    EXPECT_USAGE_ERROR(check_init_path("/sbin/my init"), "'/sbin/my init'", "spaces");
    EXPECT_USAGE_ERROR(check_init_path("/sbin/init\t-x"), "'/sbin/init\\x09-x'", "spaces");
    EXPECT_USAGE_ERROR(check_init_path("/sbin/in\nit"), "\\x0a", "absolute");
}

TEST(Uuid, ValidAndInvalid) {
    EXPECT_NO_THROW(check_uuid("0123456789abcdef0123456789abcdef"));
    EXPECT_USAGE_ERROR(check_uuid("0123456789ABCDEF0123456789abcdef"), "0123456789ABCDEF", "32");
    EXPECT_USAGE_ERROR(check_uuid("0123456789abcdef0123456789abcde"), "0123456789abcde'", "32");
    EXPECT_USAGE_ERROR(check_uuid("0123456789abcdef0123456789abcdef0"), "abcdef0'", "32");
    EXPECT_USAGE_ERROR(check_uuid("0123456789abcdef0123456789abcdeg"), "abcdeg'", "hex");
    EXPECT_USAGE_ERROR(check_uuid("01234567-89ab-cdef-0123-456789abcdef"), "01234567-89ab", "hex");
    EXPECT_USAGE_ERROR(check_uuid(""), "''", "hex");
}

TEST(NatIp, ValidAndInvalid) {
    EXPECT_NO_THROW(check_nat_ip("172.28.1.2"));
    EXPECT_NO_THROW(check_nat_ip("172.28.254.254"));
    EXPECT_NO_THROW(check_nat_ip("172.28.1.1"));
    for (std::string bad : {"172.28.0.5", "172.28.1.0", "172.28.255.1", "172.28.1.255", "10.0.0.1",
                            "172.29.1.2", "172.28.1.2/24", "172.28.1", "172.28.1.2.3",
                            "172.28.1.2.", "172.28..1.2", "172.28.a.2", ""}) {
        SCOPED_TRACE(bad);
        EXPECT_USAGE_ERROR(check_nat_ip(bad), "'" + bad + "'", "172.28.X.Y");
    }
}

TEST(InterfaceName, ValidAndInvalid) {
    EXPECT_NO_THROW(check_interface_name("upstream interface", "wlan0", false));
    EXPECT_NO_THROW(check_interface_name("upstream interface", "rmnet*", true));
    EXPECT_NO_THROW(check_interface_name("x", std::string(15, 'e'), false));
    EXPECT_USAGE_ERROR(check_interface_name("upstream interface", "rmnet*", false), "'rmnet*'",
                       "upstream interface", "interface name");
    EXPECT_USAGE_ERROR(check_interface_name("gateway bridge", std::string(16, 'e'), false),
                       std::string(16, 'e'), "15");
    EXPECT_USAGE_ERROR(check_interface_name("gateway bridge", "", false), "''", "15");
    EXPECT_USAGE_ERROR(check_interface_name("gateway bridge", "br 0", false), "'br 0'");
    EXPECT_USAGE_ERROR(check_interface_name("gateway bridge", "br/0", false), "'br/0'");
}

// ---------------------------------------------------------------------------------------------
// Port forwards
// ---------------------------------------------------------------------------------------------

TEST(PortForward, Normalisation) {
    EXPECT_EQ(normalize_port_forward("80"), "80:80/tcp");
    EXPECT_EQ(normalize_port_forward("8080:80"), "8080:80/tcp");
    EXPECT_EQ(normalize_port_forward("53:53/udp"), "53:53/udp");
    EXPECT_EQ(normalize_port_forward("53/UDP"), "53:53/udp");
    EXPECT_EQ(normalize_port_forward("1000-2000:1000-2000/udp"), "1000-2000:1000-2000/udp");
    EXPECT_EQ(normalize_port_forward("1000-2000"), "1000-2000:1000-2000/tcp");
    EXPECT_EQ(normalize_port_forward("3000-3010:4000-4010"), "3000-3010:4000-4010/tcp");
    EXPECT_EQ(normalize_port_forward("1:65535"), "1:65535/tcp");
    EXPECT_EQ(normalize_port_forward("22-22:22"), "22:22/tcp");
}

TEST(PortForward, WidthMismatch) {
    EXPECT_USAGE_ERROR(normalize_port_forward("1000-2000:1000-2001"), "'1000-2000:1000-2001'",
                       "width mismatch");
    EXPECT_USAGE_ERROR(normalize_port_forward("80:1000-1001"), "'80:1000-1001'", "width mismatch");
}

TEST(PortForward, OutOfRange) {
    EXPECT_USAGE_ERROR(normalize_port_forward("0"), "'0'", "1..65535");
    EXPECT_USAGE_ERROR(normalize_port_forward("70000"), "'70000'", "1..65535");
    EXPECT_USAGE_ERROR(normalize_port_forward("80:65536"), "'80:65536'", "1..65535");
    EXPECT_USAGE_ERROR(normalize_port_forward("2000-1000"), "'2000-1000'", "1..65535");
}

TEST(PortForward, Malformed) {
    for (std::string bad : {"", "http", "80:", ":80", "80:80:80", "-80", "80-", "8o"}) {
        SCOPED_TRACE(bad);
        EXPECT_USAGE_ERROR(normalize_port_forward(bad), "'" + bad + "'", "CONTAINER");
    }
}

TEST(PortForward, BadProtocol) {
    EXPECT_USAGE_ERROR(normalize_port_forward("80/sctp"), "'80/sctp'", "tcp or udp");
    EXPECT_USAGE_ERROR(normalize_port_forward("80/"), "'80/'", "tcp or udp");
    EXPECT_USAGE_ERROR(normalize_port_forward("80:80/tcp/udp"), "'80:80/tcp/udp'", "tcp or udp");
}

// ---------------------------------------------------------------------------------------------
// Privileged tags
// ---------------------------------------------------------------------------------------------

TEST(Privileged, CanonicalOrder) {
    EXPECT_EQ(normalize_privileged("nomask"), "nomask");
    EXPECT_EQ(normalize_privileged("nocaps,nomask"), "nomask,nocaps");
    EXPECT_EQ(normalize_privileged("unfiltered-dev,shared,noseccomp"),
              "noseccomp,shared,unfiltered-dev");
    EXPECT_EQ(normalize_privileged("NOCAPS,NoMask"), "nomask,nocaps");
    EXPECT_EQ(normalize_privileged("nomask,nomask,,"), "nomask");
    EXPECT_EQ(normalize_privileged(""), "");
}

TEST(Privileged, Full) {
    EXPECT_EQ(normalize_privileged("full"), "full");
    EXPECT_EQ(normalize_privileged("FULL"), "full");
    EXPECT_EQ(normalize_privileged("nomask,full"), "full");
    EXPECT_EQ(normalize_privileged("shared,unfiltered-dev,nomask,noseccomp,nocaps"), "full");
}

TEST(Privileged, UnknownTag) {
    EXPECT_USAGE_ERROR(normalize_privileged("nomask,bogus"), "'bogus'", "nocaps", "full");
    EXPECT_USAGE_ERROR(normalize_privileged("no mask"), "'no mask'", "privileged tag");
}

TEST(Privileged, Has) {
    EXPECT_TRUE(privileged_has("nomask,nocaps", "nocaps"));
    EXPECT_FALSE(privileged_has("nomask,nocaps", "shared"));
    EXPECT_FALSE(privileged_has("nomask", "mask"));
    EXPECT_TRUE(privileged_has("full", "unfiltered-dev"));
    EXPECT_FALSE(privileged_has("", "nomask"));
}

// Found by fuzzing (fuzz_validate): bind_mounts is saved with the binds sorted by destination,
// and the file trims its values, so a last bind "/a:/mnt/x " came back as "/a:/mnt/x".
TEST(Bind, DestinationMustNotEndWithASpace) {
    EXPECT_USAGE_ERROR(parse_bind("/src:/mnt/x "), "'/mnt/x '", "space");
    EXPECT_USAGE_ERROR(parse_bind("/src:/mnt/x /:ro"), "'/mnt/x /'", "space");
    EXPECT_EQ(parse_bind("/src:/mnt/my dir").dest, "/mnt/my dir");
    EXPECT_EQ(parse_bind("/src :/mnt/x").src, "/src ");  // inside the list: kept
}

}  // namespace
}  // namespace ds

// A config line drops the spaces around a value: a name that has them could not be stored.
TEST(ContainerName, NoSpaceAtEitherEnd) {
    EXPECT_USAGE_ERROR(ds::check_container_name("box "), "'box '", "start or end with a space");
    EXPECT_USAGE_ERROR(ds::check_container_name(" box"), "' box'", "start or end with a space");
    EXPECT_NO_THROW(ds::check_container_name("my box"));
}
