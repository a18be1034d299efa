// JSON request bodies -> request-layer structs, with the CLI's validation and one error line
// naming the field, the value and the rule (invalid -> 400). Shared by the JSON routes
// (server/api.cpp) and the streaming ones (server/streams.cpp).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "container/attach.hpp"
#include "container/install.hpp"
#include "core/config_options.hpp"

namespace ds::server {

// The body as a JSON object ({} for ""); invalid when it is not one.
nlohmann::json parse_body(const std::string& body);

// {"options": {"memory": "512M", "bind": ["/a:/b", ...], "net": "none", ...}}: long option names
// (docs/cli.md) to a string, a bool (switches) or an array of strings (repeatable options).
ConfigEdits config_edits(const nlohmann::json& options);

// {"name", "source": "/abs/path.tar.xz", "image_size": "4G" | bytes, "image_fs": "ext4"}
container::InstallRequest install_request(const nlohmann::json& body);

// {"command": ["ls", "-l"] | "apt update && apt upgrade -y", "user": "root"}
container::RunRequest run_request(const nlohmann::json& body);

// {"user": "root", "rows": 24, "cols": 80}
container::EnterRequest terminal_request(const nlohmann::json& body);

}  // namespace ds::server
