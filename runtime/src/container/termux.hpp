// The Termux-side helpers a container can use on Android (upstream §13.8): the Termux:X11
// server (-X), the VirGL server (--virgl) and PulseAudio (--pulse-audio). They run as the Termux
// app's uid, never as root: their programs live in the Termux prefix, which the app (and any
// code it runs) can rewrite. Their sockets are bound into the guest's /tmp by the boot.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/workspace.hpp"
#include "sys/fd.hpp"

namespace ds::container::termux {

using Warn = std::function<void(const std::string&)>;

inline constexpr const char* kPackagesList = "/data/system/packages.list";
inline constexpr const char* kPrefix = "/data/data/com.termux/files/usr";
inline constexpr const char* kHome = "/data/data/com.termux/files/home";

enum class Helper { x11, virgl, pulse };
inline constexpr Helper kHelpers[] = {Helper::x11, Helper::virgl, Helper::pulse};

struct HelperInfo {
    const char* key;           // "x11": the state file's word and the log's name (Logs/x11.log)
    const char* pidfile;       // upstream's Pids/<file>
    const char* label;         // for messages
    const char* socket;        // host path, in Termux's tmp
    const char* guest_socket;  // where the guest finds it
    const char* env;           // KEY=VALUE the guest gets
};
const HelperInfo& info(Helper helper);
// Whether the container's config asks for the helper.
bool wanted(const Config& config, Helper helper);

// The Termux app as Android's package manager lists it (/data/system/packages.list: "name uid
// debuggable datadir seinfo gids", and from Android 10 more fields after the gids).
struct App {
    uid_t uid = 0;
    std::vector<gid_t> gids;  // only inet (3003) and everybody (9997): no system group
};
// The entry of `package`; nullopt when it is missing or its uid is not an app's (a uid below
// 10000 would be a system uid: never used).
std::optional<App> find_app(std::string_view packages_list, std::string_view package);

// --tx11-flags / --virgl-flags: words split at blanks, '...' and "..." group (no escapes); no
// shell ever sees them, so shell metacharacters are refused instead of passed on. Throws a
// usage error naming `option`, the value and the character.
std::vector<std::string> split_flags(std::string_view text, std::string_view option);

// A helper process: PID and start time (a reused PID is never taken for it).
struct Process {
    pid_t pid = 0;
    uint64_t start = 0;
};
bool alive(const Process& process);

// Starts the helper as the Termux uid and waits (briefly) for its socket. nullopt, after one
// warning, when Termux or the helper's program is missing or it did not come up.
std::optional<Process> start(const Workspace& ws, Helper helper, const Config& config,
                             const Warn& warn);
// SIGTERM, 1 s, SIGKILL; then the socket and upstream's pidfile go.
void stop(const Workspace& ws, Helper helper, const Process& process);

// The helper's socket when it is one owned by the Termux uid: an O_PATH fd of exactly that
// socket (a symlink or any other file put in its place is refused), else an invalid fd.
sys::unique_fd open_socket(Helper helper);

}  // namespace ds::container::termux
