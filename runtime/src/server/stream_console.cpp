// GET /api/v1/containers/{name}/console?follow=1 (streams.hpp): the console log's tail, then
// what the container writes, as SSE `console` events until it stops (`end`). Without follow=1
// the request goes to the JSON API's tail.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/validate.hpp"
#include "server/stream_state.hpp"
#include "sys/file.hpp"

namespace ds::server {

using namespace stream_detail;
using nlohmann::ordered_json;

namespace {

constexpr size_t kDefaultTailLines = 100;
constexpr size_t kMaxTailLines = 10000;
constexpr off_t kConsoleTailBytes = 512 * 1024;  // read from each console file for the tail

// Reads Logs/<name>/console from where the tail ended, following the monitor's rotation: the
// file is renamed to console.old and a new one created, so once the open file is read to its
// end and the path names another file, the new one is read from its start.
class ConsoleFollower {
  public:
    explicit ConsoleFollower(std::string path) : path_(std::move(path)) { reopen(); }

    // The last `lines` lines written (console.old's end too when console holds fewer).
    std::string tail(size_t lines) {
        std::string text = fd_ ? tail_bytes(fd_.get(), offset_) : "";
        if (count_lines(text) < lines) {
            sys::unique_fd old(::open((path_ + ".old").c_str(), O_RDONLY | O_CLOEXEC));
            struct stat st;
            if (old && ::fstat(old.get(), &st) == 0)
                text = tail_bytes(old.get(), st.st_size) + text;
        }
        size_t pos = text.size();
        size_t seen = 0;
        if (!text.empty() && text.back() == '\n') --pos;  // the last line's own newline
        while (pos > 0) {
            size_t nl = text.rfind('\n', pos - 1);
            if (nl == std::string::npos) {
                pos = 0;
                break;
            }
            if (++seen >= lines) {
                pos = nl + 1;
                break;
            }
            pos = nl;
        }
        return lines == 0 ? std::string() : text.substr(pos);
    }

    // What was written since the last call (at most kReadChunk bytes per call).
    std::string read_new() {
        std::string buf(kReadChunk, '\0');
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (fd_) {
                ssize_t n = ::pread(fd_.get(), buf.data(), buf.size(), offset_);
                if (n > 0) {
                    offset_ += n;
                    buf.resize(static_cast<size_t>(n));
                    return buf;
                }
                struct stat st;
                if (::fstat(fd_.get(), &st) == 0 && st.st_size < offset_) offset_ = 0;  // cut
            }
            struct stat now;
            if (::stat(path_.c_str(), &now) != 0) return {};
            if (fd_ && now.st_ino == ino_ && now.st_dev == dev_) return {};
            reopen();  // rotated, or created after we started: read the new file from 0
            offset_ = 0;
        }
        return {};
    }

  private:
    void reopen() {
        fd_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
        struct stat st;
        if (fd_ && ::fstat(fd_.get(), &st) == 0) {
            ino_ = st.st_ino;
            dev_ = st.st_dev;
            offset_ = st.st_size;
        } else {
            fd_.reset();
            offset_ = 0;
        }
    }
    static std::string tail_bytes(int fd, off_t end) {
        off_t from = end > kConsoleTailBytes ? end - kConsoleTailBytes : 0;
        std::string text(static_cast<size_t>(end - from), '\0');
        ssize_t n = ::pread(fd, text.data(), text.size(), from);
        text.resize(n > 0 ? static_cast<size_t>(n) : 0);
        if (from > 0) {  // a line cut by the window is not shown
            size_t nl = text.find('\n');
            text.erase(0, nl == std::string::npos ? text.size() : nl + 1);
        }
        return text;
    }
    static size_t count_lines(const std::string& text) {
        size_t n = 0;
        for (char c : text)
            n += c == '\n';
        return n;
    }

    std::string path_;
    sys::unique_fd fd_;
    ino_t ino_ = 0;
    dev_t dev_ = 0;
    off_t offset_ = 0;
};

bool container_running(const Workspace& ws, const std::string& name) {
    try {
        container::Output quiet;
        container::Runtime rt(ws, quiet, container::LockMode::try_once);
        return rt.find(name).has_value();
    } catch (const std::exception&) {
        return false;
    }
}

size_t query_size(const http::Request& req, const char* key, size_t fallback, size_t max) {
    if (!req.has_param(key)) return fallback;
    std::string value = req.get_param_value(key);
    auto n = parse_content_length(value);
    if (!n || *n > max)
        fail_invalid(std::string(key) + "=" + value + ": expected an integer from 0 to " +
                     std::to_string(max));
    return static_cast<size_t>(*n);
}

}  // namespace

void Streams::State::console(const http::Request& req, http::Response& res) {
    if (req.get_param_value("follow") != "1") {
        json_route(req, res);
        return;
    }
    std::string name = req.path_param("name");
    check_container_name(name);
    size_t lines = query_size(req, "lines", kDefaultTailLines, kMaxTailLines);
    std::string logs = ws.logs_dir(name);
    if (!sys::path_exists(ws.config_path(name)) && !sys::path_exists(logs))
        fail_not_found("no container '" + name + "'");
    auto slot = slot_or_503(res);
    if (!slot) return;
    auto held = std::make_shared<StreamSlot>(std::move(*slot));
    start_sse(res);
    Workspace w = ws;
    int stop = http.stop_fd();
    res.set_chunked_content_provider(
        "text/event-stream", [held, w, name, lines, logs, stop](size_t, http::DataSink& sink) {
            SseWriter out(sink);
            ConsoleFollower follower(logs + "/console");
            std::string carry;
            auto send_text = [&](const std::string& bytes, bool final) {
                std::string text = utf8_repair(bytes, carry, final);
                return text.empty() || out.event("console", {{"text", text}});
            };
            if (!send_text(follower.tail(lines), false)) return false;
            auto next_check = Clock::now();
            for (;;) {
                pollfd p = {stop, POLLIN, 0};
                if (::poll(&p, 1, 250) > 0) break;  // the server stops
                for (std::string chunk; !(chunk = follower.read_new()).empty();)
                    if (!send_text(chunk, false)) return false;
                if (Clock::now() >= next_check) {
                    next_check = Clock::now() + std::chrono::milliseconds(kTickMs);
                    if (!container_running(w, name)) {
                        for (std::string chunk; !(chunk = follower.read_new()).empty();)
                            if (!send_text(chunk, false)) return false;
                        send_text({}, true);
                        out.event("end", ordered_json::object());
                        break;
                    }
                    if (!out.tick()) return false;
                }
            }
            out.done();
            return true;
        });
}

}  // namespace ds::server
