#include "cli/output.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace ds::cli {
namespace {

bool g_quiet = false;

void emit(FILE* stream, const char* color, const char* tag, std::string_view message) {
    bool tty = ::isatty(::fileno(stream));
    std::string line = tty ? std::string(color) + tag + "\033[0m " : std::string(tag) + " ";
    line.append(message);
    line += '\n';
    std::fputs(line.c_str(), stream);
    std::fflush(stream);
}

}  // namespace

void set_quiet(bool quiet) {
    g_quiet = quiet;
}
void print_info(std::string_view message) {
    if (!g_quiet) emit(stdout, "\033[32m", "[+]", message);
}
void print_warning(std::string_view message) {
    emit(stderr, "\033[33m", "[!]", message);
}
void print_error(std::string_view message) {
    emit(stderr, "\033[31m", "[-]", message);
}
void print_json(const nlohmann::json& value) {
    // Guest-controlled text (an os-release name, a path) may be invalid UTF-8: replaced, never
    // an exception halfway through the output.
    std::string text = value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
}

nlohmann::json error_json(ErrorKind kind, std::string_view message) {
    return {{"error", {{"kind", std::string(to_string(kind))}, {"message", std::string(message)}}}};
}

}  // namespace ds::cli
