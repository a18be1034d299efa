// --env files: whatever parses gives valid keys and values without line breaks, and the shell
// form written into the guest (/run/droidspaces.env) reads back as the same variables.
#include <string>

#include "core/env_file.hpp"
#include "core/error.hpp"
#include "fuzz_target.hpp"

namespace {

bool valid_key(const std::string& key) {
    if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
    for (unsigned char c : key)
        if (!(std::isalnum(c) || c == '_')) return false;
    return true;
}

// Reads env_to_shell's exact form back: export KEY='v'\''alue' lines.
ds::EnvVars read_shell(const std::string& text) {
    ds::EnvVars vars;
    size_t i = 0;
    auto expect = [&](std::string_view s) {
        DS_FUZZ_CHECK(text.compare(i, s.size(), s) == 0,
                      "shell form: expected '" + std::string(s) + "' at " + std::to_string(i));
        i += s.size();
    };
    while (i < text.size()) {
        expect("export ");
        size_t eq = text.find('=', i);
        DS_FUZZ_CHECK(eq != std::string::npos, "shell form: no '='");
        std::string key = text.substr(i, eq - i);
        i = eq + 1;
        std::string value;
        expect("'");
        for (;;) {
            size_t quote = text.find('\'', i);
            DS_FUZZ_CHECK(quote != std::string::npos, "shell form: unterminated quote");
            value += text.substr(i, quote - i);
            i = quote + 1;
            if (text.compare(i, 3, "\\''") != 0) break;  // 'it'\''s': an escaped quote
            value += '\'';
            i += 3;
        }
        expect("\n");
        vars.emplace_back(key, value);
    }
    return vars;
}

}  // namespace

DS_FUZZ_TARGET(env_file) {
    ds::EnvVars vars;
    try {
        vars = ds::parse_env_file(ds::fuzz::as_text(data, size), "fuzz.env");
    } catch (const ds::Error& e) {
        std::string message = e.what();
        DS_FUZZ_CHECK(message.find('\n') == std::string::npos, "error is not one line: " + message);
        return 0;
    }
    for (const auto& [key, value] : vars) {
        DS_FUZZ_CHECK(valid_key(key), "invalid key accepted: '" + key + "'");
        DS_FUZZ_CHECK(value.find('\n') == std::string::npos, "a value spans lines: " + key);
    }
    DS_FUZZ_CHECK(read_shell(ds::env_to_shell(vars)) == vars,
                  "the shell form does not read back:\n" + ds::env_to_shell(vars));
    return 0;
}
