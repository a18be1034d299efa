// install: the orchestration. The parts are in install_source.cpp, install_extract.cpp and
// install_target.cpp (see install_parts.hpp).
#include "container/install.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <optional>
#include <vector>

#include "container/image.hpp"
#include "container/install_parts.hpp"
#include "container/lifecycle.hpp"
#include "core/archive.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/lock.hpp"
#include "sys/mount.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::install_detail {

namespace ar = ds::archive;

std::optional<struct stat> lstat_path(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
    return st;
}

bool fd_readable_now(int fd) {
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

[[noreturn]] void fail_interrupted(const std::string& name) {
    fail_runtime("install of '" + name + "' interrupted: nothing was kept");
}

// "64M" / "2G": an --img value at least `bytes`.
std::string img_argument(uint64_t bytes) {
    constexpr uint64_t kGiB = 1024 * ar::kMiB;
    if (bytes >= kGiB) return std::to_string((bytes + kGiB - 1) / kGiB) + "G";
    return std::to_string((bytes + ar::kMiB - 1) / ar::kMiB) + "M";
}

void warn(const InstallSink& sink, const std::string& message) {
    if (!sink) return;
    InstallEvent e;
    e.type = InstallEvent::Type::warning;
    e.message = message;
    sink(e);
}

void step(const InstallSink& sink, const std::string& id, const std::string& message) {
    if (!sink) return;
    InstallEvent e;
    e.type = InstallEvent::Type::step;
    e.step = id;
    e.message = message;
    sink(e);
}

}  // namespace ds::container::install_detail

namespace ds::container {
namespace {

using namespace std::chrono_literals;
using namespace install_detail;
namespace ar = ds::archive;
using sys::unique_fd;

constexpr auto kInstallLockWait = 2s;

InstallResult install_locked(const Workspace& ws, const InstallRequest& request, Source& src,
                             const Tools& tools, Staging& staging, const InstallSink& sink,
                             int cancel_fd) {
    const std::string& name = request.name;
    const bool image = request.image_size > 0;
    InstallResult result;
    result.name = name;
    result.container_dir = ws.container_dir(name);
    result.image = image;
    result.rootfs = result.container_dir + (image ? "/rootfs.img" : "/rootfs");
    result.config_path = ws.config_path(name);

    std::string rootfs_dir;
    const std::string img = staging.dir() + "/rootfs.img";
    if (image) {
        step(sink, "mkfs",
             "Creating a " + ar::human_size(request.image_size) + " sparse ext4 image");
        {
            // 0600: the image holds the whole rootfs, /etc/shadow included.
            unique_fd fd(::open(img.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
            if (!fd) sys::fail_errno("create " + img);
            if (::ftruncate(fd.get(), static_cast<off_t>(request.image_size)) != 0)
                sys::fail_errno("size " + img + " to " + ar::human_size(request.image_size));
        }
        Command mkfs = *tools.mkfs;
        mkfs.argv.insert(mkfs.argv.end(), {"-q", "-F", "-L", ar::ext4_label(name), img});
        auto run = run_tool(mkfs, cancel_fd, name);
        if (fd_readable_now(cancel_fd)) fail_interrupted(name);
        if (!exited_ok(run.status)) {
            std::string why = ar::failure_line(run.output);
            fail_runtime("mkfs.ext4 failed on " + img + ": " +
                         (why.empty() ? status_text(run.status) : why));
        }
        staging.set_mounted(true);  // mount_image cleans up after itself, cleanup() checks
        auto mounted = mount_image(img, staging.mount_point(), MountImageOptions{});
        if (mounted.read_only) fail_runtime("the new image " + img + " was mounted read-only");
        rootfs_dir = staging.mount_point();
        // mkfs's lost+found stays: e2fsck wants it.
    } else {
        rootfs_dir = staging.dir() + "/rootfs";
        if (::mkdir(rootfs_dir.c_str(), 0755) != 0) sys::fail_errno("mkdir " + rootfs_dir);
    }

    std::string kind =
        src.directory
            ? "directory"
            : std::string(ar::compression_name(src.compression)) +
                  (src.compression == ar::Compression::none ? " archive" : "-compressed tarball");
    step(sink, "extract",
         "Extracting " + src.path + " (" + kind + ", " + ar::human_size(src.size) + ")" +
             (image ? " into the image" : ""));
    ExtractContext cx{
        src,  tools,     rootfs_dir, staging.dir(), request.image_size, ws.containers_dir(),
        name, cancel_fd, sink};
    extract(cx);
    if (fd_readable_now(cancel_fd)) fail_interrupted(name);

    step(sink, "fixes", "Checking the rootfs (hostname, hosts, mount points, init)");
    auto fixes = apply_fixes(rootfs_dir, name);
    for (const auto& w : fixes.warnings)
        warn(sink, w);
    result.os = fixes.os;
    result.fixes = fixes.done;
    if (image) {
        sync_filesystem(rootfs_dir, "the image");
        unmount_image(staging.mount_point());
        staging.set_mounted(false);
        if (sys::is_mountpoint(staging.mount_point()))
            fail_runtime("cannot unmount the new image from " + staging.mount_point());
        if (auto loop = image_loop_device(img); !loop.empty())
            fail_runtime("the new image " + img + " is still attached to " + loop);
    } else {
        sync_filesystem(rootfs_dir, ws.containers_dir());
    }
    if (fd_readable_now(cancel_fd)) fail_interrupted(name);

    step(sink, "config", "Writing " + result.config_path);
    Config config;
    config.name = name;
    config.hostname = ar::hostname_for(name);
    config.rootfs_path = result.rootfs;
    config.rootfs_is_image = image;
    sys::write_file_atomic(staging.dir() + "/container.config", serialize_config(config));

    // Into place, refusing to replace anything that appeared meanwhile.
    if (::renameat2(AT_FDCWD, staging.dir().c_str(), AT_FDCWD, result.container_dir.c_str(),
                    RENAME_NOREPLACE) != 0) {
        int err = errno;
        if (err == EEXIST) fail_usage("container '" + name + "' already exists");
        if (err != EINVAL && err != ENOSYS)
            sys::fail_errno("rename into " + result.container_dir, err);
        if (lstat_path(result.container_dir)) fail_usage("container '" + name + "' already exists");
        if (::rename(staging.dir().c_str(), result.container_dir.c_str()) != 0)
            sys::fail_errno("rename into " + result.container_dir);
    }
    staging.keep();
    fsync_dir(ws.containers_dir());
    return result;
}

[[noreturn]] void fail_exists(const Workspace& ws, const std::string& name) {
    fail_busy("container '" + name + "' already exists (" + ws.container_dir(name) +
              "): choose another name, or remove that directory first");
}

}  // namespace

InstallResult install_container(const Workspace& ws, const InstallRequest& request,
                                const InstallSink& sink, int cancel_fd) {
    const std::string& name = request.name;
    check_container_name(name);
    const bool image = request.image_size > 0;
    if (request.image_fs != "ext4")
        fail_usage("unsupported --fs=" + request.image_fs + ": only ext4 images can be created");
    if (image && (request.image_size < ar::kMinImageSize || request.image_size > ar::kMaxImageSize))
        fail_usage("image size " + ar::human_size(request.image_size) +
                   " out of range: from 16M to 16T");
    if (lstat_path(ws.container_dir(name))) fail_exists(ws, name);
    if (request.source.empty() || request.source.front() != '/')
        fail_usage("--from " + request.source + ": expected an absolute path");

    Source src = open_source(request.source);
    if (src.directory) {
        std::string from = request.source.back() == '/' ? request.source : request.source + "/";
        if ((ws.containers_dir() + "/").starts_with(from))
            fail_usage("--from " + request.source + " contains " + ws.containers_dir() +
                       ": a directory cannot be copied into itself");
    }
    Tools tools = find_tools(src, image, cancel_fd, name);
    if (src.directory) src.size = tar_stream_size(src.tree, tools.gnu_tar);
    // Every member of a tarball is checked before anything is made (a directory's stream,
    // packed by our own tar, is checked while it is extracted).
    if (!src.directory) check_archive(src, tools, name, cancel_fd, sink);
    if (!tools.gnu_tar)
        warn(sink,
             std::string("the host's tar is not GNU tar: extended attributes (xattrs, file "
                         "capabilities) are not preserved") +
                 (tools.numeric_owner ? ""
                                      : "; owners are mapped by name through this host's users"));
    if (image && src.unpacked > request.image_size)
        fail_usage("the image is too small: " + src.path + " needs about " +
                   ar::human_size(src.unpacked) + " and --img is " +
                   ar::human_size(request.image_size) + "; use at least --img=" +
                   img_argument(src.unpacked + src.unpacked / 4 + 16 * ar::kMiB));

    make_private_dirs(ws);  // Containers/ 0700: no other host user reaches the new rootfs
    sys::make_dirs(ws.pids_dir());
    sys::FileLock lock =
        request.try_lock
            ? lock_container(ws, name, LockMode::try_once)
            : sys::FileLock(ws.sidecar(name, "lock"), kInstallLockWait, "container '" + name + "'");
    if (lstat_path(ws.container_dir(name))) fail_exists(ws, name);
    std::string leftover;
    if (remove_stale_staging(ws, name, leftover)) {
        if (leftover.empty())
            warn(sink, "removed the leftovers of an earlier install of '" + name +
                           "' that did not finish");
        else
            warn(sink, "could not remove the leftovers of an earlier install of '" + name +
                           "': " + leftover);
    }

    struct statvfs vfs;
    if (::statvfs(ws.containers_dir().c_str(), &vfs) == 0) {
        uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (!image && src.unpacked > avail)
            fail_runtime("not enough space in " + ws.containers_dir() + ": " + src.path +
                         " needs about " + ar::human_size(src.unpacked) + ", " +
                         ar::human_size(avail) + " free");
        if (image && request.image_size > avail)
            warn(sink, "the image may grow to " + ar::human_size(request.image_size) + " but " +
                           ws.containers_dir() + " has only " + ar::human_size(avail) + " free");
    }

    std::string temp = ws.containers_dir() + "/" + kTempPrefix + sanitize_name(name) + ".XXXXXX";
    if (!::mkdtemp(temp.data())) sys::fail_errno("create a temp dir in " + ws.containers_dir());
    Staging staging(temp);
    ::chmod(temp.c_str(), 0755);
    try {
        auto result = install_locked(ws, request, src, tools, staging, sink, cancel_fd);
        if (sink) {
            InstallEvent e;
            e.type = InstallEvent::Type::done;
            e.name = result.name;
            e.rootfs = result.rootfs;
            e.config = result.config_path;
            e.image = result.image;
            e.os = result.os;
            e.fixes = result.fixes;
            sink(e);
        }
        return result;
    } catch (const Error& e) {
        std::string left = staging.cleanup();
        if (left.empty()) throw;
        throw Error(e.kind(), std::string(e.what()) + "; cleanup incomplete: " + left);
    } catch (const std::exception& e) {
        std::string left = staging.cleanup();
        fail_runtime(std::string(e.what()) + (left.empty() ? "" : "; cleanup incomplete: " + left));
    }
}

}  // namespace ds::container
