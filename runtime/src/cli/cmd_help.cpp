#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "core/error.hpp"

namespace ds::cli {
namespace {

constexpr size_t kFlagColumn = 34;

bool applies_to(const OptionSpec& opt, std::string_view command) {
    if (opt.commands == "*") return true;
    for (const auto& c : split_list(opt.commands, " "))
        if (c == command) return true;
    return false;
}

std::string flag_text(const OptionSpec& opt) {
    std::string text = opt.short_name ? std::string("-") + opt.short_name + ", " : "    ";
    text += "--" + std::string(opt.long_name);
    if (!opt.metavar.empty()) text += "=" + std::string(opt.metavar);
    return text;
}

void print_option(std::string& out, const OptionSpec& opt) {
    std::string line = "  " + flag_text(opt);
    std::string help(opt.help);
    if (!opt.alias.empty()) help += " (or --" + std::string(opt.alias) + ")";
    // Keep every line within 100 columns: a long flag puts its text on the next line.
    if (line.size() + 2 > kFlagColumn)
        out += line + "\n" + std::string(kFlagColumn, ' ');
    else
        out += line + std::string(kFlagColumn - line.size(), ' ');
    out += help + "\n";
}

std::string general_help() {
    std::string out = "Droidspaces v" DS_VERSION
                      " - boot real Linux distributions with their own init as PID 1\n\n"
                      "Usage: droidspaces [OPTIONS] COMMAND [ARGS...]\n\nCommands:\n";
    for (const auto& c : command_table()) {
        std::string left = "  " + std::string(c.name) + " " + std::string(c.arguments);
        out += left + std::string(left.size() < kFlagColumn ? kFlagColumn - left.size() : 1, ' ') +
               std::string(c.summary) + "\n";
    }
    out += "\nOptions (short forms take -oVAL or -o VAL; long forms --opt=VAL or --opt VAL):\n";
    for (const auto& o : option_table())
        print_option(out, o);
    out +=
        "\nExit status: 0 success, 1 usage or validation error (or not running), 2 runtime "
        "failure;\n`run` returns the command's status (128+N when killed by signal N).\n"
        "Workspace: $DROIDSPACES_HOME, else /var/lib/Droidspaces (/data/local/Droidspaces on "
        "Android).\nSee 'droidspaces help COMMAND' for one command's options.\n";
    return out;
}

std::string command_help(const CommandSpec& cmd) {
    std::string out = "Usage: droidspaces [OPTIONS] " + std::string(cmd.name);
    if (!cmd.arguments.empty()) out += " " + std::string(cmd.arguments);
    out += "\n\n" + std::string(cmd.summary) + "\n\nOptions:\n";
    for (const auto& o : option_table())
        if (applies_to(o, cmd.name)) print_option(out, o);
    return out;
}

}  // namespace

int cmd_help(Context& ctx) {
    if (ctx.inv.args.empty()) {
        std::fputs(general_help().c_str(), stdout);
        return 0;
    }
    const CommandSpec* cmd = find_command(ctx.inv.args[0]);
    if (!cmd)
        fail_usage("unknown command '" + ctx.inv.args[0] +
                   "': see 'droidspaces help' for the list of commands");
    std::fputs(command_help(*cmd).c_str(), stdout);
    return 0;
}

}  // namespace ds::cli
