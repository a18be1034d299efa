#include "sys/loop.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstring>
#include <thread>

#include "sys/file.hpp"
#include "sys/platform.hpp"
#include "sys/syscall_error.hpp"

// Kernel headers older than 5.8 (older NDKs) lack LOOP_CONFIGURE; the ABI is fixed.
#ifndef LOOP_CONFIGURE
#define LOOP_CONFIGURE 0x4C0A
struct loop_config {
    __u32 fd;
    __u32 block_size;
    struct loop_info64 info;
    __u64 __reserved[8];
};
#endif

namespace ds::sys {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kLoopMajor = 7;
constexpr int kAttachAttempts = 16;                         // EBUSY races before giving up
constexpr int kStatusAttempts = 10;                         // LOOP_SET_STATUS64 EAGAIN retries
constexpr auto kNodeWait = std::chrono::milliseconds(250);  // udev/ueventd making a node
constexpr auto kPollStep = std::chrono::milliseconds(2);

std::string dev_loop(int n) {
    return "/dev/loop" + std::to_string(n);
}
std::string dev_block_loop(int n) {
    return "/dev/block/loop" + std::to_string(n);
}
std::string sys_loop(int n) {
    return "/sys/block/loop" + std::to_string(n);
}

// Where loopN's node may be, the platform's usual place first.
std::vector<std::string> node_candidates(int n) {
    if (is_android()) return {dev_block_loop(n), dev_loop(n)};
    return {dev_loop(n), dev_block_loop(n)};
}

std::string strip_trailing_newlines(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.pop_back();
    return text;
}

// --- nodes ---------------------------------------------------------------------------------

struct NodeOpen {
    unique_fd fd;
    std::string path;  // the node opened, or the one that failed
    int err = 0;
};

// Opens the first node of loopN that exists; err ENOENT when none does.
NodeOpen open_node(int n, int flags) {
    NodeOpen result{unique_fd(), node_candidates(n).front(), ENOENT};
    for (const auto& path : node_candidates(n)) {
        unique_fd fd(::open(path.c_str(), flags | O_CLOEXEC));
        if (fd) return {std::move(fd), path, 0};
        if (errno != ENOENT && result.err == ENOENT) result = {unique_fd(), path, errno};
    }
    return result;
}

// loopN's device number from sysfs ("7:12"), else LOOP_MAJOR:N (no partition shift).
dev_t loop_devno(int n) {
    if (auto text = try_read_file(sys_loop(n) + "/dev")) {
        unsigned major = 0, minor = 0;
        const char* end = text->data() + text->size();
        auto [colon, ec1] = std::from_chars(text->data(), end, major);
        if (ec1 == std::errc() && colon < end && *colon == ':' &&
            std::from_chars(colon + 1, end, minor).ec == std::errc())
            return makedev(major, minor);
    }
    return makedev(kLoopMajor, static_cast<unsigned>(n));
}

// The node for a device LOOP_CTL_GET_FREE may have just created: udev/ueventd add it shortly
// after the kernel does (Android's /dev is a tmpfs ueventd fills); when none shows up, mknod it.
NodeOpen open_or_create_node(int n, int flags) {
    auto deadline = Clock::now() + kNodeWait;
    for (;;) {
        NodeOpen node = open_node(n, flags);
        if (node.fd || node.err != ENOENT) return node;
        if (Clock::now() >= deadline) break;
        std::this_thread::sleep_for(kPollStep);
    }
    std::string path = node_candidates(n).front();
    if (!is_directory(path.substr(0, path.rfind('/')))) path = dev_loop(n);
    if (::mknod(path.c_str(), S_IFBLK | 0600, loop_devno(n)) != 0 && errno != EEXIST)
        fail_errno("mknod " + path);
    unique_fd fd(::open(path.c_str(), flags | O_CLOEXEC));
    return {std::move(fd), path, fd ? 0 : errno};
}

// --- finding a free device -----------------------------------------------------------------

int free_loop_from_control(const unique_fd& control) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) fail_errno("LOOP_CTL_GET_FREE on /dev/loop-control");
    return n;
}

// Kernels without /dev/loop-control (before 3.1, or a stripped /dev): the first device the
// kernel has that nothing backs.
int free_loop_without_control() {
    for (int n : loop_devices())
        if (!loop_backing_file(n)) return n;
    fail_runtime("no free loop device, and no /dev/loop-control to create one");
}

// --- binding -------------------------------------------------------------------------------

loop_info64 loop_info_for(const std::string& backing_path, const LoopOptions& options) {
    loop_info64 info{};
    std::strncpy(reinterpret_cast<char*>(info.lo_file_name), backing_path.c_str(),
                 LO_NAME_SIZE - 1);
    info.lo_flags =
        (options.autoclear ? LO_FLAGS_AUTOCLEAR : 0) | (options.read_only ? LO_FLAGS_READ_ONLY : 0);
    return info;
}

// Cleared the first time LOOP_CONFIGURE turns out to be unknown (before Linux 5.8: EINVAL or
// ENOTTY) or filtered (an SELinux ioctl allowlist: EACCES). A process-wide memo, and safe as
// one: the answer is a fact of the kernel and its security policy, the same for every thread
// and caller of the process; it only ever goes from true to false, once (nothing sets it back);
// and a race costs nothing but a second refused LOOP_CONFIGURE before the fallback. It spares
// every later attach that refused ioctl (on Android, an SELinux denial in the log each time).
std::atomic<bool> configure_supported{true};

bool configure_unsupported_errno(int err) {
    return err == EINVAL || err == ENOTTY || err == EACCES || err == ENOSYS;
}

enum class Bind { bound, busy, unsupported };

Bind bind_by_configure(const LoopDevice& loop, int backing_fd, const std::string& backing_path,
                       const loop_info64& info) {
    loop_config config{};
    config.fd = static_cast<__u32>(backing_fd);
    config.info = info;
    if (::ioctl(loop.fd.get(), LOOP_CONFIGURE, &config) == 0) return Bind::bound;
    if (errno == EBUSY) return Bind::busy;
    if (configure_unsupported_errno(errno)) return Bind::unsupported;
    fail_errno("LOOP_CONFIGURE " + loop.path + " with " + backing_path);
}

// The pre-5.8 way: two ioctls. Read-only comes from the backing fd's mode here; only autoclear
// is settable through LOOP_SET_STATUS64.
Bind bind_by_set_fd(const LoopDevice& loop, int backing_fd, const std::string& backing_path,
                    loop_info64 info) {
    if (::ioctl(loop.fd.get(), LOOP_SET_FD, backing_fd) != 0) {
        if (errno == EBUSY) return Bind::busy;
        fail_errno("LOOP_SET_FD " + loop.path + " to " + backing_path);
    }
    info.lo_flags &= LO_FLAGS_AUTOCLEAR;
    for (int attempt = 1;; ++attempt) {
        if (::ioctl(loop.fd.get(), LOOP_SET_STATUS64, &info) == 0) return Bind::bound;
        if (errno == EAGAIN && attempt < kStatusAttempts) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        int err = errno;
        // Undo the half-done attach; the status error is the one worth reporting.
        (void)::ioctl(loop.fd.get(), LOOP_CLR_FD, 0);
        fail_errno("LOOP_SET_STATUS64 " + loop.path + " for " + backing_path, err);
    }
}

Bind bind_backing(const LoopDevice& loop, int backing_fd, const std::string& backing_path,
                  const LoopOptions& options) {
    loop_info64 info = loop_info_for(backing_path, options);
    if (options.loop_configure && configure_supported.load()) {
        Bind result = bind_by_configure(loop, backing_fd, backing_path, info);
        if (result != Bind::unsupported) return result;
        configure_supported.store(false);
    }
    return bind_by_set_fd(loop, backing_fd, backing_path, info);
}

LoopDevice open_for_attach(int n, bool read_only) {
    // A device opened read-only is bound read-only by LOOP_CONFIGURE.
    NodeOpen node = open_or_create_node(n, read_only ? O_RDONLY : O_RDWR);
    if (!node.fd) fail_errno("open " + node.path, node.err);
    return LoopDevice{n, node.path, std::move(node.fd)};
}

// LOOP_GET_STATUS64 on loopN's node, for hosts without sysfs; nullopt when the device is free
// (ENXIO) or cannot be opened.
std::optional<loop_info64> loop_status(int number) {
    NodeOpen node = open_node(number, O_RDONLY);
    if (!node.fd) return std::nullopt;
    loop_info64 info{};
    if (::ioctl(node.fd.get(), LOOP_GET_STATUS64, &info) != 0) return std::nullopt;
    return info;
}

}  // namespace

LoopDevice attach_loop(int backing_fd, const std::string& backing_path,
                       const LoopOptions& options) {
    unique_fd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control && errno != ENOENT) fail_errno("open /dev/loop-control");
    for (int attempt = 1; attempt <= kAttachAttempts; ++attempt) {
        int n = control ? free_loop_from_control(control) : free_loop_without_control();
        LoopDevice loop = open_for_attach(n, options.read_only);
        if (bind_backing(loop, backing_fd, backing_path, options) == Bind::bound) return loop;
        // Another process bound this device between "free" and our bind: take the next one.
        std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
    }
    fail_runtime("attach " + backing_path + " to a loop device: each free device was taken by " +
                 "another process first (" + std::to_string(kAttachAttempts) + " attempts)");
}

void clear_loop(const LoopDevice& loop) {
    if (::ioctl(loop.fd.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO)
        fail_errno("LOOP_CLR_FD " + loop.path);
}

bool detach_loop(int number) {
    NodeOpen node = open_node(number, O_RDONLY);
    if (!node.fd) {
        if (node.err == ENOENT) return false;
        if (node.err == ENXIO) return true;  // the device itself is gone
        fail_errno("open " + node.path, node.err);
    }
    if (::ioctl(node.fd.get(), LOOP_CLR_FD, 0) == 0 || errno == ENXIO) return true;
    if (errno == EBUSY) return false;
    fail_errno("LOOP_CLR_FD " + node.path);
}

std::optional<std::string> loop_backing_file(int number) {
    std::string dir = sys_loop(number);
    if (auto text = try_read_file(dir + "/loop/backing_file"))
        return strip_trailing_newlines(std::move(*text));
    if (path_exists(dir)) return std::nullopt;  // sysfs knows the device: no loop/ means free
    auto info = loop_status(number);
    if (!info) return std::nullopt;
    const char* name = reinterpret_cast<const char*>(info->lo_file_name);
    return std::string(name, ::strnlen(name, LO_NAME_SIZE));
}

bool loop_autoclear(int number) {
    std::string dir = sys_loop(number);
    if (auto text = try_read_file(dir + "/loop/autoclear")) return text->rfind('1', 0) == 0;
    if (path_exists(dir)) return false;
    auto info = loop_status(number);
    return info && (info->lo_flags & LO_FLAGS_AUTOCLEAR);
}

std::vector<int> loop_devices() {
    std::vector<int> numbers;
    auto collect = [&numbers](const char* dir) {
        DIR* d = ::opendir(dir);
        if (!d) return false;
        while (const dirent* entry = ::readdir(d))
            if (auto n = parse_loop_name(entry->d_name)) numbers.push_back(*n);
        ::closedir(d);
        return true;
    };
    if (!collect("/sys/block")) {
        collect("/dev/block");
        collect("/dev");
    }
    std::sort(numbers.begin(), numbers.end());
    numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
    return numbers;
}

bool wait_loop_released(int number, const std::string& backing_file,
                        std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        auto current = loop_backing_file(number);
        if (!current || *current != backing_file) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(kPollStep);
    }
}

std::string loop_device_path(int number) {
    for (const auto& path : node_candidates(number))
        if (path_exists(path)) return path;
    return dev_loop(number);
}

std::optional<int> loop_number_of_device(unsigned major, unsigned minor) {
    std::string link = "/sys/dev/block/" + std::to_string(major) + ":" + std::to_string(minor);
    char target[PATH_MAX];
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n < 0) {
        // No sysfs: the loop major without partitions is loop number = minor.
        if (major == kLoopMajor) return static_cast<int>(minor);
        return std::nullopt;
    }
    return parse_loop_name(std::string_view(target, static_cast<size_t>(n)));
}

std::optional<int> parse_loop_name(std::string_view name) {
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
        name.remove_prefix(slash + 1);
    constexpr std::string_view kPrefix = "loop";
    if (name.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
    std::string_view digits = name.substr(kPrefix.size());
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    int n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n;
}

}  // namespace ds::sys
