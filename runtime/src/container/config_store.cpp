#include "container/config_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "container/config_source.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/mount.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr int kMaxDepth = 512;

struct MountId {
    bool known = false;
    uint64_t id = 0;
};

// The mount an entry lives on (statx STATX_MNT_ID, Linux 5.8); unknown on older kernels, where
// the device number and the mount-root attribute still catch most crossings.
bool same_mount(int dirfd, const char* name, const struct statx& parent, MountId parent_mnt,
                struct statx& out) {
    if (::statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MNT_ID, &out) != 0)
        return false;
    if (out.stx_dev_major != parent.stx_dev_major || out.stx_dev_minor != parent.stx_dev_minor)
        return false;
    if ((out.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
        (out.stx_attributes & STATX_ATTR_MOUNT_ROOT))
        return false;
    if (parent_mnt.known && (out.stx_mask & STATX_MNT_ID) && out.stx_mnt_id != parent_mnt.id)
        return false;
    return true;
}

// Empties the directory `fd` (already checked to be on the parent's mount), depth-first.
bool empty_dir(int fd, const std::string& path, const struct statx& self, int depth,
               std::vector<std::string>& kept) {
    if (depth > kMaxDepth) {
        kept.push_back(path + " (deeper than " + std::to_string(kMaxDepth) + " levels)");
        return false;
    }
    int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) sys::fail_errno("dup " + path);
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(dup), ::closedir);
    if (!dir) {
        ::close(dup);
        sys::fail_errno("opendir " + path);
    }
    MountId mnt{(self.stx_mask & STATX_MNT_ID) != 0, self.stx_mnt_id};
    bool all = true;
    for (;;) {
        errno = 0;  // readdir's end and its failure look alike otherwise
        auto* e = ::readdir(dir.get());
        if (!e) {
            if (errno) sys::fail_errno("readdir " + path);
            break;
        }
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        std::string child = path + "/" + name;
        struct statx st {};
        if (!same_mount(fd, name.c_str(), self, mnt, st)) {
            kept.push_back(child + " (another mount)");
            all = false;
            continue;
        }
        if (S_ISDIR(st.stx_mode)) {
            sys::unique_fd sub(
                ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!sub) sys::fail_errno("open " + child);
            if (!empty_dir(sub.get(), child, st, depth + 1, kept)) {
                all = false;
                continue;
            }
            if (::unlinkat(fd, name.c_str(), AT_REMOVEDIR) != 0) sys::fail_errno("rmdir " + child);
        } else if (::unlinkat(fd, name.c_str(), 0) != 0) {
            sys::fail_errno("unlink " + child);
        }
    }
    return all;
}

// The rootfs `delete --rootfs` may remove: the config's rootfs_path when it is exactly
// Containers/<name>/rootfs or .../rootfs.img; "" otherwise.
std::string owned_rootfs(const Workspace& ws, const std::string& name, const Config& config) {
    std::string dir = ws.container_dir(name);
    for (const char* leaf : {"/rootfs", "/rootfs.img"})
        if (config.rootfs_path == dir + leaf) return config.rootfs_path;
    return "";
}

void remove_rootfs_of(const Workspace& ws, const std::string& name, const Config& config,
                      RemovedConfig& result) {
    std::string rootfs = owned_rootfs(ws, name, config);
    if (rootfs.empty()) {
        if (!config.rootfs_path.empty())
            result.kept.push_back(config.rootfs_path + " (outside " + ws.container_dir(name) +
                                  "/: never removed)");
        return;
    }
    struct stat st;
    if (::lstat(rootfs.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        sys::fail_errno("lstat " + rootfs);
    }
    if (S_ISREG(st.st_mode)) {
        if (::unlink(rootfs.c_str()) != 0) sys::fail_errno("unlink " + rootfs);
        result.removed.push_back(rootfs);
    } else if (S_ISDIR(st.st_mode)) {
        if (remove_tree_no_follow(rootfs, result.kept)) result.removed.push_back(rootfs);
    } else {
        result.kept.push_back(rootfs + " (not a directory or regular file)");
    }
}

}  // namespace

bool remove_tree_no_follow(const std::string& path, std::vector<std::string>& kept) {
    if (sys::is_mountpoint(path)) {
        kept.push_back(path + " (a mount point)");
        return false;
    }
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return true;
        sys::fail_errno("open " + path);
    }
    struct statx self {};
    if (::statx(fd.get(), "", AT_EMPTY_PATH, STATX_TYPE | STATX_MNT_ID, &self) != 0)
        sys::fail_errno("statx " + path);
    if (!empty_dir(fd.get(), path, self, 0, kept)) return false;
    if (::rmdir(path.c_str()) != 0) sys::fail_errno("rmdir " + path);
    return true;
}

void check_config_absent(const Workspace& ws, const std::string& name) {
    std::string path = ws.config_path(name);
    if (!sys::path_exists(path)) return;
    std::string owner;
    if (auto existing = workspace_config(ws, name)) owner = existing->name;
    fail_busy("container '" + name + "' already has a config: " + path +
              (owner.empty() || owner == name ? "" : " (container '" + owner + "')") +
              "; edit or delete it instead");
}

Config create_workspace_config(const Workspace& ws, const std::string& name,
                               const ConfigEdits& edits) {
    check_container_name(name);
    check_config_absent(ws, name);
    std::string path = ws.config_path(name);
    Config config;
    config.name = name;
    apply_config_edits(config, edits);
    make_private_dirs(ws);
    sys::make_dirs(ws.container_dir(name));
    sys::write_file_atomic(path, serialize_config(config));
    return config;
}

Config edit_workspace_config(const Workspace& ws, const std::string& name, bool reset,
                             const ConfigEdits& edits) {
    check_container_name(name);
    std::string path = ws.config_path(name);
    if (!sys::path_exists(path)) fail_not_found("container '" + name + "' has no config: " + path);
    Config config = load_config_file(path);
    if (!config.name.empty() && config.name != name)
        fail_busy("config " + path + " belongs to container '" + config.name + "', not '" + name +
                  "'");
    if (reset) reset_config(config);
    apply_config_edits(config, edits);
    config.name = name;
    sys::write_file_if_changed(path, serialize_config(config));
    return config;
}

RemovedConfig delete_workspace_config(const Workspace& ws, const std::string& name,
                                      bool remove_rootfs) {
    check_container_name(name);
    std::string dir = ws.container_dir(name);
    std::string path = ws.config_path(name);
    if (!sys::path_exists(path) && !sys::is_directory(dir))
        fail_not_found("container '" + name + "' has no config: " + path);
    RemovedConfig result;
    // The rootfs decision comes from the config as saved; an unreadable config removes nothing
    // but itself.
    if (remove_rootfs) {
        if (auto config = workspace_config(ws, name))
            remove_rootfs_of(ws, name, *config, result);
        else
            result.kept.push_back(dir + " (no readable config names its rootfs)");
    }
    if (::unlink(path.c_str()) == 0)
        result.removed.push_back(path);
    else if (errno != ENOENT)
        sys::fail_errno("unlink " + path);
    if (::rmdir(dir.c_str()) == 0)
        result.removed.push_back(dir);
    else if (errno == ENOTEMPTY || errno == EEXIST)
        result.kept.push_back(dir + " (not empty)");
    else if (errno != ENOENT)
        sys::fail_errno("rmdir " + dir);
    return result;
}

}  // namespace ds::container
