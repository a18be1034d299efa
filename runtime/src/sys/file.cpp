#include "sys/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "sys/fd.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {
namespace {

bool read_all(int fd, std::string& out) {
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) return true;
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        out.append(buf, static_cast<size_t>(n));
    }
}

void write_all(int fd, const std::string& content, const std::string& path) {
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd, content.data() + done, content.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno("write " + path);
        }
        done += static_cast<size_t>(n);
    }
}

std::string parent_dir(const std::string& path) {
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

}  // namespace

std::optional<std::string> try_read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    std::string out;
    if (!read_all(fd.get(), out)) return std::nullopt;
    return out;
}

std::string read_file(const std::string& path) {
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) fail_errno("open " + path);
    std::string out;
    if (!read_all(fd.get(), out)) fail_errno("read " + path);
    return out;
}

void write_file_atomic(const std::string& path, const std::string& content, mode_t mode,
                       Durability durability) {
    bool durable = durability == Durability::durable;
    std::string tmp = path + ".XXXXXX";
    unique_fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (!fd) fail_errno("create temporary file for " + path);
    try {
        if (::fchmod(fd.get(), mode) != 0) fail_errno("chmod " + tmp);
        write_all(fd.get(), content, tmp);
        if (durable && ::fsync(fd.get()) != 0) fail_errno("fsync " + tmp);
        fd.reset();
        if (::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("rename " + tmp + " to " + path);
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    if (!durable) return;
    // Make the rename itself durable.
    unique_fd dir(::open(parent_dir(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir) ::fsync(dir.get());
}

bool write_file_if_changed(const std::string& path, const std::string& content, mode_t mode) {
    auto current = try_read_file(path);
    if (current && *current == content) return false;
    write_file_atomic(path, content, mode);
    return true;
}

namespace {

void write_control_fd(int fd, const std::string& path, const std::string& value) {
    ssize_t n;
    do {
        n = ::write(fd, value.data(), value.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) fail_errno("write '" + value + "' to " + path);
    // A control file takes the whole value in one write; a short one means it did not.
    if (static_cast<size_t>(n) != value.size())
        fail_errno("write '" + value + "' to " + path + " (short write)", EIO);
}

}  // namespace

void write_control_file(const std::string& path, const std::string& value) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd) fail_errno("open " + path);
    write_control_fd(fd.get(), path, value);
}

bool write_control_file_if_present(const std::string& path, const std::string& value) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd && errno == ENOENT) return false;
    if (!fd) fail_errno("open " + path);
    write_control_fd(fd.get(), path, value);
    return true;
}

void make_dirs(const std::string& path, mode_t mode) {
    if (path.empty()) return;
    for (size_t pos = 1;; ++pos) {
        pos = path.find('/', pos);
        std::string prefix = path.substr(0, pos);
        if (::mkdir(prefix.c_str(), mode) != 0 && errno != EEXIST) fail_errno("mkdir " + prefix);
        if (pos == std::string::npos) break;
    }
    if (!is_directory(path)) fail_runtime("mkdir " + path + ": exists and is not a directory");
}

bool path_exists(const std::string& path) {
    struct stat st;
    return ::lstat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace ds::sys
