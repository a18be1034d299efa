// The request layer: one object for "this workspace, this caller" (crun's libcrun_context_t:
// a state root plus an output handler), through which every operation goes. The CLI builds
// requests from argv and renders results; a server builds them from HTTP and renders JSON
// (docs/json.md) with the same to_json functions. Errors are ds::Error with an ErrorKind
// (invalid, not_found, busy, system) that a server maps to 400/404/409/500.
//
// A Runtime holds no global state; several can live in one process (one per request thread).
// With LockMode::try_once nothing waits for another command's lock: the operation fails at once
// with a busy error naming the container.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "container/attach.hpp"
#include "container/config_source.hpp"
#include "container/inspect.hpp"
#include "container/install.hpp"
#include "container/lifecycle.hpp"
#include "core/config_options.hpp"
#include "core/workspace.hpp"
#include "sys/probes.hpp"

namespace ds::container {

// Where an operation's side messages go. Every method has a default that drops the message, so
// a caller overrides only what it shows.
class Output {
  public:
    virtual ~Output() = default;
    virtual void warning(const std::string& message) { (void)message; }
    virtual void info(const std::string& message) { (void)message; }
    virtual void install_event(const InstallEvent& event) { (void)event; }
};

struct CreateConfigRequest {
    std::string name;
    ConfigEdits edits;  // long option names -> values, validated like the CLI's flags
};

struct EditConfigRequest {
    std::string name;
    bool reset = false;  // back to defaults first (keeps identity and unknown lines)
    ConfigEdits edits;
};

struct DeleteRequest {
    std::string name;
    // Also delete the rootfs, and only when it lies inside Containers/<name>/ (a rootfs
    // directory or rootfs.img installed there); a rootfs anywhere else is never touched.
    bool remove_rootfs = false;
};

struct DeleteResult {
    std::vector<std::string> removed;  // paths removed
    std::vector<std::string> kept;     // paths left in place (a rootfs outside, other files)
};

struct StartOptions {
    ConfigRequest config;  // which config, plus edits (resolve_config)
    // The caller can take the console (a terminal on its stdin and stdout). A config with
    // foreground=1 then returns the console master in StartResult; without one it starts in
    // the background with a warning.
    bool console_available = false;
    std::string term;  // TERM for init
};

class Runtime {
  public:
    Runtime(Workspace ws, Output& out, LockMode lock = LockMode::wait)
        : ws_(std::move(ws)), out_(out), lock_(lock) {}

    const Workspace& workspace() const { return ws_; }
    LockMode lock_mode() const { return lock_; }

    // Read side.
    ContainerList show();   // running containers only (`show`)
    ContainerTable list();  // every container, running or not, with usage
    ContainerInfo inspect(const std::string& name, InspectOptions options = {});
    // The running container called `name`, nullopt when it is not running.
    std::optional<ContainerState> find(const std::string& name);
    ScanResult scan();
    sys::CheckReport check();
    // The config as saved in the workspace; not_found when there is none.
    Config read_config(const std::string& name);

    // Configs. Create refuses a name that already has a config (busy); edit refuses a name
    // without one (not_found); delete refuses a running container (busy). Files are written
    // atomically and keep every line the user wrote that is not a changed key.
    Config create_config(const CreateConfigRequest& request);
    Config edit_config(const EditConfigRequest& request);
    DeleteResult delete_config(const DeleteRequest& request);

    // Lifecycle.
    StartResult start(const StartOptions& options);
    StopResult stop(const std::string& name, std::chrono::seconds timeout = kDefaultStopTimeout);
    StartResult restart(const StartOptions& options,
                        std::chrono::seconds timeout = kDefaultStopTimeout);
    // Progress goes to Output::install_event; `cancel_fd` (-1 none) readable = stop and clean up.
    InstallResult install(InstallRequest request, int cancel_fd = -1);

    // Inside a running container (not_found when it is not running). The calling process never
    // joins the container: a helper does (container/attach.hpp). Signal forwarding and the
    // terminal proxy are the front end's.
    Command start_command(const std::string& name, const RunRequest& request);
    AttachResult run(const std::string& name, const RunRequest& request);  // start + wait
    // The pty master goes over `console_socket` (crun's --console-socket).
    Command open_terminal(const std::string& name, const EnterRequest& request, int console_socket);

    // The container a command means when no name was given: the only running one.
    std::string resolve_name(const std::vector<std::string>& names, const std::string& conf_path,
                             const std::string& command);

  private:
    ContainerState running_state(const std::string& name);
    Warn warn() const;

    Workspace ws_;
    Output& out_;
    LockMode lock_;
};

}  // namespace ds::container
