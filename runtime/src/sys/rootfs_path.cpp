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
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
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

// RESOLVE_IN_ROOT done by hand for kernels before 5.6: each component is opened O_NOFOLLOW
// from the fd of its parent; symlinks are read and spliced into the rest of the path, absolute
// ones restarting at the tree's root; ".." never climbs above it (the stack of fds, not the
// kernel's "..", decides where it leads).
}  // namespace

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
        if (name == ".") {
            if (last) return unique_fd(::openat(current(), ".", flags | O_CLOEXEC));
            continue;
        }
        if (name == "..") {
            if (!stack.empty()) stack.pop_back();
            if (last) return unique_fd(::openat(current(), ".", flags | O_CLOEXEC));
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
            ssize_t n = ::readlinkat(current(), name.c_str(), target, sizeof target - 1);
            if (n < 0) return unique_fd();
            std::string_view link(target, static_cast<size_t>(n));
            if (!link.empty() && link.front() == '/') stack.clear();
            auto parts = split_path(link);
            todo.insert(todo.end(), parts.rbegin(), parts.rend());
            if (todo.empty()) return unique_fd(::openat(current(), ".", flags | O_CLOEXEC));
            continue;
        }
        if (last) return unique_fd(::openat(current(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC,
                                            mode));
        unique_fd next(
            ::openat(current(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) return unique_fd();
        stack.push_back(std::move(next));
    }
    return unique_fd(::openat(current(), ".", flags | O_CLOEXEC));
}

namespace {

bool probe_openat2() {
    unique_fd fd = openat2_in_root(AT_FDCWD, "/", O_PATH, 0);
    return fd || errno != ENOSYS;
}

std::string component_prefix(const std::vector<std::string>& parts, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i)
        out += "/" + parts[i];
    return out.empty() ? "/" : out;
}

}  // namespace

bool have_openat2() {
    static const bool available = probe_openat2();
    return available;
}

unique_fd open_tree_root(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) fail_errno("open " + path);
    return fd;
}

unique_fd open_in_root(int root_fd, std::string_view path, int flags, mode_t mode) {
    if (have_openat2()) return openat2_in_root(root_fd, std::string(path), flags, mode);
    return walk_in_root(root_fd, path, flags, mode);
}

unique_fd make_dirs_in_root(int root_fd, std::string_view path, mode_t mode) {
    auto parts = split_path(path);
    unique_fd dir = open_in_root(root_fd, "/", O_PATH | O_DIRECTORY);
    if (!dir) fail_errno("open the rootfs");
    for (size_t i = 0; i < parts.size(); ++i) {
        std::string prefix = component_prefix(parts, i + 1);
        unique_fd next = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
        if (!next && errno == ENOENT) {
            // `dir` is the resolved parent, inside the tree: create the name there.
            if (::mkdirat(dir.get(), parts[i].c_str(), mode) != 0 && errno != EEXIST)
                fail_errno("mkdir " + prefix + " inside the rootfs");
            next = open_in_root(root_fd, prefix, O_PATH | O_DIRECTORY);
        }
        if (!next) fail_errno("open " + prefix + " inside the rootfs");
        dir = std::move(next);
    }
    return dir;
}

std::string fd_path(int fd) {
    return "/proc/self/fd/" + std::to_string(fd);
}

std::optional<std::string> read_guest_file(int root_fd, std::string_view path, size_t max_bytes) {
    unique_fd fd = open_in_root(root_fd, path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!fd) return std::nullopt;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    if (static_cast<uint64_t>(st.st_size) > max_bytes) return std::nullopt;
    std::string out;
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n == 0) return out;
        if (n < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > max_bytes) return std::nullopt;  // grew while we read
    }
}

std::optional<std::string> read_guest_file(const std::string& root, std::string_view path,
                                           size_t max_bytes) {
    unique_fd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return std::nullopt;
    return read_guest_file(root_fd.get(), path, max_bytes);
}

}  // namespace ds::sys
