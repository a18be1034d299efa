// The per-container monitor: one small host process that clones init, drains its console,
// reboots it on request and leaves the host clean when it ends.
#include "container/monitor.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iterator>
#include <string_view>

#include "container/android.hpp"
#include "container/boot.hpp"
#include "container/cgroups.hpp"
#include "container/cleanup.hpp"
#include "container/crash_point.hpp"
#include "container/devices.hpp"
#include "container/hw_access.hpp"
#include "container/image.hpp"
#include "container/net_dhcp.hpp"
#include "container/net_follow.hpp"
#include "container/net_gateway.hpp"
#include "container/net_nat.hpp"
#include "container/proc_views.hpp"
#include "container/remount_guard.hpp"
#include "container/runtime_log.hpp"
#include "container/state.hpp"
#include "sys/cgroup.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/pty.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container {
namespace {

constexpr off_t kConsoleLogLimit = 2 << 20;  // rotated to console.old beyond this
constexpr int kQuietBeforeRelease = 500;     // ms without events before dropping start-up pages
constexpr int kPollRetries = 10;             // consecutive poll failures tolerated
constexpr useconds_t kPollRetryPauseUs = 10000;

// Copies console output to Logs/<name>/console so a chatty init never blocks on a full pty.
class ConsoleLog {
  public:
    explicit ConsoleLog(std::string path) : path_(std::move(path)) { open(); }
    void append(const char* data, size_t size) {
        if (!fd_) return;
        struct stat st;
        if (::fstat(fd_.get(), &st) == 0 &&
            st.st_size + static_cast<off_t>(size) > kConsoleLogLimit) {
            ::rename(path_.c_str(), (path_ + ".old").c_str());
            open();
        }
        sys::write_all(fd_.get(), data, size);
    }

  private:
    void open() {
        fd_.reset(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    }
    std::string path_;
    sys::unique_fd fd_;
};

// The monitor lives as long as its container, in a loop that needs little of this binary. Start-up
// faulted in much more (parsing, JSON, formatting); dropping the file-backed pages of mappings it
// never wrote (they fault back on demand, unchanged) keeps its resident size to what the loop
// uses. Mappings holding anonymous (copied-on-write) pages, such as relocated data, are kept.
void release_startup_pages() {
    struct Range {
        unsigned long from, to;
    };
    Range ranges[16];
    size_t count = 0;
    {
        auto smaps = sys::try_read_file("/proc/self/smaps");
        if (!smaps) return;
        Range current = {0, 0};
        bool candidate = false;
        size_t pos = 0;
        while (pos < smaps->size() && count < std::size(ranges)) {
            size_t end = smaps->find('\n', pos);
            if (end == std::string::npos) end = smaps->size();
            std::string_view line(smaps->data() + pos, end - pos);
            pos = end + 1;
            // A mapping's first line: "FROM-TO PERMS ..." (hex addresses).
            unsigned long a = 0, b = 0;
            const char* line_end = line.data() + line.size();
            auto [dash, ec1] = std::from_chars(line.data(), line_end, a, 16);
            if (ec1 == std::errc() && dash < line_end && *dash == '-') {
                auto [space, ec2] = std::from_chars(dash + 1, line_end, b, 16);
                if (ec2 == std::errc() && line_end - space >= 5 && *space == ' ') {
                    current = {a, b};
                    candidate = space[2] == '-' && space[4] == 'p' && line.find(" /") != line.npos;
                    continue;
                }
            }
            constexpr std::string_view kAnonymous = "Anonymous:";
            if (candidate && line.substr(0, kAnonymous.size()) == kAnonymous) {
                auto digits = line.substr(kAnonymous.size());
                digits.remove_prefix(std::min(digits.find_first_not_of(' '), digits.size()));
                unsigned long anonymous = 1;
                std::from_chars(digits.data(), digits.data() + digits.size(), anonymous);
                if (anonymous == 0) ranges[count++] = current;
                candidate = false;
            }
        }
    }
    // Nothing but the syscall runs from here on, so little is faulted back right away.
    for (size_t i = 0; i < count; ++i)
        ::madvise(reinterpret_cast<void*>(ranges[i].from), ranges[i].to - ranges[i].from,
                  MADV_DONTNEED);
}

class Monitor {
  public:
    Monitor(BootPlan plan, int report_fd, int console_master, char** argv)
        : plan_(std::move(plan)),
          report_fd_(report_fd),
          master_(console_master),
          log_(plan_.workspace.logs_dir(plan_.config.name) + "/log", "monitor"),
          console_log_(plan_.workspace.logs_dir(plan_.config.name) + "/console"),
          guard_(plan_.image_mount, argv, "ds-remount-guard:" + plan_.config.name) {}

    int run() {
        // Holding the slave keeps the master from hanging up between boots.
        console_slave_ = sys::open_pty_slave(master_.get(), plan_.console_slave);
        if (plan_.attached_client > 0) client_ = sys::pidfd_open(plan_.attached_client);
        // Without the signalfd init would never be reaped: refuse the start instead.
        signals_ = make_signalfd();
        if (!signals_) {
            std::string error = "set up the monitor: signalfd: " + sys::errno_text(errno) +
                                " (errno " + std::to_string(errno) + ")";
            log_.write(error);
            report("ERR " + error);
            cleanup();
            return 1;
        }
        open_cgroup_dir();
        crash_point("before-clone");
        for (bool first = true;; first = false) {
            auto error = boot_once();
            if (!error.empty()) {
                log_.write("boot failed: " + error);
                if (first) report("ERR " + error);
                break;
            }
            write_state();
            if (first) crash_point("before-report");
            if (first) report("OK " + std::to_string(init_pid_));
            if (first) crash_point("after-report");
            log_.write("init started as PID " + std::to_string(init_pid_) + " (boot " +
                       std::to_string(boots_) + ")");
            int status = supervise();
            guard_.stop();  // a reboot's init loads a new filter with a new listener
            if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP)) {
                log_.write("init ended (" + describe(status) + "): cleaning up");
                break;
            }
            log_.write("reboot requested inside the container");
            reload_config();
            if (!reset_cgroup()) break;
            ++boots_;
            pages_released_ = false;  // the reboot faulted start-up code in again
        }
        cleanup();
        return 0;
    }

  private:
    // Clones init into fresh namespaces; "" on success, else what failed.
    std::string boot_once() {
        int pipe_fds[2];
        if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return "pipe: " + sys::errno_text(errno);
        sys::unique_fd reader(pipe_fds[0]), writer(pipe_fds[1]);
        // Init hands the remount guard's listener over this before it execs.
        int guard_fds[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, guard_fds) != 0)
            return "socketpair: " + sys::errno_text(errno);
        sys::unique_fd guard_here(guard_fds[0]), guard_there(guard_fds[1]);
        int views_fds[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, views_fds) != 0)
            return "socketpair: " + sys::errno_text(errno);
        sys::unique_fd views_here(views_fds[0]), views_there(views_fds[1]);
        // --net=nat: init waits on this until eth0 is in its namespace.
        sys::unique_fd net_read, net_write;
        if (nat()) {
            int net_fds[2];
            if (::pipe2(net_fds, O_CLOEXEC) != 0) return "pipe: " + sys::errno_text(errno);
            net_read.reset(net_fds[0]);
            net_write.reset(net_fds[1]);
        }
        unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
        if (plan_.own_netns()) flags |= CLONE_NEWNET;
        // Born in the container's cgroup where the kernel can; else the child joins it itself.
        bool in_cgroup = false;
        pid_t pid = -1;
        if (cgroup_dir_) {
            pid = sys::clone_into_cgroup(flags, cgroup_dir_.get());
            in_cgroup = pid >= 0;
        }
        if (pid < 0) pid = sys::clone_process(flags);
        if (pid < 0) return "clone: " + sys::errno_text(errno);
        if (pid == 0) {
            reader.reset();
            guard_here.reset();
            views_here.reset();
            net_write.reset();
            boot_container_init(plan_, writer.get(), in_cgroup, guard_there.get(),
                                views_there.get(), net_read.get());
        }
        writer.reset();
        guard_there.reset();
        views_there.reset();
        net_read.reset();
        crash_point("after-clone");
        if (nat()) {
            std::string failure = attach_network(pid);
            if (!failure.empty()) {
                ::kill(pid, SIGKILL);
                ::waitpid(pid, nullptr, 0);
                return "set up the NAT network: " + failure;
            }
            sys::write_all(net_write.get(), "1", 1);
            net_write.reset();
        }
        // The pipe closes on a successful exec; otherwise it carries the reason.
        std::string error;
        char buf[512];
        ssize_t n;
        while ((n = ::read(reader.get(), buf, sizeof buf)) != 0) {
            if (n < 0) {
                if (errno == EINTR) continue;
                break;
            }
            error.append(buf, static_cast<size_t>(n));
        }
        if (!error.empty()) {
            ::waitpid(pid, nullptr, 0);
            return error;
        }
        init_pid_ = pid;
        long host_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
        std::vector<std::string> cgroups = plan_.limit_cgroups;
        if (!plan_.cgroup_path.empty()) cgroups.insert(cgroups.begin(), plan_.cgroup_path);
        views_.receive(views_here.get(),
                       view_limits(plan_.config, host_cpus > 0 ? unsigned(host_cpus) : 1), cgroups);
        arm_view_timer();
        std::string note = guard_.adopt(guard_here.get());
        if (!note.empty()) log_.write("remount guard: " + note);
        return "";
    }

    // The modes whose network the monitor wires before init execs.
    bool nat() const {
        return plan_.config.net_mode == NetMode::nat || plan_.config.net_mode == NetMode::gateway;
    }

    // The host side of --net=nat / --net=gateway for the init `pid`; "" when it is in place.
    std::string attach_network(pid_t pid) {
        auto note = [this](const std::string& m) { log_.write(m); };
        try {
            dhcp_.close();  // a reboot's new veth
            if (plan_.config.net_mode == NetMode::gateway) {
                net::attach_gateway_client(plan_.workspace, plan_.config, pid, note);
                log_.write("gateway client: eth0 on " + net::gateway_bridge_of(plan_.config));
                return "";
            }
            link_ = net::attach_nat(plan_.workspace, plan_.config, pid);
            log_.write("NAT: " + link_.host_veth + " -> eth0 " + link_.ip +
                       (link_.bridgeless ? " (bridgeless)" : ""));
        } catch (const std::exception& e) {
            return e.what();
        }
        // A router for --net=gateway clients gets its LAN cables before its init starts.
        net::wire_gateway_segments(plan_.workspace, plan_.config.name, pid, note);
        // init configures eth0 itself: a guest without a DHCP client works without this.
        try {
            dhcp_.open(link_.host_veth, net::container_mac(plan_.config.name),
                       net::nat_lease(link_.ip, plan_.config.dns_servers));
        } catch (const std::exception& e) {
            log_.write(std::string("DHCP server not started: ") + e.what());
        }
        follower_.start(plan_.workspace, plan_.config, note);  // Android only
        return "";
    }

    void release_network() {
        if (!nat()) return;
        dhcp_.close();
        follower_.stop();
        net::release_nat(plan_.workspace, plan_.config.name,
                         [this](const std::string& m) { log_.write(m); });
    }

    // Runs until init ends; returns its wait status.
    int supervise() {
        for (;;) {
            struct pollfd fds[6];
            int n = 0;
            fds[n++] = {signals_.get(), POLLIN, 0};
            bool draining = !client_;
            if (draining)
                fds[n++] = {master_.get(), POLLIN, 0};
            else
                fds[n++] = {client_.get(), POLLIN, 0};
            int guard_fd = guard_.poll_fd();
            int guard_at = -1, dhcp_at = -1;
            if (guard_fd >= 0) {
                guard_at = n;
                fds[n++] = {guard_fd, POLLIN, 0};
            }
            if (dhcp_.fd() >= 0) {
                dhcp_at = n;
                fds[n++] = {dhcp_.fd(), POLLIN, 0};
            }
            int follow_at = follower_.fd() >= 0 ? n : -1;
            if (follow_at >= 0) fds[n++] = {follower_.fd(), POLLIN, 0};
            int timer_at = view_timer_ ? n : -1;
            if (view_timer_) fds[n++] = {view_timer_.get(), POLLIN, 0};
            // Once the boot has been quiet for a moment, shed what start-up faulted in.
            int ready = fault_injected("poll")
                            ? (errno = EINVAL, -1)
                            : ::poll(fds, n, pages_released_ ? -1 : kQuietBeforeRelease);
            if (ready == 0) {
                release_startup_pages();
                pages_released_ = true;
                continue;
            }
            if (ready < 0) {
                if (errno == EINTR) continue;
                // Retrying a poll that keeps failing would spin: a few paced retries for a
                // transient error (ENOMEM), then supervise init without it.
                int err = errno;
                if (poll_failures_++ == 0)
                    log_.write("poll failed: " + sys::errno_text(err) + " (errno " +
                               std::to_string(err) + ")");
                if (poll_failures_ <= kPollRetries) {
                    ::usleep(kPollRetryPauseUs);
                    continue;
                }
                return wait_for_init_alone();
            }
            poll_failures_ = 0;
            if (guard_at >= 0 && fds[guard_at].revents) guard_.on_ready(fds[guard_at].revents);
            if (timer_at >= 0 && fds[timer_at].revents) refresh_views();
            if (dhcp_at >= 0 && fds[dhcp_at].revents) dhcp_.on_readable();
            if (follow_at >= 0 && fds[follow_at].revents) {
                follower_.on_tick();
                pages_released_ = false;  // what the tick faulted in goes again once it is quiet
            }
            if (fds[1].revents) {
                if (draining)
                    drain_console();
                else
                    client_.reset();  // the foreground CLI left: drain from now on
            }
            if (fds[0].revents) {
                struct signalfd_siginfo info;
                while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
                }
                int status = 0;
                pid_t pid;
                while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
                    if (guard_.on_exit(pid, status)) continue;
                    if (pid == init_pid_) {
                        drain_console();
                        return status;
                    }
                }
            }
        }
    }

    // The fallback when poll keeps failing: the console is no longer drained and the remount
    // guard stops answering (its trapped calls fail), but init is still reaped, so a stop
    // ends and the host is cleaned up.
    int wait_for_init_alone() {
        log_.write("poll keeps failing: waiting for init without console or remount guard");
        guard_.stop();
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, 0);
            if (pid < 0) {
                if (errno == EINTR) continue;
                log_.write("waitpid: " + sys::errno_text(errno));
                return 0;  // no child left: init is gone
            }
            if (pid == init_pid_) return status;
        }
    }

    // A one-second tick while the container has /proc views; none otherwise.
    void arm_view_timer() {
        view_timer_.reset();
        if (!views_.active()) return;
        view_timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
        if (!view_timer_) {
            log_.write("/proc views stay as at boot: timerfd: " + sys::errno_text(errno));
            return;
        }
        struct itimerspec every_second = {{1, 0}, {1, 0}};
        ::timerfd_settime(view_timer_.get(), 0, &every_second, nullptr);
        refresh_views();
    }

    void refresh_views() {
        uint64_t expirations;
        while (::read(view_timer_.get(), &expirations, sizeof expirations) > 0) {
        }
        views_.refresh();
    }

    void drain_console() {
        char buf[65536];
        for (;;) {
            ssize_t n = ::read(master_.get(), buf, sizeof buf);
            if (n <= 0) return;
            console_log_.append(buf, static_cast<size_t>(n));
            if (static_cast<size_t>(n) < sizeof buf) return;
        }
    }

    void write_state() {
        ContainerState s;
        s.name = plan_.config.name;
        s.init_pid = init_pid_;
        s.init_start = sys::process_start_time(init_pid_).value_or(0);
        s.monitor_pid = ::getpid();
        s.monitor_start = sys::process_start_time(s.monitor_pid).value_or(0);
        s.family = plan_.family;
        s.custom_init = !plan_.config.custom_init.empty();
        s.rootfs = plan_.rootfs;
        s.cgroup_path = plan_.cgroup_path;
        s.image_mount = plan_.image_mount;
        s.volatile_dir = plan_.volatile_dir;
        s.uuid = plan_.config.uuid;
        s.boot_id = sys::boot_id();
        if (!started_at_) started_at_ = std::time(nullptr);
        s.started_at = started_at_;
        s.boots = boots_;
        try {
            container::write_state(plan_.workspace, s);
        } catch (const std::exception& e) {
            log_.write(std::string("could not write state: ") + e.what());
        }
    }

    // A reboot picks up edits made to the saved config while the container ran (upstream
    // does the same); what the host set up for this run (rootfs, image, overlay, cgroup layout)
    // stays. Bad lines are ignored as at start; a config that cannot be read keeps the old one.
    void reload_config() {
        const std::string path = plan_.workspace.config_path(plan_.config.name);
        try {
            std::vector<std::string> ignored;
            Config fresh = parse_config(sys::read_file(path), path, &ignored);
            fresh.name = plan_.config.name;
            fresh.uuid = plan_.config.uuid;
            fresh.rootfs_path = plan_.config.rootfs_path;
            fresh.rootfs_is_image = plan_.config.rootfs_is_image;
            fresh.volatile_mode = plan_.config.volatile_mode;
            fresh.force_cgroupv1 = plan_.config.force_cgroupv1;
            fresh.net_mode = plan_.config.net_mode;
            if (fresh.hostname.empty()) fresh.hostname = fresh.name;
            EnvVars env;
            if (!fresh.env_file.empty())
                env = parse_env_file(sys::read_file(fresh.env_file), fresh.env_file);
            // The Termux helpers' variables (DISPLAY...) are not in the env file: kept for the
            // helpers the config still asks for whose socket is up.
            for (auto& var : android::guest_env(fresh))
                env.push_back(std::move(var));
            std::string init = fresh.custom_init.empty() ? "/sbin/init" : fresh.custom_init;
            plan_.family = detect_init_family(plan_.rootfs, init);
            plan_.init_path = init;
            plan_.env = std::move(env);
            plan_.config = std::move(fresh);
        } catch (const std::exception& e) {
            log_.write(std::string("keeping the previous config for the reboot: ") + e.what());
        }
    }

    void open_cgroup_dir() {
        if (plan_.cgroup_layout != CgroupLayout::unified) return;
        cgroup_dir_.reset(::open(plan_.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }

    // A rebooting systemd finds its cgroup tree as a fresh boot would. The new cgroup gets the
    // device allowlist again, or the guest is not booted: a reboot must not shed the policy.
    bool reset_cgroup() {
        if (plan_.cgroup_path.empty()) return true;
        sys::unique_fd hold = sys::hold_own_cgroups();
        cgroup_dir_.reset();
        sys::kill_cgroup(plan_.cgroup_path);
        sys::remove_cgroup_tree(plan_.cgroup_path, std::chrono::seconds(2));
        sys::create_cgroup(plan_.cgroup_path);
        try {
            // Fresh limit cgroups with the (maybe edited) config's limits: a reboot keeps them.
            auto host = sys::host_cgroups();
            remove_limit_cgroups(plan_.config.name, host);
            apply_limits(plan_, host, [this](const std::string& m) { log_.write(m); });
            apply_device_policy(plan_, [this](const std::string& m) { log_.write(m); });
        } catch (const std::exception& e) {
            log_.write(std::string("reboot refused: ") + e.what() + ": cleaning up");
            return false;
        }
        open_cgroup_dir();
        return true;
    }

    void cleanup() {
        crash_point("cleanup");
        guard_.stop();
        cgroup_dir_.reset();
        if (!plan_.cgroup_path.empty()) {
            sys::kill_cgroup(plan_.cgroup_path);
            if (!sys::remove_cgroup_tree(plan_.cgroup_path, std::chrono::seconds(5)))
                log_.write("could not remove cgroup " + plan_.cgroup_path);
            // The shared parent goes with the last container (rmdir fails while others live).
            remove_empty_cgroup_parent(plan_.cgroup_path);
        }
        if (!remove_limit_cgroups(plan_.config.name, sys::host_cgroups()))
            log_.write("could not remove a limit cgroup of " + plan_.config.name);
        release_network();
        // A guest that powered itself off gives back its firmware path entry here, only while
        // the record is ours: a stop that gave up on a slow monitor has let a new start take
        // the name, and that instance's entry is not ours to remove.
        if (auto mine = read_state(plan_.workspace, plan_.config.name);
            mine && mine->monitor_pid == ::getpid()) {
            try {
                hw_release_host(plan_.workspace, plan_.config.name);
            } catch (const std::exception& e) {
                log_.write(std::string("could not give the firmware path back: ") + e.what());
            }
        }
        crash_point("mid-cleanup");
        if (!plan_.volatile_dir.empty()) remove_volatile_dir(plan_.volatile_dir);
        // A command holding the container's lock (stop, restart, a failed start) owns the image
        // mount: it unmounts it, or keeps it for the next boot. Otherwise the guest powered off
        // by itself and the image goes now.
        if (!plan_.image_mount.empty() && !command_in_progress()) {
            try {
                unmount_image(plan_.image_mount);
            } catch (const std::exception& e) {
                log_.write(std::string("could not unmount the image: ") + e.what());
            }
        }
        // Only our own record: a new start of the same name may already own the files.
        auto state = read_state(plan_.workspace, plan_.config.name);
        if (state && state->monitor_pid == ::getpid())
            remove_state(plan_.workspace, plan_.config.name);
        // A guest that powered itself off: what only it needed on an Android host (SELinux
        // permissive, tuning, Termux helpers) is given back now. A command in progress (stop,
        // restart) does that itself, after its own checks.
        // "" and not our name: our record is gone, so we no longer count as a holder, while a
        // new start of the same name (its lock, its running record) still does.
        if (!command_in_progress()) {
            try {
                android::release_unneeded(plan_.workspace, "",
                                          [this](const std::string& m) { log_.write(m); });
            } catch (const std::exception& e) {
                log_.write(std::string("Android host state not released: ") + e.what());
            }
        }
        log_.write("stopped");
    }

    bool command_in_progress() const {
        sys::unique_fd fd(::open(plan_.workspace.sidecar(plan_.config.name, "lock").c_str(),
                                 O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
        if (!fd) return false;
        if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) return false;
        return errno == EWOULDBLOCK;
    }

    void report(const std::string& message) {
        if (report_fd_ < 0) return;
        sys::write_all(report_fd_, message.data(), message.size());
        ::close(report_fd_);
        report_fd_ = -1;
    }

    static sys::unique_fd make_signalfd() {
        if (fault_injected("signalfd")) {
            errno = EMFILE;
            return {};
        }
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        ::sigprocmask(SIG_BLOCK, &set, nullptr);
        return sys::unique_fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    }

    static std::string describe(int status) {
        if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
        if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
        return "status " + std::to_string(status);
    }

    BootPlan plan_;
    int report_fd_;
    sys::unique_fd master_;
    sys::unique_fd console_slave_;
    sys::unique_fd signals_;
    sys::unique_fd client_;
    sys::unique_fd cgroup_dir_;  // cgroup v2: the container's cgroup, to clone init into
    RuntimeLog log_;
    ConsoleLog console_log_;
    RemountGuard guard_;    // answers the guest's superblock remounts
    net::NatLink link_;     // --net=nat: this boot's host veth and address
    net::DhcpServer dhcp_;  // --net=nat: answers the guest's DHCP client on link_.host_veth

    net::UplinkFollower follower_;  // --net=nat on Android: keeps the uplink's routing current
    pid_t init_pid_ = 0;
    int poll_failures_ = 0;  // consecutive
    ProcViews views_;
    sys::unique_fd view_timer_;
    bool pages_released_ = false;
    unsigned boots_ = 1;
    int64_t started_at_ = 0;
};

void detach_from_caller() {
    ::setsid();
    if (::chdir("/") != 0) {
    }
    // The monitor outlives the terminal that started it; none of these may end it.
    for (int sig : {SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU})
        ::signal(sig, SIG_IGN);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3; ++fd)
        ::dup2(null, fd);
    if (null > 2) ::close(null);
}

}  // namespace

int monitor_main(char** argv) {
    auto text = sys::try_read_file("/proc/self/fd/" + std::to_string(kPlanFd));
    ::close(kPlanFd);
    if (!text) return 1;
    BootPlan plan;
    try {
        plan = parse_plan(*text);
    } catch (const std::exception& e) {
        std::string message = std::string("ERR bad boot plan: ") + e.what();
        sys::write_all(kReportFd, message.data(), message.size());
        return 1;
    }
    crash_point("monitor-start");
    sys::set_process_title(argv, "ds-monitor:" + plan.config.name);
    detach_from_caller();
    ::fcntl(kReportFd, F_SETFD, FD_CLOEXEC);
    ::fcntl(kConsoleFd, F_SETFD, FD_CLOEXEC);
    ::fcntl(kConsoleFd, F_SETFL, O_NONBLOCK);
    return Monitor(std::move(plan), kReportFd, kConsoleFd, argv).run();
}

}  // namespace ds::container
