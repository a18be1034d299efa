// install: the temp dir the container is built in (a directory, or an image mounted in it),
// its removal on failure, and the post-install fixes of the new rootfs.
#include "container/install_parts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include "container/image.hpp"
#include "core/archive.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/validate.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::install_detail {
namespace {

using sys::unique_fd;
namespace ar = ds::archive;

// --- removing what was made ---------------------------------------------------------------------

// Removes everything inside `dirfd` without following symlinks and without crossing into
// another filesystem (a mount below is left alone and reported). Takes ownership of `dirfd`.
void remove_contents(int dirfd, dev_t dev, const std::string& where, std::string& error) {
    DIR* dir = ::fdopendir(dirfd);
    if (!dir) {
        if (error.empty()) error = "open " + where + ": " + sys::errno_text(errno);
        ::close(dirfd);
        return;
    }
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    int fd = ::dirfd(dir);
    for (const auto& name : names) {
        struct stat st;
        if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                if (error.empty()) error = where + "/" + name + " is a mount point";
                continue;
            }
            int sub = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) remove_contents(sub, dev, where + "/" + name, error);
        }
        if (::unlinkat(fd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
            errno != ENOENT && error.empty())
            error = "remove " + where + "/" + name + ": " + sys::errno_text(errno);
    }
    ::closedir(dir);
}

// rm -rf that stays on one filesystem. Returns "" or the first problem.
std::string remove_tree(const std::string& path) {
    auto st = lstat_path(path);
    if (!st) return errno == ENOENT ? "" : "stat " + path + ": " + sys::errno_text(errno);
    if (!S_ISDIR(st->st_mode)) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return "remove " + path + ": " + sys::errno_text(errno);
        return "";
    }
    std::string error;
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return "open " + path + ": " + sys::errno_text(errno);
    remove_contents(fd, st->st_dev, path, error);
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT && error.empty())
        error = "remove " + path + ": " + sys::errno_text(errno);
    return error;
}

// --- post-install fixes -------------------------------------------------------------------------

class RootFs {
  public:
    explicit RootFs(std::string root) : root_(std::move(root)) {}

    std::string host(const std::string& relative) const {
        return relative.empty() ? root_ : root_ + "/" + relative;
    }

    ar::InRootPath resolve(std::string_view path, bool follow_last) const {
        return ar::resolve_in_root(path, follow_last, [this](const std::string& rel) {
            ar::PathInfo info;
            auto st = lstat_path(host(rel));
            if (!st) return info;
            info.exists = true;
            info.is_directory = S_ISDIR(st->st_mode);
            info.is_symlink = S_ISLNK(st->st_mode);
            if (info.is_symlink) {
                char buf[4096];
                ssize_t n = ::readlink(host(rel).c_str(), buf, sizeof buf);
                if (n > 0) info.target.assign(buf, static_cast<size_t>(n));
            }
            return info;
        });
    }

  private:
    std::string root_;
};

// Creates a file that does not exist yet (never through a symlink).
bool create_file(const std::string& path, const std::string& content, int flags = O_EXCL) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0644));
    return fd && sys::write_all(fd.get(), content.data(), content.size());
}

}  // namespace

std::string Staging::cleanup() {
    if (kept_ || dir_.empty()) return "";
    std::string problem;
    if (mounted_ || sys::is_mountpoint(mount_point())) {
        try {
            unmount_image(mount_point());
        } catch (const std::exception& e) {
            problem = e.what();
        }
        if (sys::is_mountpoint(mount_point())) {
            try {
                sys::detach_mount(mount_point());
            } catch (const std::exception&) {
            }
        }
        mounted_ = false;
    }
    std::string removed = remove_tree(dir_);
    if (problem.empty()) problem = removed;
    if (removed.empty()) dir_.clear();
    return problem;
}

// Leftovers of an install of the same name that was killed (SIGKILL, power loss): we hold the
// name's lock, so no live install owns them.
bool remove_stale_staging(const Workspace& ws, const std::string& name, std::string& problem) {
    std::string prefix = std::string(kTempPrefix) + sanitize_name(name) + ".";
    DIR* dir = ::opendir(ws.containers_dir().c_str());
    if (!dir) return false;
    std::vector<std::string> stale;
    while (dirent* entry = ::readdir(dir)) {
        std::string_view n = entry->d_name;
        // Exactly mkdtemp's six letters or digits after the prefix, so that "a" never matches
        // the temp dir of "a.b" (and '@' in the prefix, that of no container at all).
        std::string_view tail = n.substr(std::min(n.size(), prefix.size()));
        if (n.starts_with(prefix) && tail.size() == 6 &&
            std::all_of(tail.begin(), tail.end(),
                        [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
            stale.emplace_back(n);
    }
    ::closedir(dir);
    for (const auto& n : stale) {
        Staging old(ws.containers_dir() + "/" + n);
        std::string p = old.cleanup();
        if (!p.empty() && problem.empty()) problem = p;
    }
    return !stale.empty();
}

// Every file of the new rootfs is read with sys::read_guest_file: resolved inside the tree,
// non-blocking, regular files only, size-capped, so a FIFO, a /dev/zero symlink or a huge file
// in the tarball cannot hang or exhaust the install.
FixesOutcome apply_fixes(const std::string& root_dir, const std::string& name) {
    FixesOutcome out;
    RootFs root(root_dir);
    unique_fd root_fd = sys::open_tree_root(root_dir);
    auto read_file = [&](const std::string& relative) -> std::optional<std::string> {
        // Looked at through O_PATH first: merely opening a device node the archive made (a
        // watchdog, a tape drive) has effects on the host. Nothing else writes the tree now.
        unique_fd probe = sys::open_in_root(root_fd.get(), "/" + relative, O_PATH);
        struct stat st;
        if (!probe || ::fstat(probe.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
        return sys::read_guest_file(root_fd.get(), "/" + relative);
    };

    // Mount points the runtime mounts over at boot.
    for (const char* dir : {"proc", "sys", "dev", "run", "tmp"}) {
        std::string path = root.host(dir);
        if (lstat_path(path)) continue;
        mode_t mode = std::string_view(dir) == "tmp" ? 01777 : 0755;
        if (::mkdir(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0)
            out.warnings.push_back("cannot create /" + std::string(dir) + ": " +
                                   sys::errno_text(errno));
        else
            out.done.push_back("created /" + std::string(dir));
    }

    auto etc = root.resolve("/etc", true);
    if (etc.error == 0 && !etc.exists) {
        if (::mkdir(root.host(etc.relative).c_str(), 0755) == 0) {
            out.done.push_back("created /etc");
            etc.exists = true;
        }
    }
    if (etc.error != 0 || !etc.exists) {
        out.warnings.push_back("the rootfs has no usable /etc (" +
                               sys::errno_text(etc.error ? etc.error : ENOENT) +
                               "): /etc/hostname and /etc/hosts not checked");
    } else {
        // /etc/hostname: the name, when missing or empty.
        auto hostname = root.resolve("/etc/hostname", false);
        std::string content = ar::hostname_for(name) + "\n";
        if (hostname.error == 0 && !hostname.exists) {
            if (create_file(root.host(hostname.relative), content))
                out.done.push_back("wrote /etc/hostname");
        } else if (hostname.error == 0) {
            auto st = lstat_path(root.host(hostname.relative));
            std::optional<std::string> text;
            if (st && S_ISREG(st->st_mode)) text = read_file(hostname.relative);
            if (text && ar::is_blank(*text) &&
                create_file(root.host(hostname.relative), content, O_TRUNC))
                out.done.push_back("wrote /etc/hostname");
        }
        // /etc/hosts: a localhost line.
        auto hosts = root.resolve("/etc/hosts", false);
        const std::string localhost = "127.0.0.1\tlocalhost\n";
        if (hosts.error == 0 && !hosts.exists) {
            if (create_file(root.host(hosts.relative),
                            localhost + "::1\tlocalhost ip6-localhost ip6-loopback\n"))
                out.done.push_back("wrote /etc/hosts");
        } else if (hosts.error == 0) {
            std::string path = root.host(hosts.relative);
            auto st = lstat_path(path);
            std::optional<std::string> text;
            if (st && S_ISREG(st->st_mode)) text = read_file(hosts.relative);
            if (text && !ar::hosts_has_localhost(*text)) {
                std::string add = (text->empty() || text->back() == '\n' ? "" : "\n") + localhost;
                if (create_file(path, add, O_APPEND))
                    out.done.push_back("added localhost to /etc/hosts");
            }
        }
        // /etc/resolv.conf is the runtime's business at boot (even a dangling symlink is fine).
    }

    // /sbin/init, as the container will resolve it.
    auto init = root.resolve("/sbin/init", true);
    const std::string remedy =
        ": it cannot boot as it is. Install an init in it (systemd-sysv, openrc or busybox), or "
        "start it with --init=PATH";
    std::string problem;
    if (init.error != 0 || !init.exists) {
        problem = "the rootfs has no /sbin/init";
        if (!init.relative.empty() && init.relative != "sbin/init" && init.error == 0)
            problem += " (it points to /" + init.relative + ", which is missing)";
    } else {
        struct stat st;
        if (::stat(root.host(init.relative).c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & 0111) == 0)
            problem = "/sbin/init (/" + init.relative + ") is not an executable file";
    }
    if (!problem.empty()) {
        // A tarball packed from the parent directory has the whole rootfs one level down.
        std::vector<std::string> top;
        if (DIR* dir = ::opendir(root_dir.c_str())) {
            while (dirent* entry = ::readdir(dir)) {
                std::string_view n = entry->d_name;
                if (n != "." && n != ".." && n != "proc" && n != "sys" && n != "dev" &&
                    n != "run" && n != "tmp" && n != "etc")
                    top.emplace_back(n);
            }
            ::closedir(dir);
        }
        std::string extra;
        if (top.size() == 1 &&
            sys::open_in_root(root_fd.get(), "/" + top[0] + "/etc", O_PATH | O_DIRECTORY))
            extra = " (everything in the archive is under '" + top[0] +
                    "/': pack the rootfs from inside that directory)";
        out.warnings.push_back(problem + remedy + extra);
    }

    for (const char* release : {"/etc/os-release", "/usr/lib/os-release"}) {
        auto r = root.resolve(release, true);
        if (r.error != 0 || !r.exists) continue;
        if (auto text = read_file(r.relative)) {
            out.os = format::os_pretty_name(*text);
            break;
        }
    }
    return out;
}

void sync_filesystem(const std::string& dir, const std::string& what) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) sys::fail_errno("open " + dir);
    if (::syncfs(fd.get()) != 0) {
        if (errno == ENOSPC) fail_runtime(what + " is full: writing it out failed");
        sys::fail_errno("sync " + what);
    }
}

void fsync_dir(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) ::fsync(fd.get());
}

}  // namespace ds::container::install_detail
