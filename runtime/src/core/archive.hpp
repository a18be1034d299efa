// Pure helpers for `install`: what kind of archive a file is (magic bytes), image sizes, the
// progress text the CLI prints, what tar's stderr says went wrong, and the rootfs facts the
// post-install fixes need (symlinks resolved with the rootfs as /). No syscalls here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

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
