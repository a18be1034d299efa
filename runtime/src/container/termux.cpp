#include "container/termux.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "core/error.hpp"
#include "core/text.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"
#include "sys/spawn.hpp"

namespace ds::container::termux {
namespace {

using namespace std::chrono_literals;

#define TERMUX_PREFIX "/data/data/com.termux/files/usr"
#define TERMUX_HOME "/data/data/com.termux/files/home"

constexpr const char* kAppData = "/data/data/com.termux";

const HelperInfo kInfo[] = {
    {"x11", "x11.xpid", "Termux:X11", TERMUX_PREFIX "/tmp/.X11-unix/X5", "/tmp/.X11-unix/X5",
     "DISPLAY=:5"},
    {"virgl", "virgl.vpid", "VirGL", TERMUX_PREFIX "/tmp/.virgl_test", "/tmp/.virgl_test",
     "GALLIUM_DRIVER=virpipe"},
    {"pulse", "pulse.ppid", "PulseAudio", TERMUX_PREFIX "/tmp/.pulse-socket", "/tmp/.pulse-socket",
     "PULSE_SERVER=unix:/tmp/.pulse-socket"},
};

constexpr uid_t kFirstAppUid = 10000;  // Android's AID_APP_START
constexpr const char* kX11Loader = TERMUX_PREFIX "/libexec/termux-x11/loader.apk";
constexpr const char* kAppProcess = "/system/bin/app_process";
constexpr const char* kX11Dir = TERMUX_PREFIX "/tmp/.X11-unix";
// Upstream's domains for the dyntransition, most likely first; the MLS part is the app's.
constexpr const char* kAppDomains[] = {"untrusted_app_27", "untrusted_app_30", "untrusted_app_29",
                                       "untrusted_app_25", "untrusted_app_32", "untrusted_app"};

// How long a helper gets to create its socket (upstream: X11 5 s, VirGL 2 s, PulseAudio 3 s).
std::chrono::milliseconds socket_wait(Helper helper) {
    return helper == Helper::x11 ? 5000ms : helper == Helper::virgl ? 2000ms : 3000ms;
}

bool all_digits(std::string_view s) {
    if (s.empty() || s.size() > 9) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

unsigned long to_number(std::string_view s) {
    return std::strtoul(std::string(s).c_str(), nullptr, 10);
}

// The groups a helper keeps: only those every networked app has, inet (3003, the INTERNET
// permission: TCP clients of the servers) and everybody (9997). Any other gid below 10000 is a
// system group (system 1000, input 1004, log 1007, graphics, sdcard_rw...) and any from 10000
// up is an app's own id (another app's files): whatever the list says, a helper that runs the
// app's code gets neither.
bool helper_group(unsigned long gid) {
    return gid == 3003 || gid == 9997;
}

// What the child does between fork and exec, prepared in the parent (no allocation there).
struct DropArgs {
    uid_t uid = 0;
    gid_t gids[32] = {};
    size_t ngids = 0;
    char contexts[6][160] = {};  // SELinux domains to try, "" when the label is unknown
    bool x11 = false;            // X11's socket directory is made (as the app) first
    const char* socket = "";     // a stale socket from an earlier run, removed as the app
};

enum DropStep { kSetGroups, kSetGid, kSetUid };

const char* drop_step_text(int step) {
    return step == kSetGroups ? "setgroups" : "drop to the Termux uid";
}

// Raw syscalls: only this process's credentials change, whatever glibc thinks of its threads.
int drop_to_app(const void* raw) {
    const auto* a = static_cast<const DropArgs*>(raw);
    if (::syscall(SYS_setgroups, a->ngids, a->gids) != 0) return kSetGroups;
    if (::syscall(SYS_setresgid, a->uid, a->uid, a->uid) != 0) return kSetGid;
    if (::syscall(SYS_setresuid, a->uid, a->uid, a->uid) != 0) return kSetUid;
    // Into the app's domain as upstream does. Hosts where this is refused (no SELinux, or a
    // policy without the dyntransition) run the helper in the caller's domain: tolerated.
    for (const auto& context : a->contexts) {
        int fd = context[0] ? ::open("/proc/thread-self/attr/current", O_WRONLY | O_CLOEXEC) : -1;
        if (fd < 0) break;
        bool done = ::write(fd, context, ::strlen(context)) > 0;
        ::close(fd);
        if (done) break;
    }
    // As the app, not as root: these paths are in a tree the app controls.
    if (a->x11) {
        ::mkdir(kX11Dir, 01777);
        ::chmod(kX11Dir, 01777);
    }
    ::unlink(a->socket);
    if (::chdir(kHome) != 0) (void)::chdir("/");
    return -1;
}

DropArgs drop_args(const App& app, Helper helper) {
    DropArgs args;
    args.uid = app.uid;
    for (gid_t gid : app.gids)
        if (args.ngids < std::size(args.gids)) args.gids[args.ngids++] = gid;
    // The MLS part of the Termux data directory's label, u:object_r:app_data_file:s0:c...
    char label[128] = {};
    ::getxattr("/data/data/com.termux", "security.selinux", label, sizeof label - 1);
    const char* mls = label;
    for (int i = 0; i < 3 && mls; ++i)
        mls = std::strchr(mls, ':') ? std::strchr(mls, ':') + 1 : nullptr;
    for (size_t i = 0; mls && *mls && i < std::size(kAppDomains); ++i)
        std::snprintf(args.contexts[i], sizeof args.contexts[i], "u:r:%s:%s", kAppDomains[i], mls);
    args.x11 = helper == Helper::x11;
    args.socket = info(helper).socket;
    return args;
}

// What upstream runs for each helper (its extra flags follow).
const char* const kX11Argv[] = {kAppProcess,
                                "-Xnoimage-dex2oat",
                                "/",
                                "--nice-name=termux-x11 :5",
                                "com.termux.x11.Loader",
                                ":5",
                                nullptr};
const char* const kVirglArgv[] = {TERMUX_PREFIX "/bin/virgl_test_server_android", nullptr};
const char* const kPulseArgv[] = {TERMUX_PREFIX "/bin/pulseaudio",
                                  "--load=module-native-protocol-unix socket=" TERMUX_PREFIX
                                  "/tmp/.pulse-socket "
                                  "auth-anonymous=1",
                                  "--exit-idle-time=-1",
                                  "--daemonize=no",
                                  "--log-target=stderr",
                                  "--use-pid-file=false",
                                  "--disallow-exit",
                                  nullptr};
const char* const* const kArgv[] = {kX11Argv, kVirglArgv, kPulseArgv};
const char* const kEnv[] = {"HOME=" TERMUX_HOME, "PREFIX=" TERMUX_PREFIX,
                            "TMPDIR=" TERMUX_PREFIX "/tmp",
                            "PATH=" TERMUX_PREFIX "/bin:/system/bin", "LANG=en_US.UTF-8",
                            // Termux:X11's loader; harmless for the others.
                            "CLASSPATH=" TERMUX_PREFIX "/libexec/termux-x11/loader.apk",
                            "XKB_CONFIG_ROOT=" TERMUX_PREFIX "/share/X11/xkb"};

// The program's argv; "what is missing" in `missing` when it is not installed.
std::vector<std::string> command_for(Helper helper, const Config& config,
                                     const std::string& packages, std::string& missing) {
    std::vector<std::string> argv;
    for (const char* const* a = kArgv[static_cast<int>(helper)]; *a; ++a)
        argv.emplace_back(*a);
    auto flags = split_flags(helper == Helper::x11     ? config.tx11_extra_flags
                             : helper == Helper::virgl ? config.virgl_extra_flags
                                                       : "",
                             "flags");
    argv.insert(argv.end(), flags.begin(), flags.end());
    if (!sys::path_exists(argv[0])) missing = argv[0];
    if (helper == Helper::x11 && !sys::path_exists(kX11Loader)) missing = kX11Loader;
    if (helper == Helper::x11 && !find_app(packages, "com.termux.x11"))
        missing = "the Termux:X11 app (com.termux.x11)";
    return argv;
}

bool socket_ready(Helper helper, uid_t uid) {
    struct stat st;
    return ::lstat(info(helper).socket, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == uid;
}

std::optional<App> termux_app() {
    auto packages = sys::try_read_file(kPackagesList);
    if (!packages) return std::nullopt;
    return find_app(*packages, "com.termux");
}

// Removes the app's socket at `path` (root does this: the helper is gone). The path lies in a
// tree the app controls, so nothing in it is trusted: every directory is opened O_NOFOLLOW from
// its parent's fd (a symlinked tmp or .X11-unix, even one swapped in meanwhile, ends the walk)
// and those in the app's tree must be the app's; the entry goes only when it is a socket of the
// app's uid, through the directory fd that was checked.
void remove_socket(const char* path, uid_t uid) {
    std::string_view rest(path);
    size_t slash = rest.rfind('/');
    std::string_view name = rest.substr(slash + 1);
    rest = rest.substr(1, slash - 1);  // the directories, without the leading '/'
    sys::unique_fd dir(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    std::string walked;
    struct stat st;
    while (dir && !rest.empty()) {
        size_t next = rest.find('/');
        std::string part(rest.substr(0, next));
        rest = next == std::string_view::npos ? "" : rest.substr(next + 1);
        walked += "/" + part;
        dir.reset(
            ::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        // Below the app's data directory everything is the app's (the files/ in between too).
        if (dir && walked.size() > std::strlen(kAppData) &&
            (::fstat(dir.get(), &st) != 0 || st.st_uid != uid))
            dir.reset();
    }
    if (!dir || ::fstatat(dir.get(), std::string(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISSOCK(st.st_mode) || st.st_uid != uid)
        return;
    ::unlinkat(dir.get(), std::string(name).c_str(), 0);
}

}  // namespace

const HelperInfo& info(Helper helper) {
    return kInfo[static_cast<int>(helper)];
}

bool wanted(const Config& config, Helper helper) {
    switch (helper) {
        case Helper::x11:
            return config.enable_termux_x11;
        case Helper::virgl:
            return config.enable_virgl;
        case Helper::pulse:
            return config.enable_pulseaudio;
    }
    return false;
}

std::optional<App> find_app(std::string_view packages_list, std::string_view package) {
    for (const auto& line : text_lines(packages_list)) {
        auto words = text_words(line);
        if (words.size() < 2 || words[0] != package || !all_digits(words[1])) continue;
        App app;
        unsigned long uid = to_number(words[1]);
        if (uid < kFirstAppUid) return std::nullopt;
        app.uid = static_cast<uid_t>(uid);
        // Field 6 lists the app's supplementary groups ("3003,9997" or "none"). It is not the
        // last one: from Android 10 more follow, the last of them the app's versionCode, which
        // the APK's author picks.
        if (words.size() >= 6 && words[5] != "none") {
            std::string_view gids = words[5];
            while (!gids.empty()) {
                size_t comma = gids.find(',');
                std::string_view one = gids.substr(0, comma);
                if (all_digits(one) && helper_group(to_number(one)))
                    app.gids.push_back(static_cast<gid_t>(to_number(one)));
                if (comma == std::string_view::npos) break;
                gids.remove_prefix(comma + 1);
            }
        }
        return app;
    }
    return std::nullopt;
}

std::vector<std::string> split_flags(std::string_view text, std::string_view option) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    auto refuse = [&](const std::string& why) {
        fail_usage(std::string(option) + " " + quote_value(text) + ": " + why +
                   " (flags are passed to the program as words, never to a shell)");
    };
    for (char c : text) {
        if (quote) {
            if (c == quote) {
                quote = 0;
            } else {
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
                    refuse("control characters are not allowed");
                word += c;
            }
            continue;
        }
        if (c == ' ' || c == '\t') {
            if (in_word) words.push_back(std::move(word));
            word.clear();
            in_word = false;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
            continue;
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            refuse("control characters are not allowed");
        if (std::strchr(";&|`$<>()\\!*?[]{}~#", c))
            refuse(std::string("shell metacharacter '") + c + "' is not allowed");
        word += c;
        in_word = true;
    }
    if (quote) refuse(std::string("unterminated ") + quote + " quote");
    if (in_word) words.push_back(std::move(word));
    return words;
}

bool alive(const Process& process) {
    if (process.pid <= 0) return false;
    auto start = sys::process_start_time(process.pid);
    return start && *start == process.start && !sys::process_is_zombie(process.pid);
}

std::optional<Process> start(const Workspace& ws, Helper helper, const Config& config,
                             const Warn& warn) {
    const HelperInfo& h = info(helper);
    std::string packages = sys::try_read_file(kPackagesList).value_or("");
    auto app = find_app(packages, "com.termux");
    std::string missing;
    auto argv = command_for(helper, config, packages, missing);
    if (!app) missing = "Termux (com.termux)";
    std::string log_path = ws.logs_root() + "/" + h.key + ".log";
    std::string why = missing.empty() ? "" : missing + " is not installed";
    std::optional<Process> process;
    if (why.empty()) {
        DropArgs args = drop_args(*app, helper);
        // The helper's output goes to Logs/<key>.log, as upstream's.
        sys::unique_fd log(
            ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600));
        sys::SpawnOptions options;
        options.path = argv[0];
        options.argv = std::move(argv);
        options.env.emplace(std::begin(kEnv), std::end(kEnv));
        if (log) options.fds = {{log.get(), 1}, {log.get(), 2}};
        options.new_session = true;
        options.detach = true;  // outlives this command; shared by every container that asks
        options.pre_exec = drop_to_app;
        options.pre_exec_arg = &args;
        options.step_text = drop_step_text;
        // The program is the app's to break (not executable, not a program): skipped like a
        // missing one, the container still starts.
        try {
            sys::Child child = sys::spawn(options);
            process = Process{child.pid(), sys::process_start_time(child.pid()).value_or(0)};
            child.release();
        } catch (const std::exception& e) {
            warn(std::string(h.label) + ": " + e.what() + ": skipping it");
            return std::nullopt;
        }
        auto deadline = std::chrono::steady_clock::now() + socket_wait(helper);
        while (!socket_ready(helper, app->uid) && alive(*process) &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(50ms);
        if (!socket_ready(helper, app->uid)) {
            why = std::string("it created no socket at ") + h.socket + " (see " + log_path + ")";
            stop(ws, helper, *process);
            process.reset();
        }
    }
    if (process)
        sys::write_file_atomic(ws.pids_dir() + "/" + h.pidfile, std::to_string(process->pid));
    else
        warn(std::string(h.label) + ": " + why + ": skipping it");
    return process;
}

void stop(const Workspace& ws, Helper helper, const Process& process) {
    if (alive(process)) {
        sys::signal_process(process.pid, process.start, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + 1s;
        while (alive(process) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(20ms);
        if (alive(process)) sys::signal_process(process.pid, process.start, SIGKILL);
    }
    if (auto app = termux_app()) remove_socket(info(helper).socket, app->uid);
    ::unlink((ws.pids_dir() + "/" + info(helper).pidfile).c_str());
}

sys::unique_fd open_socket(Helper helper) {
    auto app = termux_app();
    if (!app) return {};
    sys::unique_fd fd(::open(info(helper).socket, O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_uid != app->uid)
        return {};
    return fd;
}

}  // namespace ds::container::termux
