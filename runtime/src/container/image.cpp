#include "container/image.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <utility>

#include "core/error.hpp"
#include "core/mountinfo.hpp"
#include "core/text.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/loop.hpp"
#include "sys/path_lookup.hpp"
#include "sys/platform.hpp"
#include "sys/probes.hpp"
#include "sys/spawn.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr size_t kExtMagicOffset = 0x438;  // superblock at 1024 + s_magic at 0x38
constexpr uint16_t kExtMagic = 0xEF53;
constexpr size_t kBtrfsMagicOffset = 0x10040;  // superblock at 64 KiB + magic at 0x40
constexpr std::string_view kBtrfsMagic = "_BHRfS_M";
constexpr size_t kProbeBytes = kBtrfsMagicOffset + kBtrfsMagic.size();

constexpr unsigned long kMountFlags = MS_NOATIME | MS_NODIRATIME;
constexpr std::string_view kExtMountData = "nodelalloc,errors=remount-ro,init_itable=0";
// Upstream labels the image so Android's SELinux does not silently deny the loop I/O.
constexpr std::string_view kAndroidImageLabel = "u:object_r:vold_data_file:s0";

constexpr auto kLoopReleaseTimeout = std::chrono::seconds(2);
constexpr int kMaxStackedMounts = 8;
constexpr size_t kMaxFsckOutput = 64 * 1024;

const char* const kFsckEnv[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin:/system/bin", "LC_ALL=C",
                                nullptr};

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
    return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A path as a shell word, quoted only when it needs it.
std::string shell_word(const std::string& text) {
    static constexpr std::string_view kSafe =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./@%+=:,-";
    if (!text.empty() && text.find_first_not_of(kSafe) == std::string::npos) return text;
    std::string quoted = "'";
    for (char c : text)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return quoted + "'";
}

// --- files and mounts ------------------------------------------------------------------------

struct stat stat_path(const std::string& path, const std::string& what) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) sys::fail_errno("stat " + what + " " + path);
    return st;
}

// realpath(), or the path unchanged when it does not resolve.
std::string canonical_or_same(const std::string& path) {
    char resolved[PATH_MAX];
    return ::realpath(path.c_str(), resolved) ? std::string(resolved) : path;
}

std::vector<MountEntry> read_mounts() {
    return parse_mountinfo(sys::read_file("/proc/self/mountinfo"));
}

// The loop device behind a mount: the device number for ext4, the source's name for btrfs
// (whose mounts carry an anonymous device number).
std::optional<int> loop_of(const MountEntry& entry) {
    if (auto n = sys::loop_number_of_device(entry.major, entry.minor)) return n;
    return sys::parse_loop_name(entry.source);
}

// The loop's backing file is `image` (realpath `real`, stat `st`): the same path, or the same
// inode seen through another path.
bool same_file(const std::string& backing, const std::string& real, const struct stat& st) {
    if (backing == real) return true;
    struct stat other;
    return ::stat(backing.c_str(), &other) == 0 && other.st_dev == st.st_dev &&
           other.st_ino == st.st_ino;
}

// --- detection -------------------------------------------------------------------------------

std::string read_head(const sys::unique_fd& fd, const std::string& path) {
    std::string head(kProbeBytes, '\0');
    size_t done = 0;
    while (done < head.size()) {
        ssize_t n =
            ::pread(fd.get(), head.data() + done, head.size() - done, static_cast<off_t>(done));
        if (n == 0) break;  // a file smaller than the btrfs superblock
        if (n < 0) {
            if (errno == EINTR) continue;
            sys::fail_errno("read image " + path);
        }
        done += static_cast<size_t>(n);
    }
    head.resize(done);
    return head;
}

bool kernel_has(std::string_view fs) {
    auto filesystems = sys::try_read_file("/proc/filesystems");
    return !filesystems ||
           sys::filesystems_list_has(*filesystems, fs);  // unreadable: let mount say
}

// --- e2fsck ----------------------------------------------------------------------------------

std::string drain(const sys::unique_fd& fd, const std::string& what) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n == 0) return out;
        if (n < 0) {
            if (errno == EINTR) continue;
            sys::fail_errno("read output of " + what);
        }
        if (out.size() < kMaxFsckOutput) out.append(buf, static_cast<size_t>(n));
    }
}

struct ToolRun {
    int exit_code = 0;
    std::string output;  // stdout and stderr, interleaved as written
};

// Runs the tool at argv[0] (an absolute path; no shell) with a fixed environment, stdin from
// /dev/null, and its stdout+stderr captured. sys::spawn reports a failed exec and kills the
// tool if reading its output throws.
ToolRun run_tool(const std::vector<std::string>& args) {
    const std::string& tool = args.front();
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe2 for " + tool);
    sys::unique_fd output_read(fds[0]), output_write(fds[1]);
    sys::SpawnOptions options;
    options.path = tool;
    options.argv = args;
    options.env = std::vector<std::string>(std::begin(kFsckEnv), std::end(kFsckEnv) - 1);
    options.fds = {{output_write.get(), STDOUT_FILENO}, {output_write.get(), STDERR_FILENO}};
    sys::Child child = sys::spawn(options);
    output_write.reset();

    ToolRun run;
    run.output = drain(output_read, tool);
    int status = child.wait();
    if (WIFSIGNALED(status))
        fail_runtime(tool + " killed by signal " + std::to_string(WTERMSIG(status)));
    run.exit_code = WEXITSTATUS(status);
    return run;
}

// Whether the image can be opened for writing: EACCES, EROFS (a read-only filesystem or
// device) and EPERM (an immutable file) say no; anything else is an error.
bool writable(const std::string& path) {
    sys::unique_fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd) return true;
    if (errno == EACCES || errno == EROFS || errno == EPERM) return false;
    sys::fail_errno("open image " + path);
}

// e2fsck on a mounted filesystem would refuse (exit 8) or, worse, race the kernel.
void refuse_in_use(const std::string& path, const struct stat& st) {
    if (S_ISREG(st.st_mode)) {
        if (auto device = image_loop_device(path); !device.empty())
            fail_usage("image " + path + " is in use (attached to " + device +
                       "): stop what mounts it before checking it");
        return;
    }
    for (const auto& mount : read_mounts())
        if (makedev(mount.major, mount.minor) == st.st_rdev)
            fail_usage(path + " is mounted on " + mount.mount_point +
                       ": unmount it before checking it");
}

// --- mounting --------------------------------------------------------------------------------

struct OpenedImage {
    sys::unique_fd fd;
    bool read_only = false;
};

// O_RDWR unless read-only was asked for; an image that cannot be written is used read-only.
OpenedImage open_image(const std::string& path, bool read_only) {
    if (!read_only) {
        sys::unique_fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
        if (fd) return {std::move(fd), false};
        if (errno != EACCES && errno != EROFS && errno != EPERM)
            sys::fail_errno("open image " + path);
    }
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) sys::fail_errno("open image " + path + " read-only");
    return {std::move(fd), true};
}

// A mount point made by mkdir -p, removed again unless keep() is called. One that existed
// before is left alone. Made 0700: its parent (the mount base, install's staging directory) is
// already private, and the mounted root's own mode is what the guest sees.
class MountPointDir {
  public:
    explicit MountPointDir(const std::string& path) : path_(path) {
        created_ = !sys::path_exists(path);
        sys::make_dirs(path, 0700);
    }
    MountPointDir(const MountPointDir&) = delete;
    MountPointDir& operator=(const MountPointDir&) = delete;
    ~MountPointDir() {
        if (created_ && !kept_) ::rmdir(path_.c_str());  // undoing our own mkdir
    }
    void keep() { kept_ = true; }

  private:
    std::string path_;
    bool created_ = false;
    bool kept_ = false;
};

void refuse_mounted(const std::string& mount_point) {
    if (auto top = top_mount_at(read_mounts(), canonical_or_same(mount_point)))
        fail_usage(mount_point + " is already a mount point (of " + top->source +
                   "): unmount it first");
}

void refuse_attached(const std::string& image) {
    if (auto device = image_loop_device(image); !device.empty())
        fail_usage("image " + image + " is already attached to " + device +
                   " (another container or mount uses it): stop that first");
}

// Android: upstream's label on the image file, so SELinux does not silently fail the loop
// I/O. Best effort as upstream: a host without SELinux (ENOTSUP) or a policy that forbids the
// relabel just keeps the old label.
void label_for_loop_io(const std::string& image) {
    if (!sys::is_android()) return;
    (void)::lsetxattr(image.c_str(), "security.selinux", kAndroidImageLabel.data(),
                      kAndroidImageLabel.size() + 1, 0);
}

void mount_device(const std::string& device, const std::string& image,
                  const std::string& mount_point, ImageFs fs, bool read_only,
                  const std::string& selinux_context) {
    std::string data = image_mount_data(fs, selinux_context);
    unsigned long flags = kMountFlags | (read_only ? MS_RDONLY : 0);
    const char* type = to_string(fs);
    if (::mount(device.c_str(), mount_point.c_str(), type, flags,
                data.empty() ? nullptr : data.c_str()) != 0) {
        // The kernel found damage that a preen (run only on filesystems not marked clean)
        // did not: only a forced check can tell what it is.
        if (errno == EUCLEAN && fs != ImageFs::btrfs)
            fail_usage("image " + image + " is damaged (the kernel refused to mount it: " +
                       sys::errno_text(EUCLEAN) + "); run: e2fsck -f " + image);
        sys::fail_errno("mount " + std::string(type) + " image " + image + " (" + device + ") on " +
                        mount_point);
    }
    // Some Android kernels force nosuid/nodev on loop mounts; a remount with the same flags
    // clears them (upstream does this). Best effort: a refusal keeps the mount as it is.
    if (sys::is_android())
        (void)::mount(device.c_str(), mount_point.c_str(), type, MS_REMOUNT | flags,
                      data.empty() ? nullptr : data.c_str());
}

// Frees a loop device that nothing mounted: LOOP_CLR_FD, close (since Linux 5.x the kernel
// only marks the device and clears it on the last close), then wait for the kernel.
void release_unmounted_loop(sys::LoopDevice& loop) {
    auto backing = sys::loop_backing_file(loop.number);
    sys::clear_loop(loop);
    loop.fd.reset();
    if (backing) sys::wait_loop_released(loop.number, *backing, kLoopReleaseTimeout);
}

ImageMount mount_loop(const std::string& image, OpenedImage opened, const std::string& mount_point,
                      ImageFs fs, const MountImageOptions& options) {
    label_for_loop_io(image);
    sys::LoopDevice loop = sys::attach_loop(opened.fd.get(), image, {opened.read_only, true});
    opened.fd.reset();  // the loop device holds its own reference to the file
    try {
        mount_device(loop.path, image, mount_point, fs, opened.read_only, options.selinux_context);
    } catch (...) {
        try {
            release_unmounted_loop(loop);
        } catch (...) {
            // The mount error is the one to report; closing loop.fd still autoclears.
        }
        throw;
    }
    // loop.fd closes on return: the mount is now the device's only user, and autoclear frees
    // the device when the filesystem is unmounted.
    return {mount_point, loop.path, opened.read_only};
}

// --- unmounting ------------------------------------------------------------------------------

// A loop device under a mount that unmount_image frees. Only autoclear devices: ours, and
// util-linux's `mount -o loop`. A device the user attached (losetup) and passed as a block
// device stays theirs.
struct HeldLoop {
    int number;
    std::string backing_file;
};

// umount2(), then MNT_DETACH when busy (an open file, a cwd inside): the filesystem goes with
// its last user. "Not mounted" (EINVAL, ENOENT) is fine.
void unmount_one(const std::string& mount_point) {
    if (::umount2(mount_point.c_str(), 0) == 0) return;
    if (errno == EINVAL || errno == ENOENT) return;
    if (errno != EBUSY) sys::fail_errno("unmount " + mount_point);
    if (::umount2(mount_point.c_str(), MNT_DETACH) == 0) return;
    if (errno == EINVAL || errno == ENOENT) return;
    sys::fail_errno("unmount (detach) " + mount_point);
}

// Unmounts everything stacked on `mount_point`, noting the loop devices behind it.
std::vector<HeldLoop> unmount_stack(const std::string& mount_point) {
    std::vector<HeldLoop> loops;
    for (int i = 0; i < kMaxStackedMounts; ++i) {
        auto top = top_mount_at(read_mounts(), mount_point);
        if (!top) return loops;
        if (auto n = loop_of(*top); n && sys::loop_autoclear(*n))
            if (auto backing = sys::loop_backing_file(*n)) loops.push_back({*n, *backing});
        unmount_one(mount_point);
    }
    fail_runtime("unmount " + mount_point + ": still mounted after " +
                 std::to_string(kMaxStackedMounts) + " unmounts");
}

void remove_mount_point(const std::string& mount_point) {
    if (::rmdir(mount_point.c_str()) != 0 && errno != ENOENT)
        sys::fail_errno("rmdir " + mount_point);
}

// Autoclear normally freed the device with the unmount; one still bound to the same file gets
// LOOP_CLR_FD. Never clears a device that was since reused for another file.
bool release_loop(const HeldLoop& loop) {
    auto current = sys::loop_backing_file(loop.number);
    if (!current || *current != loop.backing_file) return true;
    sys::detach_loop(loop.number);
    return sys::wait_loop_released(loop.number, loop.backing_file, kLoopReleaseTimeout);
}

void release_loops(const std::string& mount_point, const std::vector<HeldLoop>& loops) {
    std::string stuck;
    for (const auto& loop : loops) {
        if (release_loop(loop)) continue;
        if (!stuck.empty()) stuck += ", ";
        stuck += sys::loop_device_path(loop.number) + " (" + loop.backing_file + ")";
    }
    if (!stuck.empty())
        fail_runtime("unmounted " + mount_point + ", but " + stuck +
                     " is still attached: something still uses the filesystem (an open file, "
                     "or a mount in another namespace); the device frees itself when that ends");
}

}  // namespace

const char* to_string(ImageFs fs) {
    return fs == ImageFs::btrfs ? "btrfs" : "ext4";
}

// --- pure parts ------------------------------------------------------------------------------

std::optional<ImageFs> identify_superblock(std::string_view head) {
    if (head.size() >= kExtMagicOffset + 2) {
        auto lo = static_cast<unsigned char>(head[kExtMagicOffset]);
        auto hi = static_cast<unsigned char>(head[kExtMagicOffset + 1]);
        if ((lo | (hi << 8)) == kExtMagic) return ImageFs::ext4;
    }
    if (head.size() >= kProbeBytes &&
        head.substr(kBtrfsMagicOffset, kBtrfsMagic.size()) == kBtrfsMagic)
        return ImageFs::btrfs;
    return std::nullopt;
}

std::string e2fsck_problem(std::string_view output, const std::string& image) {
    std::string fallback;
    while (!output.empty()) {
        size_t eol = output.find('\n');
        std::string_view line = trim(output.substr(0, eol));
        output.remove_prefix(eol == std::string_view::npos ? output.size() : eol + 1);
        // "<device>: text"; the device is the path given, or the filesystem's label.
        if (starts_with(line, image + ": ")) {
            line.remove_prefix(image.size() + 2);
        } else if (size_t colon = line.find(": ");
                   colon != std::string_view::npos &&
                   line.substr(0, colon).find_first_of(" \t") == std::string_view::npos) {
            line.remove_prefix(colon + 2);
        }
        line = trim(line);
        if (line.empty() || ends_with(line, "check forced.") || starts_with(line, "(i.e.,") ||
            starts_with(line, "Pass "))
            continue;
        // e2fsck -n's questions: "Root inode is not a directory.  Clear? no"
        if (size_t question = line.rfind(".  ");
            question != std::string_view::npos && ends_with(line, "? no"))
            line = line.substr(0, question + 1);
        if (starts_with(line, "e2fsck ") && line.find(" (") != std::string_view::npos)
            continue;  // version banner
        if (line.find("UNEXPECTED INCONSISTENCY") != std::string_view::npos) {
            if (fallback.empty()) fallback = line;
            continue;
        }
        return std::string(line);
    }
    return fallback.empty() ? "e2fsck found errors it cannot fix on its own" : fallback;
}

std::string e2fsck_verdict(const std::string& image, int exit_code, std::string_view output) {
    std::string text(trim(output));
    if (exit_code == 0) return "";
    // 4: errors left; it wins over 8 (e2fsck -n aborts with 12 on a root inode it may not fix).
    if ((exit_code & 4) && !(exit_code & ~15))
        fail_usage("image " + image + " needs a manual repair: " + e2fsck_problem(text, image) +
                   "; run: e2fsck -f " + shell_word(image));
    if (exit_code & ~3)  // 8 operational error, 16 usage, 32 cancelled, 128 shared library
        fail_runtime("e2fsck " + image + " failed (exit " + std::to_string(exit_code) +
                     "): " + (text.empty() ? "no output" : text));
    return text.empty() ? "e2fsck corrected errors" : text;  // 1, 2 (reboot: not ours to do)
}

std::string image_mount_data(ImageFs fs, const std::string& selinux_context) {
    std::string data = fs == ImageFs::ext4 ? std::string(kExtMountData) : "";
    if (selinux_context.empty()) return data;
    if (!data.empty()) data += ',';
    // A context with MLS categories has commas ("s0:c1,c2"): quote it as the kernel expects.
    bool quote = selinux_context.find(',') != std::string::npos;
    return data + "context=" + (quote ? "\"" + selinux_context + "\"" : selinux_context);
}

std::vector<MountEntry> parse_mountinfo(std::string_view mountinfo) {
    std::vector<MountEntry> mounts;
    for (auto& m : ds::parse_mountinfo(mountinfo))
        mounts.push_back(
            {m.major, m.minor, std::move(m.mount_point), std::move(m.fstype), std::move(m.source)});
    return mounts;
}

std::optional<MountEntry> top_mount_at(const std::vector<MountEntry>& mounts,
                                       const std::string& mount_point) {
    std::optional<MountEntry> top;
    for (const auto& entry : mounts)
        if (entry.mount_point == mount_point) top = entry;
    return top;
}

// --- the interface ---------------------------------------------------------------------------

ImageFs detect_image_fs(const std::string& path) {
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) sys::fail_errno("open image " + path);
    auto fs = identify_superblock(read_head(fd, path));
    if (!fs)
        fail_usage("image " + path +
                   ": unknown filesystem (no ext2/3/4 or btrfs superblock); only ext4 and "
                   "btrfs images are supported");
    if (*fs == ImageFs::btrfs && !kernel_has("btrfs"))
        fail_usage("image " + path +
                   " is btrfs, but this kernel has no btrfs (not in /proc/filesystems)");
    return *fs;
}

std::string check_image(const std::string& path, ImageFs fs) {
    if (fs != ImageFs::ext4) return "";
    std::string e2fsck = sys::find_program("e2fsck");
    if (e2fsck.empty()) return std::string(kImageNotChecked);
    refuse_in_use(path, stat_path(path, "image"));
    // Preen repairs what is safe to repair; an image that cannot be written is only looked at.
    ToolRun run = run_tool({e2fsck, writable(path) ? "-p" : "-n", path});
    return e2fsck_verdict(path, run.exit_code, run.output);
}

ImageMount mount_image(const std::string& image, const std::string& mount_point,
                       const MountImageOptions& options) {
    std::string path = canonical_or_same(image);
    struct stat st = stat_path(path, "image");
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        fail_usage("image " + image + " is neither a regular file nor a block device");
    ImageFs fs = detect_image_fs(path);
    if (S_ISREG(st.st_mode)) refuse_attached(path);
    refuse_mounted(mount_point);

    MountPointDir dir(mount_point);
    std::string target = canonical_or_same(mount_point);
    OpenedImage opened = open_image(path, options.read_only);
    ImageMount mounted;
    if (S_ISBLK(st.st_mode)) {
        mount_device(path, path, target, fs, opened.read_only, options.selinux_context);
        mounted = {target, "", opened.read_only};
    } else {
        mounted = mount_loop(path, std::move(opened), target, fs, options);
    }
    dir.keep();
    return mounted;
}

void unmount_image(const std::string& mount_point) {
    std::string target = canonical_or_same(mount_point);
    std::vector<HeldLoop> loops = unmount_stack(target);
    remove_mount_point(target);
    release_loops(target, loops);
}

bool image_mounted_at(const std::string& image, const std::string& mount_point) {
    char resolved[PATH_MAX];
    if (!::realpath(mount_point.c_str(), resolved)) return false;
    struct stat st;
    if (::stat(image.c_str(), &st) != 0) return false;
    auto top = top_mount_at(read_mounts(), resolved);
    if (!top) return false;
    if (S_ISBLK(st.st_mode)) {
        struct stat source;
        return makedev(top->major, top->minor) == st.st_rdev ||
               (::stat(top->source.c_str(), &source) == 0 && S_ISBLK(source.st_mode) &&
                source.st_rdev == st.st_rdev);
    }
    if (!S_ISREG(st.st_mode)) return false;
    auto n = loop_of(*top);
    if (!n) return false;
    auto backing = sys::loop_backing_file(*n);
    return backing && same_file(*backing, canonical_or_same(image), st);
}

std::string image_loop_device(const std::string& image) {
    struct stat st;
    if (::stat(image.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
    std::string real = canonical_or_same(image);
    for (int n : sys::loop_devices()) {
        auto backing = sys::loop_backing_file(n);
        if (backing && same_file(*backing, real, st)) return sys::loop_device_path(n);
    }
    return "";
}

}  // namespace ds::container
