#include "sys/rootfs_path.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "sys/syscall_error.hpp"

namespace ds::sys {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's own limit

unique_fd openat2_in_root(int root_fd, const std::string& path, int flags, mode_t mode) {
    struct open_how how = {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    // openat2 refuses a mode without O_CREAT or O_TMPFILE; O_TMPFILE includes O_DIRECTORY, so
    // a plain O_DIRECTORY open must not count as one.
    bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
    how.mode = creates ? mode : 0;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (;;) {
        long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
        if (fd >= 0) return unique_fd(static_cast<int>(fd));
        if (errno != EAGAIN && errno != EINTR) return unique_fd();  // EAGAIN: a rename raced us
    }
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start < path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (end > start) parts.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

unique_fd open_dot(int dir_fd, int flags) {
    return unique_fd(::openat(dir_fd, ".", flags | O_CLOEXEC));
}

}  // namespace

// RESOLVE_IN_ROOT done by hand for kernels before 5.6: each component is opened O_NOFOLLOW
// from the fd of its parent; symlinks are read and spliced into the rest of the path, absolute
// ones restarting at the tree's root; ".." never climbs above it (the stack of fds, not the
// kernel's "..", decides where it leads).
unique_fd walk_in_root(int root_fd, std::string_view path, int flags, mode_t mode) {
    std::vector<unique_fd> stack;  // directories below the root, innermost last
    auto current = [&] { return stack.empty() ? root_fd : stack.back().get(); };
    std::vector<std::string> todo = split_path(path);
    std::reverse(todo.begin(), todo.end());  // a stack of components still to walk
    int links = 0;
    while (!todo.empty()) {
        std::string name = std::move(todo.back());
        todo.pop_back();
        bool last = todo.empty();
        if (name == "." || name == "..") {
            if (name == ".." && !stack.empty()) stack.pop_back();
            if (last) return open_dot(current(), flags);
            continue;
        }
        struct stat st;
        bool exists = ::fstatat(current(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (!exists && errno != ENOENT) return unique_fd();
        if (exists && S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
            if (++links > kMaxSymlinks) {
                errno = ELOOP;
                return unique_fd();
            }
            char target[4096];
            ssize_t n = ::readlinkat(current(), name.c_str(), target, sizeof target);
            if (n < 0) return unique_fd();
            if (static_cast<size_t>(n) == sizeof target) {  // possibly truncated: refuse
                errno = ENAMETOOLONG;
                return unique_fd();
            }
            std::string_view link(target, static_cast<size_t>(n));
            if (!link.empty() && link.front() == '/') stack.clear();
            auto parts = split_path(link);
            todo.insert(todo.end(), parts.rbegin(), parts.rend());
            if (todo.empty()) return open_dot(current(), flags);  // the link led to the root
            continue;
        }
        // O_NOFOLLOW on every open: a symlink swapped in after the fstatat fails with ELOOP.
        if (last)
            return unique_fd(
                ::openat(current(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode));
        unique_fd next(
            ::openat(current(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) return unique_fd();
        stack.push_back(std::move(next));
    }
    return open_dot(current(), flags);
}

namespace {

// Where openat2 is refused for any reason (ENOSYS before 5.6, EPERM from a seccomp filter that
// predates it), the walk is used.
bool probe_openat2() {
    return static_cast<bool>(openat2_in_root(AT_FDCWD, "/", O_PATH, 0));
}

std::string component_prefix(const std::vector<std::string>& parts, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i)
        out += "/" + parts[i];
    return out.empty() ? "/" : out;
}

// Why `prefix` could not be opened (errno `err`), in words: a dangling symlink is named as one.
std::string open_failure(TreeRoot root, const std::string& prefix, int err) {
    if (err == ENOENT) {
        unique_fd self = open_in_root(root, prefix, O_PATH | O_NOFOLLOW);
        struct stat st;
        if (self && ::fstat(self.get(), &st) == 0 && S_ISLNK(st.st_mode))
            return prefix + " inside the rootfs is a symlink whose target does not exist there";
    }
    return prefix + " inside the rootfs: " + errno_text(err) + " (errno " + std::to_string(err) +
           ")";
}

bool is_dir(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

bool have_openat2() {
    // Probed once: a fact of the kernel (and of a seccomp filter that refuses openat2, fixed
    // for the life of the process), read-only after the thread-safe static initialisation.
    static const bool available = probe_openat2();
    return available;
}

unique_fd open_tree_root(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail_errno("open " + path);
    return fd;
}

unique_fd open_in_root(TreeRoot root, std::string_view path, int flags, mode_t mode) {
    if (root.resolution == Resolution::best && have_openat2())
        return openat2_in_root(root.fd, std::string(path), flags, mode);
    return walk_in_root(root.fd, path, flags, mode);
}

unique_fd make_dirs_in_root(TreeRoot root, std::string_view path, mode_t mode) {
    auto parts = split_path(path);
    unique_fd dir = open_in_root(root, "/", O_PATH | O_DIRECTORY);
    if (!dir) fail_errno("open the rootfs");
    for (size_t i = 0; i < parts.size(); ++i) {
        std::string prefix = component_prefix(parts, i + 1);
        // Resolved from the root each time, so a symlink among the parts ("..", absolute or
        // relative) leads where it would for the guest; `dir` is only where a missing name is
        // created: the resolved parent, inside the tree.
        unique_fd next = open_in_root(root, prefix, O_PATH | O_DIRECTORY);
        if (!next && errno == ENOENT) {
            if (::mkdirat(dir.get(), parts[i].c_str(), mode) != 0 && errno != EEXIST)
                fail_errno("mkdir " + prefix + " inside the rootfs");
            next = open_in_root(root, prefix, O_PATH | O_DIRECTORY);
        }
        if (!next) fail_runtime("open " + open_failure(root, prefix, errno));
        dir = std::move(next);
    }
    return dir;
}

unique_fd make_node_in_root(TreeRoot root, std::string_view path, NodeKind kind) {
    if (kind == NodeKind::directory) return make_dirs_in_root(root, path);
    auto parts = split_path(path);
    if (parts.empty()) fail_runtime("the root of the rootfs is a directory, not a file");
    std::string shown = component_prefix(parts, parts.size());
    unique_fd dir = make_dirs_in_root(root, component_prefix(parts, parts.size() - 1));
    unique_fd fd = open_in_root(root, shown, O_PATH);
    if (!fd && errno == ENOENT) {
        // O_EXCL|O_NOFOLLOW: exactly this name in the resolved parent, not a symlink's target.
        unique_fd created(::openat(dir.get(), parts.back().c_str(),
                                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
        if (!created && errno != EEXIST) fail_errno("create " + shown + " inside the rootfs");
        fd = open_in_root(root, shown, O_PATH);
    }
    if (!fd) fail_runtime("open " + open_failure(root, shown, errno));
    if (is_dir(fd.get())) fail_runtime(shown + " inside the rootfs is a directory, not a file");
    return fd;
}

std::optional<std::string> node_problem_in_root(TreeRoot root, std::string_view path,
                                                NodeKind kind) {
    auto parts = split_path(path);
    if (parts.empty() && kind == NodeKind::file)
        return "the root of the rootfs is a directory, not a file";
    for (size_t i = 0; i < parts.size(); ++i) {
        std::string prefix = component_prefix(parts, i + 1);
        bool last = i + 1 == parts.size();
        unique_fd fd = open_in_root(root, prefix, O_PATH);
        if (!fd) {
            int err = errno;
            if (err != ENOENT) return open_failure(root, prefix, err);
            std::string why = open_failure(root, prefix, err);
            // Missing: created at boot, with everything below it; a dangling symlink is not.
            if (why.find(" is a symlink ") != std::string::npos) return why;
            return std::nullopt;
        }
        bool dir = is_dir(fd.get());
        if (!dir && (!last || kind == NodeKind::directory))
            return prefix + " inside the rootfs is not a directory";
        if (dir && last && kind == NodeKind::file)
            return prefix + " inside the rootfs is a directory, not a file";
    }
    return std::nullopt;
}

std::string fd_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

namespace {

// Opens for reading the regular file that `handle` (O_PATH, checked as `st`) names. Through the
// fd's magic link it is the very inode checked; where /proc/self is not ours (a process that
// joined a container's mount namespace sees the container's procfs, in which it has no PID),
// the path is resolved again and must lead to the same inode.
unique_fd reopen_checked(TreeRoot root, std::string_view path, int handle, const struct stat& st) {
    constexpr int kFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    unique_fd fd(::open(fd_path(handle).c_str(), kFlags));
    if (fd) return fd;
    fd = open_in_root(root, path, kFlags);
    struct stat again;
    if (!fd || ::fstat(fd.get(), &again) != 0 || again.st_dev != st.st_dev ||
        again.st_ino != st.st_ino)
        return unique_fd();
    return fd;
}

}  // namespace

std::optional<std::string> read_guest_file(TreeRoot root, std::string_view path, size_t max_bytes,
                                           Oversize oversize) {
    const bool refuse = oversize == Oversize::refuse;
    // O_PATH first: opening a FIFO or a device for reading can block or act (a watchdog starts
    // on open); only a regular file is opened for real.
    unique_fd handle = open_in_root(root, path, O_PATH);
    if (!handle) return std::nullopt;
    struct stat st;
    if (::fstat(handle.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    if (refuse && static_cast<uint64_t>(st.st_size) > max_bytes) return std::nullopt;
    unique_fd fd = reopen_checked(root, path, handle.get(), st);
    if (!fd) return std::nullopt;
    std::string out;
    char buf[8192];
    for (;;) {
        size_t want = refuse ? sizeof buf : std::min(sizeof buf, max_bytes - out.size());
        ssize_t n = want ? ::read(fd.get(), buf, want) : 0;
        if (n == 0) return out;
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;  // EAGAIN included: a file that would block is not read
        }
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes) return std::nullopt;  // grew while we read (or /proc lied)
    }
}

std::optional<std::string> read_guest_file(const std::string& root, std::string_view path,
                                           size_t max_bytes) {
    unique_fd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return std::nullopt;
    return read_guest_file(root_fd.get(), path, max_bytes);
}

}  // namespace ds::sys
