// The install routes (streams.hpp): POST /api/v1/install from a path (JSON body) or from an
// upload streamed to <ws>/.uploads, its SSE stream of the installer's events, and DELETE
// /api/v1/install/{id}. The install runs in a thread of its own (a Job, stream_state.hpp); the
// stream only relays its events, and a client that goes away cancels it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "core/archive.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "server/requests.hpp"
#include "server/stream_state.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/syscall_error.hpp"

namespace ds::server {

using namespace stream_detail;
using nlohmann::ordered_json;

namespace {

constexpr size_t kJsonBodyCap = 1024 * 1024;

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

}  // namespace

namespace stream_detail {

void Job::push(std::string frame, bool last) {
    {
        std::lock_guard lock(mu);
        frames.push_back(std::move(frame));
        if (last) finished = true;
    }
    sys::signal_eventfd(notify.get());
}

void Job::stop() {
    request_cancel();
    std::lock_guard lock(join_mu);
    if (worker.joinable()) worker.join();
}

}  // namespace stream_detail

// --- install --------------------------------------------------------------------------------

void Streams::State::install(const http::Request& req, http::Response& res,
                             const http::ContentReader& reader) {
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
        bool over = false;
        bool complete = reader([&](const char* data, size_t size) {
            over = body.size() + size > kJsonBodyCap;
            if (!over) body.append(data, size);
            return !over;
        });
        if (!complete) {
            res.set_header("Connection", "close");
            if (over)
                send_error(res, error_response(413, "too_large", "the JSON body exceeds 1 MiB"));
            else
                send_error(res, error_response(400, "invalid", "the body ended early"));
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
    check_open();
    Workspace w = ws;
    job->worker = std::thread([raw = job.get(), w, request, d = std::move(dir)]() mutable {
        run_job(*raw, w, std::move(request), std::move(d));
    });
    {
        std::lock_guard lock(mu);
        // After a shutdown() the job is not registered: the stream sees the stop fd at once and
        // the releaser cancels and joins it.
        if (!closed) jobs[job->id] = job;
    }

    auto held = std::make_shared<StreamSlot>(std::move(*slot));
    start_sse(res);
    int stop = http.stop_fd();
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, held, job, stop](size_t, http::DataSink& sink) {
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
                sys::drain_eventfd(job->notify.get());
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

void Streams::State::cancel_install(const http::Request& req, http::Response& res) {
    std::string id = req.path_param("id");
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

void Streams::State::forget_job(const std::string& id) {
    std::lock_guard lock(mu);
    jobs.erase(id);
}

}  // namespace ds::server
