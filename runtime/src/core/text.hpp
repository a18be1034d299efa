// Small text helpers shared by the parsers.
#pragma once

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds {

// `text` without leading and trailing whitespace (spaces, tabs, CR, LF).
inline std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

// The lines of `text` without their "\n" (a last line without one too). No iostreams: they pull
// libstdc++'s locale machinery into the static binary.
inline std::vector<std::string> text_lines(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        auto nl = text.find('\n');
        lines.emplace_back(text.substr(0, nl));
        if (nl == std::string_view::npos) break;
        text.remove_prefix(nl + 1);
    }
    return lines;
}

// The words of `text`, split at runs of spaces and tabs.
inline std::vector<std::string> text_words(std::string_view text) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t'))
            ++i;
        size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t')
            ++i;
        if (i > start) words.emplace_back(text.substr(start, i - start));
    }
    return words;
}

// A plain decimal number ("2", "1.5", ".5"): digits with at most one point, nothing else (no
// sign, exponent, hex, inf or nan). strtod, not std::from_chars<double>, which would link
// libstdc++'s floating-point parser (~50 KB) into the static binary for two option values.
inline std::optional<double> parse_plain_decimal(std::string_view text) {
    if (text.empty() || text.size() > 32) return std::nullopt;
    size_t digits = 0, points = 0;
    for (char c : text) {
        if (c >= '0' && c <= '9')
            ++digits;
        else if (c == '.')
            ++points;
        else
            return std::nullopt;
    }
    if (digits == 0 || points > 1) return std::nullopt;
    return std::strtod(std::string(text).c_str(), nullptr);
}

// `value` in single quotes for an error message, control characters shown as \xNN: the message
// stays one line and a value cannot drive the terminal it is printed on.
inline std::string quote_value(std::string_view value) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "'";
    for (unsigned char c : value) {
        if (c < 0x20 || c == 0x7f) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "'";
}

}  // namespace ds
