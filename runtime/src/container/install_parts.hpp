// The parts of `install` (container/install.hpp), shared by its files only:
//   install.cpp          the orchestration: checks, lock, temp dir, steps, rename into place
//   install_source.cpp   what is installed from (a tarball or a directory) and the host tools
//   install_extract.cpp  the children (sys::spawn), the extractor's sandbox, the scanned tar feed
//   install_target.cpp   the temp dir (directory or image staging), its removal, the fixes
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "container/install.hpp"
#include "core/archive.hpp"
#include "core/workspace.hpp"
#include "sys/fd.hpp"

namespace ds::container::install_detail {

// The temp dir of an install of NAME is Containers/.install@NAME.XXXXXX: '@' cannot appear in
// a container name, so no container's own directory ever looks like a temp dir, and the exact
// length (NAME, a dot, mkdtemp's six letters or digits) keeps NAME's leftovers apart from those
// of NAME.xyz.
inline constexpr const char* kTempPrefix = ".install@";
inline constexpr const char* kSandboxDir = ".tar-root";  // inside the temp dir while extracting
inline constexpr const char* kImageMountDir = ".mnt";    // inside the temp dir while extracting

// --- shared helpers (install.cpp) ---------------------------------------------------------------

std::optional<struct stat> lstat_path(const std::string& path);
bool fd_readable_now(int fd);
[[noreturn]] void fail_interrupted(const std::string& name);
// "64M" / "2G": an --img value at least `bytes`.
std::string img_argument(uint64_t bytes);
void warn(const InstallSink& sink, const std::string& message);
void step(const InstallSink& sink, const std::string& id, const std::string& message);

// --- what is installed from (install_source.cpp) ------------------------------------------------

struct Command {
    std::string path;
    std::vector<std::string> argv;
};

// What `tar -cf - .` of a directory will produce and what it takes on disk, from a quick walk
// that stays on the directory's filesystem (as tar --one-file-system does).
struct TreeSize {
    uint64_t entries = 0;
    uint64_t data = 0;  // file contents in 512-byte blocks, each hard-linked file once
    uint64_t disk = 0;
};

struct Source {
    std::string path;
    bool directory = false;
    archive::Compression compression = archive::Compression::none;
    uint64_t size = 0;      // tarball bytes, or the estimated tar stream of a directory
    uint64_t unpacked = 0;  // bytes it needs on disk, 0 when unknown (compressed)
    sys::unique_fd fd;      // the open tarball
    TreeSize tree;          // a directory's walk
};

struct Tools {
    Command tar;
    bool gnu_tar = false;
    bool numeric_owner = false;  // the tar knows --numeric-owner (else owners map by name)
    std::optional<Command> decompress;
    std::optional<Command> mkfs;
};

Source open_source(const std::string& path);
// The tar stream: a header per entry (GNU tar with --xattrs writes pax, which adds an extended
// header of two blocks per entry for the nanosecond times), the data, the end marker.
uint64_t tar_stream_size(const TreeSize& size, bool pax);
Tools find_tools(const Source& src, bool image, int cancel_fd, const std::string& name);

// --- children and extraction (install_extract.cpp) ----------------------------------------------

std::string status_text(int status);
bool exited_ok(int status);

struct ToolRun {
    int status = 0;
    std::string output;  // stdout and stderr, the tail
};
// Runs a short tool with stdin from /dev/null and its output captured.
ToolRun run_tool(const Command& cmd, int cancel_fd, const std::string& name);

struct ExtractContext {
    const Source& src;
    const Tools& tools;
    std::string dest;         // the rootfs directory (the image's mount point for an image)
    std::string work;         // the temp dir (the sandbox's mount point is made in it)
    uint64_t image_size = 0;  // 0 for a directory rootfs
    std::string space_owner;  // the directory whose filesystem fills up, for messages
    std::string name;
    int cancel_fd = -1;
    const InstallSink& sink;
};

// Before anything is made: reads the whole archive through the scanner. A member that breaks
// a rule is refused with exit 1 (bad input); an unreadable archive fails like a failed
// extraction (exit 2).
void check_archive(const Source& src, const Tools& tools, const std::string& name, int cancel_fd,
                   const InstallSink& sink);
// Extracts the source into cx.dest with the host's tar in its sandbox, fed only what the
// scanner approves; progress events on the way.
void extract(const ExtractContext& cx);

// --- the target (install_target.cpp) ------------------------------------------------------------

// The temp dir an install builds in, and what is mounted inside it. cleanup() undoes all of it.
class Staging {
  public:
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;
    explicit Staging(std::string dir) : dir_(std::move(dir)) {}
    ~Staging() {
        if (!kept_) cleanup();
    }

    const std::string& dir() const { return dir_; }
    std::string mount_point() const { return dir_ + "/" + kImageMountDir; }
    void set_mounted(bool mounted) { mounted_ = mounted; }
    void keep() { kept_ = true; }

    // Unmounts (detaching the loop device) and removes the temp dir. Returns "" or what is left.
    std::string cleanup();

  private:
    std::string dir_;
    bool mounted_ = false;
    bool kept_ = false;
};

// Leftovers of an install of the same name that was killed (SIGKILL, power loss): we hold the
// name's lock, so no live install owns them. True when there were any; `problem` says what
// could not be removed.
bool remove_stale_staging(const Workspace& ws, const std::string& name, std::string& problem);

struct FixesOutcome {
    std::vector<std::string> warnings;
    std::vector<std::string> done;
    std::string os;
};
// The post-install fixes: mount points, /etc/hostname, /etc/hosts, a word about /sbin/init,
// and the os-release name.
FixesOutcome apply_fixes(const std::string& root_dir, const std::string& name);

void sync_filesystem(const std::string& dir, const std::string& what);
void fsync_dir(const std::string& dir);

}  // namespace ds::container::install_detail
