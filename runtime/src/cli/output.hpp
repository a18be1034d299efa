// Terminal messages in upstream's style: "[+] info" on stdout, "[!] warning" and "[-] error" on
// stderr. Machine-readable output (--json) goes through print_json only.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace ds::cli {

void print_info(std::string_view message);
void print_warning(std::string_view message);
void print_error(std::string_view message);
void print_json(const nlohmann::json& value);
// Suppresses print_info (used by --json so stdout holds only the document).
void set_quiet(bool quiet);

}  // namespace ds::cli
