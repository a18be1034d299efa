// JSON request bodies -> request-layer structs, with the CLI's validation and one error line
// naming the field, the value and the rule (invalid -> 400). Shared by the JSON routes
// (server/api.cpp) and the streaming ones (server/streams.cpp).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "container/attach.hpp"
#include "container/install.hpp"
#include "core/config_options.hpp"

namespace ds::server {

// The body as a JSON object ({} for ""); invalid when it is not one.
nlohmann::json parse_body(const std::string& body);

// Field helpers for the routes' own bodies; each error names the field ("field 'x': ...").
// Refuses a field not in `known` (a typo must not be silently ignored).
void check_fields(const nlohmann::json& body, std::initializer_list<std::string_view> known);
// An integer within [min, max]; `fallback` when absent or null.
uint64_t integer_field(const nlohmann::json& body, const std::string& field, uint64_t min,
                       uint64_t max, uint64_t fallback);
// true or false; `fallback` when absent or null.
bool bool_field(const nlohmann::json& body, const std::string& field, bool fallback);
// A string without NUL bytes; "" when absent or null.
std::string string_field(const nlohmann::json& body, const std::string& field);

// {"options": {"memory": "512M", "bind": ["/a:/b", ...], "net": "none", ...}}: long option names
// (docs/cli.md) to a string, a number, a bool (switches), null (clears) or, for the repeatable
// options (bind, port, upstream), an array of strings that replaces the whole list.
ConfigEdits config_edits(const nlohmann::json& options);

// {"name", "source": "/abs/path.tar.xz", "image_size": "4G" | bytes, "image_fs": "ext4"}
container::InstallRequest install_request(const nlohmann::json& body);

// {"command": ["ls", "-l"] | "apt update && apt upgrade -y", "user": "root"}
container::RunRequest run_request(const nlohmann::json& body);

// {"user": "root", "rows": 24, "cols": 80}
container::EnterRequest terminal_request(const nlohmann::json& body);

}  // namespace ds::server
