// Terminal messages in upstream's style: "[+] info" on stdout, "[!] warning" and "[-] error" on
// stderr. Machine-readable output (--json) goes through print_json only.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "container/runtime.hpp"
#include "core/error.hpp"

namespace ds::cli {

void print_info(std::string_view message);
void print_warning(std::string_view message);
void print_error(std::string_view message);
void print_json(const nlohmann::json& value);
// Suppresses print_info (used by --json so stdout holds only the document).
void set_quiet(bool quiet);

// The error document of docs/json.md: {"error":{"kind":"invalid|not_found|busy|system",
// "message":...}}.
nlohmann::json error_json(ErrorKind kind, std::string_view message);

// The request layer's messages on the terminal: warnings as "[!]", info as "[+]". Install
// events are rendered by `install` itself (progress bar or JSON lines).
class TerminalOutput : public container::Output {
  public:
    void warning(const std::string& message) override { print_warning(message); }
    void info(const std::string& message) override { print_info(message); }
    void install_event(const container::InstallEvent& event) override {
        if (on_install_event) on_install_event(event);
    }
    std::function<void(const container::InstallEvent&)> on_install_event;
};

}  // namespace ds::cli
