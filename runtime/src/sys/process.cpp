#include "sys/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "sys/file.hpp"

namespace ds::sys {

pid_t clone_process(unsigned long namespace_flags) {
    return static_cast<pid_t>(
        ::syscall(SYS_clone, namespace_flags | SIGCHLD, nullptr, nullptr, nullptr, nullptr));
}

pid_t clone_into_cgroup(unsigned long flags, int cgroup_fd, int exit_signal) {
    struct {  // struct clone_args (linux/sched.h), CLONE_ARGS_SIZE_VER2
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
            set_tid_size, cgroup;
    } args = {};
    constexpr uint64_t kCloneIntoCgroup = 0x200000000ULL;
    args.flags = flags | kCloneIntoCgroup;
    args.exit_signal = static_cast<uint64_t>(exit_signal);
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
    return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

unique_fd pidfd_open(pid_t pid) {
    return unique_fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
}

bool send_signal(int pidfd, int signal) {
    return ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) == 0;
}

unique_fd open_process(pid_t pid, uint64_t start_time) {
    if (pid <= 0) {
        errno = ESRCH;
        return {};
    }
    unique_fd fd = pidfd_open(pid);
    if (!fd) return {};
    // The pidfd pins the process it was opened for: checked after opening, the start time
    // proves it is the one we recorded, and it stays that one.
    if (process_start_time(pid) != start_time) {
        errno = ESRCH;
        return {};
    }
    return fd;
}

bool signal_process(pid_t pid, uint64_t start_time, int signal) {
    if (unique_fd fd = open_process(pid, start_time)) return send_signal(fd.get(), signal);
    if (errno != ENOSYS) return false;
    // No pidfds (before 5.3): the start-time check narrows the reuse window to the two calls.
    if (process_start_time(pid) != start_time) return false;
    return ::kill(pid, signal) == 0;
}

std::optional<uint64_t> process_start_time(pid_t pid) {
    auto stat = try_read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return std::nullopt;
    // comm (field 2) may contain spaces and parentheses: count fields after the last ')'.
    auto close = stat->rfind(')');
    if (close == std::string::npos) return std::nullopt;
    size_t pos = close + 2;  // field 3
    for (int field = 3; field < 22; ++field) {
        pos = stat->find(' ', pos);
        if (pos == std::string::npos) return std::nullopt;
        ++pos;
    }
    return std::strtoull(stat->c_str() + pos, nullptr, 10);
}

bool process_is_zombie(pid_t pid) {
    auto stat = try_read_file("/proc/" + std::to_string(pid) + "/stat");
    if (!stat) return false;
    auto close = stat->rfind(')');  // field 3, the state, follows comm's last ')'
    if (close == std::string::npos || close + 2 >= stat->size()) return false;
    char state = (*stat)[close + 2];
    return state == 'Z' || state == 'X';
}

bool process_alive(pid_t pid) {
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
}

std::string proc_status_field(pid_t pid, const std::string& field) {
    auto status = try_read_file("/proc/" + std::to_string(pid) + "/status");
    if (!status) return "";
    auto key = "\n" + field + ":";
    auto pos = status->find(key);
    if (pos == std::string::npos) return "";
    pos += key.size();
    auto end = status->find('\n', pos);
    auto value = status->substr(pos, end - pos);
    auto first = value.find_first_not_of(" \t");
    return first == std::string::npos ? "" : value.substr(first);
}

bool process_handles_signal(pid_t pid, int signal) {
    uint64_t mask = 0;
    for (const char* field : {"SigCgt", "SigBlk"})
        mask |= std::strtoull(proc_status_field(pid, field).c_str(), nullptr, 16);
    return mask & (1ull << (signal - 1));
}

std::string boot_id() {
    auto id = try_read_file("/proc/sys/kernel/random/boot_id").value_or("");
    while (!id.empty() && id.back() == '\n')
        id.pop_back();
    return id;
}

bool wait_readable(int fd, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        struct pollfd p = {fd, POLLIN, 0};
        int n = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count())));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

bool wait_process_exit(pid_t pid, std::chrono::milliseconds timeout) {
    if (unique_fd pidfd = pidfd_open(pid)) return wait_readable(pidfd.get(), timeout);
    if (errno == ESRCH) return true;
    // Kernels without pidfd_open: poll kill(pid, 0).
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (process_alive(pid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

bool write_all(int fd, const void* data, size_t size) {
    auto p = static_cast<const char*>(data);
    while (size > 0) {
        ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

void set_process_title(char** argv, const std::string& title) {
    // The argv strings are contiguous: the title may use all of them.
    char* start = argv[0];
    char* end = argv[0] + std::strlen(argv[0]);
    for (int i = 1; argv[i] && argv[i] == end + 1; ++i)
        end = argv[i] + std::strlen(argv[i]);
    size_t room = static_cast<size_t>(end - start);
    size_t n = std::min(room, title.size());
    std::memcpy(start, title.data(), n);
    std::memset(start + n, 0, room - n + 1);
    ::prctl(PR_SET_NAME, title.substr(0, 15).c_str(), 0, 0, 0);
}

}  // namespace ds::sys
