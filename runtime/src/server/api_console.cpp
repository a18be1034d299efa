// GET /api/v1/containers/{name}/console?lines=N: the last N lines of the console log the
// monitor writes (Logs/<name>/console, rotated once to console.old past 2 MiB; see ConsoleLog
// in container/monitor.cpp), older lines from console.old when the current file has too few.
// The text is the guest's: invalid UTF-8 is replaced when the document is written.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <deque>

#include "core/error.hpp"
#include "core/validate.hpp"
#include "server/api_parts.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {
namespace {

constexpr uint64_t kDefaultLines = 200;
constexpr uint64_t kMaxLines = 5000;
// Read at most this much from the end of each file (the log rotates at 2 MiB): a file grown
// past it by hand costs no more memory.
constexpr off_t kTailBytes = 4 << 20;

struct Tail {
    std::vector<std::string> lines;  // oldest first
    bool cut = false;                // the file holds more than was read
    bool exists = false;
};

// The end of a log file, split into lines ("\r\n" and "\n"; a last line without a newline
// counts). A missing file is empty; a file that is not regular (a symlink planted in the
// log directory, a fifo) is refused.
Tail read_tail(const std::string& path) {
    Tail tail;
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) {
        if (errno == ENOENT) return tail;
        sys::fail_errno("open " + path);
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) sys::fail_errno("fstat " + path);
    if (!S_ISREG(st.st_mode)) fail_system(path + " is not a regular file");
    tail.exists = true;
    off_t start = st.st_size > kTailBytes ? st.st_size - kTailBytes : 0;
    std::string text(static_cast<size_t>(st.st_size - start), '\0');
    size_t got = 0;
    while (got < text.size()) {
        ssize_t n = ::pread(fd.get(), text.data() + got, text.size() - got,
                            start + static_cast<off_t>(got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) sys::fail_errno("read " + path);
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    text.resize(got);
    size_t pos = 0;
    if (start > 0) {  // began mid-line: that partial line is not shown
        tail.cut = true;
        size_t nl = text.find('\n');
        pos = nl == std::string::npos ? text.size() : nl + 1;
    }
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        size_t end = nl == std::string::npos ? text.size() : nl;
        std::string line = text.substr(pos, end - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        tail.lines.push_back(std::move(line));
        pos = end + 1;
    }
    return tail;
}

uint64_t lines_wanted(const std::map<std::string, std::string>& query) {
    auto it = query.find("lines");
    if (it == query.end()) return kDefaultLines;
    try {
        return parse_positive("query 'lines'", it->second, 1, kMaxLines);
    } catch (const Error& e) {
        fail_invalid(e.what());
    }
}

}  // namespace

ApiResponse console_tail(Call& call) {
    const std::string& name = call.param("name");
    check_container_name(name);
    uint64_t wanted = lines_wanted(call.request.query);
    std::string dir = call.ws.logs_dir(name);
    Tail current = read_tail(dir + "/console");
    if (!current.exists && !sys::path_exists(call.ws.config_path(name)) &&
        !sys::path_exists(dir + "/console.old"))
        fail_not_found("container '" + name + "' has no config and no console log");

    std::deque<std::string> lines(current.lines.begin(), current.lines.end());
    bool truncated = current.cut;
    if (lines.size() < wanted && !current.cut) {
        Tail old = read_tail(dir + "/console.old");
        for (auto it = old.lines.rbegin(); it != old.lines.rend() && lines.size() < wanted; ++it)
            lines.push_front(*it);
        truncated = old.cut || lines.size() < current.lines.size() + old.lines.size();
    } else if (!current.cut) {
        struct stat st;  // older lines wait in console.old
        truncated = ::stat((dir + "/console.old").c_str(), &st) == 0 && st.st_size > 0;
    }
    if (lines.size() > wanted) {
        lines.erase(lines.begin(), lines.end() - static_cast<long>(wanted));
        truncated = true;
    }
    nlohmann::json doc = {{"name", name},
                          {"lines", std::vector<std::string>(lines.begin(), lines.end())},
                          {"truncated", truncated}};
    return {200, json_body(doc)};
}

}  // namespace ds::server
