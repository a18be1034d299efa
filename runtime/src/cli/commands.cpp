#include "cli/commands.hpp"

#include <unistd.h>

#include <exception>

#include "cli/output.hpp"
#include "container/monitor.hpp"
#include "core/error.hpp"
#include "sys/platform.hpp"

namespace ds::cli {
namespace {

const std::vector<CommandSpec> kCommands = {
    {"start", cmd_start, "", "boot a container with its own init as PID 1", true},
    {"stop", cmd_stop, "", "shut containers down cleanly (-n a,b,c for several)", true},
    {"restart", cmd_restart, "", "stop and start again with the saved config", true},
    {"enter", cmd_enter, "[USER]", "open a login shell inside a running container", true},
    {"run", cmd_run, "CMD [ARGS...]", "run one command inside and return its exit status", true},
    {"info", cmd_info, "", "show one container in depth", true},
    {"show", cmd_show, "", "list running containers (--all: every container)", true},
    {"scan", cmd_scan, "", "recover untracked containers and clean orphaned mounts", true},
    {"check", cmd_check, "", "check this machine's kernel features", false},
    {"install", cmd_install, "", "create a container from a rootfs tarball or directory", true},
    {"config", cmd_config, "create|edit|show|delete",
     "create, change, show or delete a container's saved config", true},
    {"serve", cmd_serve, "", "run the dashboard and API server on 127.0.0.1 (foreground)", true},
    {"daemon", cmd_daemon, "", "run the server in the background (--stop, --status)", true},
    {"api", cmd_api, "METHOD PATH [JSON]", "call the server's API in-process (KernelSU WebUI)",
     true},
    {"autoboot", cmd_autoboot, "", "start the --run-at-boot containers by priority (boot)", true},
    {"pid", cmd_pid, "", "print the container's init PID or NONE", true},
    {"usage", cmd_usage, "", "uptime, memory and CPU of a running container (KEY=VALUE)", true},
    {"help", cmd_help, "[COMMAND]", "show this help, or one command's options", false},
    {"version", cmd_version, "", "print the version", false},
};

// One "[-]" line on stderr; with --json also the error document on stdout (docs/json.md), so a
// script reading stdout always gets JSON.
void report_failure(const Context& ctx, ErrorKind kind, const std::string& message) {
    print_error(message);
    if (ctx.inv.json && !ctx.error_reported) print_json(error_json(kind, message));
}

}  // namespace

const std::vector<CommandSpec>& command_table() {
    return kCommands;
}

const CommandSpec* find_command(std::string_view name) {
    for (const auto& c : kCommands)
        if (c.name == name) return &c;
    return nullptr;
}

int run_cli(int argc, char** argv) {
    if (argc == 2 && std::string_view(argv[1]) == container::kMonitorCommand)
        return container::monitor_main(argv);
    Context ctx;
    ctx.argv0 = argc > 0 ? argv[0] : "droidspaces";
    std::vector<std::string> args(argv + 1, argv + argc);
    // A command line that does not parse still owes a --json caller its error document.
    for (const auto& a : args)
        if (a == "--")
            break;
        else if (a == "--json")
            ctx.inv.json = true;
    try {
        ctx.inv = parse_command_line(args);
        if (ctx.inv.help || ctx.inv.command.empty()) {
            // "droidspaces start --help" shows start's help, like "droidspaces help start".
            if (ctx.inv.help && !ctx.inv.command.empty() && ctx.inv.command != "help")
                ctx.inv.args.insert(ctx.inv.args.begin(), ctx.inv.command);
            if (!ctx.inv.help) {
                print_error("missing command: see 'droidspaces help'");
                return kExitUsage;
            }
            ctx.inv.command = "help";
        }
        const CommandSpec* cmd = find_command(ctx.inv.command);
        if (!cmd)
            fail_usage("unknown command '" + ctx.inv.command +
                       "': see 'droidspaces help' for the list of commands");
        if (ctx.inv.json) set_quiet(true);
        if (cmd->needs_root && ::geteuid() != 0)
            fail_usage("'" + ctx.inv.command + "' requires root privileges");
        ctx.workspace = sys::detect_workspace();
        return cmd->handler(ctx);
    } catch (const Error& e) {
        report_failure(ctx, e.kind(), e.what());
        return e.exit_code();
    } catch (const std::exception& e) {
        report_failure(ctx, ErrorKind::system, std::string("internal error: ") + e.what());
        return kExitRuntime;
    }
}

}  // namespace ds::cli
