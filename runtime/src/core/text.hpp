// Small text helpers shared by the parsers.
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace ds {

// `text` without leading and trailing whitespace (spaces, tabs, CR, LF).
inline std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
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
