#include "container/android.hpp"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>

#include "container/inspect_detail.hpp"
#include "container/state.hpp"
#include "core/error.hpp"
#include "core/mountinfo.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/lock.hpp"
#include "sys/mount.hpp"
#include "sys/platform.hpp"
#include "sys/process.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/spawn.hpp"

namespace ds::container::android {
namespace {

using namespace std::chrono_literals;

constexpr const char* kStorage = "/storage/emulated/0";
constexpr const char* kEnforce = "/sys/fs/selinux/enforce";
// FBE: before the user unlocks the device, the storage is there but empty (or unreadable).
constexpr auto kStorageWait = 5s;
constexpr auto kToolWait = 10s;
constexpr auto kLockWait = 30s;

const char* const kSelinux = "selinux";
const char* const kTuning = "tuning";
const char* const kSuid = "suid";

std::string state_path(const Workspace& ws) {
    return ws.pids_dir() + "/.android";
}

// Runs an Android tool (/system/bin/...) with a deadline; false when it is missing or failed.
bool run_tool(const std::vector<std::string>& argv) {
    if (::access(argv[0].c_str(), X_OK) != 0) return false;
    try {
        sys::SpawnOptions options;
        options.path = argv[0];
        options.argv = argv;
        sys::Child child = sys::spawn(options);
        auto status = child.wait_for(kToolWait);
        return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    } catch (const Error&) {
        return false;
    }
}

// --- SELinux ---------------------------------------------------------------------------------

std::string enforce_value() {
    auto text = sys::try_read_file(kEnforce);
    return text ? std::string(trim(*text)) : "";
}

// Writes the mode, falling back to setenforce as upstream does; true when it took.
bool set_enforce(const char* value) {
    try {
        sys::write_control_file(kEnforce, value);
    } catch (const Error&) {
        run_tool({"/system/bin/setenforce", value});
    }
    return enforce_value() == value;
}

// --- system tuning (upstream §13.7) ----------------------------------------------------------

bool apply_tuning() {
    bool any = run_tool({"/system/bin/cmd", "device_config", "put", "activity_manager",
                         "max_phantom_processes", "2147483647"});
    any |= run_tool(
        {"/system/bin/cmd", "device_config", "set_sync_disabled_for_tests", "persistent"});
    any |= run_tool({"/system/bin/dumpsys", "deviceidle", "disable"});
    return any;
}

void revert_tuning() {
    run_tool({"/system/bin/cmd", "device_config", "put", "activity_manager",
              "max_phantom_processes", "32"});
    run_tool({"/system/bin/cmd", "device_config", "set_sync_disabled_for_tests", "none"});
    run_tool({"/system/bin/dumpsys", "deviceidle", "enable"});
}

// --- /data suid ------------------------------------------------------------------------------

bool under(const std::string& path, const std::string& dir) {
    return dir == "/" || path == dir || (path.rfind(dir, 0) == 0 && path[dir.size()] == '/');
}

// The mount point holding `rootfs` when it is /data (or below) and nosuid: sudo and every other
// setuid program inside would fail there.
std::string nosuid_data_mount(const std::string& rootfs) {
    char real[PATH_MAX];
    if (!::realpath(rootfs.c_str(), real)) return "";
    auto text = sys::try_read_file("/proc/self/mountinfo");
    if (!text) return "";
    const MountInfo* best = nullptr;
    auto mounts = parse_mountinfo(*text);
    for (const auto& m : mounts)
        if (under(real, m.mount_point) &&
            (!best || m.mount_point.size() >= best->mount_point.size()))
            best = &m;
    if (!best || !under(best->mount_point, "/data") || best->mount_point == "/") return "";
    return has_mount_option(best->options, "nosuid") ? best->mount_point : "";
}

// Changes only the per-mount nosuid flag, keeping the others (a bind remount never touches the
// filesystem's own options).
bool remount_suid(const std::string& mount_point, bool suid) {
    struct statvfs vfs;
    if (::statvfs(mount_point.c_str(), &vfs) != 0) return false;
    unsigned long flags = MS_REMOUNT | MS_BIND;
    const std::pair<unsigned long, unsigned long> kept[] = {
        {ST_RDONLY, MS_RDONLY},         {ST_NODEV, MS_NODEV},     {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME},       {ST_RELATIME, MS_RELATIME},
        {ST_NODIRATIME, MS_NODIRATIME},
    };
    for (auto [st, ms] : kept)
        if (vfs.f_flag & st) flags |= ms;
    if (!suid) flags |= MS_NOSUID;
    if (::mount(nullptr, mount_point.c_str(), nullptr, flags, nullptr) != 0) return false;
    return ::statvfs(mount_point.c_str(), &vfs) == 0 && bool(vfs.f_flag & ST_NOSUID) != suid;
}

// --- storage ---------------------------------------------------------------------------------

bool storage_unlocked() {
    DIR* dir = ::opendir(kStorage);
    if (!dir) return false;
    bool any = false;
    while (struct dirent* e = ::readdir(dir)) {
        std::string_view name = e->d_name;
        if (name != "." && name != "..") {
            any = true;
            break;
        }
    }
    ::closedir(dir);
    return any;
}

void wait_for_storage(const Warn& warn) {
    if (!sys::is_directory(kStorage)) {
        warn(std::string("Android storage: ") + kStorage + " does not exist: skipping -S");
        return;
    }
    auto deadline = std::chrono::steady_clock::now() + kStorageWait;
    while (!storage_unlocked()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            warn(std::string("Android storage: ") + kStorage +
                 " is still locked (empty or unreadable: unlock the device once after boot); "
                 "bound anyway, restart the container after unlocking to see its files");
            return;
        }
        std::this_thread::sleep_for(100ms);
    }
}

// --- the record ------------------------------------------------------------------------------

HostState load(const Workspace& ws) {
    auto text = sys::try_read_file(state_path(ws));
    if (!text) return {};
    HostState state = parse_state(*text);
    if (state.boot != sys::boot_id()) return {};  // a reboot undid all of it
    return state;
}

void save(const Workspace& ws, HostState& state) {
    if (state.empty()) {
        ::unlink(state_path(ws).c_str());
        return;
    }
    state.boot = sys::boot_id();
    sys::write_file_atomic(state_path(ws), serialize_state(state), 0600);
}

// A holder still counts while its container runs, reboots, or a command works on it.
bool holder_alive(const Workspace& ws, const std::string& name) {
    if (detail::lock_held(ws, name)) return true;
    auto state = read_state(ws, name);
    return state && (init_is_running(*state) || monitor_is_running(*state));
}

void prune(const Workspace& ws, HostState& state, const std::string& gone) {
    for (auto& [resource, names] : state.holders)
        for (auto it = names.begin(); it != names.end();)
            it = (*it == gone || !holder_alive(ws, *it)) ? names.erase(it) : std::next(it);
}

std::pair<std::string, std::string> split_env(std::string_view entry) {
    size_t eq = entry.find('=');
    return {std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1))};
}

bool held(const HostState& state, const std::string& resource) {
    auto it = state.holders.find(resource);
    return it != state.holders.end() && !it->second.empty();
}

std::vector<std::string> release_locked(const Workspace& ws, HostState& state,
                                        const Warn& warn) {
    std::vector<std::string> done;
    for (termux::Helper helper : termux::kHelpers) {
        const auto& h = termux::info(helper);
        auto it = state.helpers.find(h.key);
        if (it == state.helpers.end() || held(state, h.key)) continue;
        termux::stop(ws, helper, it->second);
        state.helpers.erase(it);
        done.push_back(std::string(h.label) + " stopped");
    }
    if (state.selinux_changed && !held(state, kSelinux)) {
        if (set_enforce("1"))
            done.push_back("SELinux enforcing restored");
        else
            warn("SELinux: could not restore enforcing mode through " + std::string(kEnforce) +
                 " or setenforce");
        state.selinux_changed = false;
    }
    if (state.tuning_applied && !held(state, kTuning)) {
        revert_tuning();
        state.tuning_applied = false;
        done.push_back("Android system tuning reverted");
    }
    if (!state.suid_mount.empty() && !held(state, kSuid)) {
        if (remount_suid(state.suid_mount, false))
            done.push_back(state.suid_mount + " nosuid restored");
        state.suid_mount.clear();
    }
    for (auto it = state.holders.begin(); it != state.holders.end();)
        it = it->second.empty() ? state.holders.erase(it) : std::next(it);
    return done;
}

void acquire(const Workspace& ws, HostState& state, const Config& config, const std::string& name,
             const Warn& warn, EnvVars& env) {
    state.holders[kTuning].insert(name);
    if (!state.tuning_applied) state.tuning_applied = apply_tuning();
    save(ws, state);

    if (!config.rootfs_is_image) {
        std::string mount = nosuid_data_mount(config.rootfs_path);
        if (!mount.empty() && remount_suid(mount, true)) {
            if (state.suid_mount.empty()) state.suid_mount = mount;
        } else if (!mount.empty()) {
            warn(mount + " is mounted nosuid and could not be remounted suid: sudo and other " +
                 "setuid programs in '" + config.name + "' will fail");
        }
        char real[PATH_MAX];
        if (!state.suid_mount.empty() && ::realpath(config.rootfs_path.c_str(), real) &&
            under(real, state.suid_mount))
            state.holders[kSuid].insert(name);
        save(ws, state);
    }

    if (config.selinux_permissive) {
        std::string mode = enforce_value();
        if (mode.empty()) {
            warn(std::string("SELinux: ") + kEnforce + " not found: -P has nothing to change");
        } else {
            state.holders[kSelinux].insert(name);
            if (mode == "1") {
                if (set_enforce("0"))
                    state.selinux_changed = true;
                else
                    warn("SELinux: could not switch to permissive mode");
            }
        }
        save(ws, state);
    }

    for (termux::Helper helper : termux::kHelpers) {
        if (!termux::wanted(config, helper)) continue;
        const auto& h = termux::info(helper);
        auto it = state.helpers.find(h.key);
        if (it == state.helpers.end() || !termux::alive(it->second)) {
            if (it != state.helpers.end()) state.helpers.erase(it);
            auto started = termux::start(ws, helper, config, warn);
            if (!started) continue;
            state.helpers[h.key] = *started;
        }
        state.holders[h.key].insert(name);
        save(ws, state);
        env.push_back(split_env(h.env));
    }
}

}  // namespace

bool HostState::empty() const {
    bool no_holders = true;
    for (const auto& [resource, names] : holders)
        no_holders = no_holders && names.empty();
    return !selinux_changed && !tuning_applied && suid_mount.empty() && helpers.empty() &&
           no_holders;
}

std::string serialize_state(const HostState& state) {
    std::string out = "boot " + state.boot + "\n";
    if (state.selinux_changed) out += "changed selinux\n";
    if (state.tuning_applied) out += "changed tuning\n";
    if (!state.suid_mount.empty()) out += "changed suid " + state.suid_mount + "\n";
    for (const auto& [key, p] : state.helpers)
        out += "helper " + key + " " + std::to_string(p.pid) + " " + std::to_string(p.start) +
               "\n";
    for (const auto& [resource, names] : state.holders)
        for (const auto& name : names)
            out += "holder " + resource + " " + name + "\n";
    return out;
}

HostState parse_state(std::string_view text) {
    HostState state;
    for (const auto& line : text_lines(text)) {
        auto w = text_words(line);
        if (w.size() == 2 && w[0] == "boot") state.boot = w[1];
        if (w.size() >= 2 && w[0] == "changed") {
            if (w[1] == kSelinux) state.selinux_changed = true;
            if (w[1] == kTuning) state.tuning_applied = true;
            // A mount point with blanks: the rest of the line.
            if (w[1] == kSuid && w.size() >= 3) state.suid_mount = line.substr(line.find('/'));
        }
        if (w.size() == 4 && w[0] == "helper") {
            termux::Process p{static_cast<pid_t>(std::strtol(w[2].c_str(), nullptr, 10)),
                              std::strtoull(w[3].c_str(), nullptr, 10)};
            if (p.pid > 0) state.helpers[w[1]] = p;
        }
        if (w.size() == 3 && w[0] == "holder") state.holders[w[1]].insert(w[2]);
    }
    return state;
}

void check_options(const Config& config) {
    if (!sys::is_android()) return;
    if (config.enable_termux_x11) termux::split_flags(config.tx11_extra_flags, "--tx11-flags");
    if (config.enable_virgl) termux::split_flags(config.virgl_extra_flags, "--virgl-flags");
}

EnvVars prepare_start(const Workspace& ws, const Config& config, const Warn& warn) {
    if (!sys::is_android()) return {};
    if (config.enable_android_storage) wait_for_storage(warn);
    std::string name = sanitize_name(config.name);
    sys::FileLock lock(state_path(ws) + ".lock", kLockWait, "the Android host state");
    HostState state = load(ws);
    prune(ws, state, name);  // a restart with other options holds what it asks for now
    EnvVars env;
    try {
        acquire(ws, state, config, name, warn, env);
        release_locked(ws, state, warn);
    } catch (...) {
        save(ws, state);  // what was changed stays recorded, so it is undone later
        throw;
    }
    save(ws, state);
    return env;
}

std::vector<std::string> release_unneeded(const Workspace& ws, const std::string& stopping,
                                          const Warn& warn) {
    if (!sys::is_android() || !sys::path_exists(state_path(ws))) return {};
    sys::FileLock lock(state_path(ws) + ".lock", kLockWait, "the Android host state");
    HostState state = load(ws);
    prune(ws, state, stopping.empty() ? "" : sanitize_name(stopping));
    auto done = release_locked(ws, state, warn);
    save(ws, state);
    return done;
}

EnvVars guest_env(const Config& config) {
    EnvVars env;
    if (!sys::is_android()) return env;
    for (termux::Helper helper : termux::kHelpers) {
        if (!termux::wanted(config, helper) || !termux::open_socket(helper)) continue;
        env.push_back(split_env(termux::info(helper).env));
    }
    return env;
}

void bind_guest_paths(const BootPlan& plan, int root_fd, const Warn& warn) {
    if (!sys::is_android()) return;
    if (plan.config.enable_android_storage && sys::is_directory(kStorage)) {
        for (const char* dest : {kStorage, "/sdcard"}) {
            try {
                sys::unique_fd target =
                    sys::make_node_in_root(root_fd, dest, sys::NodeKind::directory);
                sys::bind_mount_at(kStorage, target.get(), dest, true);
            } catch (const std::exception& e) {
                warn(std::string("Android storage at ") + dest + " skipped: " + e.what());
            }
        }
    }
    for (termux::Helper helper : termux::kHelpers) {
        if (!termux::wanted(plan.config, helper)) continue;
        const auto& h = termux::info(helper);
        sys::unique_fd socket = termux::open_socket(helper);
        if (!socket) {
            warn(std::string(h.label) + ": no socket at " + h.socket + ": not bound");
            continue;
        }
        try {
            if (helper == termux::Helper::x11) {
                // Anyone in the guest may start an X client: the directory is sticky and open.
                sys::unique_fd dir = sys::make_dirs_in_root(root_fd, "/tmp/.X11-unix", 01777);
                ::chmod(sys::fd_path(dir.get()).c_str(), 01777);
            }
            sys::unique_fd target = sys::make_node_in_root(root_fd, h.guest_socket,
                                                           sys::NodeKind::file);
            sys::bind_mount_at(sys::fd_path(socket.get()), target.get(), h.guest_socket, false);
        } catch (const std::exception& e) {
            warn(std::string(h.label) + " socket at " + h.guest_socket + " skipped: " + e.what());
        }
    }
}

}  // namespace ds::container::android
