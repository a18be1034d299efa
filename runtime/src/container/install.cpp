#include "container/install.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "container/image.hpp"
#include "core/archive.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/format.hpp"
#include "core/validate.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/lock.hpp"
#include "sys/mount.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/syscall_error.hpp"

extern char** environ;

namespace ds::container {
namespace {

using namespace std::chrono_literals;
namespace ar = ds::archive;
using sys::unique_fd;

constexpr size_t kChunk = 256 * 1024;
constexpr size_t kStderrKeep = 16 * 1024;  // tail of the tools' stderr kept for messages
constexpr auto kLockWait = 2s;
// The temp dir of an install of NAME is Containers/.install@NAME.XXXXXX: '@' cannot appear in
// a container name, so no container's own directory ever looks like a temp dir, and the exact
// length (NAME, a dot, mkdtemp's six letters or digits) keeps NAME's leftovers apart from those
// of NAME.xyz.
constexpr const char* kTempPrefix = ".install@";
constexpr const char* kSandboxDir = ".tar-root";  // inside the temp dir while extracting
constexpr const char* kImageMountDir = ".mnt";    // inside the temp dir while extracting

// --- small syscall helpers ----------------------------------------------------------------------

std::optional<struct stat> lstat_path(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return std::nullopt;
    return st;
}

bool fd_readable_now(int fd) {
    if (fd < 0) return false;
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

[[noreturn]] void fail_interrupted(const std::string& name) {
    fail_runtime("install of '" + name + "' interrupted: nothing was kept");
}

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

// "64M" / "2G": an --img value at least `bytes`.
std::string img_argument(uint64_t bytes) {
    constexpr uint64_t kGiB = 1024 * ar::kMiB;
    if (bytes >= kGiB) return std::to_string((bytes + kGiB - 1) / kGiB) + "G";
    return std::to_string((bytes + ar::kMiB - 1) / ar::kMiB) + "M";
}

// --- host tools ---------------------------------------------------------------------------------

struct Command {
    std::string path;
    std::vector<std::string> argv;
};

std::string find_program(std::string_view name) {
    const char* env_path = std::getenv("PATH");
    std::string dirs = env_path ? env_path : "";
    dirs +=
        ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/system/bin:/system/xbin"
        ":/data/local/Droidspaces/bin";
    for (const auto& dir : split_list(dirs, ":")) {
        if (dir.front() != '/') continue;
        std::string path = dir + "/" + std::string(name);
        struct stat st;
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(path.c_str(), X_OK) == 0)
            return path;
    }
    return "";
}

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
    kStepExec = 0,
    kStepUnshare,
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

const char* step_text(int step) {
    static const char* kText[] = {"exec",
                                  "unshare the mount namespace",
                                  "make the mounts private",
                                  "mount a tmpfs",
                                  "make a directory",
                                  "make a symlink",
                                  "bind a host directory",
                                  "make a bind read-only",
                                  "bind the rootfs",
                                  "make the tmpfs read-only",
                                  "pivot_root"};
    return step >= 0 && step < static_cast<int>(std::size(kText)) ? kText[step] : "set up";
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

// In the forked child, before exec: only syscalls on the prepared strings. Returns the failed
// step (errno set), or -1 when the child now lives in the sandbox with /rootfs as its cwd.
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

// The children of one step. Whatever is still running when this goes away (an error, a
// cancellation) is killed and reaped: no tool outlives the install or keeps writing into the
// directory being removed.
class Children {
  public:
    Children() = default;
    Children(const Children&) = delete;
    Children& operator=(const Children&) = delete;
    ~Children() { kill_all(); }

    // Starts `cmd` with the given descriptors as its stdin, stdout and stderr, inside
    // `sandbox` when given. Everything else we hold is close-on-exec. A failed sandbox step or
    // exec is reported through a CLOEXEC pipe and thrown.
    pid_t spawn(const Command& cmd, int in, int out, int err, const Sandbox* sandbox = nullptr) {
        std::vector<std::string> env = tool_environment();
        std::vector<char*> argv, envp;
        for (const auto& a : cmd.argv)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        for (const auto& e : env)
            envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
        int report[2];
        if (::pipe2(report, O_CLOEXEC) != 0) sys::fail_errno("pipe2");
        unique_fd from_child(report[0]), to_parent(report[1]);
        pid_t parent = ::getpid();
        pid_t pid = ::fork();
        if (pid < 0) sys::fail_errno("fork");
        if (pid == 0)
            exec_child(cmd.path.c_str(), argv.data(), envp.data(), parent, in, out, err,
                       to_parent.get(), sandbox);
        to_parent.reset();
        int report_data[2] = {0, 0};  // errno, step
        ssize_t n;
        do {
            n = ::read(from_child.get(), report_data, sizeof report_data);
        } while (n < 0 && errno == EINTR);
        if (n == static_cast<ssize_t>(sizeof report_data)) {
            int status;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            if (report_data[1] != kStepExec)
                fail_runtime("cannot isolate " + cmd.path + " to extract: " +
                             step_text(report_data[1]) + ": " + sys::errno_text(report_data[0]));
            fail_runtime("cannot run " + cmd.path + ": " + sys::errno_text(report_data[0]));
        }
        pids_.push_back(pid);
        return pid;
    }

    // Waits for `pid` (one of ours) and returns its wait status.
    int wait(pid_t pid) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
        return status;
    }

    void kill_all() {
        for (pid_t pid : pids_)
            ::kill(pid, SIGKILL);
        for (pid_t pid : pids_) {
            int status;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        pids_.clear();
    }

  private:
    // After fork(): only async-signal-safe calls, no allocation, no exceptions.
    [[noreturn]] static void exec_child(const char* path, char* const* argv, char* const* envp,
                                        pid_t parent, int in, int out, int err, int report,
                                        const Sandbox* sandbox) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        struct sigaction dfl;
        std::memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT})
            ::sigaction(sig, &dfl, nullptr);
        // Dies with the install: a killed droidspaces must not leave tar writing on.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int fds[3] = {in, out, err};
        for (int& fd : fds)
            if (fd >= 0 && fd < 3) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
        for (int i = 0; i < 3; ++i)
            if (fds[i] >= 0 && ::dup2(fds[i], i) < 0) report_and_exit(report, kStepExec);
        if (sandbox)
            if (int step = enter_sandbox(*sandbox); step >= 0) report_and_exit(report, step);
        ::execve(path, argv, envp);
        report_and_exit(report, kStepExec);
    }

    // errno and the failed step, to the parent waiting in spawn().
    [[noreturn]] static void report_and_exit(int report, int step) {
        int data[2] = {errno, step};
        (void)!::write(report, data, sizeof data);
        ::_exit(127);
    }

    std::vector<pid_t> pids_;
};

std::string status_text(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    return "exit status " + std::to_string(WEXITSTATUS(status));
}
bool exited_ok(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

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

struct ToolRun {
    int status = 0;
    std::string output;  // stdout and stderr, the tail
};

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

// --- what is installed from ---------------------------------------------------------------------

// What `tar -cf - .` of a directory will produce and what it takes on disk, from a quick walk
// that stays on the directory's filesystem (as tar --one-file-system does).
struct TreeSize {
    uint64_t entries = 0;
    uint64_t data = 0;  // file contents in 512-byte blocks, each hard-linked file once
    uint64_t disk = 0;
};

struct Source {
    std::string path;
    bool directory = false;
    ar::Compression compression = ar::Compression::none;
    uint64_t size = 0;      // tarball bytes, or the estimated tar stream of a directory
    uint64_t unpacked = 0;  // bytes it needs on disk, 0 when unknown (compressed)
    unique_fd fd;           // the open tarball
    TreeSize tree;          // a directory's walk
};

struct Tools {
    Command tar;
    bool gnu_tar = false;
    bool numeric_owner = false;  // the tar knows --numeric-owner (else owners map by name)
    std::optional<Command> decompress;
    std::optional<Command> mkfs;
};

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

// The tar stream: a header per entry (GNU tar with --xattrs writes pax, which adds an extended
// header of two blocks per entry for the nanosecond times), the data, the end marker.
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

// --- removing what was made ---------------------------------------------------------------------

// Removes everything inside `dirfd` without following symlinks and without crossing into
// another filesystem (a mount below is left alone and reported). Takes ownership of `dirfd`.
void remove_contents(int dirfd, dev_t dev, const std::string& where, std::string& error) {
    DIR* dir = ::fdopendir(dirfd);
    if (!dir) {
        if (error.empty()) error = "open " + where + ": " + sys::errno_text(errno);
        ::close(dirfd);
        return;
    }
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
        std::string_view name = entry->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    int fd = ::dirfd(dir);
    for (const auto& name : names) {
        struct stat st;
        if (::fstatat(fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (S_ISDIR(st.st_mode)) {
            if (st.st_dev != dev) {
                if (error.empty()) error = where + "/" + name + " is a mount point";
                continue;
            }
            int sub = ::openat(fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) remove_contents(sub, dev, where + "/" + name, error);
        }
        if (::unlinkat(fd, name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 &&
            errno != ENOENT && error.empty())
            error = "remove " + where + "/" + name + ": " + sys::errno_text(errno);
    }
    ::closedir(dir);
}

// rm -rf that stays on one filesystem. Returns "" or the first problem.
std::string remove_tree(const std::string& path) {
    auto st = lstat_path(path);
    if (!st) return errno == ENOENT ? "" : "stat " + path + ": " + sys::errno_text(errno);
    if (!S_ISDIR(st->st_mode)) {
        if (::unlink(path.c_str()) != 0 && errno != ENOENT)
            return "remove " + path + ": " + sys::errno_text(errno);
        return "";
    }
    std::string error;
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return "open " + path + ": " + sys::errno_text(errno);
    remove_contents(fd, st->st_dev, path, error);
    if (::rmdir(path.c_str()) != 0 && errno != ENOENT && error.empty())
        error = "remove " + path + ": " + sys::errno_text(errno);
    return error;
}

// The temp dir an install builds in, and what is mounted inside it. cleanup() undoes all of it.
class Staging {
  public:
    Staging(const Staging&) = delete;
    Staging& operator=(const Staging&) = delete;
    explicit Staging(std::string dir) : dir_(std::move(dir)) {}
    ~Staging() {
        if (!kept_) cleanup();
    }

    const std::string& dir() const { return dir_; }
    std::string mount_point() const { return dir_ + "/" + kImageMountDir; }
    void set_mounted(bool mounted) { mounted_ = mounted; }
    void keep() { kept_ = true; }

    // Unmounts (detaching the loop device) and removes the temp dir. Returns "" or what is left.
    std::string cleanup() {
        if (kept_ || dir_.empty()) return "";
        std::string problem;
        if (mounted_ || sys::is_mountpoint(mount_point())) {
            try {
                unmount_image(mount_point());
            } catch (const std::exception& e) {
                problem = e.what();
            }
            if (sys::is_mountpoint(mount_point())) {
                try {
                    sys::detach_mount(mount_point());
                } catch (const std::exception&) {
                }
            }
            mounted_ = false;
        }
        std::string removed = remove_tree(dir_);
        if (problem.empty()) problem = removed;
        if (removed.empty()) dir_.clear();
        return problem;
    }

  private:
    std::string dir_;
    bool mounted_ = false;
    bool kept_ = false;
};

// Leftovers of an install of the same name that was killed (SIGKILL, power loss): we hold the
// name's lock, so no live install owns them.
bool remove_stale_staging(const Workspace& ws, const std::string& name, std::string& problem) {
    std::string prefix = std::string(kTempPrefix) + sanitize_name(name) + ".";
    DIR* dir = ::opendir(ws.containers_dir().c_str());
    if (!dir) return false;
    std::vector<std::string> stale;
    while (dirent* entry = ::readdir(dir)) {
        std::string_view n = entry->d_name;
        // Exactly mkdtemp's six letters or digits after the prefix, so that "a" never matches
        // the temp dir of "a.b" (and '@' in the prefix, that of no container at all).
        std::string_view tail = n.substr(std::min(n.size(), prefix.size()));
        if (n.starts_with(prefix) && tail.size() == 6 &&
            std::all_of(tail.begin(), tail.end(),
                        [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }))
            stale.emplace_back(n);
    }
    ::closedir(dir);
    for (const auto& n : stale) {
        Staging old(ws.containers_dir() + "/" + n);
        std::string p = old.cleanup();
        if (!p.empty() && problem.empty()) problem = p;
    }
    return !stale.empty();
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

struct ExtractContext {
    const Source& src;
    const Tools& tools;
    std::string dest;         // the rootfs directory (the image's mount point for an image)
    std::string work;         // the temp dir (the sandbox's mount point is made in it)
    uint64_t image_size = 0;  // 0 for a directory rootfs
    std::string space_owner;  // the directory whose filesystem fills up, for messages
    std::string name;
    int cancel_fd = -1;
    const InstallSink& sink;
};

void warn(const InstallSink& sink, const std::string& message) {
    if (!sink) return;
    InstallEvent e;
    e.type = InstallEvent::Type::warning;
    e.message = message;
    sink(e);
}

void step(const InstallSink& sink, const std::string& id, const std::string& message) {
    if (!sink) return;
    InstallEvent e;
    e.type = InstallEvent::Type::step;
    e.step = id;
    e.message = message;
    sink(e);
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

// --- post-install fixes -------------------------------------------------------------------------

class RootFs {
  public:
    explicit RootFs(std::string root) : root_(std::move(root)) {}

    std::string host(const std::string& relative) const {
        return relative.empty() ? root_ : root_ + "/" + relative;
    }

    ar::InRootPath resolve(std::string_view path, bool follow_last) const {
        return ar::resolve_in_root(path, follow_last, [this](const std::string& rel) {
            ar::PathInfo info;
            auto st = lstat_path(host(rel));
            if (!st) return info;
            info.exists = true;
            info.is_directory = S_ISDIR(st->st_mode);
            info.is_symlink = S_ISLNK(st->st_mode);
            if (info.is_symlink) {
                char buf[4096];
                ssize_t n = ::readlink(host(rel).c_str(), buf, sizeof buf);
                if (n > 0) info.target.assign(buf, static_cast<size_t>(n));
            }
            return info;
        });
    }

  private:
    std::string root_;
};

// Creates a file that does not exist yet (never through a symlink).
bool create_file(const std::string& path, const std::string& content, int flags = O_EXCL) {
    unique_fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | flags, 0644));
    return fd && sys::write_all(fd.get(), content.data(), content.size());
}

struct FixesOutcome {
    std::vector<std::string> warnings;
    std::vector<std::string> done;
    std::string os;
};

// Every file of the new rootfs is read with sys::read_guest_file: resolved inside the tree,
// non-blocking, regular files only, size-capped, so a FIFO, a /dev/zero symlink or a huge file
// in the tarball cannot hang or exhaust the install.
FixesOutcome apply_fixes(const std::string& root_dir, const std::string& name) {
    FixesOutcome out;
    RootFs root(root_dir);
    unique_fd root_fd = sys::open_tree_root(root_dir);
    auto read_file = [&](const std::string& relative) -> std::optional<std::string> {
        // Looked at through O_PATH first: merely opening a device node the archive made (a
        // watchdog, a tape drive) has effects on the host. Nothing else writes the tree now.
        unique_fd probe = sys::open_in_root(root_fd.get(), "/" + relative, O_PATH);
        struct stat st;
        if (!probe || ::fstat(probe.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
        return sys::read_guest_file(root_fd.get(), "/" + relative);
    };

    // Mount points the runtime mounts over at boot.
    for (const char* dir : {"proc", "sys", "dev", "run", "tmp"}) {
        std::string path = root.host(dir);
        if (lstat_path(path)) continue;
        mode_t mode = std::string_view(dir) == "tmp" ? 01777 : 0755;
        if (::mkdir(path.c_str(), mode) != 0 || ::chmod(path.c_str(), mode) != 0)
            out.warnings.push_back("cannot create /" + std::string(dir) + ": " +
                                   sys::errno_text(errno));
        else
            out.done.push_back("created /" + std::string(dir));
    }

    auto etc = root.resolve("/etc", true);
    if (etc.error == 0 && !etc.exists) {
        if (::mkdir(root.host(etc.relative).c_str(), 0755) == 0) {
            out.done.push_back("created /etc");
            etc.exists = true;
        }
    }
    if (etc.error != 0 || !etc.exists) {
        out.warnings.push_back("the rootfs has no usable /etc (" +
                               sys::errno_text(etc.error ? etc.error : ENOENT) +
                               "): /etc/hostname and /etc/hosts not checked");
    } else {
        // /etc/hostname: the name, when missing or empty.
        auto hostname = root.resolve("/etc/hostname", false);
        std::string content = ar::hostname_for(name) + "\n";
        if (hostname.error == 0 && !hostname.exists) {
            if (create_file(root.host(hostname.relative), content))
                out.done.push_back("wrote /etc/hostname");
        } else if (hostname.error == 0) {
            auto st = lstat_path(root.host(hostname.relative));
            std::optional<std::string> text;
            if (st && S_ISREG(st->st_mode)) text = read_file(hostname.relative);
            if (text && ar::is_blank(*text) &&
                create_file(root.host(hostname.relative), content, O_TRUNC))
                out.done.push_back("wrote /etc/hostname");
        }
        // /etc/hosts: a localhost line.
        auto hosts = root.resolve("/etc/hosts", false);
        const std::string localhost = "127.0.0.1\tlocalhost\n";
        if (hosts.error == 0 && !hosts.exists) {
            if (create_file(root.host(hosts.relative),
                            localhost + "::1\tlocalhost ip6-localhost ip6-loopback\n"))
                out.done.push_back("wrote /etc/hosts");
        } else if (hosts.error == 0) {
            std::string path = root.host(hosts.relative);
            auto st = lstat_path(path);
            std::optional<std::string> text;
            if (st && S_ISREG(st->st_mode)) text = read_file(hosts.relative);
            if (text && !ar::hosts_has_localhost(*text)) {
                std::string add = (text->empty() || text->back() == '\n' ? "" : "\n") + localhost;
                if (create_file(path, add, O_APPEND))
                    out.done.push_back("added localhost to /etc/hosts");
            }
        }
        // /etc/resolv.conf is the runtime's business at boot (even a dangling symlink is fine).
    }

    // /sbin/init, as the container will resolve it.
    auto init = root.resolve("/sbin/init", true);
    const std::string remedy =
        ": it cannot boot as it is. Install an init in it (systemd-sysv, openrc or busybox), or "
        "start it with --init=PATH";
    std::string problem;
    if (init.error != 0 || !init.exists) {
        problem = "the rootfs has no /sbin/init";
        if (!init.relative.empty() && init.relative != "sbin/init" && init.error == 0)
            problem += " (it points to /" + init.relative + ", which is missing)";
    } else {
        struct stat st;
        if (::stat(root.host(init.relative).c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
            (st.st_mode & 0111) == 0)
            problem = "/sbin/init (/" + init.relative + ") is not an executable file";
    }
    if (!problem.empty()) {
        // A tarball packed from the parent directory has the whole rootfs one level down.
        std::vector<std::string> top;
        if (DIR* dir = ::opendir(root_dir.c_str())) {
            while (dirent* entry = ::readdir(dir)) {
                std::string_view n = entry->d_name;
                if (n != "." && n != ".." && n != "proc" && n != "sys" && n != "dev" &&
                    n != "run" && n != "tmp" && n != "etc")
                    top.emplace_back(n);
            }
            ::closedir(dir);
        }
        std::string extra;
        if (top.size() == 1 &&
            sys::open_in_root(root_fd.get(), "/" + top[0] + "/etc", O_PATH | O_DIRECTORY))
            extra = " (everything in the archive is under '" + top[0] +
                    "/': pack the rootfs from inside that directory)";
        out.warnings.push_back(problem + remedy + extra);
    }

    for (const char* release : {"/etc/os-release", "/usr/lib/os-release"}) {
        auto r = root.resolve(release, true);
        if (r.error != 0 || !r.exists) continue;
        if (auto text = read_file(r.relative)) {
            out.os = format::os_pretty_name(*text);
            break;
        }
    }
    return out;
}

void sync_filesystem(const std::string& dir, const std::string& what) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) sys::fail_errno("open " + dir);
    if (::syncfs(fd.get()) != 0) {
        if (errno == ENOSPC) fail_runtime(what + " is full: writing it out failed");
        sys::fail_errno("sync " + what);
    }
}

void fsync_dir(const std::string& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd) ::fsync(fd.get());
}

// --- the install --------------------------------------------------------------------------------

InstallResult install_locked(const Workspace& ws, const InstallRequest& request, Source& src,
                             const Tools& tools, Staging& staging, const InstallSink& sink,
                             int cancel_fd) {
    const std::string& name = request.name;
    const bool image = request.image_size > 0;
    InstallResult result;
    result.name = name;
    result.container_dir = ws.container_dir(name);
    result.image = image;
    result.rootfs = result.container_dir + (image ? "/rootfs.img" : "/rootfs");
    result.config_path = ws.config_path(name);

    std::string rootfs_dir;
    const std::string img = staging.dir() + "/rootfs.img";
    if (image) {
        step(sink, "mkfs",
             "Creating a " + ar::human_size(request.image_size) + " sparse ext4 image");
        {
            // 0600: the image holds the whole rootfs, /etc/shadow included.
            unique_fd fd(::open(img.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
            if (!fd) sys::fail_errno("create " + img);
            if (::ftruncate(fd.get(), static_cast<off_t>(request.image_size)) != 0)
                sys::fail_errno("size " + img + " to " + ar::human_size(request.image_size));
        }
        Command mkfs = *tools.mkfs;
        mkfs.argv.insert(mkfs.argv.end(), {"-q", "-F", "-L", ar::ext4_label(name), img});
        auto run = run_tool(mkfs, cancel_fd, name);
        if (fd_readable_now(cancel_fd)) fail_interrupted(name);
        if (!exited_ok(run.status)) {
            std::string why = ar::failure_line(run.output);
            fail_runtime("mkfs.ext4 failed on " + img + ": " +
                         (why.empty() ? status_text(run.status) : why));
        }
        staging.set_mounted(true);  // mount_image cleans up after itself, cleanup() checks
        auto mounted = mount_image(img, staging.mount_point(), MountImageOptions{});
        if (mounted.read_only) fail_runtime("the new image " + img + " was mounted read-only");
        rootfs_dir = staging.mount_point();
        // mkfs's lost+found stays: e2fsck wants it.
    } else {
        rootfs_dir = staging.dir() + "/rootfs";
        if (::mkdir(rootfs_dir.c_str(), 0755) != 0) sys::fail_errno("mkdir " + rootfs_dir);
    }

    std::string kind =
        src.directory
            ? "directory"
            : std::string(ar::compression_name(src.compression)) +
                  (src.compression == ar::Compression::none ? " archive" : "-compressed tarball");
    step(sink, "extract",
         "Extracting " + src.path + " (" + kind + ", " + ar::human_size(src.size) + ")" +
             (image ? " into the image" : ""));
    ExtractContext cx{
        src,  tools,     rootfs_dir, staging.dir(), request.image_size, ws.containers_dir(),
        name, cancel_fd, sink};
    extract(cx);
    if (fd_readable_now(cancel_fd)) fail_interrupted(name);

    step(sink, "fixes", "Checking the rootfs (hostname, hosts, mount points, init)");
    auto fixes = apply_fixes(rootfs_dir, name);
    for (const auto& w : fixes.warnings)
        warn(sink, w);
    result.os = fixes.os;
    result.fixes = fixes.done;
    if (image) {
        sync_filesystem(rootfs_dir, "the image");
        unmount_image(staging.mount_point());
        staging.set_mounted(false);
        if (sys::is_mountpoint(staging.mount_point()))
            fail_runtime("cannot unmount the new image from " + staging.mount_point());
        if (auto loop = image_loop_device(img); !loop.empty())
            fail_runtime("the new image " + img + " is still attached to " + loop);
    } else {
        sync_filesystem(rootfs_dir, ws.containers_dir());
    }
    if (fd_readable_now(cancel_fd)) fail_interrupted(name);

    step(sink, "config", "Writing " + result.config_path);
    Config config;
    config.name = name;
    config.hostname = ar::hostname_for(name);
    config.rootfs_path = result.rootfs;
    config.rootfs_is_image = image;
    sys::write_file_atomic(staging.dir() + "/container.config", serialize_config(config));

    // Into place, refusing to replace anything that appeared meanwhile.
    if (::renameat2(AT_FDCWD, staging.dir().c_str(), AT_FDCWD, result.container_dir.c_str(),
                    RENAME_NOREPLACE) != 0) {
        int err = errno;
        if (err == EEXIST) fail_usage("container '" + name + "' already exists");
        if (err != EINVAL && err != ENOSYS)
            sys::fail_errno("rename into " + result.container_dir, err);
        if (lstat_path(result.container_dir)) fail_usage("container '" + name + "' already exists");
        if (::rename(staging.dir().c_str(), result.container_dir.c_str()) != 0)
            sys::fail_errno("rename into " + result.container_dir);
    }
    staging.keep();
    fsync_dir(ws.containers_dir());
    return result;
}

[[noreturn]] void fail_exists(const Workspace& ws, const std::string& name) {
    fail_usage("container '" + name + "' already exists (" + ws.container_dir(name) +
               "): choose another name, or remove that directory first");
}

}  // namespace

InstallResult install_container(const Workspace& ws, const InstallRequest& request,
                                const InstallSink& sink, int cancel_fd) {
    const std::string& name = request.name;
    check_container_name(name);
    const bool image = request.image_size > 0;
    if (request.image_fs != "ext4")
        fail_usage("unsupported --fs=" + request.image_fs + ": only ext4 images can be created");
    if (image && (request.image_size < ar::kMinImageSize || request.image_size > ar::kMaxImageSize))
        fail_usage("image size " + ar::human_size(request.image_size) +
                   " out of range: from 16M to 16T");
    if (lstat_path(ws.container_dir(name))) fail_exists(ws, name);
    if (request.source.empty() || request.source.front() != '/')
        fail_usage("--from " + request.source + ": expected an absolute path");

    Source src = open_source(request.source);
    if (src.directory) {
        std::string from = request.source.back() == '/' ? request.source : request.source + "/";
        if ((ws.containers_dir() + "/").starts_with(from))
            fail_usage("--from " + request.source + " contains " + ws.containers_dir() +
                       ": a directory cannot be copied into itself");
    }
    Tools tools = find_tools(src, image, cancel_fd, name);
    if (src.directory) src.size = tar_stream_size(src.tree, tools.gnu_tar);
    // Every member of a tarball is checked before anything is made (a directory's stream,
    // packed by our own tar, is checked while it is extracted).
    if (!src.directory) check_archive(src, tools, name, cancel_fd, sink);
    if (!tools.gnu_tar)
        warn(sink,
             std::string("the host's tar is not GNU tar: extended attributes (xattrs, file "
                         "capabilities) are not preserved") +
                 (tools.numeric_owner ? ""
                                      : "; owners are mapped by name through this host's users"));
    if (image && src.unpacked > request.image_size)
        fail_usage("the image is too small: " + src.path + " needs about " +
                   ar::human_size(src.unpacked) + " and --img is " +
                   ar::human_size(request.image_size) + "; use at least --img=" +
                   img_argument(src.unpacked + src.unpacked / 4 + 16 * ar::kMiB));

    make_private_dirs(ws);  // Containers/ 0700: no other host user reaches the new rootfs
    sys::make_dirs(ws.pids_dir());
    sys::FileLock lock(ws.sidecar(name, "lock"), kLockWait, "container '" + name + "'");
    if (lstat_path(ws.container_dir(name))) fail_exists(ws, name);
    std::string leftover;
    if (remove_stale_staging(ws, name, leftover)) {
        if (leftover.empty())
            warn(sink, "removed the leftovers of an earlier install of '" + name +
                           "' that did not finish");
        else
            warn(sink, "could not remove the leftovers of an earlier install of '" + name +
                           "': " + leftover);
    }

    struct statvfs vfs;
    if (::statvfs(ws.containers_dir().c_str(), &vfs) == 0) {
        uint64_t avail = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
        if (!image && src.unpacked > avail)
            fail_runtime("not enough space in " + ws.containers_dir() + ": " + src.path +
                         " needs about " + ar::human_size(src.unpacked) + ", " +
                         ar::human_size(avail) + " free");
        if (image && request.image_size > avail)
            warn(sink, "the image may grow to " + ar::human_size(request.image_size) + " but " +
                           ws.containers_dir() + " has only " + ar::human_size(avail) + " free");
    }

    std::string temp = ws.containers_dir() + "/" + kTempPrefix + sanitize_name(name) + ".XXXXXX";
    if (!::mkdtemp(temp.data())) sys::fail_errno("create a temp dir in " + ws.containers_dir());
    Staging staging(temp);
    ::chmod(temp.c_str(), 0755);
    try {
        auto result = install_locked(ws, request, src, tools, staging, sink, cancel_fd);
        if (sink) {
            InstallEvent e;
            e.type = InstallEvent::Type::done;
            e.name = result.name;
            e.rootfs = result.rootfs;
            e.config = result.config_path;
            e.image = result.image;
            e.os = result.os;
            e.fixes = result.fixes;
            sink(e);
        }
        return result;
    } catch (const Error& e) {
        std::string left = staging.cleanup();
        if (left.empty()) throw;
        throw Error(e.exit_code(), std::string(e.what()) + "; cleanup incomplete: " + left);
    } catch (const std::exception& e) {
        std::string left = staging.cleanup();
        fail_runtime(std::string(e.what()) + (left.empty() ? "" : "; cleanup incomplete: " + left));
    }
}

}  // namespace ds::container
