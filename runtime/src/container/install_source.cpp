// install: what is installed from (a tarball or a directory, measured) and the host tools.
#include "container/install_parts.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/archive.hpp"
#include "core/error.hpp"
#include "sys/fd.hpp"
#include "sys/path_lookup.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::install_detail {
namespace {

namespace ar = ds::archive;
using sys::find_program;

// `name ARGS...` from the PATH, else busybox's applet of that name; nullopt when neither.
std::optional<Command> program(std::string_view name, std::vector<std::string> args) {
    Command cmd;
    cmd.path = find_program(name);
    if (cmd.path.empty()) {
        cmd.path = find_program("busybox");
        if (cmd.path.empty()) return std::nullopt;
        cmd.argv.push_back("busybox");
    }
    cmd.argv.emplace_back(name);
    for (auto& a : args)
        cmd.argv.push_back(std::move(a));
    return cmd;
}

void measure_tree(int dirfd, dev_t dev, TreeSize& size, std::set<std::pair<dev_t, ino_t>>& seen) {
    DIR* dir = ::fdopendir(dirfd);
    if (!dir) {
        ::close(dirfd);
        return;
    }
    while (dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        struct stat st;
        if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        ++size.entries;
        if (S_ISREG(st.st_mode)) {
            if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
            size.data += ar::tar_entry_size(static_cast<uint64_t>(st.st_size)) - 512;
            size.disk += static_cast<uint64_t>(st.st_blocks) * 512;
        } else if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
            size.disk += 4096;
            int sub = ::openat(::dirfd(dir), entry->d_name,
                               O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) measure_tree(sub, dev, size, seen);
        }
    }
    ::closedir(dir);
}

}  // namespace

uint64_t tar_stream_size(const TreeSize& size, bool pax) {
    return size.entries * (pax ? 1536 : 512) + size.data + 1024;
}

Source open_source(const std::string& path) {
    Source src;
    src.path = path;
    struct stat st;
    if (path.empty()) fail_usage("'install' needs --from=TARBALL or --from=DIR");
    if (::stat(path.c_str(), &st) != 0)
        fail_usage("--from " + path + ": " + sys::errno_text(errno));
    if (S_ISDIR(st.st_mode)) {
        src.directory = true;
        int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) fail_usage("--from " + path + ": " + sys::errno_text(errno));
        std::set<std::pair<dev_t, ino_t>> seen;
        measure_tree(fd, st.st_dev, src.tree, seen);
        src.unpacked = src.tree.disk;
        return src;
    }
    if (!S_ISREG(st.st_mode)) fail_usage("--from " + path + ": not a tarball or a directory");
    src.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!src.fd) fail_usage("--from " + path + ": " + sys::errno_text(errno));
    src.size = static_cast<uint64_t>(st.st_size);
    std::string head(ar::kHeadSize, '\0');
    ssize_t n = ::pread(src.fd.get(), head.data(), head.size(), 0);
    if (n < 0) fail_usage("--from " + path + ": " + sys::errno_text(errno));
    head.resize(static_cast<size_t>(n));
    auto compression = ar::detect_compression(head);
    if (!compression)
        fail_usage("--from " + path +
                   ": not a rootfs archive (expected a tar file, plain or compressed with gzip, "
                   "xz, zstd or bzip2, or a directory)");
    src.compression = *compression;
    if (src.compression == ar::Compression::none) src.unpacked = src.size;
    return src;
}

Tools find_tools(const Source& src, bool image, int cancel_fd, const std::string& name) {
    Tools tools;
    tools.tar.path = find_program("tar");
    if (!tools.tar.path.empty()) {
        tools.tar.argv = {"tar"};
    } else if (auto bb = program("tar", {})) {
        tools.tar = *bb;
    } else {
        fail_usage("cannot install: no 'tar' on this host (install GNU tar or busybox)");
    }
    Command version = tools.tar;
    version.argv.push_back("--version");
    auto run = run_tool(version, cancel_fd, name);
    tools.gnu_tar = run.output.find("GNU tar") != std::string::npos;
    tools.numeric_owner = tools.gnu_tar;
    if (!tools.gnu_tar) {
        // busybox and toybox list --numeric-owner in their usage when they were built with it.
        Command help = tools.tar;
        help.argv.push_back("--help");
        tools.numeric_owner =
            run_tool(help, cancel_fd, name).output.find("--numeric-owner") != std::string::npos;
    }
    if (!src.directory && src.compression != ar::Compression::none) {
        std::string tool(ar::decompressor(src.compression));
        std::vector<std::string> args = {"-dc"};
        if (src.compression == ar::Compression::zstd) args = {"-dcq"};
        tools.decompress = program(tool, args);
        if (!tools.decompress)
            fail_usage("cannot install " + src.path + ": it is " + tool + "-compressed and '" +
                       tool + "' is not installed on this host");
    }
    if (image) {
        std::string mkfs = find_program("mkfs.ext4");
        if (!mkfs.empty()) {
            tools.mkfs = Command{mkfs, {"mkfs.ext4"}};
        } else if (std::string mke2fs = find_program("mke2fs"); !mke2fs.empty()) {
            tools.mkfs = Command{mke2fs, {"mke2fs", "-t", "ext4"}};
        } else {
            fail_usage(
                "cannot create an ext4 image: 'mkfs.ext4' (e2fsprogs) is not installed on "
                "this host");
        }
    }
    return tools;
}

}  // namespace ds::container::install_detail
