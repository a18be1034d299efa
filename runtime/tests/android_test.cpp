// container/termux and container/android: the user-given helper flags, the package list, and
// the record of what a container changed on the host.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "container/android.hpp"
#include "container/termux.hpp"
#include "core/error.hpp"

namespace {

using ds::container::termux::find_app;
using ds::container::termux::split_flags;
using Words = std::vector<std::string>;

TEST(TermuxFlags, SplitAtBlanksWithQuotesGrouping) {
    EXPECT_EQ(split_flags("", "--tx11-flags"), Words{});
    EXPECT_EQ(split_flags("  -legacy-drawing\t-dpi 120 ", "--tx11-flags"),
              (Words{"-legacy-drawing", "-dpi", "120"}));
    EXPECT_EQ(split_flags(R"(-title 'my desk' -x "a b"c '')", "--tx11-flags"),
              (Words{"-title", "my desk", "-x", "a bc", ""}));
    // Inside quotes the metacharacters are plain text: no shell ever reads them.
    EXPECT_EQ(split_flags("'$HOME;|'", "--virgl-flags"), Words{"$HOME;|"});
}

TEST(TermuxFlags, ShellMetacharactersAndControlCharactersAreRefused) {
    for (const char* bad : {"-a; reboot", "$(id)", "`id`", "a|b", "a&", "a>b", "a<b", "~root", "a*",
                            "x\\y", "!1", "{a,b}", "#c"}) {
        try {
            split_flags(bad, "--tx11-flags");
            ADD_FAILURE() << bad << " was accepted";
        } catch (const ds::Error& e) {
            EXPECT_NE(std::string(e.what()).find("--tx11-flags '"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("is not allowed"), std::string::npos) << e.what();
        }
    }
    EXPECT_THROW(split_flags("-a\n-b", "--tx11-flags"), ds::Error);
    EXPECT_THROW(split_flags("'a\nb'", "--tx11-flags"), ds::Error);
    EXPECT_THROW(split_flags("'open", "--tx11-flags"), ds::Error);
}

const char* kPackages =
    "com.android.shell 2000 0 /data/user_de/0/com.android.shell platform:privapp 3003\n"
    "com.termux 10123 0 /data/user/0/com.termux default:targetSdkVersion=28 3003,9997,none\n"
    "com.termux.x11 10124 0 /data/user/0/com.termux.x11 default:targetSdkVersion=28 none\n"
    "com.evil 0 0 /data/user/0/com.evil default 3003\n";

TEST(TermuxPackages, FindsTheAppsUidAndGroups) {
    auto termux = find_app(kPackages, "com.termux");
    ASSERT_TRUE(termux);
    EXPECT_EQ(termux->uid, 10123u);
    EXPECT_EQ(termux->gids, (std::vector<gid_t>{3003, 9997}));
    auto x11 = find_app(kPackages, "com.termux.x11");
    ASSERT_TRUE(x11);
    EXPECT_EQ(x11->uid, 10124u);
    EXPECT_TRUE(x11->gids.empty());
    EXPECT_FALSE(find_app(kPackages, "com.termux.api"));
    EXPECT_FALSE(find_app("", "com.termux"));
}

TEST(TermuxPackages, NeverASystemUid) {
    // A helper must never run as root or a system uid, whatever the list says.
    EXPECT_FALSE(find_app(kPackages, "com.android.shell"));
    EXPECT_FALSE(find_app(kPackages, "com.evil"));
    EXPECT_FALSE(find_app("com.termux -1 0 /data default 3003\n", "com.termux"));
    EXPECT_FALSE(find_app("com.termux 99999999999 0 /data default\n", "com.termux"));
}

TEST(TermuxPackages, GroupsAreTheSixthFieldNotTheLast) {
    // Android 10+: "name uid debuggable datadir seinfo gids profileable versionCode ...". The
    // versionCode is the APK author's choice: 1000 (system) must never become a group.
    const char* modern =
        "com.termux 10123 0 /data/user/0/com.termux default:targetSdkVersion=28 3003,9997 0 1000\n"
        "com.termux.x11 10124 0 /data/user/0/com.termux.x11 default none 0 1004\n";
    auto termux = find_app(modern, "com.termux");
    ASSERT_TRUE(termux);
    EXPECT_EQ(termux->gids, (std::vector<gid_t>{3003, 9997}));
    auto x11 = find_app(modern, "com.termux.x11");
    ASSERT_TRUE(x11);
    EXPECT_TRUE(x11->gids.empty());
}

TEST(TermuxPackages, SystemGroupsAreDropped) {
    // Only inet and everybody: system, input, log, graphics or another app's id never.
    auto app = find_app(
        "com.termux 10123 0 /data/user/0/com.termux default 1000,3003,1004,1007,1003,10124,9997\n",
        "com.termux");
    ASSERT_TRUE(app);
    EXPECT_EQ(app->gids, (std::vector<gid_t>{3003, 9997}));
}

TEST(AndroidState, RoundTrips) {
    using namespace ds::container::android;
    HostState state;
    state.boot = "1b9e0c2c-7f0e-4e0b-9d1a-3b1f4a2c5d6e";
    state.changed = (1u << kTuning) | (1u << kSelinux) | (1u << kSuid);
    state.suid_mount = "/data/with space";
    state.helpers[1] = {4242, 987654321};
    state.holders = {{kTuning, "a"}, {kSelinux, "a"}, {kVirgl, "b-c"}};
    HostState back = parse_state(serialize_state(state));
    EXPECT_EQ(back.boot, state.boot);
    EXPECT_EQ(back.changed, state.changed);
    EXPECT_EQ(back.suid_mount, state.suid_mount);
    EXPECT_EQ(back.helpers[0].pid, 0);
    EXPECT_EQ(back.helpers[1].pid, 4242);
    EXPECT_EQ(back.helpers[1].start, 987654321u);
    EXPECT_EQ(back.holders, state.holders);
    EXPECT_TRUE(HostState{}.empty());
    EXPECT_FALSE(back.empty());
}

TEST(AndroidState, ForeignLinesAreIgnored) {
    using namespace ds::container::android;
    HostState s = parse_state("boot x\nholder 99 a\nhelper 7 1 2\nchanged 255\nnonsense\n");
    EXPECT_TRUE(s.holders.empty());
    EXPECT_EQ(s.helpers[0].pid, 0);
    EXPECT_EQ(s.changed, 7u);  // only the known bits
}

}  // namespace
