#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/path_list.hpp"
#include "sys/path_lookup.hpp"

namespace ds {
namespace {

namespace fs = std::filesystem;

size_t index_of(const std::vector<std::string>& v, const std::string& s) {
    return static_cast<size_t>(std::find(v.begin(), v.end(), s) - v.begin());
}

TEST(ProgramCandidates, PathFirstThenFixedDirs) {
    auto c = program_candidates("/opt/x/bin:/usr/bin", "tar");
    ASSERT_GE(c.size(), 3u);
    EXPECT_EQ(c[0], "/opt/x/bin/tar");
    EXPECT_EQ(c[1], "/usr/bin/tar");
    // The fixed dirs follow, each once (/usr/bin was already there).
    EXPECT_EQ(std::count(c.begin(), c.end(), "/usr/bin/tar"), 1);
    EXPECT_LT(index_of(c, "/usr/bin/tar"), index_of(c, "/system/bin/tar"));
    EXPECT_EQ(c.back(), "/data/local/Droidspaces/bin/tar");
}

TEST(ProgramCandidates, RelativeEmptyAndTrailingSlashEntries) {
    auto c = program_candidates(":.:bin:/opt/y/:/opt/y", "tar");
    ASSERT_FALSE(c.empty());
    EXPECT_EQ(c[0], "/opt/y/tar");  // "/opt/y/" and "/opt/y" are one directory
    for (const auto& p : c)
        EXPECT_EQ(p.front(), '/') << p;
    EXPECT_EQ(std::count(c.begin(), c.end(), "/opt/y/tar"), 1);
    EXPECT_EQ(program_candidates("/", "sh")[0], "/sh");
}

TEST(ProgramCandidates, EmptyPathGivesTheFixedDirs) {
    auto c = program_candidates("", "mkfs.ext4");
    EXPECT_EQ(c.size(), std::size(kProgramDirs));
    EXPECT_EQ(c[0], "/usr/local/sbin/mkfs.ext4");
}

TEST(ProgramCandidates, NamesWithASlashOrEmptyHaveNone) {
    EXPECT_TRUE(program_candidates("/bin", "").empty());
    EXPECT_TRUE(program_candidates("/bin", "../tar").empty());
    EXPECT_TRUE(program_candidates("/bin", "/bin/tar").empty());
}

// PATH is read at each call: the first executable regular file wins; a directory or a
// non-executable file of that name is passed over.
TEST(FindProgram, FirstExecutableFileOnPath) {
    char tmpl[] = "/tmp/ds-path-lookup.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    fs::path base = tmpl;
    fs::create_directories(base / "a/ds-test-prog");  // a directory: skipped
    fs::create_directories(base / "b");
    fs::create_directories(base / "c");
    std::ofstream(base / "b/ds-test-prog") << "#!/bin/sh\n";  // not executable: skipped
    std::ofstream(base / "c/ds-test-prog") << "#!/bin/sh\n";
    ::chmod((base / "c/ds-test-prog").c_str(), 0755);
    std::string old = ::getenv("PATH") ? ::getenv("PATH") : "";
    std::string path =
        (base / "a").string() + ":" + (base / "b").string() + ":" + (base / "c").string();
    ::setenv("PATH", path.c_str(), 1);
    std::string found = sys::find_program("ds-test-prog");
    std::string missing = sys::find_program("ds-no-such-program-here");
    ::setenv("PATH", old.c_str(), 1);
    fs::remove_all(base);
    EXPECT_EQ(found, (base / "c/ds-test-prog").string());
    EXPECT_EQ(missing, "");
}

}  // namespace
}  // namespace ds
