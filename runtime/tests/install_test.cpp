// Unit tests for the pure parts of `install` (core/archive and the event JSON): archive kinds by
// magic bytes, --img sizes, progress text and throttling, tar's error lines, and symlink
// resolution inside a rootfs.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "container/install.hpp"
#include "core/archive.hpp"
#include "core/error.hpp"

namespace ds::archive {
namespace {

using namespace std::string_literals;

// A 512-byte tar header block for `name`, with a valid checksum, ustar magic or not (v7).
std::string tar_header(const std::string& name, bool ustar) {
    std::string block(512, '\0');
    block.replace(0, name.size(), name);
    block.replace(100, 7, "0000644");
    block.replace(108, 7, "0000000");
    block.replace(116, 7, "0000000");
    block.replace(124, 11, "00000000000");
    block.replace(136, 11, "14000000000");
    block[156] = '0';
    if (ustar)
        block.replace(257, 8,
                      "ustar\0"s
                      "00");
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i)
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
    char chk[8];
    std::snprintf(chk, sizeof chk, "%06o", sum);
    block.replace(148, 6, chk);
    block[154] = '\0';
    block[155] = ' ';
    return block;
}

TEST(DetectCompression, MagicBytes) {
    EXPECT_EQ(detect_compression("\x1f\x8b\x08\x00rest"s), Compression::gzip);
    EXPECT_EQ(detect_compression("\xfd\x37\x7a\x58\x5a\x00\x00\x04"s), Compression::xz);
    EXPECT_EQ(detect_compression("\x28\xb5\x2f\xfd\x04\x58"s), Compression::zstd);
    EXPECT_EQ(detect_compression("BZh91AY&SY"s), Compression::bzip2);
}

TEST(DetectCompression, PlainTarByUstarMagicOrChecksum) {
    EXPECT_EQ(detect_compression(tar_header("./", true)), Compression::none);
    EXPECT_EQ(detect_compression(tar_header("etc/passwd", false)), Compression::none);
}

TEST(DetectCompression, AnythingElseIsNotAnArchive) {
    EXPECT_EQ(detect_compression(""), std::nullopt);
    EXPECT_EQ(detect_compression("\x1f"s), std::nullopt);
    EXPECT_EQ(detect_compression("\xfd\x37\x7a\x58\x5a"s), std::nullopt);  // xz needs 6 bytes
    EXPECT_EQ(detect_compression("BZh0"s), std::nullopt);                  // block size digit 1-9
    EXPECT_EQ(detect_compression("PK\x03\x04 zip"s), std::nullopt);
    EXPECT_EQ(detect_compression(std::string(512, '\0')), std::nullopt);  // end marker only
    std::string broken = tar_header("etc/passwd", false);
    broken[0] = 'X';  // checksum no longer adds up
    EXPECT_EQ(detect_compression(broken), std::nullopt);
    EXPECT_EQ(detect_compression(std::string(600, 'a')), std::nullopt);
}

TEST(DetectCompression, NamesAndTools) {
    EXPECT_EQ(compression_name(Compression::none), "tar");
    EXPECT_EQ(compression_name(Compression::zstd), "zstd");
    EXPECT_EQ(decompressor(Compression::none), "");
    EXPECT_EQ(decompressor(Compression::gzip), "gzip");
    EXPECT_EQ(decompressor(Compression::xz), "xz");
    EXPECT_EQ(decompressor(Compression::bzip2), "bzip2");
}

TEST(TarEntrySize, HeaderPlusWholeBlocks) {
    EXPECT_EQ(tar_entry_size(0), 512u);
    EXPECT_EQ(tar_entry_size(1), 1024u);
    EXPECT_EQ(tar_entry_size(512), 1024u);
    EXPECT_EQ(tar_entry_size(513), 1536u);
}

// --- archive members ------------------------------------------------------------------------

// Tar streams for the scanner, built block by block.
struct Member {
    std::string name;
    char type = '0';
    std::string data;
    std::string link;
    std::string size;  // the size field as written, "" = the data's size in octal
    std::string prefix;
};

std::string seal(std::string block) {
    block.replace(148, 8, "        ");
    unsigned sum = 0;
    for (unsigned char c : block)
        sum += c;
    char chk[8];
    std::snprintf(chk, sizeof chk, "%06o", sum);
    block.replace(148, 6, chk);
    block[154] = '\0';
    return block;
}

std::string padded(const std::string& data) {
    return data + std::string((512 - data.size() % 512) % 512, '\0');
}

std::string entry(const Member& m) {
    std::string block(512, '\0');
    block.replace(0, std::min<size_t>(m.name.size(), 100), m.name.substr(0, 100));
    block.replace(100, 7, "0000644");
    block.replace(108, 7, "0000000");
    block.replace(116, 7, "0000000");
    char size[16];
    std::snprintf(size, sizeof size, "%011llo", static_cast<unsigned long long>(m.data.size()));
    block.replace(124, 11, m.size.empty() ? std::string(size) : m.size);
    block.replace(136, 11, "14000000000");
    block[156] = m.type;
    block.replace(157, std::min<size_t>(m.link.size(), 100), m.link.substr(0, 100));
    block.replace(257, 8,
                  "ustar\0"s
                  "00");
    block.replace(345, m.prefix.size(), m.prefix);
    return seal(block) + padded(m.data);
}

std::string pax(const std::vector<std::pair<std::string, std::string>>& records, char type = 'x') {
    std::string data;
    for (const auto& [key, value] : records) {
        std::string body = " " + key + "=" + value + "\n";
        size_t len = body.size() + 1;
        while (std::to_string(len).size() + body.size() != len)
            ++len;
        data += std::to_string(len) + body;
    }
    return entry({"././@PaxHeader", type, data});
}

std::string gnu_long(char type, const std::string& value) {
    return entry({"././@LongLink", type, value + '\0'});
}

const std::string kEnd(1024, '\0');

std::string problem_of(const std::string& archive) {
    return tar_problem(archive).value_or("");
}

TEST(MemberPath, RelativeNamesWithoutDotDotAreSafe) {
    for (const char* ok : {"etc/passwd", "./etc", ".", "./", "a//b/", "a..b", "...", "..a/b.."})
        EXPECT_EQ(member_path_problem(ok), std::nullopt) << ok;
}

TEST(MemberPath, AbsoluteDotDotEmptyNulAndOverlongAreNot) {
    EXPECT_EQ(member_path_problem(""), "has an empty name");
    EXPECT_EQ(member_path_problem("/etc/passwd"), "has an absolute name");
    EXPECT_EQ(member_path_problem("//etc"), "has an absolute name");
    for (const char* bad : {"..", "../x", "a/../b", "a/..", "./../../etc/shadow", "a/../"})
        EXPECT_EQ(member_path_problem(bad), "has a '..' component") << bad;
    EXPECT_EQ(member_path_problem("a\0b"s), "has a NUL byte in its name");
    EXPECT_EQ(member_path_problem(std::string(4096, 'a')), "has a name longer than 4095 bytes");
    EXPECT_EQ(member_path_problem(std::string(4095, 'a')), std::nullopt);
}

TEST(MemberPath, NormalizedForm) {
    EXPECT_EQ(normalize_member_path("./etc//passwd/"), "etc/passwd");
    EXPECT_EQ(normalize_member_path("./"), "");
    EXPECT_EQ(normalize_member_path("."), "");
    EXPECT_EQ(normalize_member_path("a/./b"), "a/b");
}

TEST(Printable, ControlBytesCannotSplitTheLine) {
    EXPECT_EQ(printable("etc/passwd"), "etc/passwd");
    EXPECT_EQ(printable("a\nb\\c\x01\xff"s), "a\\x0ab\\x5cc\\x01\\xff");
    EXPECT_EQ(printable(std::string(300, 'a')), std::string(200, 'a') + "...");
}

// A rootfs as tar -c makes it: everything a rootfs has is accepted and passed on unchanged.
std::string good_archive() {
    return entry({"./", '5'}) + entry({"./etc/", '5'}) + entry({"./etc/passwd", '0', "root\n"}) +
           entry({"./bin/", '5'}) + entry({"./bin/busybox", '0', std::string(1000, 'x')}) +
           entry({"./bin/sh", '1', "", "./bin/busybox"}) +
           entry({"./sbin", '2', "", "/bin"}) +  // absolute symlink targets are the guest's
           entry({"./lib", '2', "", "../../../usr/lib"}) + entry({"./dev/", '5'}) +
           entry({"./dev/null", '3'}) + entry({"./dev/loop0", '4'}) + entry({"./run/", '5'}) +
           entry({"./run/initctl", '6'}) +
           pax({{"SCHILY.xattr.security.capability", "caps"}, {"mtime", "1.5"}}) +
           entry({"./bin/ping", '0', "ping"}) +
           gnu_long('L', "./usr/share/" + std::string(150, 'n')) +
           entry({"./usr/share/" + std::string(88, 'n'), '0', "long"}) +
           pax({{"path", "./usr/" + std::string(120, 'p')}}) + entry({"./usr/ppp", '0', "pax"}) +
           entry({"./etc/", '5'}) + kEnd;
}

TEST(TarScanner, AcceptsARootfsAndPassesItOnUnchanged) {
    std::string archive = good_archive();
    TarScanner scanner;
    std::string approved;
    EXPECT_EQ(scanner.feed(archive, &approved), TarScanner::Status::end) << scanner.problem();
    EXPECT_EQ(approved, archive);
    EXPECT_EQ(scanner.members(), 17u);
    EXPECT_EQ(scanner.finish(&approved), TarScanner::Status::end);
}

TEST(TarScanner, ChunkingDoesNotMatter) {
    std::string archive = good_archive();
    TarScanner scanner;
    std::string approved;
    for (size_t i = 0; i < archive.size(); i += 7)
        scanner.feed(std::string_view(archive).substr(i, 7), &approved);
    EXPECT_EQ(scanner.status(), TarScanner::Status::end);
    EXPECT_EQ(approved, archive);
}

TEST(TarScanner, StopsAtTheFirstZeroBlockAndPassesNothingAfter) {
    std::string head = entry({"./", '5'}) + entry({"etc/", '5'});
    std::string archive = head + std::string(512, '\0') + entry({"/etc/shadow", '0', "x"});
    TarScanner scanner;
    std::string approved;
    EXPECT_EQ(scanner.feed(archive, &approved), TarScanner::Status::end);
    EXPECT_EQ(approved, head + kEnd);  // a complete end marker, the hostile member dropped
}

TEST(TarScanner, AStreamWithoutEndMarkerGetsOne) {
    std::string head = entry({"./", '5'}) + entry({"a", '0', "x"});
    TarScanner scanner;
    std::string approved;
    EXPECT_EQ(scanner.feed(head, &approved), TarScanner::Status::more);
    EXPECT_EQ(scanner.finish(&approved), TarScanner::Status::end);
    EXPECT_EQ(approved, head + kEnd);
}

TEST(TarScanner, NamesOutsideTheTargetAreRefused) {
    EXPECT_EQ(problem_of(entry({"/etc/shadow", '0', "x"}) + kEnd),
              "member '/etc/shadow' has an absolute name");
    EXPECT_EQ(problem_of(entry({"./", '5'}) + entry({"../../tmp/x", '0', "x"}) + kEnd),
              "member '../../tmp/x' has a '..' component");
    EXPECT_EQ(problem_of(entry({"x", '0', "x", "", "", "/etc"}) + kEnd),
              "member '/etc/x' has an absolute name");  // through the ustar prefix
    // Every name a tar could use is checked: the header's, a pax path, a GNU long name.
    EXPECT_EQ(problem_of(pax({{"path", "/etc/shadow"}}) + entry({"fine", '0', "x"}) + kEnd),
              "member '/etc/shadow' has an absolute name");
    EXPECT_EQ(problem_of(pax({{"path", "fine"}}) + entry({"../x", '0', "x"}) + kEnd),
              "member '../x' has a '..' component");
    EXPECT_EQ(problem_of(gnu_long('L', "a/../../x") + entry({"a", '0', "x"}) + kEnd),
              "member 'a/../../x' has a '..' component");
}

TEST(TarScanner, HardLinksOnlyToEarlierFilesOfTheArchive) {
    std::string top = entry({"./", '5'}) + entry({"etc/", '5'}) + entry({"etc/f", '0', "x"});
    EXPECT_EQ(problem_of(top + entry({"owned", '1', "", "/etc/shadow"}) + kEnd),
              "hard link 'owned' -> '/etc/shadow': the target has an absolute name");
    EXPECT_EQ(problem_of(top + entry({"owned", '1', "", "../../../tmp/x"}) + kEnd),
              "hard link 'owned' -> '../../../tmp/x': the target has a '..' component");
    EXPECT_EQ(problem_of(top + entry({"owned", '1', "", "etc/missing"}) + kEnd),
              "hard link 'owned' -> 'etc/missing': the target is not an earlier file of the "
              "archive");
    EXPECT_EQ(problem_of(top + entry({"owned", '1', "", "etc"}) + kEnd),
              "hard link 'owned' -> 'etc': the target is not an earlier file of the archive");
    EXPECT_EQ(problem_of(top + entry({"owned", '1'}) + kEnd), "hard link 'owned' has no target");
    EXPECT_EQ(problem_of(top + pax({{"linkpath", "/etc/shadow"}}) +
                         entry({"owned", '1', "", "etc/f"}) + kEnd),
              "hard link 'owned' -> '/etc/shadow': the target has an absolute name");
    EXPECT_EQ(
        problem_of(top + gnu_long('K', "/etc/shadow") + entry({"owned", '1', "", "etc/f"}) + kEnd),
        "hard link 'owned' -> '/etc/shadow': the target has an absolute name");
    EXPECT_EQ(problem_of(top + entry({"./ok", '1', "", "./etc//f"}) + kEnd), "");
    EXPECT_EQ(problem_of(top + entry({"a", '1', "", "etc/f"}) + entry({"b", '1', "", "a"}) + kEnd),
              "");
    // A tar that followed the symlink would link the host file it names.
    EXPECT_EQ(problem_of(top + entry({"s", '2', "", "/etc/shadow"}) +
                         entry({"owned", '1', "", "s"}) + kEnd),
              "hard link 'owned' -> 's': the target is a symlink member, which a tar could "
              "follow out of the rootfs");
}

// GNU and pax tar cut a hard link's long target to 100 bytes in the header: the full target is
// the one checked against earlier members; the cut one must only stay inside and off symlinks.
TEST(TarScanner, LongHardLinkTargetsAreAccepted) {
    std::string target = "usr/share/" + std::string(150, 't');
    std::string top = entry({"./", '5'}) + entry({"usr/", '5'}) + entry({"usr/share/", '5'}) +
                      gnu_long('L', target) + entry({target.substr(0, 100), '0', "x"});
    EXPECT_EQ(problem_of(top + gnu_long('K', target) + entry({"gnu", '1', "", target}) + kEnd), "");
    EXPECT_EQ(
        problem_of(top + pax({{"linkpath", target}}) + entry({"pax", '1', "", target}) + kEnd), "");
    // The cut target a pax-blind tar would use must not lead through a symlink member.
    std::string via_link = entry({"./", '5'}) + entry({"s", '2', "", "/tmp"}) +
                           entry({"f", '0', "x"}) + pax({{"linkpath", "f"}}) +
                           entry({"owned", '1', "", "s/x"}) + kEnd;
    EXPECT_EQ(problem_of(via_link),
              "member 'owned' is under the symlink member 's': extracting it would follow that "
              "symlink");
}

// A record length of 20 digits wraps a 64-bit counter: such a header is malformed, as for tar.
TEST(TarScanner, PaxRecordLengthsThatWouldWrapAreMalformed) {
    std::string data = "18446744073709551646 p=abcdef\n";
    std::string archive =
        entry({"./", '5'}) + entry({"././@PaxHeader", 'x', data}) + entry({"f", '0', "x"}) + kEnd;
    EXPECT_NE(problem_of(archive).find("malformed pax header"), std::string::npos)
        << problem_of(archive);
}

TEST(TarScanner, NothingBelowASymlinkOrOtherNonDirectory) {
    std::string top = entry({"./", '5'});
    EXPECT_EQ(problem_of(top + entry({"evil", '2', "", "/tmp/x"}) +
                         entry({"evil/owned", '0', "x"}) + kEnd),
              "member 'evil/owned' is under the symlink member 'evil': extracting it would "
              "follow that symlink");
    EXPECT_EQ(
        problem_of(top + entry({"evil", '2', "", "/tmp/x"}) + entry({"./evil/a/b", '5'}) + kEnd),
        "member './evil/a/b' is under the symlink member 'evil': extracting it would "
        "follow that symlink");
    // A hard link whose target goes through a symlink.
    EXPECT_EQ(problem_of(top + entry({"evil", '2', "", "/etc"}) +
                         entry({"owned", '1', "", "evil/shadow"}) + kEnd),
              "hard link 'owned' -> 'evil/shadow': the target is not an earlier file of the "
              "archive");
    EXPECT_EQ(problem_of(top + entry({"f", '0', "x"}) + entry({"f/g", '0', "x"}) + kEnd),
              "member 'f/g' is under the non-directory member 'f'");
}

TEST(TarScanner, NoPathTwiceUnlessBothAreDirectories) {
    std::string top = entry({"./", '5'});
    EXPECT_EQ(
        problem_of(top + entry({"evil", '2', "", "/dev/sda"}) + entry({"evil", '0', "x"}) + kEnd),
        "member 'evil' appears twice: it would replace the earlier symlink of that name");
    EXPECT_EQ(problem_of(top + entry({"evil", '2', "", "/tmp"}) + entry({"./evil/", '5'}) + kEnd),
              "member './evil/' appears twice: it would replace the earlier symlink of that name");
    EXPECT_EQ(problem_of(top + entry({"disk", '4'}) + entry({"disk", '0', "x"}) + kEnd),
              "member 'disk' appears twice: it would replace the earlier non-directory of that "
              "name");
    EXPECT_EQ(problem_of(top + entry({"d/", '5'}) + entry({"./d", '5'}) + kEnd), "");
    EXPECT_EQ(problem_of(entry({".", '2', "", "/"}) + kEnd),
              "member '.' (the top directory) is a symlink");
}

TEST(TarScanner, OnlyFilesDirsLinksDevicesAndFifos) {
    EXPECT_EQ(problem_of(entry({"sparse", 'S', "x"}) + kEnd),
              "member 'sparse' is a GNU sparse file (type 'S'): only files, directories, "
              "symlinks, hard links, devices and fifos are installed");
    EXPECT_EQ(problem_of(entry({"v", 'V'}) + kEnd).substr(0, 28), "member 'v' is a volume label");
    EXPECT_NE(problem_of(entry({"q", 'Q'}) + kEnd).find("of an unknown type ('Q')"),
              std::string::npos);
    EXPECT_EQ(problem_of(pax({{"GNU.sparse.major", "1"}}) + entry({"s", '0', "x"}) + kEnd),
              "a pax header describes a GNU sparse file (GNU.sparse.major)");
    EXPECT_EQ(problem_of(pax({{"path", "x"}}, 'g') + entry({"s", '0', "x"}) + kEnd),
              "a global pax header sets 'path' for every member after it");
}

TEST(TarScanner, AmbiguousFramingIsRefused) {
    EXPECT_EQ(problem_of(pax({{"size", "0"}}) + entry({"f", '0', std::string(600, 'x')}) + kEnd),
              "member 'f' has a pax size (0) that differs from its header's (600)");
    EXPECT_EQ(problem_of(entry({"d/", '5', "hidden"}) + kEnd),
              "member 'd/' is a directory that carries 6 bytes of data");
    EXPECT_EQ(problem_of(entry({"l", '2', "data", "/x"}) + kEnd),
              "member 'l' is a symlink that carries 4 bytes of data");
    EXPECT_EQ(problem_of(entry({"x", 'x', std::string(2 << 20, 'a')}) + kEnd),
              "a pax header at byte 0 has 2097152 bytes (at most 1 MiB)");
}

TEST(TarScanner, CorruptOrTruncatedStreams) {
    std::string archive = entry({"./", '5'}) + entry({"f", '0', std::string(2000, 'x')}) + kEnd;
    TarScanner truncated;
    truncated.feed(std::string_view(archive).substr(0, 1500), nullptr);
    EXPECT_EQ(truncated.finish(nullptr), TarScanner::Status::corrupt);
    EXPECT_EQ(truncated.problem(),
              "unexpected end of the archive at byte 1500 (the archive is "
              "truncated)");
    std::string broken = archive;
    broken[512 + 10] ^= 1;  // the second header's checksum no longer adds up
    TarScanner corrupt;
    EXPECT_EQ(corrupt.feed(broken, nullptr), TarScanner::Status::corrupt);
    EXPECT_EQ(corrupt.problem(), "corrupt tar header at byte 512");
    TarScanner empty;
    EXPECT_EQ(empty.finish(nullptr), TarScanner::Status::corrupt);
    EXPECT_EQ(problem_of(kEnd), "the archive is empty");
    EXPECT_EQ(problem_of(pax({{"path", "x"}}) + kEnd),
              "a pax or long-name header at the end of the archive describes no member");
    EXPECT_EQ(problem_of(entry({"././@PaxHeader", 'x', "garbage\n"}) + entry({"f", '0'}) + kEnd)
                  .substr(0, 20),
              "malformed pax header");
}

TEST(TarScanner, RefusalIsFinalAndApprovesNothingOfTheBadMember) {
    std::string good = entry({"./", '5'});
    std::string archive = good + entry({"/abs", '0', "x"}) + entry({"ok", '0', "x"}) + kEnd;
    TarScanner scanner;
    std::string approved;
    EXPECT_EQ(scanner.feed(archive, &approved), TarScanner::Status::refused);
    EXPECT_EQ(approved, good);
    EXPECT_EQ(scanner.feed(kEnd, &approved), TarScanner::Status::refused);
    EXPECT_EQ(scanner.finish(&approved), TarScanner::Status::refused);
    EXPECT_EQ(approved, good);
}

// --- sizes ----------------------------------------------------------------------------------

TEST(ImageSize, UnitsAndSpellings) {
    EXPECT_EQ(parse_image_size("64M"), 64 * kMiB);
    EXPECT_EQ(parse_image_size("64m"), 64 * kMiB);
    EXPECT_EQ(parse_image_size("64MB"), 64 * kMiB);
    EXPECT_EQ(parse_image_size("64MiB"), 64 * kMiB);
    EXPECT_EQ(parse_image_size("1G"), 1024 * kMiB);
    EXPECT_EQ(parse_image_size("1.5G"), 1536 * kMiB);
    EXPECT_EQ(parse_image_size("2T"), 2ull * 1024 * 1024 * kMiB);
    EXPECT_EQ(parse_image_size("16384K"), 16 * kMiB);
    EXPECT_EQ(parse_image_size("16777216"), 16 * kMiB);
    EXPECT_EQ(parse_image_size("16777217B"), 16 * kMiB);  // whole 4 KiB blocks
}

TEST(ImageSize, RejectsWithOneLineNamingTheFlag) {
    for (const char* bad : {"", "M", "abc", "-64M", "15M", "17T", "64X", "64MX", "1..5G", "64 M"}) {
        try {
            parse_image_size(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.exit_code(), kExitUsage);
            std::string message = e.what();
            EXPECT_NE(message.find("--img"), std::string::npos) << message;
            EXPECT_NE(message.find("'" + std::string(bad) + "'"), std::string::npos) << message;
            EXPECT_EQ(message.find('\n'), std::string::npos);
        }
    }
}

TEST(HumanSize, BinaryUnitsOneDecimal) {
    EXPECT_EQ(human_size(0), "0 B");
    EXPECT_EQ(human_size(1023), "1023 B");
    EXPECT_EQ(human_size(1024), "1.0 KiB");
    EXPECT_EQ(human_size(1536), "1.5 KiB");
    EXPECT_EQ(human_size(126143283), "120.3 MiB");
    EXPECT_EQ(human_size(2 * 1024 * kMiB), "2.0 GiB");
    EXPECT_EQ(human_size(3ull * 1024 * 1024 * kMiB), "3.0 TiB");
}

// --- progress -------------------------------------------------------------------------------

TEST(Percent, RoundsDownAndReaches100OnlyAtTheEnd) {
    EXPECT_EQ(percent(0, 100), 0);
    EXPECT_EQ(percent(42, 100), 42);
    EXPECT_EQ(percent(999, 1000), 99);
    EXPECT_EQ(percent(1000, 1000), 100);
    EXPECT_EQ(percent(2000, 1000), 100);
    EXPECT_EQ(percent(5, 0), 0);
    EXPECT_EQ(percent(UINT64_MAX - 1, UINT64_MAX), 99);  // no overflow
}

TEST(ProgressBar, FilledCellsPercentAndSizes) {
    EXPECT_EQ(progress_bar(0, 100 * kMiB, 10), "[----------]   0%  0 B / 100.0 MiB");
    EXPECT_EQ(progress_bar(42 * kMiB, 100 * kMiB, 10), "[####------]  42%  42.0 MiB / 100.0 MiB");
    EXPECT_EQ(progress_bar(100 * kMiB, 100 * kMiB, 10), "[##########] 100%  100.0 MiB / 100.0 MiB");
    EXPECT_EQ(progress_bar(3, 0, 4), "[----]   0%  3 B / 0 B");
    EXPECT_EQ(progress_bar(0, 1, 30).size(), 32 + std::string("   0%  0 B / 1 B").size());
}

TEST(ProgressText, PercentAndSizes) {
    EXPECT_EQ(progress_text(512 * 1024, 2 * kMiB), "25% (512.0 KiB / 2.0 MiB)");
}

TEST(ProgressThrottle, FirstLastAndOnePerInterval) {
    ProgressThrottle t(100);
    EXPECT_TRUE(t.due(1000, false));
    EXPECT_FALSE(t.due(1050, false));
    EXPECT_FALSE(t.due(1099, false));
    EXPECT_TRUE(t.due(1100, false));
    EXPECT_TRUE(t.due(1101, true));  // the last one always goes out
    EXPECT_FALSE(t.due(1150, false));
}

TEST(DecileLines, OneLinePerNewTenPercent) {
    DecileLines d;
    EXPECT_FALSE(d.due(0));
    EXPECT_FALSE(d.due(9));
    EXPECT_TRUE(d.due(10));
    EXPECT_FALSE(d.due(19));
    EXPECT_TRUE(d.due(35));  // jumped past 20: one line
    EXPECT_FALSE(d.due(30));
    EXPECT_TRUE(d.due(100));
    EXPECT_FALSE(d.due(100));
}

// --- tar's complaints -----------------------------------------------------------------------

TEST(FailureLine, SkipsTarsEpilogues) {
    EXPECT_EQ(failure_line("gzip: stdin: unexpected end of file\n"
                           "tar: Unexpected EOF in archive\n"
                           "tar: Unexpected EOF in archive\n"
                           "tar: Error is not recoverable: exiting now\n"),
              "tar: Unexpected EOF in archive");
    EXPECT_EQ(failure_line("tar: ./usr/bin/x: Cannot write: No space left on device\n"
                           "tar: Exiting with failure status due to previous errors\n"),
              "tar: ./usr/bin/x: Cannot write: No space left on device");
    EXPECT_EQ(failure_line("xz: (stdin): File format not recognized\r\n\n  \n"),
              "xz: (stdin): File format not recognized");
    EXPECT_EQ(failure_line(""), "");
    EXPECT_EQ(failure_line("tar: Child returned status 1\n"), "");
}

TEST(FailureLine, NoSpace) {
    EXPECT_TRUE(mentions_no_space("tar: ./x: Cannot mkdir: No space left on device"));
    EXPECT_TRUE(mentions_no_space("tar: ./x: Cannot open: Disk quota exceeded"));
    EXPECT_FALSE(mentions_no_space("tar: Unexpected EOF in archive"));
}

// --- resolving inside a rootfs --------------------------------------------------------------

// A fake rootfs: paths (relative) to "dir", "file" or "->target".
class FakeRoot {
  public:
    explicit FakeRoot(std::map<std::string, std::string> entries) : entries_(std::move(entries)) {}
    PathLookup lookup() const {
        return [this](const std::string& rel) {
            PathInfo info;
            if (rel.empty()) {
                info.exists = info.is_directory = true;
                return info;
            }
            auto it = entries_.find(rel);
            if (it == entries_.end()) return info;
            info.exists = true;
            if (it->second == "dir") info.is_directory = true;
            if (it->second.starts_with("->")) {
                info.is_symlink = true;
                info.target = it->second.substr(2);
            }
            return info;
        };
    }

  private:
    std::map<std::string, std::string> entries_;
};

const FakeRoot kDebian({
    {"usr", "dir"},
    {"usr/lib", "dir"},
    {"usr/sbin", "dir"},
    {"usr/lib/systemd", "dir"},
    {"usr/lib/systemd/systemd", "file"},
    {"usr/lib/os-release", "file"},
    {"sbin", "->usr/sbin"},
    {"lib", "->usr/lib"},
    {"usr/sbin/init", "->/lib/systemd/systemd"},
    {"etc", "dir"},
    {"etc/os-release", "->../usr/lib/os-release"},
    {"etc/resolv.conf", "->/run/systemd/resolve/stub-resolv.conf"},
    {"etc/escape", "->../../../../host/etc"},
    {"etc/loop1", "->loop2"},
    {"etc/loop2", "->/etc/loop1"},
    {"etc/file", "file"},
});

TEST(ResolveInRoot, FollowsAbsoluteAndRelativeLinksWithTheRootfsAsSlash) {
    auto r = resolve_in_root("/sbin/init", true, kDebian.lookup());
    EXPECT_EQ(r.error, 0);
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.relative, "usr/lib/systemd/systemd");
    r = resolve_in_root("/etc/os-release", true, kDebian.lookup());
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.relative, "usr/lib/os-release");
}

TEST(ResolveInRoot, LastComponentFollowedOnlyWhenAsked) {
    auto r = resolve_in_root("/sbin/init", false, kDebian.lookup());
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.relative, "usr/sbin/init");
}

TEST(ResolveInRoot, DotDotStopsAtTheRootfs) {
    auto r = resolve_in_root("/etc/escape/passwd", true, kDebian.lookup());
    EXPECT_EQ(r.error, ENOENT);
    EXPECT_EQ(r.relative, "host");  // inside the rootfs, never above it
    r = resolve_in_root("/../../etc/file", true, kDebian.lookup());
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.relative, "etc/file");
    r = resolve_in_root("/", true, kDebian.lookup());
    EXPECT_TRUE(r.exists);
    EXPECT_EQ(r.relative, "");
}

TEST(ResolveInRoot, MissingLastIsNotAnError) {
    auto r = resolve_in_root("/etc/hostname", false, kDebian.lookup());
    EXPECT_EQ(r.error, 0);
    EXPECT_FALSE(r.exists);
    EXPECT_EQ(r.relative, "etc/hostname");
    // A dangling link resolves to where its target would be.
    r = resolve_in_root("/etc/resolv.conf", true, kDebian.lookup());
    EXPECT_EQ(r.error, ENOENT);  // /run/systemd is missing: a parent, not the last component
    r = resolve_in_root("//etc/./hostname/", false, kDebian.lookup());
    EXPECT_EQ(r.relative, "etc/hostname");
}

TEST(ResolveInRoot, Errors) {
    EXPECT_EQ(resolve_in_root("/nope/x", true, kDebian.lookup()).error, ENOENT);
    EXPECT_EQ(resolve_in_root("/etc/file/x", true, kDebian.lookup()).error, ENOTDIR);
    EXPECT_EQ(resolve_in_root("/etc/loop1", true, kDebian.lookup()).error, ELOOP);
    EXPECT_EQ(resolve_in_root("/etc/loop1", false, kDebian.lookup()).error, 0);
}

// --- fixes ----------------------------------------------------------------------------------

TEST(HostnameFor, ValidHostnameFromAnyContainerName) {
    EXPECT_EQ(hostname_for("debian"), "debian");
    EXPECT_EQ(hostname_for("my box"), "my-box");
    EXPECT_EQ(hostname_for("Ubuntu 24.04"), "Ubuntu-24.04");
    EXPECT_EQ(hostname_for("a_b"), "a-b");
    EXPECT_EQ(hostname_for("-x-"), "x");
    EXPECT_EQ(hostname_for("a..b"), "a.b");
    EXPECT_EQ(hostname_for("..."), "localhost");
    EXPECT_EQ(hostname_for("___"), "localhost");
    EXPECT_EQ(hostname_for(std::string(100, 'a')).size(), 64u);
}

TEST(Ext4Label, AtMost16Bytes) {
    EXPECT_EQ(ext4_label("debian"), "debian");
    EXPECT_EQ(ext4_label("a-very-long-container-name"), "a-very-long-cont");
}

TEST(Hosts, LocalhostLine) {
    EXPECT_TRUE(hosts_has_localhost("127.0.0.1\tlocalhost\n"));
    EXPECT_TRUE(hosts_has_localhost("# x\n127.0.0.1 box localhost.localdomain localhost\n"));
    EXPECT_TRUE(hosts_has_localhost("::1 localhost\n  127.0.0.1   localhost"));
    EXPECT_FALSE(hosts_has_localhost(""));
    EXPECT_FALSE(hosts_has_localhost("127.0.1.1 box\n::1 localhost\n"));
    EXPECT_FALSE(hosts_has_localhost("# 127.0.0.1 localhost\n"));
    EXPECT_FALSE(hosts_has_localhost("127.0.0.1 localhostx\n"));
}

TEST(IsBlank, WhitespaceOnly) {
    EXPECT_TRUE(is_blank(""));
    EXPECT_TRUE(is_blank(" \n\t"));
    EXPECT_FALSE(is_blank(" x\n"));
}

}  // namespace
}  // namespace ds::archive

namespace ds::container {
namespace {

TEST(InstallEventJson, OneObjectPerEventWithTheEventFirst) {
    InstallEvent p;
    p.type = InstallEvent::Type::progress;
    p.bytes = 5;
    p.total = 10;
    p.percent = 50;
    EXPECT_EQ(event_json(p).dump(), R"({"event":"progress","bytes":5,"total":10,"percent":50})");

    InstallEvent s;
    s.type = InstallEvent::Type::step;
    s.step = "mkfs";
    s.message = "Creating";
    EXPECT_EQ(event_json(s).dump(), R"({"event":"step","step":"mkfs","message":"Creating"})");

    InstallEvent w;
    w.type = InstallEvent::Type::warning;
    w.message = "no \"init\"";
    EXPECT_EQ(event_json(w).dump(), R"({"event":"warning","message":"no \"init\""})");

    InstallEvent d;
    d.type = InstallEvent::Type::done;
    d.name = "bb";
    d.rootfs = "/w/Containers/bb/rootfs.img";
    d.config = "/w/Containers/bb/container.config";
    d.image = true;
    d.fixes = {"created /tmp"};
    EXPECT_EQ(event_json(d).dump(),
              R"({"event":"done","name":"bb","rootfs":"/w/Containers/bb/rootfs.img",)"
              R"("config":"/w/Containers/bb/container.config","image":true,"os":"",)"
              R"("fixes":["created /tmp"]})");

    EXPECT_EQ(error_event_json("bad").dump(), R"({"event":"error","message":"bad"})");
}

}  // namespace
}  // namespace ds::container
