// Errors carried from deep inside an operation up to the front end: the CLI prints one line and
// exits with the kind's code; a server maps the kind to a status (docs/json.md).
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace ds {

// Documented exit codes (docs/cli.md): scripts rely on them.
enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 1,    // bad command line, bad config, validation failure, "not running", busy
    kExitRuntime = 2,  // the system refused: a syscall, a mount, a boot step failed
};

// What went wrong, as a caller can act on it:
//  invalid   - the request itself is wrong (bad value, bad combination)          HTTP 400
//  not_found - the container (or its config) does not exist / is not running     HTTP 404
//  busy      - another operation holds the container, or its state forbids it    HTTP 409
//  system    - the system refused (a syscall, a mount, a boot step failed)       HTTP 500
enum class ErrorKind { invalid, not_found, busy, system };

constexpr std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::invalid:
            return "invalid";
        case ErrorKind::not_found:
            return "not_found";
        case ErrorKind::busy:
            return "busy";
        case ErrorKind::system:
            return "system";
    }
    return "system";
}

// The CLI's exit code for a kind: only `system` is 2, as documented before kinds existed.
constexpr int exit_code_of(ErrorKind kind) {
    return kind == ErrorKind::system ? kExitRuntime : kExitUsage;
}

class Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }
    int exit_code() const { return exit_code_of(kind_); }

  private:
    ErrorKind kind_;
};

// Bad input: names the value and the rule it broke.
[[noreturn]] inline void fail_invalid(const std::string& message) {
    throw Error(ErrorKind::invalid, message);
}
// The container, its config or its record does not exist (or it is not running).
[[noreturn]] inline void fail_not_found(const std::string& message) {
    throw Error(ErrorKind::not_found, message);
}
// Another command holds the container, or its state forbids the request right now.
[[noreturn]] inline void fail_busy(const std::string& message) {
    throw Error(ErrorKind::busy, message);
}
// The system said no.
[[noreturn]] inline void fail_system(const std::string& message) {
    throw Error(ErrorKind::system, message);
}

// The names every part of the runtime already uses.
[[noreturn]] inline void fail_usage(const std::string& message) {
    fail_invalid(message);
}
[[noreturn]] inline void fail_runtime(const std::string& message) {
    fail_system(message);
}

}  // namespace ds
