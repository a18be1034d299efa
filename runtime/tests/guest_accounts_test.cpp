#include "core/guest_accounts.hpp"

#include <gtest/gtest.h>

namespace ds {
namespace {

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/bin/sh\n"
    "# a comment:x:1:1::/:/bin/sh\n"
    "broken line\n"
    "badnum:x:abc:1::/:/bin/sh\n"
    "tester:x:1000:1000:Test User:/home/tester:/bin/bash\n"
    "  spaced:x:1001:1001::/home/spaced:/bin/sh  \n"
    "1002:x:3000:3000::/home/numname:/bin/sh\n"
    "other:x:1002:1002::/home/other:/bin/sh";

TEST(GuestAccountsTest, FindsAUserByNameWithAllFields) {
    auto e = find_passwd_entry(kPasswd, "tester");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->name, "tester");
    EXPECT_EQ(e->uid, 1000u);
    EXPECT_EQ(e->gid, 1000u);
    EXPECT_EQ(e->home, "/home/tester");
    EXPECT_EQ(e->shell, "/bin/bash");
    auto s = find_passwd_entry(kPasswd, "spaced");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->shell, "/bin/sh");
}

TEST(GuestAccountsTest, ANumberIsANameFirstThenAUid) {
    // "1002" is the name of a user (uid 3000) and the uid of "other": the name wins.
    auto by_name = find_passwd_entry(kPasswd, "1002");
    ASSERT_TRUE(by_name);
    EXPECT_EQ(by_name->uid, 3000u);
    auto by_uid = find_passwd_entry(kPasswd, "1000");
    ASSERT_TRUE(by_uid);
    EXPECT_EQ(by_uid->name, "tester");
}

TEST(GuestAccountsTest, MalformedAndUnknownUsersAreNotFound) {
    EXPECT_FALSE(find_passwd_entry(kPasswd, "badnum"));
    EXPECT_FALSE(find_passwd_entry(kPasswd, "broken line"));
    EXPECT_FALSE(find_passwd_entry(kPasswd, "nobody"));
    EXPECT_FALSE(find_passwd_entry(kPasswd, ""));
    EXPECT_FALSE(find_passwd_entry("", "root"));
    EXPECT_FALSE(find_passwd_entry(kPasswd, "# a comment"));
}

TEST(GuestAccountsTest, GroupsArePrimaryFirstThenMemberships) {
    constexpr char group[] =
        "root:x:0:\n"
        "tty:x:5:\n"
        "wheel:x:10:root, tester\n"
        "audio:x:29:tester\n"
        "self:x:1000:tester\n"  // the primary group again: listed once
        "testers:x:1000000:other,tester,x\n"
        "nomatch:x:30:testerx,xtester\n"
        "bad:x:abc:tester\n"
        "short:x:40\n";
    EXPECT_EQ(supplementary_groups(group, "tester", 1000),
              (std::vector<gid_t>{1000, 10, 29, 1000000}));
    EXPECT_EQ(supplementary_groups(group, "nobody", 7), (std::vector<gid_t>{7}));
    EXPECT_EQ(find_group_id(group, "tty"), 5u);
    EXPECT_FALSE(find_group_id(group, "bad"));
    EXPECT_FALSE(find_group_id(group, "missing"));
}

TEST(GuestAccountsTest, EnvironmentFileLinesAreParsedInOrder) {
    constexpr char text[] =
        "# comment\n"
        "A=1\n"
        "export B=\"two words\"\n"
        "C='single'\n"
        "D=\"unbalanced'\n"
        "not a line\n"
        "1BAD=x\n"
        "BAD-KEY=x\n"
        "  E = spaced  \n"
        "F=\n";
    EXPECT_EQ(parse_environment_file(text),
              (std::vector<std::string>{"A=1", "B=two words", "C=single", "D=\"unbalanced'",
                                        "E=spaced", "F="}));
    EXPECT_TRUE(parse_environment_file("").empty());
}

TEST(GuestAccountsTest, TermFallsBackForEmptyAndRecoveryValues) {
    EXPECT_EQ(container_term("vt100"), "vt100");
    EXPECT_EQ(container_term(""), "xterm-256color");
    EXPECT_EQ(container_term("bg.something"), "xterm-256color");
    EXPECT_EQ(container_term("bgterm"), "xterm-256color");
    EXPECT_EQ(container_term("xterm.x"), "xterm-256color");
}

TEST(GuestAccountsTest, NumericUsersStopBeforeTheInvalidUid) {
    EXPECT_EQ(numeric_user("0"), 0u);
    EXPECT_EQ(numeric_user("4294967294"), 4294967294u);
    EXPECT_FALSE(numeric_user("4294967295"));  // (uid_t)-1 means "unchanged" to setresuid
    EXPECT_FALSE(numeric_user("-1"));
    EXPECT_FALSE(numeric_user("12a"));
    EXPECT_FALSE(numeric_user(""));
}

TEST(GuestAccountsTest, HostCgroupDirJoinsTheMountPointAndTheProcessPath) {
    // v2 with the container cgroup at /sys/fs/cgroup/droidspaces/c1, init in c1/init.scope.
    EXPECT_EQ(host_cgroup_dir("/sys/fs/cgroup/droidspaces/c1", "/droidspaces/c1/init.scope"),
              "/sys/fs/cgroup/droidspaces/c1/init.scope");
    EXPECT_EQ(host_cgroup_dir("/sys/fs/cgroup/droidspaces/c1", "/droidspaces/c1"),
              "/sys/fs/cgroup/droidspaces/c1");
    // A cgroup namespace rooted at the container: /proc/<init>/cgroup says "/init.scope".
    EXPECT_EQ(host_cgroup_dir("/sys/fs/cgroup/droidspaces/c1", "/init.scope"), std::nullopt);
    EXPECT_EQ(
        host_cgroup_dir("/sys/fs/cgroup/systemd/droidspaces/c1", "/droidspaces/c1/system.slice"),
        "/sys/fs/cgroup/systemd/droidspaces/c1/system.slice");
    EXPECT_FALSE(host_cgroup_dir("/sys/fs/cgroup/droidspaces/c1", "/elsewhere/x"));
    EXPECT_FALSE(host_cgroup_dir("", "/droidspaces/c1"));
    EXPECT_FALSE(host_cgroup_dir("/sys/fs/cgroup/droidspaces/c1", "/"));
    EXPECT_FALSE(host_cgroup_dir("/sys/fs/cgroup/droidspaces/c1", "relative"));
}

}  // namespace
}  // namespace ds
