#include "container/lifecycle.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <thread>

#include "container/android.hpp"
#include "container/boot_plan.hpp"
#include "container/cgroups.hpp"
#include "container/cleanup.hpp"
#include "container/devices.hpp"
#include "container/hw_access.hpp"
#include "container/image.hpp"
#include "container/monitor.hpp"
#include "container/net_gateway.hpp"
#include "container/net_nat.hpp"
#include "core/error.hpp"
#include "core/filesystems.hpp"
#include "sys/cgroup.hpp"
#include "sys/file.hpp"
#include "sys/lock.hpp"
#include "sys/mount.hpp"
#include "sys/platform.hpp"
#include "sys/process.hpp"
#include "sys/pty.hpp"
#include "sys/rootfs_path.hpp"
#include "sys/spawn.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

using namespace std::chrono_literals;

// How long a monitor may take to clean up after its init ended.
constexpr auto kMonitorCleanupWait = 10s;

std::string new_uuid() {
    unsigned char bytes[16];
    if (::getrandom(bytes, sizeof bytes, 0) != sizeof bytes) sys::fail_errno("getrandom");
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

void check_rootfs(const Config& config) {
    if (config.rootfs_path.empty())
        fail_usage("no rootfs for '" + config.name + "': give --rootfs=DIR or --rootfs-img=IMG");
    struct stat st;
    if (::stat(config.rootfs_path.c_str(), &st) != 0)
        fail_usage("rootfs '" + config.rootfs_path + "' does not exist");
    if (config.rootfs_is_image && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        fail_usage("rootfs image '" + config.rootfs_path +
                   "' is not a regular file or block device");
    if (!config.rootfs_is_image && !S_ISDIR(st.st_mode))
        fail_usage("rootfs '" + config.rootfs_path +
                   "' is not a directory (for an image use "
                   "--rootfs-img)");
}

std::string init_path_of(const Config& config) {
    return config.custom_init.empty() ? "/sbin/init" : config.custom_init;
}

void check_init(const std::string& rootfs, const std::string& init) {
    // Looked up as the guest will see it: a rootfs symlink never leads this check to the host.
    struct stat st;
    sys::unique_fd root = sys::open_tree_root(rootfs);
    sys::unique_fd fd = sys::open_in_root(root.get(), init, O_PATH | O_NOFOLLOW);
    if (!fd || ::fstat(fd.get(), &st) != 0)
        fail_usage("init '" + init + "' not found in rootfs '" + rootfs + "'");
    // A symlink is judged where it points once the rootfs is /; the exec reports it otherwise.
    if (!S_ISLNK(st.st_mode) && (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)))
        fail_usage("init '" + init + "' in rootfs '" + rootfs + "' is not an executable file");
}

// Options that cannot work as given: a bad gateway or Android option fails; Android-only switches
// off Android and options of another network mode are skipped with a warning, as upstream does.
void check_supported(const Config& config, const Warn& warn) {
    if (config.net_mode == NetMode::gateway) net::check_gateway_config(config);
    struct AndroidOnly {
        bool Config::*flag;
        const char* option;
    };
    for (auto [flag, option] :
         {AndroidOnly{&Config::enable_termux_x11, "--termux-x11"},
          AndroidOnly{&Config::enable_virgl, "--virgl"},
          AndroidOnly{&Config::enable_pulseaudio, "--pulse-audio"},
          AndroidOnly{&Config::enable_android_storage, "--enable-android-storage"},
          AndroidOnly{&Config::selinux_permissive, "--selinux-permissive"}}) {
        if (!(config.*flag) || sys::is_android()) continue;
        warn(std::string(option) + " is only applicable on Android: skipping");
    }
    android::check_options(config);
    if (config.net_mode != NetMode::nat &&
        (!config.port_forwards.empty() || !config.upstream_interfaces.empty()))
        warn("--port and --upstream apply to --net=nat only: ignoring them");
    if (config.disable_ipv6 && config.net_mode == NetMode::host)
        warn("--disable-ipv6 with --net=host would change the host's own settings: ignoring it");
}

EnvVars load_env_file(const Config& config) {
    if (config.env_file.empty()) return {};
    auto text = sys::try_read_file(config.env_file);
    if (!text) fail_usage("env file '" + config.env_file + "' cannot be read");
    return parse_env_file(*text, config.env_file);
}

// Upstream skips a bind whose source is missing (an unmounted SD card, a folder not made yet)
// and boots the rest. The saved config keeps it for the next start.
std::vector<BindMount> binds_with_sources(const std::vector<BindMount>& binds, const Warn& warn) {
    std::vector<BindMount> present;
    for (const auto& bind : binds) {
        if (sys::path_exists(bind.src))
            present.push_back(bind);
        else
            warn("bind source '" + bind.src + "' does not exist: skipping " + bind.src + ":" +
                 bind.dest);
    }
    return present;
}

void save_config(const Workspace& ws, const StartRequest& request) {
    std::string text = serialize_config(request.config);
    sys::make_dirs(ws.container_dir(request.config.name));
    sys::write_file_if_changed(ws.config_path(request.config.name), text);
    if (!request.config_path.empty() && request.config_path != ws.config_path(request.config.name))
        sys::write_file_if_changed(request.config_path, text);
}

// True when the container's monitor has ended within `timeout` (or was gone already). Watched
// through a pidfd opened for the recorded start time: a reused PID is not waited for.
bool wait_monitor_exit(const ContainerState& s, std::chrono::milliseconds timeout) {
    if (s.boot_id != sys::boot_id()) return true;
    if (sys::unique_fd fd = sys::open_process(s.monitor_pid, s.monitor_start))
        return sys::wait_readable(fd.get(), timeout);
    if (errno != ENOSYS) return true;  // gone, or the PID names another process now
    return !monitor_is_running(s) || sys::wait_process_exit(s.monitor_pid, timeout);
}

// Waits for a monitor whose init already ended: it is still cleaning up.
void wait_for_stopping(const Workspace& ws, const std::string& name) {
    auto state = read_state(ws, name);
    if (!state || !monitor_is_running(*state)) return;
    if (!wait_monitor_exit(*state, kMonitorCleanupWait))
        fail_busy("container '" + name + "' is still shutting down (monitor PID " +
                  std::to_string(state->monitor_pid) + ")");
}

struct MonitorHandle {
    sys::Child process;
    sys::unique_fd report;
};

// The monitor is this binary re-executed as "ds-monitor:<name>" with the plan, report pipe and
// console master on its agreed descriptors. It outlives this command (no parent-death signal)
// and leads its own session; until it is released, an error here kills it.
MonitorHandle spawn_monitor(const BootPlan& plan, int console_master) {
    int plan_pipe[2], report_pipe[2];
    if (::pipe2(plan_pipe, O_CLOEXEC) != 0) sys::fail_errno("pipe for the boot plan");
    sys::unique_fd plan_read(plan_pipe[0]), plan_write(plan_pipe[1]);
    if (::pipe2(report_pipe, O_CLOEXEC) != 0) sys::fail_errno("pipe for the monitor's report");
    sys::unique_fd report_read(report_pipe[0]), report_write(report_pipe[1]);
    std::string text = serialize_plan(plan);
    // Small enough for the pipe buffer: written before the monitor exists.
    if (text.size() > 60000) fail_usage("container configuration is too large");
    if (!sys::write_all(plan_write.get(), text.data(), text.size())) sys::fail_errno("write plan");
    plan_write.reset();
    sys::SpawnOptions options;
    options.path = "/proc/self/exe";
    options.argv = {"ds-monitor:" + plan.config.name, kMonitorCommand};
    options.fds = {
        {plan_read.get(), kPlanFd}, {report_write.get(), kReportFd}, {console_master, kConsoleFd}};
    options.new_session = true;
    // Not our child: the caller may be a long-lived server, which would hold every monitor
    // that ends as a zombie.
    options.detach = true;
    MonitorHandle handle{sys::spawn(options), std::move(report_read)};
    return handle;
}

std::string read_report(int fd) {
    std::string text;
    char buf[1024];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        text.append(buf, static_cast<size_t>(n));
    }
    return text;
}

// sysvinit's FIFO inside the container, opened for writing; invalid when there is none. The
// path is resolved inside the guest's root (an absolute guest symlink would otherwise name
// the host's own /run/initctl through /proc/PID/root), and only a FIFO is opened for writing:
// it is looked up with O_PATH first, so no device or file of the guest's choosing is opened.
sys::unique_fd open_initctl(pid_t init_pid) {
    std::string root_path = "/proc/" + std::to_string(init_pid) + "/root";
    sys::unique_fd root(::open(root_path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return {};
    for (const char* fifo : {"/run/initctl", "/dev/initctl"}) {
        sys::unique_fd path = sys::open_in_root(root.get(), fifo, O_PATH | O_NOFOLLOW);
        struct stat st;
        if (!path || ::fstat(path.get(), &st) != 0 || !S_ISFIFO(st.st_mode)) continue;
        sys::unique_fd fd(
            ::open(sys::fd_path(path.get()).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        if (fd) return fd;
    }
    return {};
}

// Sends the family's halt request; false when it could not be delivered (yet). `init` is a
// pidfd of the container's init (invalid on kernels without pidfds).
bool send_halt(const ContainerState& state, const sys::unique_fd& init, const HaltRequest& halt) {
    if (halt.method == HaltMethod::initctl) {
        // sysvinit's request: runlevel 0, through its FIFO inside the container.
        if (sys::unique_fd fd = open_initctl(state.init_pid)) {
            unsigned char request[384] = {};
            const uint32_t magic = 0x03091969, command = 1 /* runlevel */, runlevel = '0',
                           sleeptime = 3;
            std::memcpy(request + 0, &magic, 4);
            std::memcpy(request + 4, &command, 4);
            std::memcpy(request + 8, &runlevel, 4);
            std::memcpy(request + 12, &sleeptime, 4);
            return sys::write_all(fd.get(), request, sizeof request);
        }
        return false;
    }
    // PID 1 of a namespace drops a signal that it neither catches nor blocks at the moment it
    // is sent. A request counts as delivered only when the init handled the signal BEFORE the
    // send: checked after it (as before), a handler installed between the two (systemd sets its
    // signal mask early in boot) made a dropped request count as delivered, and stop waited
    // for nothing until its timeout escalated to SIGKILL. During boot an init only adds
    // handlers, so a signal handled before the send is handled when it arrives. The signal is
    // sent in any case and re-sent until it counts: an init waiting in sigtimedwait (busybox)
    // shows the signal neither caught nor blocked in /proc, yet takes it.
    bool handled = sys::process_handles_signal(state.init_pid, halt.signal);
    bool sent = init ? sys::send_signal(init.get(), halt.signal)
                     : sys::signal_process(state.init_pid, state.init_start, halt.signal);
    return sent && handled;
}

// Undo actions for a start that fails half-way, run in reverse unless the start succeeds.
class Rollback {
  public:
    Rollback() = default;
    Rollback(const Rollback&) = delete;
    Rollback& operator=(const Rollback&) = delete;
    ~Rollback() {
        for (auto it = undo_.rbegin(); it != undo_.rend(); ++it) {
            try {
                (*it)();
            } catch (...) {  // best effort: the original error is what the user needs
            }
        }
    }
    void add(std::function<void()> action) { undo_.push_back(std::move(action)); }
    void commit() { undo_.clear(); }

  private:
    std::vector<std::function<void()>> undo_;
};

void check_volatile(const Config& config) {
    if (!config.volatile_mode) return;
    auto filesystems = sys::try_read_file("/proc/filesystems").value_or("");
    if (filesystems.find("\toverlay\n") == std::string::npos)
        fail_usage("--volatile needs overlayfs, which this kernel does not have");
    struct statfs fs;
    if (config.rootfs_is_image || ::statfs(config.rootfs_path.c_str(), &fs) != 0) return;
    if (auto name = unusable_overlay_lower(static_cast<uint64_t>(fs.f_type)))
        fail_usage("--volatile cannot use rootfs '" + config.rootfs_path + "' on " + *name +
                   " (overlayfs cannot use it as a lower layer): put the rootfs in an image "
                   "and use --rootfs-img");
}

// The image's mount point: reused as it is when it already holds this image (a restart), else
// checked and mounted afresh.
std::string prepare_image(const Workspace& ws, const Config& config, Rollback& rollback,
                          const Warn& warn) {
    std::string mount_point = ws.mount_point(config.name);
    if (image_mounted_at(config.rootfs_path, mount_point)) return mount_point;
    if (sys::is_mountpoint(mount_point)) unmount_image(mount_point);  // stale, from a crash
    ImageFs fs = detect_image_fs(config.rootfs_path);
    std::string report = check_image(config.rootfs_path, fs);
    if (report == kImageNotChecked)
        warn("'" + config.rootfs_path + "' was not checked: " + report);
    else if (!report.empty())
        warn("e2fsck repaired '" + config.rootfs_path + "': " + report);
    make_private_dir(ws.mount_base);  // the mounted rootfs is reachable through it
    mount_image(config.rootfs_path, mount_point, MountImageOptions{});
    rollback.add([mount_point] { unmount_image(mount_point); });
    return mount_point;
}

void clean_up_stale(const Workspace& ws, const std::string& name, const Warn& warn);

StartResult start_locked(const Workspace& ws, StartRequest& request, const Warn& warn) {
    Config& config = request.config;
    clean_up_stale(ws, config.name, warn);
    if (auto running = find_running(ws, config.name))
        fail_busy("container '" + config.name + "' is already running (PID " +
                  std::to_string(running->init_pid) + ")");
    wait_for_stopping(ws, config.name);
    Rollback rollback;
    BootPlan plan;
    plan.rootfs = config.rootfs_path;
    if (config.rootfs_is_image) {
        plan.image_mount = prepare_image(ws, config, rollback, warn);
        plan.rootfs = plan.image_mount;
    }
    std::string init = init_path_of(config);
    check_init(plan.rootfs, init);
    // The boot skips a bind whose destination cannot be resolved inside the rootfs (a symlink
    // leading nowhere there, a file where a directory is needed): say so where the user sees it.
    sys::unique_fd root_fd = sys::open_tree_root(plan.rootfs);
    auto binds = binds_with_sources(config.bind_mounts, warn);
    for (const auto& b : binds) {
        auto kind = sys::is_directory(b.src) ? sys::NodeKind::directory : sys::NodeKind::file;
        if (auto why = sys::node_problem_in_root(root_fd.get(), b.dest, kind))
            warn("bind mount " + b.src + ":" + b.dest + " will be skipped: " + *why);
    }
    if (config.uuid.empty()) config.uuid = new_uuid();
    // Chosen and saved before the monitor exists: the address survives restarts.
    if (config.net_mode == NetMode::nat) net::assign_nat_address(ws, config, warn);
    save_config(ws, request);
    hw_release_host(ws, config.name);  // left by a guest that powered off by itself
    hw_prepare_host(ws, config, plan.rootfs, warn);
    rollback.add([&ws, name = config.name] { hw_release_host(ws, name); });

    plan.config = config;
    plan.config.bind_mounts = std::move(binds);
    plan.workspace = ws;
    plan.init_path = init;
    plan.family = detect_init_family(plan.rootfs, init);
    plan.env = std::move(request.env);
    // Android: host changes and Termux helpers, undone by the last container that needs them.
    rollback.add([&ws, name = config.name, warn] { android::release_unneeded(ws, name, warn); });
    for (auto& var : android::prepare_start(ws, config, plan.rootfs, warn))
        plan.env.push_back(std::move(var));
    if (!request.term.empty()) plan.term = request.term;
    if (config.volatile_mode) {
        plan.volatile_dir = ws.volatile_dir(config.name);
        sys::make_dirs(plan.volatile_dir, 0700);
        rollback.add([dir = plan.volatile_dir] { remove_volatile_dir(dir); });
    }
    // A host without a usable hierarchy gets the runtime's own (sys/cgroup.hpp), locked
    // against its release until this container's cgroup is in it.
    sys::CgroupSetup cgroup_setup =
        sys::prepare_cgroup_host(config.name, config.force_cgroupv1, warn);
    const sys::CgroupHost& cgroup_host = cgroup_setup.host;
    plan_cgroups(plan, cgroup_host);
    if (!plan.cgroup_path.empty()) {
        // Cgroups are named by container, not by workspace: another workspace's container of
        // the same name must not be joined (and later killed with ours).
        if (sys::is_directory(plan.cgroup_path) && sys::cgroup_populated(plan.cgroup_path))
            fail_usage("container name '" + config.name + "' is in use: cgroup " +
                       plan.cgroup_path + " has processes (another workspace's container?)");
        sys::create_cgroup(plan.cgroup_path);
        // Ours alone (checked empty above): a monitor that died half-way may have left init
        // in it, so it is killed before it is removed.
        rollback.add([path = plan.cgroup_path] {
            sys::kill_cgroup(path);
            sys::remove_cgroup_tree(path, 5s);
            remove_empty_cgroup_parent(path);
        });
    }
    cgroup_setup.lock.reset();
    if (auto busy = busy_limit_cgroup(config.name, cgroup_host))
        fail_usage("container name '" + config.name + "' is in use: cgroup " + *busy +
                   " has processes (another workspace's container?)");
    rollback.add([name = config.name, host = cgroup_host] { remove_limit_cgroups(name, host); });
    apply_limits(plan, cgroup_host, warn);
    apply_device_policy(plan, warn);  // before the monitor spawns the guest into the cgroup

    sys::Pty console = sys::open_pty();
    plan.console_slave = console.slave_path;
    if (request.foreground) plan.attached_client = ::getpid();
    MonitorHandle monitor = spawn_monitor(plan, console.master.get());
    std::string report = read_report(monitor.report.get());
    if (report.rfind("OK ", 0) != 0) {
        // The monitor cleans up after a failed boot and exits; the image is ours to unmount.
        // One that takes longer is left to finish (released, not killed half-way).
        pid_t monitor_pid = monitor.process.pid();
        bool ended = monitor.process.wait_for(kMonitorCleanupWait).has_value();
        if (!ended) monitor.process.release();
        // A monitor killed after it wrote the record leaves it behind: only its own is removed.
        if (auto left = read_state(ws, config.name); left && left->monitor_pid == monitor_pid)
            remove_state(ws, config.name);
        // A monitor that died before its own cleanup leaves its network record.
        if ((config.net_mode == NetMode::nat || config.net_mode == NetMode::gateway) && ended)
            net::release_nat(ws, config.name, warn);
        if (report.rfind("ERR ", 0) == 0)
            fail_runtime("boot of '" + config.name + "' failed at " + report.substr(4));
        fail_runtime("the monitor of '" + config.name + "' exited before reporting");
    }
    monitor.process.release();  // it runs the container from now on: never killed from here
    auto state = read_state(ws, config.name);
    if (!state) fail_runtime("container '" + config.name + "' started but left no state");
    rollback.commit();
    StartResult result;
    result.state = *state;
    if (request.foreground) result.console_master = std::move(console.master);
    return result;
}

// The unmount itself succeeded when this throws (a loop device still held by someone): the rest
// of the cleanup must go on, and the device frees itself when its last user ends.
void unmount_image_or_warn(const std::string& mount_point, const Warn& warn) {
    try {
        unmount_image(mount_point);
    } catch (const Error& e) {
        warn(e.what());
    }
}

// The firmware path given back after the container is gone: a failure is a warning, never a
// reason to skip the rest of the cleanup or to fail a stop that has succeeded.
void release_hw_or_warn(const Workspace& ws, const std::string& name, const Warn& warn) {
    try {
        hw_release_host(ws, name);
    } catch (const std::exception& e) {
        warn(std::string("the firmware path was not given back: ") + e.what());
    }
}

// Removes what a container left when no monitor is there to do it (it was killed). `kill`:
// the cgroup is this container's for sure (its init was running a moment ago), so whatever is
// left in it is killed; a stale record's cgroup is only removed when empty, since the name may
// belong to another workspace's container by now.
void clean_up_after(const Workspace& ws, const ContainerState& state, bool keep_image,
                    const Warn& warn, bool kill = true) {
    if (!state.cgroup_path.empty()) {
        if (kill) sys::kill_cgroup(state.cgroup_path);
        sys::remove_cgroup_tree(state.cgroup_path, kill ? 5s : 100ms);
        remove_empty_cgroup_parent(state.cgroup_path);  // the monitor would have, as the last
    }
    remove_limit_cgroups(state.name, sys::host_cgroups());
    if (!keep_image && !state.image_mount.empty()) unmount_image_or_warn(state.image_mount, warn);
    if (!state.volatile_dir.empty()) remove_volatile_dir(state.volatile_dir);
    // --net=nat: the veth died with the namespace; the rules and shared state did not.
    if (net::has_nat_record(ws, state.name)) net::release_nat(ws, state.name, warn);
    release_hw_or_warn(ws, state.name, warn);
    remove_state(ws, state.name);
}

// A record whose init and monitor are both gone (killed, or the guest powered off with no
// monitor left to clean up): what they left is removed before the name is used again.
void clean_up_stale(const Workspace& ws, const std::string& name, const Warn& warn) {
    auto state = read_state(ws, name);
    if (!state || init_is_running(*state) || monitor_is_running(*state)) return;
    clean_up_after(ws, *state, false, warn, false);
    android::release_unneeded(ws, name, warn);
}

StopResult stop_locked(const Workspace& ws, const std::string& name, std::chrono::seconds timeout,
                       bool keep_image, const Warn& warn) {
    auto began = std::chrono::steady_clock::now();
    clean_up_stale(ws, name, warn);
    auto state = find_running(ws, name);
    if (!state) {
        wait_for_stopping(ws, name);
        fail_not_found("container '" + name + "' is not running");
    }
    StopResult result;
    HaltRequest halt = halt_request(state->family, state->custom_init);
    // Every signal goes through a pidfd of the init we recorded (start time checked): a PID
    // reused by another host process is never signalled.
    sys::unique_fd init = sys::open_process(state->init_pid, state->init_start);
    auto wait_init = [&](std::chrono::milliseconds wait) {
        return init ? sys::wait_readable(init.get(), wait)
                    : sys::wait_process_exit(state->init_pid, wait);
    };
    auto deadline = began + timeout;
    bool delivered = false;
    // A request sent before init installs its handlers is lost: re-send until one is caught.
    while (init_is_running(*state)) {
        if (!delivered) delivered = send_halt(*state, init, halt);
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        auto wait =
            delivered ? deadline - now : std::min<std::chrono::nanoseconds>(20ms, deadline - now);
        if (wait_init(std::chrono::duration_cast<std::chrono::milliseconds>(wait))) break;
    }
    if (init_is_running(*state)) {
        result.forced = true;
        if (!state->cgroup_path.empty()) sys::kill_cgroup(state->cgroup_path);
        // The kernel then kills the whole PID namespace.
        if (init)
            sys::send_signal(init.get(), SIGKILL);
        else
            sys::signal_process(state->init_pid, state->init_start, SIGKILL);
        wait_init(5s);
    }
    // The monitor reaps init and removes the cgroup and state; the image mount is left to us
    // while we hold the lock. Without a monitor, everything is ours to remove.
    // A monitor killed before it finished (its record, removed last, is still there) leaves the
    // rest to us; clean_up_after skips what it already removed.
    bool monitor_gone = wait_monitor_exit(*state, kMonitorCleanupWait);
    if (!monitor_gone) {
        // A monitor that is stuck (stopped, starved) must not wake up later and run its cleanup
        // over a new start of the name (the same cgroup path): it ends here, as after a crash,
        // and the rest of its cleanup is ours.
        sys::signal_process(state->monitor_pid, state->monitor_start, SIGKILL);
        if (!wait_monitor_exit(*state, 5s))
            warn("monitor PID " + std::to_string(state->monitor_pid) +
                 " did not end after SIGKILL");
    }
    auto left = read_state(ws, name);
    bool record_left = left && left->monitor_pid == state->monitor_pid &&
                       left->monitor_start == state->monitor_start;
    if (monitor_gone && !record_left) {
        if (!keep_image && !state->image_mount.empty())
            unmount_image_or_warn(state->image_mount, warn);
    } else {
        clean_up_after(ws, *state, keep_image, warn);
    }
    release_hw_or_warn(ws, name, warn);  // -H: the firmware path entry
    result.took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    return result;
}

void validate_request(StartRequest& request, const Warn& warn) {
    Config& config = request.config;
    if (config.name.empty()) fail_usage("a container name is required: give --name=NAME");
    check_supported(config, warn);
    check_rootfs(config);
    check_volatile(config);
    request.env = load_env_file(config);  // read now: bad input is refused before any change
    if (config.hostname.empty()) config.hostname = config.name;
}

void ensure_workspace(const Workspace& ws, const std::string& name) {
    for (const auto& dir : {ws.root, ws.pids_dir(), ws.logs_root(), ws.logs_dir(name)})
        sys::make_dirs(dir);
    make_private_dirs(ws);
}

// One name, one identity: "my box" is stored as Containers/my-box (upstream's mapping), so a
// second spelling with the same stored form ("my-box") must not take over its directory,
// config, lock and records. The spelling saved in the workspace config owns the directory.
void check_name_available(const Workspace& ws, const std::string& name) {
    auto text = sys::try_read_file(ws.config_path(name));
    if (!text) return;
    std::string stored;
    try {
        stored = parse_config(*text, ws.config_path(name)).name;
    } catch (const Error&) {
        return;  // an unreadable config names nobody: the start replaces it
    }
    if (!stored.empty() && stored != name)
        fail_busy("container name '" + name + "' is taken: " + ws.container_dir(name) +
                  " belongs to container '" + stored +
                  "' (spaces are stored as '-', so the two names would share it)");
}

// A directory rootfs outside the workspace's private directories: its setuid binaries and
// device nodes are usable by every host user who can reach it. Said, not changed: the
// directories above it are the user's.
void warn_if_reachable(const Config& config, const Warn& warn) {
    if (config.rootfs_is_image) return;  // mounted under the private mount base
    std::string dir = config.rootfs_path;
    while (dir.size() > 1) {
        dir = dir.substr(0, std::max<size_t>(dir.rfind('/'), 1));
        struct stat st;
        if (::stat(dir.c_str(), &st) != 0 || !(st.st_mode & S_IXOTH)) return;
    }
    warn("rootfs '" + config.rootfs_path +
         "' is reachable by other host users (its setuid files and device nodes are usable by "
         "them): keep it below a directory of mode 0700, e.g. the workspace's Containers/");
}

}  // namespace

sys::FileLock lock_container(const Workspace& ws, const std::string& name, LockMode mode) {
    sys::make_dirs(ws.pids_dir());
    auto wait = mode == LockMode::wait ? std::chrono::milliseconds(kLockWait) : 0ms;
    return sys::FileLock(ws.sidecar(name, "lock"), wait, "container '" + name + "'");
}

StartResult start_container(const Workspace& ws, StartRequest request, const Warn& warn,
                            LockMode lock_mode) {
    validate_request(request, warn);
    check_name_available(ws, request.config.name);  // before anything is created
    ensure_workspace(ws, request.config.name);
    auto lock = lock_container(ws, request.config.name, lock_mode);
    check_name_available(ws, request.config.name);
    warn_if_reachable(request.config, warn);
    return start_locked(ws, request, warn);
}

StopResult stop_container(const Workspace& ws, const std::string& name,
                          std::chrono::seconds timeout, const Warn& warn, LockMode lock_mode) {
    auto lock = lock_container(ws, name, lock_mode);
    StopResult result = stop_locked(ws, name, timeout, false, warn);
    android::release_unneeded(ws, name, warn);
    return result;
}

StartResult restart_container(const Workspace& ws, StartRequest request,
                              std::chrono::seconds timeout, const Warn& warn, LockMode lock_mode) {
    validate_request(request, warn);
    check_name_available(ws, request.config.name);
    ensure_workspace(ws, request.config.name);
    // One lock across both halves: no other start or stop can slip in between.
    auto lock = lock_container(ws, request.config.name, lock_mode);
    check_name_available(ws, request.config.name);
    warn_if_reachable(request.config, warn);
    if (find_running(ws, request.config.name)) {
        bool same_image = request.config.rootfs_is_image;
        stop_locked(ws, request.config.name, timeout, same_image, warn);
    }
    try {
        return start_locked(ws, request, warn);
    } catch (...) {
        // The stop kept the Android host changes for the new start; one that failed before its
        // own rollback was set up would leave them held by nothing (a device left permissive).
        try {
            android::release_unneeded(ws, request.config.name, warn);
        } catch (const std::exception& e) {
            warn(std::string("Android host state not released: ") + e.what());
        }
        throw;
    }
}

}  // namespace ds::container
