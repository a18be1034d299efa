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
    {"show", cmd_show, "", "list running containers", true},
    {"scan", cmd_scan, "", "recover untracked containers and clean orphaned mounts", true},
    {"check", cmd_check, "", "check this machine's kernel features", false},
    {"install", cmd_install, "", "create a container from a rootfs tarball or directory", true},
    {"pid", cmd_pid, "", "print the container's init PID or NONE", true},
    {"help", cmd_help, "[COMMAND]", "show this help, or one command's options", false},
    {"version", cmd_version, "", "print the version", false},
};

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
    try {
        ctx.inv = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
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
        print_error(e.what());
        return e.exit_code();
    } catch (const std::exception& e) {
        print_error(std::string("internal error: ") + e.what());
        return kExitRuntime;
    }
}

}  // namespace ds::cli
