// --env files: KEY=VALUE lines added to the container's environment (reference §3.4).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ds {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// "KEY=VALUE", "export KEY=VALUE", '#' comments, blank lines; surrounding single or double
// quotes are removed. Keys match [A-Za-z_][A-Za-z0-9_]*. Errors name `origin`:LINE.
EnvVars parse_env_file(std::string_view text, std::string_view origin);
// The shell form written to /run/droidspaces.env: export KEY='value' (quotes escaped).
std::string env_to_shell(const EnvVars& vars);

}  // namespace ds
