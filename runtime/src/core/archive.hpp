// Pure helpers for `install`: what kind of archive a file is (magic bytes), image sizes, the
// progress text the CLI prints, what tar's stderr says went wrong, and the rootfs facts the
// post-install fixes need (symlinks resolved with the rootfs as /). No syscalls here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ds::archive {

// --- archives -------------------------------------------------------------------------------

enum class Compression { none, gzip, xz, zstd, bzip2 };

// Bytes detect_compression wants to see (one tar header block).
constexpr size_t kHeadSize = 512;

// From the first bytes of a file (up to kHeadSize): gzip 1f 8b, xz fd 37 7a 58 5a 00, zstd
// 28 b5 2f fd, bzip2 "BZh", a plain tar ("ustar" at offset 257, or an old v7 header whose
// checksum adds up). nullopt for anything else (including an empty file).
std::optional<Compression> detect_compression(std::string_view head);
// True for a 512-byte block that is a tar header: ustar magic or a valid header checksum.
bool is_tar_header(std::string_view block);

// "tar", "gzip", "xz", "zstd", "bzip2".
std::string_view compression_name(Compression compression);
// The program that decompresses it to stdout with "-dc", "" for none.
std::string_view decompressor(Compression compression);

// Bytes a file of `file_size` bytes takes in a tar stream: a header and 512-byte blocks.
uint64_t tar_entry_size(uint64_t file_size);

// --- archive members: what extraction may create -------------------------------------------
//
// A rootfs tarball comes from the internet and is extracted by root, with whatever `tar` the
// host has (on Android toybox, which follows hard links and symlinks anywhere). So the tar
// stream is read here first, header by header, and refused when any member could make an
// extractor create, link or change something outside the target directory. Only what the
// extractor itself would follow is checked: symlink targets are the guest's business (an
// absolute symlink is normal in a rootfs and resolved inside the container later).

// The rule a member name or hard-link target breaks, nullopt when it is safe: it must not be
// empty, absolute ('/' first) or have a ".." component, and must fit in PATH_MAX. "./x", "x/"
// and "x//y" are fine. Pure and total (fuzzed): any bytes in, no exception out.
std::optional<std::string> member_path_problem(std::string_view path);

// The form members are compared in: no "./" or empty components, no trailing '/'; "" is the
// archive's top directory ("./").
std::string normalize_member_path(std::string_view path);

// `text` for an error line: printable ASCII kept, everything else (newlines, control bytes,
// non-ASCII) as \xNN, cut to 200 bytes; so a hostile name cannot forge or split the line.
std::string printable(std::string_view text);

// Reads a decompressed tar stream block by block (ustar, pax and GNU long names) and checks
// every member before any of its bytes may reach an extractor:
//   - every name it carries (the header's, a pax path, a GNU long name: different tars honour
//     different ones) passes member_path_problem and is not below an earlier member that is
//     not a directory (the classic "symlink evil -> /etc, then evil/passwd");
//   - no path appears twice unless both are directories (a file replacing a symlink or device
//     node would be written through it by a tar that opens with O_TRUNC);
//   - a hard link names an earlier member of the archive that is neither a directory nor a
//     symlink, by a path that passes the same rules (never an absolute or "../" host file);
//   - the type is a file, directory, symlink, hard link, char or block device or fifo (pax and
//     GNU long-name headers are read, not created); no sparse, multi-volume or vendor types;
//   - framing is unambiguous: no pax size that differs from the header's, no data on members
//     that carry none, headers with a valid checksum.
// The archive ends at its first zero block, as every tar reads it: that block and a second
// one are passed on, anything after it is ignored, so the extractor sees exactly what was
// checked.
class TarScanner {
  public:
    static constexpr size_t kMaxMetaSize = 1 << 20;  // a pax or long-name header's data
    static constexpr size_t kMaxMembers = 4'000'000;

    enum class Status { more, end, refused, corrupt };

    // Consumes `bytes`; appends to `*approved` (when not null) the bytes checked so far that
    // may be given to an extractor, in order. Returns the status after them: `more` (go on),
    // `end` (end marker seen: nothing more will be approved, the rest may be ignored),
    // `refused` (a rule is broken) or `corrupt` (not a readable tar stream). Feeding after
    // anything but `more` changes nothing.
    Status feed(std::string_view bytes, std::string* approved);
    // The input ended: `end` after an end marker, or at a member boundary (tars accept a
    // stream without one, and so is it: two zero blocks are appended to *approved);
    // `corrupt` (truncated) in the middle of a member.
    Status finish(std::string* approved);

    Status status() const { return status_; }
    // What is wrong, one line naming the member and the rule: "member 'evil/x' is under the
    // symlink member 'evil'". "" while all is well.
    const std::string& problem() const { return problem_; }
    uint64_t members() const { return members_; }

  private:
    enum class Kind : char { directory = 'd', symlink = 'l', other = 'f' };
    void header(std::string_view block, std::string* approved);
    void meta_done();
    bool check_paths(char type, const std::string& name, std::string_view header_name,
                     std::string_view header_link);
    bool check_below(const std::string& candidate, const std::string& shown);
    void refuse(std::string problem);
    void corrupt(std::string problem);

    Status status_ = Status::more;
    std::string problem_;
    std::string block_;  // a header block being gathered
    std::string held_;   // pax and long-name headers, passed on with the member they describe
    std::string meta_;   // the data of the pax or long-name header being read
    char meta_type_ = 0;
    uint64_t meta_left_ = 0;  // bytes of meta_ still to read
    uint64_t meta_pad_ = 0;   // then padding to the block
    uint64_t data_left_ = 0;  // member data (with padding) to pass on unchecked
    uint64_t offset_ = 0;     // of the next byte in the stream
    uint64_t members_ = 0;
    std::string long_name_, long_link_, pax_path_, pax_link_;
    std::optional<uint64_t> pax_size_;
    std::unordered_map<std::string, Kind> seen_;
};

// A whole decompressed archive at once (tests, fuzzing): nullopt when TarScanner accepts it
// to its end, else its problem.
std::optional<std::string> tar_problem(std::string_view archive);

// --- sizes ----------------------------------------------------------------------------------

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kMinImageSize = 16 * kMiB;
constexpr uint64_t kMaxImageSize = 16ull * 1024 * 1024 * kMiB;  // 16 TiB, ext4's file limit

// --img: "4G", "512M", "1.5G", "64MiB", "1048576" (bytes); K/M/G/T are binary units. At least
// 16M, at most 16T; rounded down to whole 4 KiB blocks. Throws a usage error naming --img.
uint64_t parse_image_size(std::string_view value);

// Binary units with one decimal: "512 B", "1.0 KiB", "120.3 MiB", "2.0 GiB".
std::string human_size(uint64_t bytes);

// --- progress -------------------------------------------------------------------------------

// 0..100, rounded down; 100 only when done >= total; 0 for an unknown (0) total.
int percent(uint64_t done, uint64_t total);
// "[###########-------------------]  36%  1.2 MiB / 3.4 MiB" (`width` cells between brackets).
std::string progress_bar(uint64_t done, uint64_t total, size_t width = 30);
// "36% (1.2 MiB / 3.4 MiB)".
std::string progress_text(uint64_t done, uint64_t total);

// Decides which progress updates are worth sending: the first one, the last one, and at most
// one per `interval_ms` in between.
class ProgressThrottle {
  public:
    explicit ProgressThrottle(uint64_t interval_ms = 100) : interval_ms_(interval_ms) {}
    bool due(uint64_t now_ms, bool final);

  private:
    uint64_t interval_ms_;
    std::optional<uint64_t> last_ms_;
};

// For plain (non-terminal) output: true when `pct` reached a multiple of 10 not yet printed
// (0% is not printed; 100% always is, once).
class DecileLines {
  public:
    bool due(int pct);

  private:
    int printed_ = 0;
};

// --- tar's complaints -----------------------------------------------------------------------

// The line of a failed tar pipeline's stderr that says why: the last line that is not one of
// tar's epilogues ("Error is not recoverable", "Child returned status", "Exiting with failure
// status"); "" when there is none.
std::string failure_line(std::string_view stderr_text);
// ENOSPC (or a quota) while extracting.
bool mentions_no_space(std::string_view stderr_text);

// --- rootfs facts for the post-install fixes ------------------------------------------------

// What resolve_in_root needs to know about one path inside the rootfs ("etc/hosts", "" = /).
struct PathInfo {
    bool exists = false;
    bool is_directory = false;
    bool is_symlink = false;
    std::string target;  // of a symlink
};
using PathLookup = std::function<PathInfo(const std::string& relative)>;

struct InRootPath {
    std::string relative;  // resolved, without a leading '/'; "" = the rootfs itself
    bool exists = false;   // the final component exists (a dangling last symlink: false)
    int error = 0;         // ENOENT / ENOTDIR for a missing or non-directory parent, ELOOP
};

// Resolves an absolute path as the container will see it: symlinks (absolute or relative) are
// followed with the rootfs as /, and ".." stops at the rootfs. The last component is followed
// only when `follow_last`. At most 40 symlinks.
InRootPath resolve_in_root(std::string_view path, bool follow_last, const PathLookup& lookup);

// A valid hostname made from a container name: characters other than letters, digits, '-' and
// '.' become '-', at most 64 characters, no '-' at either end; "localhost" if nothing is left.
std::string hostname_for(std::string_view name);
// An ext4 volume label: the name cut to 16 bytes.
std::string ext4_label(std::string_view name);
// True when some line of /etc/hosts maps 127.0.0.1 to "localhost".
bool hosts_has_localhost(std::string_view hosts);
// True for text that is empty or only whitespace.
bool is_blank(std::string_view text);

}  // namespace ds::archive
