// Unit tests for sys/probes: the pure parsing behind `droidspaces check` (kernel release,
// /proc/filesystems, mountinfo -> cgroup layout), the one loop that classifies results, and the
// --json document's shape. One test runs the real table to prove it reaps every probe child.
#include "sys/probes.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace ds::sys {
namespace {

// --- kernel release ---------------------------------------------------------------------------

TEST(KernelRelease, ParsesDistroAndAndroidReleases) {
    auto v = parse_kernel_release("6.18.44-fc-v595");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 6);
    EXPECT_EQ(v->minor, 18);
    EXPECT_EQ(v->patch, 44);

    v = parse_kernel_release("4.14.113-perf+");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 4);
    EXPECT_EQ(v->minor, 14);
    EXPECT_EQ(v->patch, 113);

    v = parse_kernel_release("3.10");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->major, 3);
    EXPECT_EQ(v->minor, 10);
    EXPECT_EQ(v->patch, 0);

    v = parse_kernel_release("5.4-rc1");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->minor, 4);
}

TEST(KernelRelease, RejectsWhatIsNotMajorDotMinor) {
    EXPECT_FALSE(parse_kernel_release(""));
    EXPECT_FALSE(parse_kernel_release("6"));
    EXPECT_FALSE(parse_kernel_release("6."));
    EXPECT_FALSE(parse_kernel_release("6.x"));
    EXPECT_FALSE(parse_kernel_release("linux-6.1"));
}

TEST(KernelRelease, ComparesNumericallyNotLexically) {
    EXPECT_TRUE(kernel_at_least({3, 10, 0}, 3, 10));
    EXPECT_FALSE(kernel_at_least({3, 9, 99}, 3, 10));
    EXPECT_FALSE(kernel_at_least({2, 6, 32}, 3, 10));
    EXPECT_TRUE(kernel_at_least({4, 0, 0}, 3, 10));
    EXPECT_FALSE(kernel_at_least({4, 9, 0}, 4, 14));
    EXPECT_TRUE(kernel_at_least({4, 19, 0}, 4, 14));
    EXPECT_TRUE(kernel_at_least({6, 18, 44}, 4, 14));
}

// --- /proc/filesystems ------------------------------------------------------------------------

constexpr std::string_view kFilesystems =
    "nodev\tsysfs\nnodev\tcgroup\nnodev\tcgroup2\nnodev\tdevtmpfs\nnodev\tdevpts\n\text4\n"
    "\tfuseblk\nnodev\tfuse\nnodev\toverlay\n";

TEST(ProcFilesystems, MatchesWholeNamesOnly) {
    EXPECT_TRUE(filesystems_list_has(kFilesystems, "ext4"));
    EXPECT_TRUE(filesystems_list_has(kFilesystems, "overlay"));
    EXPECT_TRUE(filesystems_list_has(kFilesystems, "cgroup2"));
    EXPECT_TRUE(filesystems_list_has(kFilesystems, "fuse"));
    EXPECT_FALSE(filesystems_list_has(kFilesystems, "ext"));
    EXPECT_FALSE(filesystems_list_has(kFilesystems, "ext3"));
    EXPECT_FALSE(filesystems_list_has(kFilesystems, "nodev"));
    EXPECT_FALSE(filesystems_list_has("", "ext4"));
    EXPECT_FALSE(filesystems_list_has("nodev\tcgroup2\n", "cgroup"));
}

TEST(ProcMisc, MatchesDriverNames) {
    constexpr std::string_view misc = "234 btrfs-control\n200 tun\n237 loop-control\n 61 fuse\n";
    EXPECT_TRUE(misc_list_has(misc, "tun"));
    EXPECT_TRUE(misc_list_has(misc, "fuse"));
    EXPECT_TRUE(misc_list_has(misc, "loop-control"));
    EXPECT_FALSE(misc_list_has(misc, "loop"));
    EXPECT_FALSE(misc_list_has(misc, "200"));
    EXPECT_FALSE(misc_list_has("", "tun"));
}

// --- mountinfo / cgroups ----------------------------------------------------------------------

// This development host: systemd's hybrid layout.
constexpr std::string_view kHybrid =
    "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(CgroupHost, HybridReportsTheUnifiedMount) {
    CgroupHost cg = parse_cgroup_host(kHybrid);
    ASSERT_TRUE(cg.v2_root);
    EXPECT_EQ(*cg.v2_root, "/sys/fs/cgroup/unified");
    EXPECT_EQ(cg.layout, CgroupLayout::hybrid);
    EXPECT_EQ(cg.v1_mounts.size(), 3u);
    EXPECT_EQ(layout_name(cg.layout), "hybrid");
}

TEST(CgroupHost, PureV2IsUnifiedAtSysFsCgroup) {
    CgroupHost cg = parse_cgroup_host(
        "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n"
        "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
    ASSERT_TRUE(cg.v2_root);
    EXPECT_EQ(*cg.v2_root, "/sys/fs/cgroup");
    EXPECT_EQ(cg.layout, CgroupLayout::unified);
    EXPECT_TRUE(cg.v1_mounts.empty());
}

TEST(CgroupHost, V1OnlyIsLegacyWithoutV2Root) {
    CgroupHost cg = parse_cgroup_host(
        "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu rw master:3 - cgroup cgroup rw,cpu\n");
    EXPECT_FALSE(cg.v2_root);
    EXPECT_EQ(cg.layout, CgroupLayout::legacy);
    EXPECT_EQ(layout_name(cg.layout), "legacy");
}

TEST(CgroupHost, NothingMountedIsNone) {
    CgroupHost cg = parse_cgroup_host("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n");
    EXPECT_FALSE(cg.v2_root);
    EXPECT_EQ(cg.layout, CgroupLayout::none);
    EXPECT_EQ(parse_cgroup_host("").layout, CgroupLayout::none);
}

TEST(CgroupHost, PrefersTheHierarchyRootOverBindMountsOfSubtrees) {
    // A container's bind of a sub-cgroup is listed first; the real root mount wins.
    CgroupHost cg = parse_cgroup_host(
        "90 80 0:38 /ds/box /mnt/Droidspaces/box/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
        "91 80 0:38 / /srv/my\\040cg rw shared:9 master:2 - cgroup2 cgroup2 rw\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
    ASSERT_TRUE(cg.v2_root);
    EXPECT_EQ(*cg.v2_root, "/sys/fs/cgroup/unified");

    cg = parse_cgroup_host(
        "90 80 0:38 /ds/box /mnt/box/sys/fs/cgroup rw - cgroup2 cgroup2 rw\n"
        "91 80 0:38 / /srv/my\\040cg rw shared:9 master:2 - cgroup2 cgroup2 rw\n");
    ASSERT_TRUE(cg.v2_root);
    EXPECT_EQ(*cg.v2_root, "/srv/my cg");
}

TEST(CgroupHost, IgnoresMalformedLines) {
    CgroupHost cg = parse_cgroup_host(
        "garbage\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime cgroup2 cgroup2 rw\n"  // no " - "
        "\n");
    EXPECT_FALSE(cg.v2_root);
    EXPECT_EQ(cg.layout, CgroupLayout::none);
}

// --- the loop ---------------------------------------------------------------------------------

int g_root_probe_runs = 0;

ProbeResult fake_ok(const HostFacts&) {
    return {true, "fine"};
}
ProbeResult fake_missing(const HostFacts&) {
    return {false, "open /dev/x: No such file (errno 2)"};
}
ProbeResult fake_throws(const HostFacts&) {
    throw std::runtime_error("boom");
}
ProbeResult fake_root_only(const HostFacts&) {
    ++g_root_probe_runs;
    return {true, ""};
}

const std::vector<ProbeSpec> kFakeTable = {
    {"Req ok", Section::required, "hint a", false, fake_ok},
    {"Req missing", Section::required, "hint b", false, fake_missing},
    {"Req throws", Section::required, "hint c", false, fake_throws},
    {"Req root", Section::required, "hint d", true, fake_root_only},
    {"Rec missing", Section::recommended, "hint e", false, fake_missing},
    {"Opt missing", Section::optional, "hint f", false, fake_missing},
    {"Opt root", Section::optional, "hint g", true, fake_root_only},
};

HostFacts facts_as(bool root) {
    HostFacts facts;
    facts.root = root;
    facts.kernel_release = "6.18.44-fc-v595";
    facts.cgroup = parse_cgroup_host(kHybrid);
    return facts;
}

TEST(RunProbes, OnlyRequiredFailuresCount) {
    g_root_probe_runs = 0;
    CheckReport report = run_probes(kFakeTable, facts_as(true));
    ASSERT_EQ(report.lines.size(), kFakeTable.size());
    EXPECT_EQ(report.missing_required, 2);  // "Req missing" and "Req throws"
    EXPECT_FALSE(report.ok());
    EXPECT_EQ(g_root_probe_runs, 2);
    for (size_t i = 0; i < kFakeTable.size(); ++i) {
        EXPECT_EQ(report.lines[i].name, kFakeTable[i].name);  // table order is display order
        EXPECT_EQ(report.lines[i].section, kFakeTable[i].section);
        EXPECT_EQ(report.lines[i].hint, kFakeTable[i].hint);
        EXPECT_FALSE(report.lines[i].skipped_not_root);
    }
    EXPECT_EQ(report.lines[0].result.detail, "fine");
}

TEST(RunProbes, AThrowingProbeIsAFailedResult) {
    CheckReport report = run_probes(kFakeTable, facts_as(true));
    const CheckLine& line = report.lines[2];
    EXPECT_FALSE(line.result.ok);
    EXPECT_NE(line.result.detail.find("boom"), std::string::npos) << line.result.detail;
}

TEST(RunProbes, RootOnlyProbesAreNotRunWithoutRootAndCountAsMissing) {
    g_root_probe_runs = 0;
    CheckReport report = run_probes(kFakeTable, facts_as(false));
    EXPECT_EQ(g_root_probe_runs, 0);
    EXPECT_EQ(report.missing_required, 3);
    for (size_t i : {3u, 6u}) {
        EXPECT_FALSE(report.lines[i].result.ok);
        EXPECT_TRUE(report.lines[i].skipped_not_root);
        EXPECT_EQ(report.lines[i].result.detail, kNeedsRootDetail);
    }
    EXPECT_FALSE(report.root);
}

TEST(RunProbes, AllRequiredPresentIsOkEvenWithOptionalFailures) {
    std::vector<ProbeSpec> table = {
        {"Req", Section::required, "", false, fake_ok},
        {"Rec", Section::recommended, "", false, fake_missing},
        {"Opt", Section::optional, "", false, fake_missing},
    };
    CheckReport report = run_probes(table, facts_as(true));
    EXPECT_EQ(report.missing_required, 0);
    EXPECT_TRUE(report.ok());
}

// --- JSON -------------------------------------------------------------------------------------

std::set<std::string> keys_of(const nlohmann::json& object) {
    std::set<std::string> keys;
    for (const auto& item : object.items())
        keys.insert(item.key());
    return keys;
}

TEST(CheckJson, HasTheDocumentedShape) {
    CheckReport report = run_probes(kFakeTable, facts_as(true));
    nlohmann::json doc = check_report_json(report, "0.1.0");

    EXPECT_EQ(keys_of(doc), (std::set<std::string>{"version", "root", "kernel", "sections",
                                                   "cgroup", "missing_required", "ok"}));
    EXPECT_EQ(doc["version"], "0.1.0");
    EXPECT_EQ(doc["root"], true);
    EXPECT_EQ(doc["kernel"], "6.18.44-fc-v595");
    EXPECT_EQ(doc["missing_required"], 2);
    EXPECT_EQ(doc["ok"], false);
    EXPECT_EQ(doc["cgroup"]["v2_root"], "/sys/fs/cgroup/unified");
    EXPECT_EQ(doc["cgroup"]["layout"], "hybrid");

    const auto& sections = doc["sections"];
    EXPECT_EQ(keys_of(sections), (std::set<std::string>{"required", "recommended", "optional"}));
    EXPECT_EQ(sections["required"].size(), 4u);
    EXPECT_EQ(sections["recommended"].size(), 1u);
    EXPECT_EQ(sections["optional"].size(), 2u);
    for (const auto& [key, lines] : sections.items()) {
        for (const auto& line : lines) {
            EXPECT_EQ(keys_of(line), (std::set<std::string>{"name", "ok", "detail"})) << key;
            EXPECT_TRUE(line["name"].is_string());
            EXPECT_TRUE(line["ok"].is_boolean());
            EXPECT_TRUE(line["detail"].is_string());
        }
    }
    EXPECT_EQ(sections["required"][1]["name"], "Req missing");
    EXPECT_EQ(sections["required"][1]["ok"], false);
    EXPECT_EQ(sections["required"][0]["ok"], true);
}

TEST(CheckJson, MissingV2RootIsNullAndEmptySectionsAreArrays) {
    CheckReport report;
    report.cgroup = parse_cgroup_host("32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw\n");
    nlohmann::json doc = check_report_json(report, "0.1.0");
    EXPECT_TRUE(doc["cgroup"]["v2_root"].is_null());
    EXPECT_EQ(doc["cgroup"]["layout"], "legacy");
    EXPECT_TRUE(doc["sections"]["optional"].is_array());
    EXPECT_EQ(doc["ok"], true);
}

TEST(CheckJson, InvalidUtf8NeverMakesTheDumpThrow) {
    CheckReport report;
    report.kernel_release = "6.1\xff";
    report.cgroup.v2_root = "/sys/fs/cg\xc3";
    report.lines.push_back({"X", Section::required, "", {false, "bad \xfe byte"}, false});
    nlohmann::json doc = check_report_json(report, "0.1.0");
    EXPECT_NO_THROW((void)doc.dump(2));
}

// --- the real table ---------------------------------------------------------------------------

TEST(ProbeTable, IsWellFormed) {
    const auto& table = probe_table();
    std::set<std::string_view> names;
    int per_section[3] = {0, 0, 0};
    for (const auto& spec : table) {
        EXPECT_TRUE(names.insert(spec.name).second) << "duplicate " << spec.name;
        EXPECT_FALSE(spec.hint.empty()) << spec.name;
        EXPECT_NE(spec.probe, nullptr) << spec.name;
        ++per_section[static_cast<int>(spec.section)];
    }
    for (int count : per_section)
        EXPECT_GT(count, 0);
    for (auto required : {"Root privileges", "Linux kernel >= 3.10", "PID namespace",
                          "Mount namespace", "UTS namespace", "IPC namespace", "pivot_root",
                          "/proc filesystem", "/sys filesystem", "devpts", "Seccomp filters"}) {
        bool found = false;
        for (const auto& spec : table)
            if (spec.name == required) found = spec.section == Section::required;
        EXPECT_TRUE(found) << required << " is not a required probe";
    }
}

TEST(ProbeTable, RealRunReapsEveryChild) {
    CheckReport report = run_probes(probe_table(), gather_host_facts());
    EXPECT_EQ(report.lines.size(), probe_table().size());
    EXPECT_FALSE(report.kernel_release.empty());
    errno = 0;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "a probe child was left behind";
    EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace ds::sys
