#include "container/runtime.hpp"

#include "container/config_store.hpp"
#include "core/error.hpp"
#include "sys/file.hpp"

namespace ds::container {

Warn Runtime::warn() const {
    return [this](const std::string& message) { out_.warning(message); };
}

ContainerState Runtime::running_state(const std::string& name) {
    check_container_name(name);
    auto state = find_running(ws_, name);
    if (!state) fail_not_found("container '" + name + "' is not running");
    return *state;
}

std::string Runtime::resolve_name(const std::vector<std::string>& names,
                                  const std::string& conf_path, const std::string& command) {
    return resolve_single_name(ws_, names, conf_path, command);
}

ContainerList Runtime::show() {
    return list_containers(ws_);
}

ContainerTable Runtime::list() {
    return list_all_containers(ws_);
}

ContainerInfo Runtime::inspect(const std::string& name, InspectOptions options) {
    check_container_name(name);
    return inspect_container(ws_, name, options);
}

std::optional<ContainerState> Runtime::find(const std::string& name) {
    check_container_name(name);
    return find_running(ws_, name);
}

ScanResult Runtime::scan() {
    return scan_host(ws_);
}

sys::CheckReport Runtime::check() {
    return sys::run_probes(sys::probe_table(), sys::gather_host_facts());
}

Config Runtime::read_config(const std::string& name) {
    check_container_name(name);
    if (!sys::path_exists(ws_.config_path(name)))
        fail_not_found("container '" + name + "' has no config: " + ws_.config_path(name));
    return load_config_file(ws_.config_path(name));
}

namespace {

// Refused input must leave no trace, not even a lock file: values and names are checked, and
// the config's existence looked at, before the lock is taken (and again under it).
void precheck(const Workspace& ws, const std::string& name, const ConfigEdits& edits,
              bool must_exist) {
    check_container_name(name);
    Config scratch;
    apply_config_edits(scratch, edits);
    bool exists = sys::path_exists(ws.config_path(name));
    if (must_exist && !exists)
        fail_not_found("container '" + name + "' has no config: " + ws.config_path(name));
    if (!must_exist && exists) check_config_absent(ws, name);
}

}  // namespace

Config Runtime::create_config(const CreateConfigRequest& request) {
    precheck(ws_, request.name, request.edits, false);
    auto lock = lock_container(ws_, request.name, lock_);
    return create_workspace_config(ws_, request.name, request.edits);
}

Config Runtime::edit_config(const EditConfigRequest& request) {
    precheck(ws_, request.name, request.edits, true);
    auto lock = lock_container(ws_, request.name, lock_);
    Config config = edit_workspace_config(ws_, request.name, request.reset, request.edits);
    if (find_running(ws_, request.name))
        out_.info("container '" + request.name +
                  "' is running: the new config takes effect at its next start or restart");
    return config;
}

DeleteResult Runtime::delete_config(const DeleteRequest& request) {
    check_container_name(request.name);
    if (!sys::path_exists(ws_.config_path(request.name)) &&
        !sys::is_directory(ws_.container_dir(request.name)))
        fail_not_found("container '" + request.name +
                       "' has no config: " + ws_.config_path(request.name));
    auto lock = lock_container(ws_, request.name, lock_);
    if (auto state = find_running(ws_, request.name))
        fail_busy("container '" + request.name + "' is running (PID " +
                  std::to_string(state->init_pid) + "): stop it before deleting its config");
    auto removed = delete_workspace_config(ws_, request.name, request.remove_rootfs);
    return {std::move(removed.removed), std::move(removed.kept)};
}

namespace {

// `console`: whether this operation may hand a console to the caller (start; restart never does).
StartRequest start_request(const Workspace& ws, const StartOptions& options, bool console,
                           const Warn& warn) {
    auto resolved = resolve_config(ws, options.config);
    for (const auto& warning : resolved.warnings)
        warn(warning);
    StartRequest request;
    request.config = std::move(resolved.config);
    request.config_path = std::move(resolved.path);
    request.foreground = console && request.config.foreground && options.console_available;
    if (console && request.config.foreground && !options.console_available)
        warn("--foreground needs a terminal on stdin and stdout: starting in the background");
    request.term = options.term;
    return request;
}

}  // namespace

StartResult Runtime::start(const StartOptions& options) {
    return start_container(ws_, start_request(ws_, options, true, warn()), warn(), lock_);
}

StopResult Runtime::stop(const std::string& name, std::chrono::seconds timeout) {
    check_container_name(name);
    return stop_container(ws_, name, timeout, warn(), lock_);
}

StartResult Runtime::restart(const StartOptions& options, std::chrono::seconds timeout) {
    return restart_container(ws_, start_request(ws_, options, true, warn()), timeout, warn(),
                             lock_);
}

InstallResult Runtime::install(InstallRequest request, int cancel_fd) {
    request.try_lock = lock_ == LockMode::try_once;
    return install_container(
        ws_, request, [this](const InstallEvent& e) { out_.install_event(e); }, cancel_fd);
}

AttachResult Runtime::run(const std::string& name, const RunRequest& request) {
    return run_in_container(ws_, running_state(name), request);
}

Command Runtime::start_command(const std::string& name, const RunRequest& request) {
    return container::start_command(ws_, running_state(name), request);
}

Command Runtime::open_terminal(const std::string& name, const EnterRequest& request,
                               int console_socket) {
    return container::open_terminal(ws_, running_state(name), request, console_socket);
}

}  // namespace ds::container
