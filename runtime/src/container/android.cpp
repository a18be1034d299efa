#include "container/android.hpp"

#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
// FBE: before the user unlocks the device once, the storage is there but empty (or unreadable).
constexpr auto kStorageWait = 5s;
constexpr auto kToolWait = 10s;
// Longer than the state lock is ever held: prepare_start runs the tuning tools (3 x kToolWait),
// setenforce (kToolWait), starts the helpers (socket waits 5 + 2 + 3 s, 1 s each to stop one that
// failed) and stops unneeded ones (1 s each), about 70 s at worst; a release, about 45 s.
constexpr auto kLockWait = 120s;
const char* const kResourceNames[kResources] = {"tuning", "suid",  "selinux",
                                                "x11",    "virgl", "pulse"};

std::string state_path(const Workspace& ws) {
    return ws.pids_dir() + "/.android";
}

// Runs an Android tool (/system/bin/...) with a deadline and only PATH in its environment; false
// when it is missing or failed.
bool run_tool(const char* const* argv, size_t argc) {
    if (::access(argv[0], X_OK) != 0) return false;
    try {
        sys::SpawnOptions options;
        options.path = argv[0];
        options.argv.assign(argv, argv + argc);
        // Not the caller's environment (LD_PRELOAD, LD_LIBRARY_PATH... from a Termux shell):
        // root's tools get a fixed one.
        options.env = std::vector<std::string>{"PATH=/system/bin:/system/xbin"};
        sys::Child child = sys::spawn(options);
        auto status = child.wait_for(kToolWait);
        return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
    } catch (const Error&) {
        return false;
    }
}

// --- SELinux ---------------------------------------------------------------------------------

std::string enforce_value() {
    return std::string(trim(sys::try_read_file(kEnforce).value_or("")));
}

// Writes the mode, falling back to setenforce as upstream does; true when it took.
bool set_enforce(const char* value) {
    try {
        sys::write_control_file(kEnforce, value);
    } catch (const Error&) {
        const char* argv[] = {"/system/bin/setenforce", value};
        run_tool(argv, 2);
    }
    return enforce_value() == value;
}

// --- system tuning (upstream §13.7): each call with its value at start and when reverted ----

struct Tuning {
    const char* argv[5];
    const char* on;
    const char* off;
};
const Tuning kTunings[] = {
    {{"/system/bin/cmd", "device_config", "put", "activity_manager", "max_phantom_processes"},
     "2147483647",
     "32"},
    {{"/system/bin/cmd", "device_config", "set_sync_disabled_for_tests"}, "persistent", "none"},
    {{"/system/bin/dumpsys", "deviceidle"}, "disable", "enable"},
};

bool tune(bool on) {
    bool any = false;
    for (const auto& t : kTunings) {
        const char* argv[6];
        size_t n = 0;
        while (n < 5 && t.argv[n]) {
            argv[n] = t.argv[n];
            ++n;
        }
        argv[n++] = on ? t.on : t.off;
        any |= run_tool(argv, n);
    }
    return any;
}

// --- /data suid ------------------------------------------------------------------------------

bool under(const std::string& path, const std::string& dir) {
    return path.rfind(dir, 0) == 0 && (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string real_path(const std::string& path) {
    char real[PATH_MAX];
    return ::realpath(path.c_str(), real) ? real : "";
}

// The mount point holding `rootfs` when it is /data (or below) and nosuid: sudo and every other
// setuid program inside would fail there.
std::string nosuid_data_mount(const std::string& rootfs) {
    std::string real = real_path(rootfs);
    const MountInfo* best = nullptr;
    auto mounts = parse_mountinfo(sys::try_read_file("/proc/self/mountinfo").value_or(""));
    for (const auto& m : mounts)
        if ((m.mount_point == "/" || under(real, m.mount_point)) &&
            (!best || m.mount_point.size() >= best->mount_point.size()))
            best = &m;
    if (real.empty() || !best || !under(best->mount_point, "/data") ||
        !has_mount_option(best->options, "nosuid"))
        return "";
    return best->mount_point;
}

// Changes only the per-mount nosuid flag and keeps the others (a bind remount never touches
// the filesystem's own options). True when the mount ends up as asked.
bool remount_suid(const std::string& mount_point, bool suid) {
    struct statvfs vfs;
    if (::statvfs(mount_point.c_str(), &vfs) != 0) return false;
    unsigned long flags = MS_REMOUNT | MS_BIND | (suid ? 0 : MS_NOSUID);
    const unsigned long kept[][2] = {{ST_RDONLY, MS_RDONLY},     {ST_NODEV, MS_NODEV},
                                     {ST_NOEXEC, MS_NOEXEC},     {ST_NOATIME, MS_NOATIME},
                                     {ST_RELATIME, MS_RELATIME}, {ST_NODIRATIME, MS_NODIRATIME}};
    for (const auto& k : kept)
        if (vfs.f_flag & k[0]) flags |= k[1];
    if (::mount(nullptr, mount_point.c_str(), nullptr, flags, nullptr) != 0) return false;
    return ::statvfs(mount_point.c_str(), &vfs) == 0 && !(vfs.f_flag & ST_NOSUID) == suid;
}

// --- storage ---------------------------------------------------------------------------------

bool storage_unlocked() {
    DIR* dir = ::opendir(kStorage);
    if (!dir) return false;
    int entries = 0;
    while (::readdir(dir) && entries < 3)
        ++entries;
    ::closedir(dir);
    return entries > 2;  // more than "." and ".."
}

void wait_for_storage(const Warn& warn) {
    auto deadline = std::chrono::steady_clock::now() + kStorageWait;
    while (!storage_unlocked()) {
        if (!sys::is_directory(kStorage) || std::chrono::steady_clock::now() >= deadline) {
            warn(std::string("Android storage ") + kStorage +
                 (sys::is_directory(kStorage)
                      ? " is locked (empty or unreadable: unlock the device once after boot): "
                        "bound as it is, restart the container after unlocking"
                      : " does not exist: -S skipped"));
            return;
        }
        std::this_thread::sleep_for(100ms);
    }
}

// --- the record ------------------------------------------------------------------------------

HostState load(const Workspace& ws) {
    HostState state = parse_state(sys::try_read_file(state_path(ws)).value_or(""));
    if (state.boot != sys::boot_id()) return {};  // a reboot undid all of it
    return state;
}

void save(const Workspace& ws, HostState& state) {
    // An empty record goes; one that cannot go is overwritten with the empty state: the old one
    // left behind would be acted on again (enforcing set back on a device the user changed).
    if (state.empty() && (::unlink(state_path(ws).c_str()) == 0 || errno == ENOENT)) return;
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
    std::erase_if(state.holders,
                  [&](const auto& h) { return h.second == gone || !holder_alive(ws, h.second); });
}

bool held(const HostState& state, unsigned resource) {
    for (const auto& h : state.holders)
        if (h.first == resource) return true;
    return false;
}

void hold(HostState& state, unsigned resource, const std::string& name) {
    state.holders.emplace_back(resource, name);
}

std::vector<std::string> release_locked(const Workspace& ws, HostState& state, const Warn& warn) {
    std::vector<std::string> done;
    for (termux::Helper helper : termux::kHelpers) {
        unsigned i = static_cast<unsigned>(helper);
        if (!state.helpers[i].pid || held(state, kX11 + i)) continue;
        termux::stop(ws, helper, state.helpers[i]);
        state.helpers[i] = {};
        done.push_back(std::string(termux::info(helper).label) + " stopped");
    }
    for (unsigned r : {kTuning, kSuid, kSelinux}) {
        if (!(state.changed & (1u << r)) || held(state, r)) continue;
        bool ok = r == kTuning ? tune(false)
                  : r == kSuid ? remount_suid(state.suid_mount, false)
                               : set_enforce("1");
        // SELinux stays recorded until enforcing is back: the next release (a stop, `scan`)
        // tries again. Tuning and the remount are tried once.
        if (ok || r != kSelinux) state.changed &= ~(1u << r);
        if (r == kSuid) state.suid_mount.clear();
        if (!ok && r == kSelinux)
            warn("SELinux: could not restore enforcing mode (kept for a retry)");
        if (ok) done.push_back(std::string(kResourceNames[r]) + " restored");
    }
    return done;
}

void acquire(const Workspace& ws, HostState& state, const Config& config, const std::string& name,
             const Warn& warn, EnvVars& env) {
    hold(state, kTuning, name);
    if (!(state.changed & (1u << kTuning)) && tune(true)) state.changed |= 1u << kTuning;
    save(ws, state);

    if (!config.rootfs_is_image) {
        std::string mount = nosuid_data_mount(config.rootfs_path);
        if (!mount.empty()) {
            if (!remount_suid(mount, true))
                warn(mount +
                     " is nosuid and could not be remounted suid: setuid programs (sudo) "
                     "inside will fail");
            else if (!(state.changed & (1u << kSuid))) {
                state.changed |= 1u << kSuid;
                state.suid_mount = mount;
            }
        }
        if ((state.changed & (1u << kSuid)) &&
            under(real_path(config.rootfs_path), state.suid_mount))
            hold(state, kSuid, name);
        save(ws, state);
    }

    if (config.selinux_permissive) {
        std::string mode = enforce_value();
        if (mode.empty()) warn(std::string("SELinux: no ") + kEnforce + ": -P changes nothing");
        if (!mode.empty()) hold(state, kSelinux, name);
        if (mode == "1") {
            // Recorded before the switch: killed in between, the device is still set back to
            // enforcing by the next release (enforcing it again then is harmless).
            bool ours = state.changed & (1u << kSelinux);
            state.changed |= 1u << kSelinux;
            save(ws, state);
            if (!set_enforce("0")) {
                warn("SELinux: could not switch to permissive mode");
                if (!ours && enforce_value() == "1") state.changed &= ~(1u << kSelinux);
            }
        }
        save(ws, state);
    }

    for (termux::Helper helper : termux::kHelpers) {
        unsigned i = static_cast<unsigned>(helper);
        if (!termux::wanted(config, helper)) continue;
        if (!termux::alive(state.helpers[i])) {
            auto started = termux::start(ws, helper, config, warn);
            state.helpers[i] = started.value_or(termux::Process{});
            if (!started) continue;
        }
        hold(state, kX11 + i, name);
        save(ws, state);
        std::string_view entry = termux::info(helper).env;
        size_t eq = entry.find('=');
        env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
}

}  // namespace

std::string serialize_state(const HostState& state) {
    std::string out;
    char line[PATH_MAX + 64];
    auto add = [&](int n) { out.append(line, std::min<size_t>(n > 0 ? n : 0, sizeof line - 1)); };
    add(std::snprintf(line, sizeof line, "boot %s\nchanged %u\n", state.boot.c_str(),
                      state.changed));
    if (!state.suid_mount.empty())
        add(std::snprintf(line, sizeof line, "suid %s\n", state.suid_mount.c_str()));
    for (unsigned i = 0; i < 3; ++i)
        if (state.helpers[i].pid)
            add(std::snprintf(line, sizeof line, "helper %u %d %llu\n", i, state.helpers[i].pid,
                              static_cast<unsigned long long>(state.helpers[i].start)));
    for (const auto& [resource, name] : state.holders)
        add(std::snprintf(line, sizeof line, "holder %u %s\n", resource, name.c_str()));
    return out;
}

HostState parse_state(std::string_view text) {
    HostState state;
    std::string copy(text);  // NUL-terminated lines for strtoul
    for (char* p = copy.data(); *p;) {
        char* end = std::strchr(p, '\n');
        if (end) *end = 0;
        char* rest = std::strchr(p, ' ');
        if (rest) {
            *rest++ = 0;
            char* e = rest;
            unsigned long first = std::strtoul(rest, &e, 10);
            if (!std::strcmp(p, "boot")) state.boot = rest;
            if (!std::strcmp(p, "changed")) state.changed = static_cast<unsigned>(first & 7);
            if (!std::strcmp(p, "suid")) state.suid_mount = rest;
            if (!std::strcmp(p, "helper") && first < 3) {
                pid_t pid = static_cast<pid_t>(std::strtol(e, &e, 10));
                state.helpers[first] = {pid, std::strtoull(e, nullptr, 10)};
            }
            if (!std::strcmp(p, "holder") && first < kResources && *e == ' ' && e[1])
                state.holders.emplace_back(static_cast<unsigned>(first), e + 1);
        }
        if (!end) break;
        p = end + 1;
    }
    return state;
}

void check_options(const Config& config) {
    if (!sys::is_android()) return;
    if (config.enable_termux_x11) termux::split_flags(config.tx11_extra_flags, "--tx11-flags");
    if (config.enable_virgl) termux::split_flags(config.virgl_extra_flags, "--virgl-flags");
}

EnvVars prepare_start(const Workspace& ws, const Config& config, const std::string& rootfs,
                      const Warn& warn) {
    if (!sys::is_android()) return {};
    if (config.enable_android_storage) {
        wait_for_storage(warn);
        // Said where the user sees it; the boot skips these (a rootfs symlink leading nowhere).
        sys::unique_fd root = sys::open_tree_root(rootfs);
        for (const char* dest : {kStorage, "/sdcard"})
            if (auto why = sys::node_problem_in_root(root.get(), dest, sys::NodeKind::directory))
                warn(std::string("Android storage: ") + dest + " will not be bound: " + *why);
    }
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
    prune(ws, state, sanitize_name(stopping));
    auto done = release_locked(ws, state, warn);
    save(ws, state);
    return done;
}

EnvVars guest_env(const Config& config) {
    EnvVars env;
    for (termux::Helper helper : termux::kHelpers) {
        if (!termux::wanted(config, helper) || !termux::open_socket(helper)) continue;
        std::string_view entry = termux::info(helper).env;
        size_t eq = entry.find('=');
        env.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
    return env;
}

void bind_guest_paths(const BootPlan& plan, int root_fd, const Warn& warn) {
    if (!sys::is_android()) return;
    // `shown`: the source as messages name it (a /proc/self/fd/N source is the path it was).
    auto bind = [&](const std::string& src, const char* dest, sys::NodeKind kind,
                    const std::string& shown) {
        try {
            sys::unique_fd target = sys::make_node_in_root(root_fd, dest, kind);
            sys::bind_mount_at(src, target.get(), dest, kind == sys::NodeKind::directory);
        } catch (const std::exception& e) {
            std::string why = e.what();
            for (size_t at = why.find(src); src != shown && at != std::string::npos;
                 at = why.find(src, at + shown.size()))
                why.replace(at, src.size(), shown);
            warn(std::string(dest) + " not bound: " + why);
        }
    };
    if (plan.config.enable_android_storage && sys::is_directory(kStorage)) {
        bind(kStorage, kStorage, sys::NodeKind::directory, kStorage);
        bind(kStorage, "/sdcard", sys::NodeKind::directory, kStorage);
    }
    for (termux::Helper helper : termux::kHelpers) {
        if (!termux::wanted(plan.config, helper)) continue;
        const auto& h = termux::info(helper);
        sys::unique_fd socket = termux::open_socket(helper);
        if (!socket) {
            warn(std::string(h.guest_socket) + " not bound: no socket at " + h.socket);
            continue;
        }
        if (helper == termux::Helper::x11) {
            // Any guest user may talk to the display: the directory is sticky and open, as
            // upstream makes it.
            try {
                sys::unique_fd dir = sys::make_dirs_in_root(root_fd, "/tmp/.X11-unix", 01777);
                if (::chmod(sys::fd_path(dir.get()).c_str(), 01777) != 0)
                    warn(std::string("/tmp/.X11-unix: chmod 1777: ") + std::strerror(errno) +
                         ": guest users other than root may not reach the display");
            } catch (const std::exception&) {  // the bind below reports it
            }
        }
        bind(sys::fd_path(socket.get()), h.guest_socket, sys::NodeKind::file, h.socket);
    }
}

}  // namespace ds::container::android
