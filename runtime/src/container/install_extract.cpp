// install: the children (through sys::spawn), the extractor's sandbox, and the tar stream fed
// to it through the scanner, with progress events and cancellation.
#include "container/install_parts.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "core/archive.hpp"
#include "core/error.hpp"
#include "sys/fd.hpp"
#include "sys/mount.hpp"
#include "sys/spawn.hpp"
#include "sys/syscall_error.hpp"

extern char** environ;

namespace ds::container::install_detail {
namespace {

namespace ar = ds::archive;
using sys::unique_fd;

constexpr size_t kChunk = 256 * 1024;
constexpr size_t kStderrKeep = 16 * 1024;  // tail of the tools' stderr kept for messages

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

// The environment of the tools: ours, in the C locale (their messages are matched in English).
std::vector<std::string> tool_environment() {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry(*e);
        if (entry.starts_with("LC_ALL=") || entry.starts_with("LANGUAGE=")) continue;
        env.emplace_back(entry);
    }
    env.emplace_back("LC_ALL=C");
    return env;
}

// --- the extractor's sandbox ---------------------------------------------------------------------
//
// The archive is checked before and while it is extracted (ar::TarScanner), but the tar that
// extracts it is whatever the host has, and toybox's follows hard links and symlinks anywhere.
// So tar runs where nothing of the host is writable: in a private mount namespace whose root
// is an empty tmpfs (read-only) holding the host's program directories bound read-only
// (nosuid, nodev) and the rootfs being made, bound read-write but nosuid, nodev, noexec, at
// /rootfs. The old root is detached, so no path leads out: a symlink to /etc/shadow resolves
// to the read-only bind, a hard link to any host file fails with EXDEV (another mount), and
// device nodes the archive makes cannot be opened. This holds whatever tar does.

struct Sandbox {
    std::string base;  // an empty directory: the tmpfs root is mounted on it
    std::string dest;  // the rootfs being made (host path), bound at base/rootfs
    std::string rootfs;
    std::vector<std::string> dirs;                           // made under base, parents first
    std::vector<std::pair<std::string, std::string>> links;  // (path under base, target)
    std::vector<std::pair<std::string, std::string>> binds;  // (host dir, path under base)
};

constexpr const char* kSandboxRootfs = "/rootfs";

// What tar needs to run: the dynamic loader, its libraries, /etc for owner names; on Android
// the linker's namespaces. Each exists on some hosts only.
constexpr const char* kProgramDirs[] = {"bin",     "sbin", "lib",          "lib32",  "lib64",
                                        "libx32",  "usr",  "etc",          "system", "system_ext",
                                        "product", "odm",  "linkerconfig", "apex",   "vendor"};

// The sandbox for a tar at host path `program`; its real path comes back in `exec_path` (the
// same path works inside, where its directory is bound too).
Sandbox plan_sandbox(const std::string& base, const std::string& dest, const std::string& program,
                     std::string& exec_path) {
    Sandbox sb;
    sb.base = base;
    sb.dest = dest;
    sb.rootfs = base + kSandboxRootfs;
    sb.dirs.push_back(sb.rootfs);
    std::set<std::string> bound;
    for (const char* dir : kProgramDirs) {
        std::string host = std::string("/") + dir;
        auto st = lstat_path(host);
        if (!st) continue;
        if (S_ISLNK(st->st_mode)) {
            char target[PATH_MAX];
            ssize_t n = ::readlink(host.c_str(), target, sizeof target - 1);
            if (n > 0) sb.links.emplace_back(base + host, std::string(target, n));
        } else if (S_ISDIR(st->st_mode)) {
            sb.dirs.push_back(base + host);
            sb.binds.emplace_back(host, base + host);
            bound.insert(host);
        }
    }
    char real[PATH_MAX];
    if (!::realpath(program.c_str(), real)) sys::fail_errno("resolve " + program);
    exec_path = real;
    std::string top = "/" + exec_path.substr(1, exec_path.find('/', 1) - 1);
    if (!bound.count(top)) {
        // A tar outside the usual places (e.g. /data/local/Droidspaces/bin): its directory.
        std::string parent = exec_path.substr(0, exec_path.rfind('/'));
        for (size_t slash = parent.find('/', 1); slash != std::string::npos;
             slash = parent.find('/', slash + 1))
            sb.dirs.push_back(base + parent.substr(0, slash));
        sb.dirs.push_back(base + parent);
        sb.binds.emplace_back(parent, base + parent);
    }
    return sb;
}

// What a failed sandbox step was, reported by the child next to its errno.
enum SandboxStep : int {
    kStepUnshare = 1,
    kStepPrivate,
    kStepTmpfs,
    kStepMkdir,
    kStepSymlink,
    kStepBind,
    kStepReadOnly,
    kStepRootfs,
    kStepSeal,
    kStepPivot,
};

// sys::spawn's error then reads "cannot run TAR: isolating it to extract: STEP: ERRNO".
const char* step_text(int step) {
    static const char* const kText[] = {"isolating it to extract: set up",
                                        "isolating it to extract: unshare the mount namespace",
                                        "isolating it to extract: make the mounts private",
                                        "isolating it to extract: mount a tmpfs",
                                        "isolating it to extract: make a directory",
                                        "isolating it to extract: make a symlink",
                                        "isolating it to extract: bind a host directory",
                                        "isolating it to extract: make a bind read-only",
                                        "isolating it to extract: bind the rootfs",
                                        "isolating it to extract: make the tmpfs read-only",
                                        "isolating it to extract: pivot_root"};
    return step >= 0 && step < static_cast<int>(std::size(kText)) ? kText[step] : kText[0];
}

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

// Read-only, nosuid, nodev for the bind at `path` and every mount below it (mount_setattr,
// Linux 5.12); where that fails, the top mount only, which is all a plain host has there.
bool make_read_only(const char* path) {
#ifdef SYS_mount_setattr
    struct {
        uint64_t attr_set, attr_clr, propagation, userns_fd;
    } attr = {MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, 0, 0, 0};
    if (::syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr) == 0)
        return true;
#endif
    return ::mount(nullptr, path, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV,
                   nullptr) == 0;
}

// sys::spawn's pre-exec hook, in the forked child: only syscalls on the prepared strings (no
// allocation). Returns the failed step (errno set), or -1 when the child now lives in the
// sandbox with /rootfs as its cwd.
int enter_sandbox(const Sandbox& sb) {
    if (::unshare(CLONE_NEWNS) != 0) return kStepUnshare;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return kStepPrivate;
    if (::mount("tmpfs", sb.base.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m") != 0)
        return kStepTmpfs;
    for (const auto& dir : sb.dirs)
        if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return kStepMkdir;
    for (const auto& [path, target] : sb.links)
        if (::symlink(target.c_str(), path.c_str()) != 0) return kStepSymlink;
    for (const auto& [host, path] : sb.binds) {
        if (::mount(host.c_str(), path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
            return kStepBind;
        if (!make_read_only(path.c_str())) return kStepReadOnly;
    }
    if (::mount(sb.dest.c_str(), sb.rootfs.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, sb.rootfs.c_str(), nullptr,
                MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return kStepRootfs;
    if (::mount(nullptr, sb.base.c_str(), nullptr,
                MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=0755,size=1m") != 0)
        return kStepSeal;
    // pivot_root(".", "."): the old root ends up on top of the new one and is detached at
    // once, so nothing of the host is left reachable.
    if (::chdir(sb.base.c_str()) != 0 || ::syscall(SYS_pivot_root, ".", ".") != 0 ||
        ::umount2(".", MNT_DETACH) != 0 || ::chdir(kSandboxRootfs) != 0)
        return kStepPivot;
    return -1;
}

// --- children -----------------------------------------------------------------------------------

// The children of one step, started with sys::spawn (argv and environment built before the
// fork, exec failures reported through a CLOEXEC pipe, killed with the install: parent-death
// signal). Whatever is still running when this goes away (an error, a cancellation) is killed
// and reaped by its sys::Child: no tool outlives the install or keeps writing into the
// directory being removed.
class Children {
  public:
    // Starts `cmd` with the given descriptors as its stdin, stdout and stderr (nothing else of
    // ours is inherited), inside `sandbox` when given. A failed sandbox step or exec throws.
    pid_t spawn(const Command& cmd, int in, int out, int err, const Sandbox* sandbox = nullptr) {
        sys::SpawnOptions options;
        options.path = cmd.path;
        options.argv = cmd.argv;
        options.env = tool_environment();
        options.fds = {{in, 0}, {out, 1}, {err, 2}};
        if (sandbox) {
            options.pre_exec = &enter_sandbox_hook;
            options.pre_exec_arg = sandbox;
            options.step_text = &step_text;
        }
        children_.push_back(sys::spawn(options));
        return children_.back().pid();
    }

    // Waits for `pid` (one of ours) and returns its wait status.
    int wait(pid_t pid) {
        auto it = std::find_if(children_.begin(), children_.end(),
                               [pid](const sys::Child& c) { return c.pid() == pid; });
        if (it == children_.end()) fail_runtime("wait for " + std::to_string(pid) + ": not ours");
        int status = it->wait();
        children_.erase(it);
        return status;
    }

  private:
    // The pre-exec hook: in the child, after its descriptors are set, before exec.
    static int enter_sandbox_hook(const void* arg) {
        return enter_sandbox(*static_cast<const Sandbox*>(arg));
    }

    std::vector<sys::Child> children_;
};

// Keeps the tail of what the children write on stderr.
void append_tail(std::string& text, const char* data, size_t size) {
    text.append(data, size);
    if (text.size() > 2 * kStderrKeep) text.erase(0, text.size() - kStderrKeep);
}

// Reads `fd` to EOF into `text` while watching `cancel_fd`. False when cancelled.
bool drain(int fd, std::string& text, int cancel_fd) {
    char buf[4096];
    for (;;) {
        pollfd fds[2] = {{fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
        int n = ::poll(fds, cancel_fd >= 0 ? 2 : 1, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            sys::fail_errno("poll");
        }
        if (cancel_fd >= 0 && (fds[1].revents & POLLIN)) return false;
        if (fds[0].revents) {
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
            if (r <= 0) return true;
            append_tail(text, buf, static_cast<size_t>(r));
        }
    }
}

// --- extraction ---------------------------------------------------------------------------------

// Throttled progress events for one extraction.
class Progress {
  public:
    Progress(const InstallSink& sink, uint64_t total, bool estimate)
        : sink_(sink), total_(total), estimate_(estimate) {}

    void update(uint64_t bytes, bool final) {
        if (!sink_ || !throttle_.due(now_ms(), final)) return;
        InstallEvent e;
        e.type = InstallEvent::Type::progress;
        e.bytes = bytes;
        // A directory's size is an estimate: never 100% before the end, exact at the end.
        if (estimate_)
            e.total = final ? bytes : std::max(total_, bytes + 1);
        else
            e.total = final ? std::max(bytes, total_) : total_;
        e.percent = ar::percent(e.bytes, e.total);
        sink_(e);
    }

  private:
    const InstallSink& sink_;
    uint64_t total_;
    bool estimate_;
    ar::ProgressThrottle throttle_;
};

struct PumpResult {
    uint64_t bytes = 0;  // read from the input
    bool cancelled = false;
    bool consumer_gone = false;  // the extractor stopped reading before the end
    bool no_space = false;       // tar said ENOSPC: no use feeding it the rest
    ar::TarScanner::Status status = ar::TarScanner::Status::more;
};

// Reads the tar stream from `input` through `scanner` and sends what it approves to the
// extractor's socket `output` (-1: only check), collecting the tools' stderr from `err_fd` and
// watching `cancel_fd`. Returns when the input ends, the scanner refuses, the extractor goes
// away or a cancel comes. After the end marker the input is still drained (so its producer
// finishes normally) but nothing more is sent. Closes `output` at the end.
PumpResult pump(int input, unique_fd output, ar::TarScanner& scanner, int err_fd, bool& err_open,
                std::string& errors, int cancel_fd, const std::function<void(uint64_t)>& on_read,
                const std::string& what) {
    using Status = ar::TarScanner::Status;
    PumpResult result;
    std::vector<char> buf(kChunk);
    std::string out;
    size_t out_off = 0;
    bool in_eof = false;
    std::string* approved = output ? &out : nullptr;
    on_read(0);
    for (;;) {
        bool pending = out_off < out.size();
        if (in_eof && !pending) break;
        pollfd fds[4];
        nfds_t n = 0;
        int i_in = -1, i_out = -1, i_cancel = -1, i_err = -1;
        if (pending) {
            fds[n] = {output.get(), POLLOUT, 0};
            i_out = static_cast<int>(n++);
        } else {
            fds[n] = {input, POLLIN, 0};
            i_in = static_cast<int>(n++);
        }
        if (cancel_fd >= 0) {
            fds[n] = {cancel_fd, POLLIN, 0};
            i_cancel = static_cast<int>(n++);
        }
        if (err_open) {
            fds[n] = {err_fd, POLLIN, 0};
            i_err = static_cast<int>(n++);
        }
        if (::poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            sys::fail_errno("poll");
        }
        if (i_cancel >= 0 && (fds[i_cancel].revents & POLLIN)) {
            result.cancelled = true;
            break;
        }
        if (i_err >= 0 && fds[i_err].revents) {
            char ebuf[4096];
            ssize_t r = ::read(err_fd, ebuf, sizeof ebuf);
            if (r > 0) {
                append_tail(errors, ebuf, static_cast<size_t>(r));
                if (output && ar::mentions_no_space(errors)) {
                    result.no_space = true;
                    break;
                }
            } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
                err_open = false;
            }
        }
        if (i_in >= 0 && fds[i_in].revents) {
            ssize_t r = ::read(input, buf.data(), buf.size());
            if (r < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                sys::fail_errno("read " + what);
            }
            out.clear();
            out_off = 0;
            if (r == 0) {
                in_eof = true;
                result.status = scanner.finish(approved);
            } else {
                result.bytes += static_cast<uint64_t>(r);
                on_read(result.bytes);
                result.status =
                    scanner.feed(std::string_view(buf.data(), static_cast<size_t>(r)), approved);
            }
            if (result.status == Status::refused || result.status == Status::corrupt) break;
        }
        if (i_out >= 0 && fds[i_out].revents) {
            ssize_t w = ::send(output.get(), out.data() + out_off, out.size() - out_off,
                               MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w < 0) {
                if (errno == EINTR || errno == EAGAIN) continue;
                if (errno == EPIPE || errno == ECONNRESET) {
                    result.consumer_gone = true;
                    break;
                }
                sys::fail_errno("write to tar");
            }
            out_off += static_cast<size_t>(w);
        }
    }
    return result;
}

// "(the archive is truncated)" when a tool's complaint says so.
std::string truncation_hint(const std::string& why) {
    if (why.find("nexpected EOF") != std::string::npos ||
        why.find("nexpected end") != std::string::npos)
        return why.find("truncated") == std::string::npos ? " (the archive is truncated)" : "";
    return "";
}

[[noreturn]] void fail_extract(const ExtractContext& cx, const std::string& errors,
                               const std::string& fallback) {
    if (fd_readable_now(cx.cancel_fd)) fail_interrupted(cx.name);  // Ctrl-C reached tar too
    std::string why = ar::failure_line(errors);
    if (why.empty()) why = fallback;
    if (ar::mentions_no_space(errors)) {
        if (cx.image_size)
            fail_runtime("the image is too small: " + ar::human_size(cx.image_size) +
                         " filled up while extracting " + cx.src.path + " (" + why +
                         "); try a bigger --img" +
                         (cx.src.unpacked ? ", at least --img=" +
                                                img_argument(cx.src.unpacked + cx.src.unpacked / 4)
                                          : std::string()));
        fail_runtime("disk full: the filesystem of " + cx.space_owner +
                     " ran out of space while extracting " + cx.src.path + " (" + why + ")");
    }
    fail_runtime("extracting " + cx.src.path + " failed: " + why + truncation_hint(why));
}

// The decompressed tar stream of a tarball: the file itself, or a decompressor reading it
// (the file's offset, shared with the decompressor, tells how far it got).
struct TarStream {
    int fd = -1;
    unique_fd pipe;
    pid_t decompressor = -1;
    std::function<void(uint64_t)> on_read;
};

TarStream open_tar_stream(const Source& src, const Tools& tools, Children& children, int err_fd,
                          Progress* progress) {
    TarStream stream;
    if (::lseek(src.fd.get(), 0, SEEK_SET) != 0) sys::fail_errno("seek " + src.path);
    if (tools.decompress) {
        int mid[2];
        if (::pipe2(mid, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
        unique_fd mid_r(mid[0]), mid_w(mid[1]);
        stream.decompressor = children.spawn(*tools.decompress, src.fd.get(), mid_w.get(), err_fd);
        stream.pipe = std::move(mid_r);
        stream.fd = stream.pipe.get();
        int file = src.fd.get();
        stream.on_read = [progress, file](uint64_t bytes) {
            // 0 is the start, however far the decompressor has already read.
            off_t at = bytes == 0 ? 0 : ::lseek(file, 0, SEEK_CUR);
            if (progress && at >= 0) progress->update(static_cast<uint64_t>(at), false);
        };
    } else {
        stream.fd = src.fd.get();
        stream.on_read = [progress](uint64_t bytes) {
            if (progress) progress->update(bytes, false);
        };
    }
    return stream;
}

// The decompressor may be cut short by SIGPIPE when the stream stopped early: not its fault.
bool decompressor_ok(int status) {
    return exited_ok(status) || (WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
}

// The sandbox's mount point: an empty directory in the temp dir, gone when extraction ends.
class SandboxDir {
  public:
    explicit SandboxDir(std::string path) : path_(std::move(path)) {
        if (::mkdir(path_.c_str(), 0700) != 0) sys::fail_errno("mkdir " + path_);
    }
    ~SandboxDir() { ::rmdir(path_.c_str()); }
    SandboxDir(const SandboxDir&) = delete;
    SandboxDir& operator=(const SandboxDir&) = delete;

  private:
    std::string path_;
};

}  // namespace

std::string status_text(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "exit status " + std::to_string(WEXITSTATUS(status));
}
bool exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Runs a short tool with stdin from /dev/null and its output captured.
ToolRun run_tool(const Command& cmd, int cancel_fd, const std::string& name) {
    unique_fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) sys::fail_errno("open /dev/null");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
    unique_fd out_r(fds[0]), out_w(fds[1]);
    Children children;
    pid_t pid = children.spawn(cmd, devnull.get(), out_w.get(), out_w.get());
    out_w.reset();
    ToolRun run;
    if (!drain(out_r.get(), run.output, cancel_fd)) fail_interrupted(name);
    run.status = children.wait(pid);
    return run;
}

// Before anything is made: reads the whole archive through the scanner. A member that breaks
// a rule is refused with exit 1 (bad input); an unreadable archive fails like a failed
// extraction (exit 2).
void check_archive(const Source& src, const Tools& tools, const std::string& name, int cancel_fd,
                   const InstallSink& sink) {
    step(sink, "check", "Checking the members of " + src.path);
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
    unique_fd err_r(err_pipe[0]), err_w(err_pipe[1]);
    Children children;
    TarStream stream = open_tar_stream(src, tools, children, err_w.get(), nullptr);
    err_w.reset();
    ar::TarScanner scanner;
    std::string errors;
    bool err_open = true;
    auto pumped = pump(stream.fd, unique_fd(), scanner, err_r.get(), err_open, errors, cancel_fd,
                       stream.on_read, src.path);
    if (pumped.cancelled) fail_interrupted(name);
    if (pumped.status == ar::TarScanner::Status::refused)
        fail_usage("refusing " + src.path + ": " + scanner.problem());
    stream.pipe.reset();
    if (err_open && !drain(err_r.get(), errors, cancel_fd)) fail_interrupted(name);
    int status = stream.decompressor > 0 ? children.wait(stream.decompressor) : 0;
    std::string why;
    if (!decompressor_ok(status)) {
        why = ar::failure_line(errors);
        if (why.empty())
            why = std::string(ar::decompressor(src.compression)) + " " + status_text(status);
    }
    if (why.empty() && pumped.status != ar::TarScanner::Status::end) why = scanner.problem();
    if (!why.empty())
        fail_runtime("extracting " + src.path + " failed: " + why + truncation_hint(why));
}

void extract(const ExtractContext& cx) {
    const bool gnu = cx.tools.gnu_tar;
    int err_pipe[2];
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
    unique_fd err_r(err_pipe[0]), err_w(err_pipe[1]);
    int sock[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) != 0)
        sys::fail_errno("socketpair");
    unique_fd feed(sock[0]), feed_peer(sock[1]);
    ::shutdown(feed.get(), SHUT_RD);
    unique_fd devnull(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!devnull) sys::fail_errno("open /dev/null");

    // tar -x, in its sandbox, reads what the scanner approved.
    SandboxDir sandbox_dir(cx.work + "/" + kSandboxDir);
    Command untar = cx.tools.tar;
    const std::string program = untar.path;
    Sandbox sandbox = plan_sandbox(cx.work + "/" + kSandboxDir, cx.dest, program, untar.path);
    if (gnu)
        untar.argv.insert(untar.argv.end(), {"--numeric-owner", "--xattrs", "--xattrs-include=*",
                                             "-xpf", "-", "-C", kSandboxRootfs});
    else if (cx.tools.numeric_owner)
        untar.argv.insert(untar.argv.end(), {"--numeric-owner", "-xpf", "-", "-C", kSandboxRootfs});
    else
        untar.argv.insert(untar.argv.end(), {"-xpf", "-", "-C", kSandboxRootfs});
    Children children;
    pid_t extractor = children.spawn(untar, feed_peer.get(), devnull.get(), err_w.get(), &sandbox);
    feed_peer.reset();

    Progress progress(cx.sink, cx.src.size, cx.src.directory);
    // The stream: a directory packed by a second tar (on the host: it only reads), or the
    // tarball, decompressed.
    TarStream stream;
    pid_t producer = -1;
    if (cx.src.directory) {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
        unique_fd out_r(out[0]), out_w(out[1]);
        Command pack = cx.tools.tar;
        if (gnu)
            pack.argv.insert(pack.argv.end(), {"--numeric-owner", "--xattrs", "--xattrs-include=*",
                                               "--one-file-system"});
        pack.argv.insert(pack.argv.end(), {"-C", cx.src.path, "-cf", "-", "."});
        producer = children.spawn(pack, devnull.get(), out_w.get(), err_w.get());
        stream.pipe = std::move(out_r);
        stream.fd = stream.pipe.get();
        stream.on_read = [&progress](uint64_t bytes) { progress.update(bytes, false); };
    } else {
        stream = open_tar_stream(cx.src, cx.tools, children, err_w.get(), &progress);
    }
    err_w.reset();

    std::string errors;
    bool err_open = true;
    ar::TarScanner scanner;
    auto pumped = pump(stream.fd, std::move(feed), scanner, err_r.get(), err_open, errors,
                       cx.cancel_fd, stream.on_read, cx.src.path);
    if (pumped.cancelled) fail_interrupted(cx.name);
    // Checked before, so the archive changed since, or the directory holds what no tar -c makes.
    if (pumped.status == ar::TarScanner::Status::refused)
        fail_runtime("refusing " + cx.src.path + ": " + scanner.problem());
    // GNU tar goes on through the whole archive after ENOSPC: stop it now (the throw kills it).
    if (pumped.no_space) fail_extract(cx, errors, "no space left");
    stream.pipe.reset();  // a producer still writing gets EPIPE and stops
    if (err_open && !drain(err_r.get(), errors, cx.cancel_fd)) fail_interrupted(cx.name);

    int tar_status = children.wait(extractor);
    int decompress_status = stream.decompressor > 0 ? children.wait(stream.decompressor) : 0;
    int produce_status = producer > 0 ? children.wait(producer) : 0;
    if (!exited_ok(tar_status)) fail_extract(cx, errors, "tar " + status_text(tar_status));
    if (!decompressor_ok(decompress_status))
        fail_extract(cx, errors,
                     std::string(ar::decompressor(cx.src.compression)) + " " +
                         status_text(decompress_status));
    if (pumped.status == ar::TarScanner::Status::corrupt) fail_extract(cx, "", scanner.problem());
    if (producer > 0 && !exited_ok(produce_status)) {
        // GNU tar -c: 1 means "some files changed while being read", the copy is still made.
        if (gnu && WIFEXITED(produce_status) && WEXITSTATUS(produce_status) == 1)
            warn(cx.sink, "some files of " + cx.src.path +
                              " changed while being copied: " + ar::failure_line(errors));
        else
            fail_extract(cx, errors, "tar -c " + status_text(produce_status));
    } else if (auto line = ar::failure_line(errors); !line.empty()) {
        warn(cx.sink, "while extracting: " + line);  // tar's warnings, e.g. unknown pax keywords
    }
    uint64_t done = cx.src.directory ? pumped.bytes : cx.src.size;
    progress.update(done, true);
}

}  // namespace ds::container::install_detail
