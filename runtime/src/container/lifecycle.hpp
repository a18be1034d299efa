// The operations both front ends (CLI, web server) call: start, stop, restart.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>

#include "container/state.hpp"
#include "core/config.hpp"
#include "core/env_file.hpp"
#include "core/workspace.hpp"
#include "sys/fd.hpp"
#include "sys/lock.hpp"

namespace ds::container {

using Warn = std::function<void(const std::string&)>;

// How long `stop` waits for the guest to power off before killing it (upstream's 15 s).
constexpr std::chrono::seconds kDefaultStopTimeout{15};

// How an operation takes the container's lock (Pids/<name>.lock) when another command holds it:
// the CLI waits (up to kLockWait), a server thread must not block and gets a busy error at once.
enum class LockMode { wait, try_once };
constexpr std::chrono::seconds kLockWait{30};

// Serialises the operations on one container (start, stop, restart, config edits, delete); the
// kernel drops the lock with its holder. Throws a busy error naming the container when another
// command holds it past the wait.
sys::FileLock lock_container(const Workspace& ws, const std::string& name, LockMode mode);

struct StartRequest {
    Config config;            // validated, as it will be saved
    std::string config_path;  // where the user's config lives ("" = workspace copy only)
    bool foreground = false;  // keep the console master for the caller
    std::string term;         // TERM for init, from the caller's terminal
    EnvVars env;              // read from config.env_file when the request is validated
};

struct StartResult {
    ContainerState state;
    sys::unique_fd console_master;  // only for foreground starts
};

// Validates, saves the config, boots, and returns once init has been exec'd (or throws with
// the failed step; nothing is left behind then). Non-fatal notes go to `warn`.
// Errors: invalid (bad config), busy (already running, locked), system (a boot step failed).
StartResult start_container(const Workspace& ws, StartRequest request, const Warn& warn,
                            LockMode lock = LockMode::wait);

struct StopResult {
    bool forced = false;  // the graceful request timed out and the cgroup was killed
    std::chrono::milliseconds took{0};
};

// Asks init to power off, waits up to `timeout`, then kills the cgroup; returns when the
// monitor has cleaned up. Throws a not_found error when the container is not running.
StopResult stop_container(const Workspace& ws, const std::string& name,
                          std::chrono::seconds timeout, const Warn& warn,
                          LockMode lock = LockMode::wait);

// Stops (keeping an image mounted) and starts again under one lock.
StartResult restart_container(const Workspace& ws, StartRequest request,
                              std::chrono::seconds timeout, const Warn& warn,
                              LockMode lock = LockMode::wait);

}  // namespace ds::container
