#include "core/env_file.hpp"

#include <cctype>

#include "core/error.hpp"
#include "core/text.hpp"

namespace ds {
namespace {

bool valid_key(std::string_view key) {
    if (key.empty() || std::isdigit(static_cast<unsigned char>(key[0]))) return false;
    for (unsigned char c : key)
        if (!std::isalnum(c) && c != '_') return false;
    return true;
}

}  // namespace

EnvVars parse_env_file(std::string_view text, std::string_view origin) {
    EnvVars vars;
    size_t start = 0;
    for (int number = 1; start < text.size(); ++number) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = trim(text.substr(start, end - start));
        start = end + 1;
        if (line.empty() || line[0] == '#') continue;
        if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
        auto eq = line.find('=');
        std::string_view key = eq == std::string_view::npos ? line : trim(line.substr(0, eq));
        if (eq == std::string_view::npos || !valid_key(key))
            fail_usage(std::string(origin) + ":" + std::to_string(number) + ": invalid line " +
                       quote_value(line) + ": expected KEY=VALUE with KEY of [A-Za-z0-9_]");
        std::string_view value = trim(line.substr(eq + 1));
        if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
            value.back() == value.front())
            value = value.substr(1, value.size() - 2);
        vars.emplace_back(std::string(key), std::string(value));
    }
    return vars;
}

std::string env_to_shell(const EnvVars& vars) {
    std::string out;
    for (const auto& [key, value] : vars) {
        out += "export " + key + "='";
        for (char c : value)
            out += c == '\'' ? std::string("'\\''") : std::string(1, c);
        out += "'\n";
    }
    return out;
}

}  // namespace ds
