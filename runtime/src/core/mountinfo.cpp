#include "core/mountinfo.hpp"

namespace ds {
namespace {

// Fields are separated by single spaces; a space inside a field is escaped as \040, so an empty
// field (two spaces) only comes from a damaged line: it is skipped.
std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    size_t pos = 0;
    while (pos < line.size()) {
        size_t end = line.find(' ', pos);
        if (end == std::string_view::npos) end = line.size();
        if (end > pos) fields.push_back(line.substr(pos, end - pos));
        pos = end + 1;
    }
    return fields;
}

bool parse_decimal(std::string_view text, uint64_t& out) {
    if (text.empty() || text.size() > 19) return false;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    out = value;
    return true;
}

// "major:minor"; device numbers are 12 + 20 bits wide.
bool parse_device(std::string_view text, unsigned& major, unsigned& minor) {
    size_t colon = text.find(':');
    if (colon == std::string_view::npos) return false;
    uint64_t ma = 0, mi = 0;
    if (!parse_decimal(text.substr(0, colon), ma) || !parse_decimal(text.substr(colon + 1), mi) ||
        ma > 0xfffff || mi > 0xfffff)
        return false;
    major = static_cast<unsigned>(ma);
    minor = static_cast<unsigned>(mi);
    return true;
}

std::optional<MountInfo> parse_head(const std::vector<std::string_view>& f) {
    if (f.size() < 5) return std::nullopt;
    MountInfo m;
    if (!parse_decimal(f[0], m.id) || !parse_decimal(f[1], m.parent) ||
        !parse_device(f[2], m.major, m.minor))
        return std::nullopt;
    m.root = unescape_mountinfo(f[3]);
    m.mount_point = unescape_mountinfo(f[4]);
    return m;
}

}  // namespace

std::string unescape_mountinfo(std::string_view field) {
    std::string out;
    out.reserve(field.size());
    auto is_octal = [&](size_t k) { return field[k] >= '0' && field[k] <= '7'; };
    for (size_t i = 0; i < field.size(); ++i) {
        if (field[i] == '\\' && i + 3 < field.size() && is_octal(i + 1) && is_octal(i + 2) &&
            is_octal(i + 3)) {
            out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                     (field[i + 3] - '0'));
            i += 3;
        } else {
            out += field[i];
        }
    }
    return out;
}

std::optional<MountInfo> parse_mountinfo_head(std::string_view line) {
    return parse_head(split_fields(line));
}

std::optional<MountInfo> parse_mountinfo_line(std::string_view line) {
    auto f = split_fields(line);
    auto m = parse_head(f);
    if (!m || f.size() < 7) return std::nullopt;
    m->options = std::string(f[5]);
    // Optional fields run up to the lone "-"; the three fields after it are mandatory.
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-")
        m->optional_fields.emplace_back(f[sep++]);
    if (sep + 2 >= f.size()) return std::nullopt;
    m->fstype = unescape_mountinfo(f[sep + 1]);
    m->source = unescape_mountinfo(f[sep + 2]);
    if (sep + 3 < f.size()) m->super_options = unescape_mountinfo(f[sep + 3]);
    return m;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
    std::vector<MountInfo> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        if (auto m = parse_mountinfo_line(text.substr(pos, end - pos)))
            out.push_back(std::move(*m));
        pos = end + 1;
    }
    return out;
}

bool has_mount_option(std::string_view options, std::string_view option) {
    size_t pos = 0;
    while (pos <= options.size()) {
        size_t end = options.find(',', pos);
        if (end == std::string_view::npos) end = options.size();
        if (options.substr(pos, end - pos) == option) return true;
        pos = end + 1;
    }
    return false;
}

}  // namespace ds
