// The live routes: see streams.hpp. Every stream is one httplib chunked response whose provider
// runs the whole stream in the connection's thread: it polls its own fds beside the server's
// stop fd, never longer than kTick, so a stop or a client that went away is noticed within a
// second, and sends an SSE comment every kKeepAlive so that a dead peer shows up as a failed
// write even when nothing else is sent.
#include "server/streams.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "container/runtime.hpp"
#include "core/archive.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "server/api.hpp"
#include "server/requests.hpp"
#include "server/stream_parts.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/seccomp_notify.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

constexpr int kTickMs = 1000;                          // longest poll of a stream
constexpr auto kKeepAlive = std::chrono::seconds(15);  // SSE comment when idle this long
constexpr auto kAttachWindow = std::chrono::seconds(30);
constexpr auto kHangupGrace = std::chrono::milliseconds(2000);  // SIGHUP -> SIGKILL
constexpr size_t kReadChunk = 16 * 1024;
constexpr size_t kJsonBodyCap = 1024 * 1024;
constexpr size_t kDefaultTailLines = 100;
constexpr size_t kMaxTailLines = 10000;
constexpr off_t kTailBytes = 512 * 1024;  // read from each console file for the tail

void send_error(httplib::Response& res, const ApiResponse& error) {
    res.status = error.status;
    res.set_content(error.body, "application/json");
}

void send_json(httplib::Response& res, int status, const nlohmann::json& doc) {
    res.status = status;
    res.set_content(json_body(doc), "application/json");
}

// Runs a handler; a ds::Error becomes its error document, anything else a system error.
template <typename F>
void answer(httplib::Response& res, F&& handler) {
    try {
        handler();
    } catch (const Error& e) {
        send_error(res, error_response(e.kind(), e.what()));
    } catch (const std::exception& e) {
        send_error(res, error_response(ErrorKind::system, e.what()));
    }
}

sys::unique_fd make_eventfd(const char* what) {
    sys::unique_fd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) sys::fail_errno(std::string("eventfd for ") + what);
    return fd;
}

void signal_eventfd(int fd) {
    uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);  // only fails when the counter would overflow
}

void drain_eventfd(int fd) {
    uint64_t value;
    (void)!::read(fd, &value, sizeof value);
}

bool readable(const pollfd& p) {
    return (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

// Frames to the client, with the keep-alive and liveness checks every stream needs.
class SseWriter {
  public:
    explicit SseWriter(httplib::DataSink& sink) : sink_(sink) {}
    bool send(const std::string& frame) {
        if (!ok_) return false;
        ok_ = sink_.write(frame.data(), frame.size());
        last_ = Clock::now();
        return ok_;
    }
    bool event(std::string_view type, const ordered_json& data) {
        return send(sse_event(type, data));
    }
    // Once per tick: a comment when idle for kKeepAlive, and a check that the peer is still
    // there (a closed connection reads as EOF). False once the client is gone.
    bool tick() {
        if (!ok_) return false;
        if (Clock::now() - last_ >= kKeepAlive && !send(sse_comment("keep-alive"))) return false;
        if (!sink_.is_writable()) ok_ = false;
        return ok_;
    }
    void done() {
        if (ok_) sink_.done();
    }

  private:
    httplib::DataSink& sink_;
    bool ok_ = true;
    Clock::time_point last_ = Clock::now();
};

void start_sse(httplib::Response& res) {
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
}

// --- install jobs ---------------------------------------------------------------------------

// The upload's private directory under <ws>/.uploads; removed with its file when dropped.
class UploadDir {
  public:
    UploadDir(const Workspace& ws, const std::string& extension) {
        std::string base = ws.root + "/.uploads";
        make_private_dir(base);
        std::string templ = base + "/XXXXXX";
        if (!::mkdtemp(templ.data())) sys::fail_errno("mkdtemp " + templ);  // 0700
        dir_ = templ;
        file_ = dir_ + "/upload" + extension;
        fd_.reset(
            ::open(file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd_) {
            int err = errno;
            remove();
            sys::fail_errno("create " + file_, err);
        }
    }
    UploadDir(const UploadDir&) = delete;
    UploadDir& operator=(const UploadDir&) = delete;
    ~UploadDir() { remove(); }

    const std::string& file() const { return file_; }
    int fd() const { return fd_.get(); }
    void close_file() { fd_.reset(); }
    void remove() {
        fd_.reset();
        if (!file_.empty()) ::unlink(file_.c_str());
        if (!dir_.empty()) ::rmdir(dir_.c_str());
        file_.clear();
        dir_.clear();
    }

  private:
    std::string dir_, file_;
    sys::unique_fd fd_;
};

// One install running in its own thread; its events wait in `frames` for the stream.
struct Job {
    std::string id = new_stream_id();
    sys::unique_fd cancel = make_eventfd("an install's cancel");
    sys::unique_fd notify = make_eventfd("an install's events");
    std::mutex mu;
    std::deque<std::string> frames;
    bool finished = false;
    std::mutex join_mu;
    std::thread worker;

    Job() = default;
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;
    ~Job() { stop(); }

    void push(std::string frame, bool last = false) {
        {
            std::lock_guard lock(mu);
            frames.push_back(std::move(frame));
            if (last) finished = true;
        }
        signal_eventfd(notify.get());
    }
    void request_cancel() { signal_eventfd(cancel.get()); }
    // Cancels and waits for the installer to clean up; safe from any thread but the worker.
    void stop() {
        request_cancel();
        std::lock_guard lock(join_mu);
        if (worker.joinable()) worker.join();
    }
};

class JobOutput : public container::Output {
  public:
    explicit JobOutput(Job& job) : job_(job) {}
    void warning(const std::string& message) override {
        job_.push(sse_event("warning", {{"event", "warning"}, {"message", message}}));
    }
    void install_event(const container::InstallEvent& event) override {
        ordered_json doc = container::event_json(event);
        job_.push(sse_event(doc["event"].get<std::string>(), doc));
    }

  private:
    Job& job_;
};

void run_job(Job& job, const Workspace& ws, container::InstallRequest request,
             std::unique_ptr<UploadDir> upload) {
    JobOutput out(job);
    std::optional<ordered_json> failure;
    try {
        container::Runtime rt(ws, out, container::LockMode::try_once);
        rt.install(std::move(request), job.cancel.get());
    } catch (const Error& e) {
        failure = container::error_event_json(e.what());
        (*failure)["error"] = std::string(error_name(e.kind()));
    } catch (const std::exception& e) {
        failure = container::error_event_json(e.what());
        (*failure)["error"] = "system";
    }
    // Gone before the last event, so a client that saw it finds nothing left in .uploads.
    upload.reset();
    if (failure)
        job.push(sse_event("error", *failure), true);
    else
        job.push({}, true);
}

// --- terminals ------------------------------------------------------------------------------

struct Session {
    std::string id = new_stream_id();
    std::string container;
    sys::unique_fd master;
    sys::unique_fd wake = make_eventfd("a terminal's end");
    Clock::time_point created = Clock::now();
    std::atomic<bool> attached{false};

    std::mutex mu;  // shell, exit_code
    container::Command shell;
    std::optional<int> exit_code;

    // The shell's status once it ended, nullopt while it runs.
    std::optional<int> poll_exit() {
        std::lock_guard lock(mu);
        if (!exit_code) exit_code = shell.try_wait();
        return exit_code;
    }
    // Ends the session: the output stream wakes, the shell gets SIGHUP (as if its terminal
    // closed), SIGKILL after kHangupGrace, and is reaped. Idempotent; returns the status.
    int end() {
        signal_eventfd(wake.get());
        std::lock_guard lock(mu);
        if (!exit_code) exit_code = shell.try_wait();
        if (!exit_code) {
            shell.signal_group(SIGHUP);
            shell.signal(SIGCONT);
            exit_code = shell.wait_for(kHangupGrace);
        }
        if (!exit_code) {
            shell.signal_group(SIGKILL);
            exit_code = shell.wait();
        }
        return *exit_code;
    }
};

// Writes all of `data` to the non-blocking master, waiting up to 5 s for room.
void write_master(int master, std::string_view data) {
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (!data.empty()) {
        ssize_t n = ::write(master, data.data(), data.size());
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) sys::fail_errno("write to the terminal");
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) fail_busy("the terminal takes no input (its shell reads nothing)");
        pollfd p = {master, POLLOUT, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
}

// --- console --------------------------------------------------------------------------------

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
        off_t from = end > kTailBytes ? end - kTailBytes : 0;
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

size_t query_size(const httplib::Request& req, const char* key, size_t fallback, size_t max) {
    if (!req.has_param(key)) return fallback;
    std::string value = req.get_param_value(key);
    auto n = parse_content_length(value);
    if (!n || *n > max)
        fail_invalid(std::string(key) + "=" + value + ": expected an integer from 0 to " +
                     std::to_string(max));
    return static_cast<size_t>(*n);
}

}  // namespace

// --- the shared state -----------------------------------------------------------------------

struct Streams::State {
    Workspace ws;
    HttpServer& http;
    JsonRoute json_route;

    std::mutex mu;
    std::map<std::string, std::shared_ptr<Job>> jobs;
    std::map<std::string, std::shared_ptr<Session>> sessions;
    bool closed = false;

    sys::unique_fd janitor_wake = make_eventfd("the terminal janitor");
    std::thread janitor;

    State(Workspace w, HttpServer& h, JsonRoute j)
        : ws(std::move(w)), http(h), json_route(std::move(j)) {}

    std::shared_ptr<Session> take_session(const std::string& id) {
        std::lock_guard lock(mu);
        auto it = sessions.find(id);
        if (it == sessions.end()) return nullptr;
        auto session = it->second;
        sessions.erase(it);
        return session;
    }
    std::shared_ptr<Session> find_session(const std::string& container, const std::string& id) {
        std::lock_guard lock(mu);
        auto it = sessions.find(id);
        if (it == sessions.end() || it->second->container != container)
            fail_not_found("no terminal session " + id + " of container '" + container + "'");
        return it->second;
    }
    void forget_job(const std::string& id) {
        std::lock_guard lock(mu);
        jobs.erase(id);
    }

    // Ends the sessions nobody attached to within kAttachWindow; once a second until closed.
    void run_janitor() {
        for (;;) {
            pollfd p = {janitor_wake.get(), POLLIN, 0};
            ::poll(&p, 1, kTickMs);
            std::vector<std::shared_ptr<Session>> expired;
            {
                std::lock_guard lock(mu);
                if (closed) return;
                auto now = Clock::now();
                for (auto it = sessions.begin(); it != sessions.end();) {
                    if (!it->second->attached && now - it->second->created > kAttachWindow) {
                        expired.push_back(it->second);
                        it = sessions.erase(it);
                    } else {
                        ++it;
                    }
                }
            }
            for (auto& s : expired)
                s->end();
        }
    }

    std::optional<StreamSlot> slot_or_503(httplib::Response& res) {
        auto slot = http.acquire_stream_slot();
        if (!slot)
            send_error(res, error_response(503, "unavailable",
                                           "too many open streams (" +
                                               std::to_string(http.limits().max_streams) +
                                               "); close one and retry"));
        return slot;
    }
    void check_open() {
        std::lock_guard lock(mu);
        if (closed || http.stopping()) fail_busy("the server is stopping");
    }

    void console(const httplib::Request& req, httplib::Response& res);
    void install(const httplib::Request& req, httplib::Response& res,
                 const httplib::ContentReader& reader);
    void cancel_install(const httplib::Request& req, httplib::Response& res);
    void open_terminal(const httplib::Request& req, httplib::Response& res);
    void terminal_output(const httplib::Request& req, httplib::Response& res);
    void terminal_input(const httplib::Request& req, httplib::Response& res);
    void terminal_resize(const httplib::Request& req, httplib::Response& res);
    void close_terminal(const httplib::Request& req, httplib::Response& res);
};

// --- console follow -------------------------------------------------------------------------

void Streams::State::console(const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("follow") != "1") {
        json_route(req, res);
        return;
    }
    std::string name = req.matches[1];
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
        "text/event-stream", [held, w, name, lines, logs, stop](size_t, httplib::DataSink& sink) {
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

// --- install --------------------------------------------------------------------------------

void Streams::State::install(const httplib::Request& req, httplib::Response& res,
                             const httplib::ContentReader& reader) {
    check_open();
    std::string content_type = req.get_header_value("Content-Type");
    bool upload = is_upload_content_type(content_type);
    container::InstallRequest request;
    std::unique_ptr<UploadDir> dir;
    if (!upload) {
        if (!content_type.empty() && content_type.find("application/json") != 0)
            fail_invalid("Content-Type " + content_type +
                         ": expected application/json (an install from a path) or an archive "
                         "type such as application/octet-stream (an upload)");
        std::string body;
        bool fits = reader([&](const char* data, size_t size) {
            if (body.size() + size > kJsonBodyCap) return false;
            body.append(data, size);
            return true;
        });
        if (!fits) {
            res.set_header("Connection", "close");
            send_error(res, error_response(413, "too_large", "the JSON body exceeds 1 MiB"));
            return;
        }
        request = install_request(parse_body(body));
    } else {
        // Everything that can be refused is refused before a byte of the body is read.
        request.name = req.get_param_value("name");
        if (request.name.empty()) fail_invalid("an upload needs ?name=<container name>");
        check_container_name(request.name);
        if (req.has_param("image_size"))
            request.image_size = archive::parse_image_size(req.get_param_value("image_size"));
        if (req.has_param("image_fs")) request.image_fs = req.get_param_value("image_fs");
        if (request.image_fs != "ext4")
            fail_invalid("image_fs=" + request.image_fs + ": only ext4 images can be created");
    }
    struct stat st;
    if (::lstat(ws.container_dir(request.name).c_str(), &st) == 0)
        fail_busy("container '" + request.name + "' already exists (" +
                  ws.container_dir(request.name) + ")");

    auto slot = slot_or_503(res);
    if (!slot) {
        if (upload) res.set_header("Connection", "close");  // the body was not read
        return;
    }
    if (upload) {
        struct statvfs vfs;
        uint64_t free_bytes = kMaxUploadBytes;
        if (::statvfs(ws.root.c_str(), &vfs) == 0)
            free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        uint64_t limit = upload_limit(free_bytes);
        auto too_large = [&] {
            res.set_header("Connection", "close");
            send_error(res, error_response(413, "too_large",
                                           "the upload exceeds " + archive::human_size(limit) +
                                               " (the workspace's free space, at most 64 GiB)"));
        };
        if (req.has_header("Content-Length")) {
            auto length = parse_content_length(req.get_header_value("Content-Length"));
            if (!length) fail_invalid("Content-Length: not a number");
            if (*length > limit) return too_large();
        }
        dir = std::make_unique<UploadDir>(
            ws, upload_extension(req.get_param_value("filename"), content_type));
        uint64_t received = 0;
        int write_errno = 0;
        bool over = false;
        bool complete = reader([&](const char* data, size_t size) {
            received += size;
            if (received > limit) {
                over = true;
                return false;
            }
            if (http.stopping()) return false;
            if (!sys::write_all(dir->fd(), data, size)) {
                write_errno = errno;
                return false;
            }
            return true;
        });
        if (over) return too_large();
        if (write_errno) sys::fail_errno("write " + dir->file(), write_errno);
        if (!complete) {
            res.set_header("Connection", "close");
            send_error(res, error_response(400, "invalid", "the upload ended early"));
            return;
        }
        if (::fsync(dir->fd()) != 0) sys::fail_errno("fsync " + dir->file());
        dir->close_file();
        request.source = dir->file();
    }

    auto job = std::make_shared<Job>();
    {
        std::lock_guard lock(mu);
        if (closed) fail_busy("the server is stopping");
        jobs[job->id] = job;
    }
    Workspace w = ws;
    job->worker = std::thread([raw = job.get(), w, request, d = std::move(dir)]() mutable {
        run_job(*raw, w, std::move(request), std::move(d));
    });

    auto held = std::make_shared<StreamSlot>(std::move(*slot));
    start_sse(res);
    int stop = http.stop_fd();
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, held, job, stop](size_t, httplib::DataSink& sink) {
            SseWriter out(sink);
            bool gone = !out.event("job", {{"id", job->id}});
            bool stopping = false;
            Clock::time_point stop_deadline;
            while (!gone) {
                pollfd p[2] = {{job->notify.get(), POLLIN, 0}, {stop, POLLIN, 0}};
                ::poll(p, stopping ? 1 : 2, kTickMs);
                if (!stopping && readable(p[1])) {
                    // The server stops: cancel, and give the installer a moment to clean up
                    // and say so before the stream ends.
                    stopping = true;
                    stop_deadline = Clock::now() + std::chrono::seconds(3);
                    job->request_cancel();
                }
                drain_eventfd(job->notify.get());
                std::deque<std::string> frames;
                bool finished;
                {
                    std::lock_guard lock(job->mu);
                    frames.swap(job->frames);
                    finished = job->finished;
                }
                for (auto& f : frames)
                    if (!f.empty() && !out.send(f)) gone = true;
                if (gone) break;
                if (finished || (stopping && Clock::now() >= stop_deadline)) break;
                if (!out.tick()) gone = true;
            }
            if (gone) job->request_cancel();  // a client that goes away cancels
            forget_job(job->id);
            if (gone) return false;
            out.done();
            return true;
        },
        [job](bool) { job->stop(); });
}

void Streams::State::cancel_install(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    std::shared_ptr<Job> job;
    {
        std::lock_guard lock(mu);
        auto it = jobs.find(id);
        if (it != jobs.end()) job = it->second;
    }
    if (!job) fail_not_found("no install job " + id);
    job->request_cancel();
    send_json(res, 202, {{"id", id}, {"cancelled", true}});
}

// --- terminals ------------------------------------------------------------------------------

void Streams::State::open_terminal(const httplib::Request& req, httplib::Response& res) {
    check_open();
    std::string name = req.matches[1];
    check_container_name(name);
    container::EnterRequest request = terminal_request(parse_body(req.body));
    {
        std::lock_guard lock(mu);
        if (sessions.size() >= http.limits().max_streams)
            return send_error(res, error_response(503, "unavailable",
                                                  "too many terminal sessions (" +
                                                      std::to_string(sessions.size()) + ")"));
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
        sys::fail_errno("socketpair for the console socket");
    sys::unique_fd ours(pair[0]), theirs(pair[1]);
    container::Output quiet;
    container::Runtime rt(ws, quiet, container::LockMode::try_once);
    auto session = std::make_shared<Session>();
    session->container = name;
    session->shell = rt.open_terminal(name, request, theirs.get());
    theirs.reset();
    if (!session->shell.error().empty()) {
        std::string error = session->shell.error();
        session->shell.wait();
        fail_system(error);
    }
    // Already queued: the helper sends it before it starts the shell.
    sys::receive_fd(ours.get(), session->master);
    if (!session->master) fail_system("no terminal came over the console socket");
    int flags = ::fcntl(session->master.get(), F_GETFL);
    if (flags < 0 || ::fcntl(session->master.get(), F_SETFL, flags | O_NONBLOCK) != 0)
        sys::fail_errno("make the pty master non-blocking");
    {
        std::lock_guard lock(mu);
        if (closed) {
            session->end();
            fail_busy("the server is stopping");
        }
        sessions[session->id] = session;
    }
    send_json(res, 201, {{"id", session->id}, {"pid", session->shell.pid()}});
}

void Streams::State::terminal_output(const httplib::Request& req, httplib::Response& res) {
    auto session = find_session(req.matches[1], req.matches[2]);
    if (session->attached.exchange(true))
        fail_busy("terminal session " + session->id + " already has a reader");
    auto slot = slot_or_503(res);
    if (!slot) {
        session->attached = false;
        return;
    }
    auto held = std::make_shared<StreamSlot>(std::move(*slot));
    start_sse(res);
    int stop = http.stop_fd();
    res.set_chunked_content_provider("text/event-stream", [this, held, session, stop](
                                                              size_t, httplib::DataSink& sink) {
        SseWriter out(sink);
        std::string buf(kReadChunk, '\0');
        // Sends what the master holds; false when the slave side is gone (EIO) or the
        // client is.
        auto pump = [&]() -> bool {
            for (;;) {
                ssize_t n = ::read(session->master.get(), buf.data(), buf.size());
                if (n > 0) {
                    if (!out.event("output",
                                   {{"data", base64_encode({buf.data(), static_cast<size_t>(n)})}}))
                        return false;
                    continue;
                }
                if (n < 0 && errno == EINTR) continue;
                return n < 0 && errno == EAGAIN;
            }
        };
        bool client_gone = false;
        for (;;) {
            pollfd p[3] = {{session->master.get(), POLLIN, 0},
                           {session->wake.get(), POLLIN, 0},
                           {stop, POLLIN, 0}};
            ::poll(p, 3, kTickMs);
            if (readable(p[1]) || readable(p[2])) break;  // DELETE, or the server stops
            if (readable(p[0]) && !pump()) {
                client_gone = !out.tick();
                break;  // the shell and everything holding its terminal are gone
            }
            if (session->poll_exit()) {
                pump();
                break;
            }
            if (!out.tick()) {
                client_gone = true;
                break;
            }
        }
        take_session(session->id);
        int code = session->end();
        if (client_gone) return false;
        out.event("exit", {{"exit_code", code}});
        out.done();
        return true;
    });
}

void Streams::State::terminal_input(const httplib::Request& req, httplib::Response& res) {
    auto session = find_session(req.matches[1], req.matches[2]);
    auto body = parse_body(req.body);
    std::string data;
    if (auto it = body.find("data"); it != body.end()) {
        if (!it->is_string()) fail_invalid("\"data\": expected a string");
        data = it->get<std::string>();
    } else if (auto b64 = body.find("base64"); b64 != body.end()) {
        auto decoded = b64->is_string() ? base64_decode(b64->get<std::string>()) : std::nullopt;
        if (!decoded) fail_invalid("\"base64\": expected a base64 string");
        data = std::move(*decoded);
    } else {
        fail_invalid("expected {\"data\": \"<text>\"} or {\"base64\": \"<bytes>\"}");
    }
    if (session->poll_exit()) fail_not_found("terminal session " + session->id + " has ended");
    write_master(session->master.get(), data);
    send_json(res, 200, {{"written", data.size()}});
}

void Streams::State::terminal_resize(const httplib::Request& req, httplib::Response& res) {
    auto session = find_session(req.matches[1], req.matches[2]);
    WindowSize size = window_size(parse_body(req.body));
    struct winsize ws_ = {};
    ws_.ws_row = size.rows;
    ws_.ws_col = size.cols;
    // The kernel sends SIGWINCH to the terminal's foreground process group.
    if (::ioctl(session->master.get(), TIOCSWINSZ, &ws_) != 0)
        sys::fail_errno("TIOCSWINSZ on terminal " + session->id);
    send_json(res, 200, {{"rows", size.rows}, {"cols", size.cols}});
}

void Streams::State::close_terminal(const httplib::Request& req, httplib::Response& res) {
    auto session = find_session(req.matches[1], req.matches[2]);
    take_session(session->id);
    int code = session->end();
    send_json(res, 200, {{"id", session->id}, {"exit_code", code}});
}

// --- Streams --------------------------------------------------------------------------------

Streams::Streams(Workspace ws, HttpServer& http, JsonRoute json_route)
    : state_(std::make_unique<State>(std::move(ws), http, std::move(json_route))) {}

Streams::~Streams() {
    shutdown();
}

void Streams::register_routes() {
    State* s = state_.get();
    auto& http = s->http;
    const std::string c = "/api/v1/containers/([^/]+)";
    const std::string t = c + "/terminal/([0-9a-f]{32})";
    http.Get(c + "/console", [s](const httplib::Request& req, httplib::Response& res) {
        answer(res, [&] { s->console(req, res); });
    });
    http.Post("/api/v1/install", [s](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader) {
        answer(res, [&] { s->install(req, res, reader); });
    });
    http.Delete("/api/v1/install/([^/]+)",
                [s](const httplib::Request& req, httplib::Response& res) {
                    answer(res, [&] { s->cancel_install(req, res); });
                });
    http.Post(c + "/terminal", [s](const httplib::Request& req, httplib::Response& res) {
        answer(res, [&] { s->open_terminal(req, res); });
    });
    http.Get(t, [s](const httplib::Request& req, httplib::Response& res) {
        answer(res, [&] { s->terminal_output(req, res); });
    });
    http.Post(t + "/input", [s](const httplib::Request& req, httplib::Response& res) {
        answer(res, [&] { s->terminal_input(req, res); });
    });
    http.Post(t + "/resize", [s](const httplib::Request& req, httplib::Response& res) {
        answer(res, [&] { s->terminal_resize(req, res); });
    });
    http.Delete(t, [s](const httplib::Request& req, httplib::Response& res) {
        answer(res, [&] { s->close_terminal(req, res); });
    });
    if (!s->janitor.joinable()) s->janitor = std::thread([s] { s->run_janitor(); });
}

bool Streams::is_upload(std::string_view method, std::string_view path,
                        std::string_view content_type) {
    return method == "POST" && path == "/api/v1/install" && is_upload_content_type(content_type);
}

void Streams::shutdown() {
    State& s = *state_;
    std::map<std::string, std::shared_ptr<Job>> jobs;
    std::map<std::string, std::shared_ptr<Session>> sessions;
    {
        std::lock_guard lock(s.mu);
        s.closed = true;
        jobs.swap(s.jobs);
        sessions.swap(s.sessions);
    }
    signal_eventfd(s.janitor_wake.get());
    if (s.janitor.joinable()) s.janitor.join();
    for (auto& [id, session] : sessions)
        session->end();
    for (auto& [id, job] : jobs)
        job->stop();  // cancel, and wait for the installer's cleanup
}

}  // namespace ds::server
