// Unit tests for core/mountinfo: the one parser of /proc/PID/mountinfo.
#include "core/mountinfo.hpp"

#include <gtest/gtest.h>

namespace ds {
namespace {

TEST(Mountinfo, UnescapesOctalSequences) {
    EXPECT_EQ(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
    EXPECT_EQ(unescape_mountinfo("/x\\011y\\134z\\012"), "/x\ty\\z\n");
    EXPECT_EQ(unescape_mountinfo("/plain"), "/plain");
    EXPECT_EQ(unescape_mountinfo("/cut\\04"), "/cut\\04");
    EXPECT_EQ(unescape_mountinfo("/bad\\089"), "/bad\\089");
    EXPECT_EQ(unescape_mountinfo("\\"), "\\");
    EXPECT_EQ(unescape_mountinfo(""), "");
}

TEST(Mountinfo, ParsesEveryFieldOfAFullLine) {
    auto m = parse_mountinfo_line(
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, 36u);
    EXPECT_EQ(m->parent, 35u);
    EXPECT_EQ(m->major, 98u);
    EXPECT_EQ(m->minor, 0u);
    EXPECT_EQ(m->root, "/mnt1");
    EXPECT_EQ(m->mount_point, "/mnt2");
    EXPECT_EQ(m->options, "rw,noatime");
    EXPECT_EQ(m->optional_fields, (std::vector<std::string>{"master:1", "shared:2"}));
    EXPECT_EQ(m->fstype, "ext3");
    EXPECT_EQ(m->source, "/dev/root");
    EXPECT_EQ(m->super_options, "rw,errors=continue");
}

TEST(Mountinfo, NoOptionalFields) {
    auto m = parse_mountinfo_line(
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 "
        "cgroup2 rw");
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->optional_fields.empty());
    EXPECT_EQ(m->fstype, "cgroup2");
    EXPECT_EQ(m->source, "cgroup2");
    EXPECT_EQ(m->super_options, "rw");
}

TEST(Mountinfo, EscapedSpacesAndADashInsideAPathAreNotTheSeparator) {
    auto m = parse_mountinfo_line(
        "90 80 0:50 /a\\040-\\040b /srv/x\\040-\\040y rw shared:9 - fuse.sshfs me@h:/p\\040q "
        "rw,user_id=0");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->root, "/a - b");
    EXPECT_EQ(m->mount_point, "/srv/x - y");
    EXPECT_EQ(m->fstype, "fuse.sshfs");
    EXPECT_EQ(m->source, "me@h:/p q");
    EXPECT_EQ(m->super_options, "rw,user_id=0");
}

TEST(Mountinfo, RejectsGarbage) {
    EXPECT_FALSE(parse_mountinfo_line(""));
    EXPECT_FALSE(parse_mountinfo_line("garbage"));
    EXPECT_FALSE(parse_mountinfo_line("x 35 98:0 / /m rw - ext4 /dev/a rw"));         // bad id
    EXPECT_FALSE(parse_mountinfo_line("36 35 98-0 / /m rw - ext4 /dev/a rw"));        // bad dev
    EXPECT_FALSE(parse_mountinfo_line("36 35 99999999:0 / /m rw - ext4 /dev/a rw"));  // too big
    EXPECT_FALSE(parse_mountinfo_line("36 35 98:0 / /m rw ext4 /dev/a rw"));          // no " - "
    EXPECT_FALSE(parse_mountinfo_line("36 35 98:0 / /m rw - ext4"));                  // no source
    EXPECT_FALSE(parse_mountinfo_line("36 35 98:0 / /m"));                            // cut short
}

TEST(Mountinfo, HeadNeedsOnlyTheLeadingFields) {
    auto m = parse_mountinfo_head("36 35 98:0 /r /mnt\\040x rw,noat");  // a line cut short
    ASSERT_TRUE(m);
    EXPECT_EQ(m->id, 36u);
    EXPECT_EQ(m->mount_point, "/mnt x");
    EXPECT_TRUE(m->fstype.empty());
    EXPECT_FALSE(parse_mountinfo_head("36 35 98:0 /r"));
}

TEST(Mountinfo, WholeTextSkipsBadLinesAndKeepsOrder) {
    auto all = parse_mountinfo(
        "22 1 253:1 / / rw shared:1 - ext4 /dev/vda1 rw\n"
        "nonsense line\n"
        "\n"
        "31 22 0:28 / /tmp rw - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /tmp rw - tmpfs tmpfs rw");  // no final newline
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].mount_point, "/");
    EXPECT_EQ(all[1].id, 31u);
    EXPECT_EQ(all[2].id, 32u);
    EXPECT_TRUE(parse_mountinfo("").empty());
}

TEST(Mountinfo, OptionLists) {
    EXPECT_TRUE(has_mount_option("rw,nosuid,memory", "memory"));
    EXPECT_TRUE(has_mount_option("rw", "rw"));
    EXPECT_FALSE(has_mount_option("rw,memory_x", "memory"));
    EXPECT_FALSE(has_mount_option("", "rw"));
}

}  // namespace
}  // namespace ds
