// The options that change a container's config, keyed by their long command-line names
// ("memory", "bind", "hostname", ...): one table, one set of rules, used by the CLI's flags and
// by the request layer's config edits ({"memory":"512M"}), so both accept and refuse exactly
// the same values with the same messages.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.hpp"

namespace ds {

enum class ConfigOptionKind {
    rootfs,      // rootfs_path, a directory
    rootfs_img,  // rootfs_path, an image or block device
    bind,        // adds SRC:DEST[:ro] entries (empty value: clears the list)
    port,        // adds port forwards (empty value: clears the list)
    upstream,    // adds upstream interfaces (empty value: clears the list)
    memory,      // memory_limit from a size ("512M")
    cpus,        // cpu_quota/cpu_period from a number of cores ("1.5")
    config_key,  // sets `config_key` from the value ("1"/"0" for switches)
};

struct ConfigOption {
    std::string_view name;   // the long option name, the key of an edit
    std::string_view alias;  // a second name, "" when none
    ConfigOptionKind kind;
    std::string_view config_key;  // for ConfigOptionKind::config_key
    bool is_switch;               // a flag without a value on the command line
    bool is_path;                 // made absolute by the CLI (relative to its working directory)
};

const std::vector<ConfigOption>& config_option_table();
// By name or alias; nullptr when `name` is not a config option.
const ConfigOption* find_config_option(std::string_view name);

// Applies one option to `config`. Throws an invalid-kind error whose one line names the option
// ("--memory"), the value and the rule.
void apply_config_option(Config& config, const ConfigOption& option, std::string_view value);

// Key/value edits in order, as a server or `droidspaces config` gives them. Unknown keys are
// refused by name (with the list of known keys in the docs), like unknown flags.
using ConfigEdits = std::vector<std::pair<std::string, std::string>>;
void apply_config_edits(Config& config, const ConfigEdits& edits);

// "1.5" -> cores; throws naming the value and the range 0.01..4096.
double parse_cpus(std::string_view value);

}  // namespace ds
