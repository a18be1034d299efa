// The dashboard's static files: GET "/" and "/<path>" served from a webroot directory, and the
// built-in page shown when no webroot is installed.
//
// Only regular files strictly beneath the webroot are served: the path is resolved with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where the kernel has it, else by an O_NOFOLLOW
// walk; components are restricted to [A-Za-z0-9._-] without a leading dot (no "..", no hidden
// files); only the extensions of the MIME table are served, up to kMaxStaticFileSize bytes.
// Anything else is "not found" (nullopt): the caller answers 404.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ds::server {

inline constexpr size_t kMaxStaticFileSize = 8 * 1024 * 1024;

struct StaticFile {
    std::string content;
    std::string mime;
};

// `url_path` is the decoded path of the request (http::Request::path, no query): "/" serves
// index.html. `webroot_dirfd` is an O_DIRECTORY (or O_PATH) fd of the webroot.
std::optional<StaticFile> read_static(int webroot_dirfd, std::string_view url_path);

// The MIME type for a file name by its extension, nullopt when it is not served.
std::optional<std::string_view> static_mime_type(std::string_view file_name);

// The page "/" answers when no webroot exists (text/html; no inline script or style, so the
// CSP holds).
const std::string& fallback_page();

}  // namespace ds::server
