// The command table and what every command handler gets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.hpp"
#include "cli/output.hpp"
#include "container/inspect.hpp"
#include "container/runtime.hpp"
#include "core/workspace.hpp"

namespace ds::cli {

struct Context {
    Invocation inv;
    Workspace workspace;
    std::string argv0;  // for hints ("sudo droidspaces --name=x enter")
    TerminalOutput output;
    std::optional<container::Runtime> runtime;  // set once the workspace is known
    bool error_reported = false;  // the handler already printed its failure (install's events)

    // The request layer for this workspace; the CLI waits for a busy container's lock.
    container::Runtime& rt() {
        if (!runtime) runtime.emplace(workspace, output, container::LockMode::wait);
        return *runtime;
    }
};

using Handler = int (*)(Context&);

struct CommandSpec {
    std::string_view name;
    Handler handler;
    std::string_view arguments;  // shown after the command in usage lines
    std::string_view summary;
    bool needs_root;
};

const std::vector<CommandSpec>& command_table();
const CommandSpec* find_command(std::string_view name);

// Entry point: parse, dispatch, print one error line on failure. Returns the exit code.
int run_cli(int argc, char** argv);

// Handlers, one file each.
int cmd_help(Context& ctx);
int cmd_version(Context& ctx);
int cmd_check(Context& ctx);
int cmd_start(Context& ctx);
int cmd_stop(Context& ctx);
int cmd_restart(Context& ctx);
int cmd_enter(Context& ctx);
int cmd_run(Context& ctx);
int cmd_info(Context& ctx);
int cmd_show(Context& ctx);
int cmd_scan(Context& ctx);
int cmd_pid(Context& ctx);
int cmd_install(Context& ctx);
int cmd_config(Context& ctx);
int cmd_serve(Context& ctx);
int cmd_daemon(Context& ctx);
int cmd_api(Context& ctx);
int cmd_autoboot(Context& ctx);
int cmd_usage(Context& ctx);

// Upstream's `usage` lines (cmd_usage.cpp), also the tail of `info --format`.
std::string render_usage(const container::ContainerInfo& info);

}  // namespace ds::cli
