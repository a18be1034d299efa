#include "container/cgroups.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>

#include "core/format.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

using namespace std::chrono_literals;

// The v1 controllers a limit can need (cpuacct: the usage figures that go with a cpu limit, when
// it is a hierarchy of its own).
constexpr const char* kLimitControllers[] = {"memory", "cpu", "cpuacct", "pids"};

struct ControlWrite {
    std::string file;
    std::string value;
};

struct Limit {
    const char* controller;
    const char* option;  // how the user asked for it
    ControlWrite v2;
    std::vector<ControlWrite> v1;  // in order
};

std::vector<Limit> wanted_limits(const Config& c) {
    std::vector<Limit> out;
    if (c.memory_limit) {
        std::string bytes = std::to_string(c.memory_limit);
        // memsw (RAM + swap) set to the same figure: swap is no way around the limit, as with
        // v2's memory.max on a host without swap accounting. Written only where it exists.
        out.push_back({"memory",
                       "--memory",
                       {"memory.max", bytes},
                       {{"memory.limit_in_bytes", bytes}, {"memory.memsw.limit_in_bytes", bytes}}});
    }
    if (c.cpu_quota) {
        std::string quota = std::to_string(c.cpu_quota);
        std::string period = std::to_string(c.cpu_period ? c.cpu_period : 100000);
        // v1: the period first, so that quota/period is never briefly a wrong ratio.
        out.push_back({"cpu",
                       "--cpus",
                       {"cpu.max", quota + " " + period},
                       {{"cpu.cfs_period_us", period}, {"cpu.cfs_quota_us", quota}}});
    }
    if (c.pids_limit) {
        std::string max = std::to_string(c.pids_limit);
        out.push_back({"pids", "--pids-limit", {"pids.max", max}, {{"pids.max", max}}});
    }
    return out;
}

std::string parent_of(const std::string& path) {
    return path.substr(0, path.rfind('/'));
}

bool listed(const std::string& text, const std::string& word) {
    auto words = split_list(text, " \n");
    return std::find(words.begin(), words.end(), word) != words.end();
}

// Enables `controller` for the children of every cgroup from the v2 root down to the
// container's parent, so that its cgroup has the controller's files.
void enable_v2_controller(const std::string& root, const std::string& cgroup,
                          const std::string& controller) {
    std::vector<std::string> chain;
    for (std::string dir = parent_of(cgroup); dir.size() >= root.size(); dir = parent_of(dir)) {
        chain.push_back(dir);
        if (dir == root) break;
    }
    std::reverse(chain.begin(), chain.end());
    for (const auto& dir : chain) {
        std::string file = dir + "/cgroup.subtree_control";
        if (listed(sys::try_read_file(file).value_or(""), controller)) continue;
        sys::write_control_file(file, "+" + controller);
    }
}

std::string v1_cgroup(const std::string& hierarchy, const std::string& name) {
    return hierarchy + "/droidspaces/" + sanitize_name(name);
}

void apply_v1(const Limit& limit, const std::string& dir) {
    sys::create_cgroup(dir);
    for (const auto& w : limit.v1) {
        std::string path = dir + "/" + w.file;
        if (w.file.find("memsw") != std::string::npos && !sys::path_exists(path)) continue;
        sys::write_control_file(path, w.value);
    }
}

void add_once(std::vector<std::string>& list, const std::string& item) {
    if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

std::optional<uint64_t> value_at(const std::string& path) {
    auto text = sys::try_read_file(path);
    return text ? format::parse_cgroup_value(*text) : std::nullopt;
}

}  // namespace

void plan_cgroups(BootPlan& plan, const sys::CgroupHost& host) {
    std::string leaf = "/droidspaces/" + sanitize_name(plan.config.name);
    if (host.v2_root && !plan.config.force_cgroupv1) {
        plan.cgroup_layout = CgroupLayout::unified;
        plan.cgroup_path = *host.v2_root + leaf;
        return;
    }
    if (auto v1 = host.v1_systemd_root()) {
        plan.cgroup_layout = CgroupLayout::legacy_systemd;
        plan.cgroup_path = *v1 + leaf;
        return;
    }
    plan.cgroup_layout = CgroupLayout::none;
}

void apply_limits(BootPlan& plan, const sys::CgroupHost& host, const Warn& warn) {
    plan.limit_cgroups.clear();
    for (const auto& limit : wanted_limits(plan.config)) {
        std::string controller = limit.controller;
        bool in_v2 = host.v2_root && host.v2_has(controller);
        if (in_v2 && plan.cgroup_layout == CgroupLayout::unified) {
            enable_v2_controller(*host.v2_root, plan.cgroup_path, controller);
            sys::write_control_file(plan.cgroup_path + "/" + limit.v2.file, limit.v2.value);
            continue;
        }
        if (auto hierarchy = host.v1_controller_root(controller)) {
            std::string dir = v1_cgroup(*hierarchy, plan.config.name);
            apply_v1(limit, dir);
            add_once(plan.limit_cgroups, dir);
            // A cpu limit's usage is counted by cpuacct: on hosts that mount it apart (this
            // one), the container gets a cgroup there too, so that its CPU time can be read.
            if (controller == "cpu")
                if (auto acct = host.v1_controller_root("cpuacct"); acct && *acct != *hierarchy) {
                    std::string acct_dir = v1_cgroup(*acct, plan.config.name);
                    sys::create_cgroup(acct_dir);
                    add_once(plan.limit_cgroups, acct_dir);
                }
            continue;
        }
        std::string where = in_v2 ? "outside cgroup v2 (--force-cgroupv1)"
                                  : "in neither the host's cgroup v2 nor a v1 hierarchy";
        warn("the " + controller + " controller is not available " + where + ": " + limit.option +
             " not applied");
    }
}

std::vector<std::string> limit_cgroup_bases(const sys::CgroupHost& host) {
    std::vector<std::string> out;
    for (const char* controller : kLimitControllers)
        if (auto hierarchy = host.v1_controller_root(controller)) {
            std::string base = *hierarchy + "/droidspaces";
            if (std::find(out.begin(), out.end(), base) == out.end()) out.push_back(base);
        }
    return out;
}

std::optional<std::string> busy_limit_cgroup(const std::string& name, const sys::CgroupHost& host) {
    for (const auto& base : limit_cgroup_bases(host)) {
        std::string dir = base + "/" + sanitize_name(name);
        if (sys::is_directory(dir) && sys::cgroup_populated(dir)) return dir;
    }
    return std::nullopt;
}

bool remove_limit_cgroups(const std::string& name, const sys::CgroupHost& host) {
    bool ok = true;
    for (const auto& base : limit_cgroup_bases(host)) {
        std::string dir = base + "/" + sanitize_name(name);
        if (!sys::is_directory(dir)) continue;
        sys::kill_cgroup(dir);
        ok = sys::remove_cgroup_tree(dir, 5s) && ok;
        // The shared parent goes with the last container (rmdir fails while others live).
        ::rmdir(base.c_str());
    }
    return ok;
}

std::vector<sys::unique_fd> open_limit_cgroups(const std::string& name,
                                               const sys::CgroupHost& host) {
    std::vector<sys::unique_fd> out;
    for (const auto& base : limit_cgroup_bases(host)) {
        std::string dir = base + "/" + sanitize_name(name);
        sys::unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (fd)
            out.push_back(std::move(fd));
        else if (errno != ENOENT)
            sys::fail_errno("open the container's cgroup " + dir);
    }
    return out;
}

V1LimitUsage v1_limit_usage(const std::string& name, const sys::CgroupHost& host) {
    V1LimitUsage u;
    auto dir_of = [&](const char* controller) -> std::optional<std::string> {
        auto hierarchy = host.v1_controller_root(controller);
        if (!hierarchy) return std::nullopt;
        std::string dir = v1_cgroup(*hierarchy, name);
        if (!sys::is_directory(dir)) return std::nullopt;
        return dir;
    };
    if (auto dir = dir_of("memory")) {
        u.memory_current = value_at(*dir + "/memory.usage_in_bytes");
        u.memory_max = value_at(*dir + "/memory.limit_in_bytes");
        u.memory_failcnt = value_at(*dir + "/memory.failcnt");
    }
    if (auto dir = dir_of("pids")) {
        u.pids_current = value_at(*dir + "/pids.current");
        u.pids_max = value_at(*dir + "/pids.max");
    }
    if (auto dir = dir_of("cpu")) {
        if (auto text = sys::try_read_file(*dir + "/cpu.cfs_quota_us")) {
            char* end = nullptr;
            errno = 0;
            long long quota = std::strtoll(text->c_str(), &end, 10);
            if (errno == 0 && end != text->c_str()) u.cpu_quota_us = quota;
        }
        u.cpu_period_us = value_at(*dir + "/cpu.cfs_period_us");
    }
    if (auto dir = dir_of("cpuacct")) u.cpu_usage_ns = value_at(*dir + "/cpuacct.usage");
    return u;
}

}  // namespace ds::container
