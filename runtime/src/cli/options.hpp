// The command line: upstream's flags and short forms, in --opt=VAL, --opt VAL, -oVAL and -o VAL
// forms, with unknown options rejected by name.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/config_options.hpp"

namespace ds::cli {

enum class OptionId {
    rootfs,
    rootfs_img,
    name,
    conf,
    reset,
    format,
    json,
    help,
    user,
    timeout,
    config_key,  // sets `config_key` from the value ("1" for switches)
    bind,
    port,
    upstream,
    memory,
    cpus,
    install_from,
    install_image_size,
    install_fs,
    all,            // show --all
    purge,          // config delete --purge
    listen,         // serve/daemon --listen ADDR
    webroot,        // serve/daemon --webroot DIR
    daemon_stop,    // daemon --stop
    daemon_status,  // daemon --status
};

struct OptionSpec {
    char short_name;  // 0 when there is none
    std::string_view long_name;
    std::string_view alias;    // a second long name, "" when none
    std::string_view metavar;  // "" for switches
    OptionId id;
    std::string_view config_key;  // for OptionId::config_key
    std::string_view commands;    // space-separated commands the option applies to; "*" = all
    std::string_view help;
};

const std::vector<OptionSpec>& option_table();
const OptionSpec* find_long_option(std::string_view name);

struct Invocation {
    std::string command;
    std::vector<std::string> args;   // after the command: enter USER, help COMMAND, run ARGV...
    std::vector<std::string> names;  // -n, comma lists split
    std::string conf_path;
    bool reset = false;
    bool json = false;    // --json
    bool format = false;  // --format (upstream KEY=VALUE)
    bool help = false;
    bool all = false;                 // show: every container, not only the running ones
    bool purge = false;               // config delete: also the rootfs inside Containers/<name>/
    std::vector<std::string> listen;  // serve/daemon: addresses instead of 127.0.0.1 and ::1
    std::string webroot;              // serve/daemon: the dashboard's files
    bool daemon_stop = false;
    bool daemon_status = false;
    std::string user;
    std::optional<unsigned> timeout_seconds;
    std::string install_from;        // install: tarball or directory
    std::string install_image_size;  // install: "" = directory rootfs, else ext4 image of SIZE
    std::string install_fs = "ext4";
    // Options that change the config, in command-line order; applied after the config is loaded.
    std::vector<std::pair<const OptionSpec*, std::string>> overrides;

    bool has_override(std::string_view long_name) const;
};

// Throws a usage error (exit 1) naming the offending argument.
Invocation parse_command_line(const std::vector<std::string>& argv);
// Applies the command line's config options on top of `config` (core/config_options rules).
void apply_overrides(const Invocation& inv, Config& config);
// The core config option a command-line option sets, nullptr for the others (--name, --json...).
const ConfigOption* config_option_of(const OptionSpec& opt);
// The overrides as key/value edits (long option names), for the request layer.
ConfigEdits overrides_as_edits(const Invocation& inv);

}  // namespace ds::cli
