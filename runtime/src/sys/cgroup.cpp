#include "sys/cgroup.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <thread>

#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

namespace ds::sys {
namespace {

std::vector<std::string> subdirectories(const std::string& path) {
    std::vector<std::string> out;
    DIR* dir = ::opendir(path.c_str());
    if (!dir) return out;
    while (auto* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (entry->d_type == DT_DIR && name != "." && name != "..")
            out.push_back(path + "/" + name);
    }
    ::closedir(dir);
    return out;
}

}  // namespace

bool cgroup_populated(const std::string& path) {
    auto events = try_read_file(path + "/cgroup.events");
    if (events) return events->find("populated 1") != std::string::npos;
    auto procs = try_read_file(path + "/cgroup.procs");  // v1
    return procs && !procs->empty();
}

namespace {

void kill_each(const std::string& path) {
    for (const auto& dir : subdirectories(path))
        kill_each(dir);
    auto procs = try_read_file(path + "/cgroup.procs");
    if (!procs) return;
    std::istringstream in(*procs);
    pid_t pid;
    while (in >> pid)
        ::kill(pid, SIGKILL);
}

}  // namespace

std::vector<CgroupMount> host_cgroup_mounts() {
    std::vector<CgroupMount> out;
    auto info = try_read_file("/proc/self/mountinfo").value_or("");
    std::istringstream in(info);
    std::string line;
    while (std::getline(in, line)) {
        // id parent major:minor root mountpoint options [optional...] - fstype source superopts
        auto dash = line.find(" - ");
        if (dash == std::string::npos) continue;
        std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
        std::string id, parent, dev, root, mountpoint, fstype, source, superopts;
        head >> id >> parent >> dev >> root >> mountpoint;
        tail >> fstype >> source >> superopts;
        if ((fstype == "cgroup2" || fstype == "cgroup") && root == "/")
            out.push_back({mountpoint, fstype, superopts});
    }
    return out;
}

std::optional<std::string> cgroup2_root() {
    std::optional<std::string> found;
    for (const auto& m : host_cgroup_mounts()) {
        if (m.fstype != "cgroup2") continue;
        if (m.path == "/sys/fs/cgroup") return m.path;
        if (!found || m.path == "/sys/fs/cgroup/unified") found = m.path;
    }
    return found;
}

std::optional<std::string> cgroup_v1_systemd_root() {
    for (const auto& m : host_cgroup_mounts())
        if (m.fstype == "cgroup" && m.options.find("name=systemd") != std::string::npos)
            return m.path;
    return std::nullopt;
}

void create_cgroup(const std::string& path) {
    make_dirs(path, 0755);
}

void join_cgroup(const std::string& path, pid_t pid) {
    std::string procs = path + "/cgroup.procs";
    std::string value = std::to_string(pid);
    FILE* f = std::fopen(procs.c_str(), "we");
    if (!f) fail_errno("open " + procs);
    bool ok = std::fputs(value.c_str(), f) >= 0;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) fail_errno("join cgroup " + path);
}

void kill_cgroup(const std::string& path) {
    std::string kill_file = path + "/cgroup.kill";
    if (FILE* f = std::fopen(kill_file.c_str(), "we")) {
        bool ok = std::fputs("1", f) >= 0;
        if (std::fclose(f) == 0 && ok) return;
    }
    kill_each(path);
}

bool remove_cgroup_tree(const std::string& path, std::chrono::milliseconds timeout) {
    if (!is_directory(path)) return true;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool ok = true;
    for (const auto& dir : subdirectories(path))
        ok = remove_cgroup_tree(dir, timeout) && ok;
    for (;;) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return ok;
        if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) return false;
        // Killed processes take a moment to leave; cgroup.events says when.
        if (!cgroup_populated(path)) std::this_thread::yield();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::optional<std::string> process_cgroup2_path(pid_t pid) {
    auto text = try_read_file("/proc/" + std::to_string(pid) + "/cgroup");
    if (!text) return std::nullopt;
    std::istringstream in(*text);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("0::", 0) == 0) return line.substr(3);
    return std::nullopt;
}

}  // namespace ds::sys
