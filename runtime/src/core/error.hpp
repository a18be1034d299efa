// Errors carried from deep inside an operation up to main(), which prints one line and exits.
#pragma once

#include <stdexcept>
#include <string>

namespace ds {

// Documented exit codes (docs/cli.md): scripts rely on them.
enum ExitCode : int {
    kExitOk = 0,
    kExitUsage = 1,    // bad command line, bad config, validation failure, "not running"
    kExitRuntime = 2,  // the system refused: a syscall, a mount, a boot step failed
};

class Error : public std::runtime_error {
  public:
    Error(int exit_code, const std::string& message)
        : std::runtime_error(message), exit_code_(exit_code) {}
    int exit_code() const { return exit_code_; }

  private:
    int exit_code_;
};

// Bad input: names the value and the rule it broke.
[[noreturn]] inline void fail_usage(const std::string& message) {
    throw Error(kExitUsage, message);
}
// The system said no.
[[noreturn]] inline void fail_runtime(const std::string& message) {
    throw Error(kExitRuntime, message);
}

}  // namespace ds
