// Static files beneath a webroot (static_files.hpp).
#include "server/static_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <utility>
#include <vector>

#include "sys/fd.hpp"

namespace ds::server {
namespace {

constexpr std::array<std::pair<std::string_view, std::string_view>, 11> kMimeTypes{{
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"json", "application/json"},
    {"woff2", "font/woff2"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
}};

constexpr size_t kMaxComponents = 16;

bool valid_component(std::string_view c) {
    if (c.empty() || c.size() > 255 || c.front() == '.') return false;
    for (const char ch : c) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

// "/a/b.js" -> {"a", "b.js"}; nullopt for anything outside the allowed shape.
std::optional<std::vector<std::string_view>> split_path(std::string_view url_path) {
    if (url_path.empty() || url_path.front() != '/') return std::nullopt;
    if (url_path == "/") return std::vector<std::string_view>{"index.html"};
    std::vector<std::string_view> parts;
    url_path.remove_prefix(1);
    while (true) {
        const auto slash = url_path.find('/');
        const auto part = url_path.substr(0, slash);
        if (!valid_component(part) || parts.size() >= kMaxComponents) return std::nullopt;
        parts.push_back(part);
        if (slash == std::string_view::npos) break;
        url_path.remove_prefix(slash + 1);
    }
    return parts;
}

std::string join(const std::vector<std::string_view>& parts) {
    std::string path;
    for (const auto part : parts) {
        if (!path.empty()) path += '/';
        path += part;
    }
    return path;
}

// openat2 where the kernel has it: ENOSYS on old kernels, EPERM under some seccomp filters
// (Android's app sandbox); the walk is then used.
std::optional<sys::unique_fd> open_with_openat2(int dirfd, const std::string& path) {
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
    const long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0) return sys::unique_fd(static_cast<int>(fd));
    if (errno == ENOSYS || errno == EPERM) return std::nullopt;
    return sys::unique_fd();  // refused or missing: not found
}

// The same resolution by hand: every directory opened O_NOFOLLOW|O_DIRECTORY from the last, the
// file O_NOFOLLOW (components never contain "..", see valid_component).
sys::unique_fd open_with_walk(int dirfd, const std::vector<std::string_view>& parts) {
    sys::unique_fd dir;
    int at = dirfd;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
        const std::string name(parts[i]);
        sys::unique_fd next(
            openat(at, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next) return {};
        dir = std::move(next);
        at = dir.get();
    }
    const std::string name(parts.back());
    return sys::unique_fd(openat(at, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
}

std::optional<std::string> read_regular(int fd) {
    struct stat st {};
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        static_cast<size_t>(st.st_size) > kMaxStaticFileSize) {
        return std::nullopt;
    }
    std::string content(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < content.size()) {
        const ssize_t n = read(fd, content.data() + got, content.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) break;  // shrank while read: serve what is there
        got += static_cast<size_t>(n);
    }
    content.resize(got);
    return content;
}

}  // namespace

std::optional<std::string_view> static_mime_type(std::string_view file_name) {
    const auto dot = file_name.rfind('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const auto ext = file_name.substr(dot + 1);
    for (const auto& [e, mime] : kMimeTypes) {
        if (e == ext) return mime;
    }
    return std::nullopt;
}

std::optional<StaticFile> read_static(int webroot_dirfd, std::string_view url_path) {
    const auto parts = split_path(url_path);
    if (!parts) return std::nullopt;
    const auto mime = static_mime_type(parts->back());
    if (!mime) return std::nullopt;
    const std::string relative = join(*parts);
    auto fd = open_with_openat2(webroot_dirfd, relative);
    if (!fd) fd = open_with_walk(webroot_dirfd, *parts);
    if (!*fd) return std::nullopt;
    auto content = read_regular(fd->get());
    if (!content) return std::nullopt;
    return StaticFile{std::move(*content), std::string(*mime)};
}

const std::string& fallback_page() {
    static const std::string page =
        "<!DOCTYPE html>\n"
        "<html lang=\"en\">\n"
        "<head><meta charset=\"utf-8\"><title>Droidspaces</title></head>\n"
        "<body>\n"
        "<h1>Droidspaces</h1>\n"
        "<p>The dashboard is not installed; the API is at <code>/api/v1</code>.</p>\n"
        "</body>\n"
        "</html>\n";
    return page;
}

}  // namespace ds::server
