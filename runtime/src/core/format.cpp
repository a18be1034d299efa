#include "core/format.hpp"
#include "core/text.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace ds::format {
namespace {

std::optional<uint64_t> parse_u64(std::string_view s) {
    s = trim(s);
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return value;
}

std::string repeat(std::string_view unit, size_t n) {
    std::string out;
    out.reserve(unit.size() * n);
    for (size_t i = 0; i < n; ++i)
        out += unit;
    return out;
}

std::string pad(std::string_view text, size_t width) {
    std::string out(text);
    size_t w = display_width(text);
    if (w < width) out.append(width - w, ' ');
    return out;
}

// Shell-style unquoting of one os-release value.
std::string unquote(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'')
        return std::string(v.substr(1, v.size() - 2));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        std::string out;
        v = v.substr(1, v.size() - 2);
        for (size_t i = 0; i < v.size(); ++i) {
            if (v[i] == '\\' && i + 1 < v.size() &&
                std::string_view("\"\\$`").find(v[i + 1]) != std::string_view::npos)
                ++i;
            out += v[i];
        }
        return out;
    }
    return std::string(v);
}

}  // namespace

std::string uptime(int64_t seconds) {
    if (seconds < 0) return "unknown";
    int64_t days = seconds / 86400, hours = seconds % 86400 / 3600, mins = seconds % 3600 / 60,
            secs = seconds % 60;
    std::string out;
    if (days > 0) out += std::to_string(days) + "d ";
    if (days > 0 || hours > 0) out += std::to_string(hours) + "h ";
    if (days > 0 || hours > 0 || mins > 0) out += std::to_string(mins) + "m ";
    out += std::to_string(secs) + "s";
    return out;
}

std::string bytes(uint64_t value) {
    static const char* units[] = {"B", "KB", "MB", "GB", "TB"};
    if (value < 1024) return std::to_string(value) + " B";
    double v = static_cast<double>(value);
    size_t unit = 0;
    while (v >= 1024.0 && unit + 1 < std::size(units)) {
        v /= 1024.0;
        ++unit;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %s", v, units[unit]);
    return buf;
}

size_t display_width(std::string_view text) {
    size_t n = 0;
    for (unsigned char c : text)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

std::string table(const std::vector<std::string>& header,
                  const std::vector<std::vector<std::string>>& rows, TableStyle style) {
    size_t columns = header.size();
    std::vector<size_t> width(columns);
    auto cell = [&](const std::vector<std::string>& row, size_t i) -> std::string_view {
        return i < row.size() ? std::string_view(row[i]) : std::string_view();
    };
    for (size_t i = 0; i < columns; ++i) {
        width[i] = display_width(header[i]);
        for (const auto& row : rows)
            width[i] = std::max(width[i], display_width(cell(row, i)));
    }
    std::string out;
    if (style == TableStyle::plain) {
        auto line = [&](const std::vector<std::string>& row) {
            std::string text;
            for (size_t i = 0; i < columns; ++i) {
                if (i) text += "  ";
                text += i + 1 < columns ? pad(cell(row, i), width[i]) : std::string(cell(row, i));
            }
            while (!text.empty() && text.back() == ' ')
                text.pop_back();
            out += text + "\n";
        };
        line(header);
        for (const auto& row : rows)
            line(row);
        return out;
    }
    auto rule = [&](std::string_view left, std::string_view mid, std::string_view right) {
        out += left;
        for (size_t i = 0; i < columns; ++i) {
            if (i) out += mid;
            out += repeat("─", width[i] + 2);
        }
        out += right;
        out += "\n";
    };
    auto line = [&](const std::vector<std::string>& row) {
        out += "│";
        for (size_t i = 0; i < columns; ++i)
            out += " " + pad(cell(row, i), width[i]) + " │";
        out += "\n";
    };
    rule("┌", "┬", "┐");
    line(header);
    rule("├", "┼", "┤");
    for (const auto& row : rows)
        line(row);
    rule("└", "┴", "┘");
    return out;
}

std::string key_value(std::string_view key, std::string_view value) {
    std::string out(key);
    out += '=';
    for (char c : value)
        out += (c == '\n' || c == '\r') ? ' ' : c;
    out += '\n';
    return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += separator;
        out += items[i];
    }
    return out;
}

std::optional<std::string> os_release_value(std::string_view text, std::string_view key) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = trim(text.substr(pos, end - pos));
        pos = end + 1;
        if (line.empty() || line.front() == '#') continue;
        auto eq = line.find('=');
        if (eq == std::string_view::npos || trim(line.substr(0, eq)) != key) continue;
        return unquote(line.substr(eq + 1));
    }
    return std::nullopt;
}

std::string os_pretty_name(std::string_view os_release) {
    if (auto pretty = os_release_value(os_release, "PRETTY_NAME"); pretty && !pretty->empty())
        return *pretty;
    auto name = os_release_value(os_release, "NAME").value_or("");
    auto version = os_release_value(os_release, "VERSION_ID").value_or("");
    if (!name.empty() && !version.empty()) return name + " " + version;
    return name;
}

std::optional<NsPid> parse_nspid(std::string_view field) {
    NsPid out;
    size_t pos = 0;
    while (true) {
        pos = field.find_first_not_of(" \t\n", pos);
        if (pos == std::string_view::npos) break;
        size_t end = field.find_first_of(" \t\n", pos);
        if (end == std::string_view::npos) end = field.size();
        auto value = parse_u64(field.substr(pos, end - pos));
        if (!value) return std::nullopt;
        out.innermost = static_cast<long>(*value);
        ++out.levels;
        pos = end;
    }
    if (out.levels == 0) return std::nullopt;
    return out;
}

int64_t process_uptime(std::string_view proc_uptime, uint64_t start_ticks, long ticks_per_second) {
    std::string text(trim(proc_uptime));
    if (text.empty() || ticks_per_second <= 0) return -1;
    char* end = nullptr;
    double host = std::strtod(text.c_str(), &end);
    // strtod also takes "nan", "inf" and "1e999", and turning those into an integer is undefined
    // behaviour: only an uptime a machine can have (under 10^15 s) means anything.
    if (end == text.c_str() || !std::isfinite(host) || host < 0 || host > 1e15) return -1;
    double started = static_cast<double>(start_ticks) / static_cast<double>(ticks_per_second);
    if (started >= host) return 0;  // also keeps a huge start time from overflowing the cast
    return static_cast<int64_t>(host - started);
}

size_t count_lines(std::string_view text) {
    size_t n = 0, pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        if (!trim(text.substr(pos, end - pos)).empty()) ++n;
        pos = end + 1;
    }
    return n;
}

std::optional<uint64_t> parse_cgroup_value(std::string_view text) {
    return parse_u64(text);
}

std::optional<uint64_t> flat_keyed_value(std::string_view text, std::string_view key) {
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line.size() > key.size() && line.substr(0, key.size()) == key &&
            line[key.size()] == ' ')
            return parse_u64(line.substr(key.size() + 1));
    }
    return std::nullopt;
}

std::string arch_name(std::string_view machine) {
    if (machine == "x86_64" || machine == "amd64") return "x86_64";
    if (machine == "aarch64" || machine == "arm64") return "aarch64";
    if (machine.substr(0, 3) == "arm") return "arm";
    if (machine.size() == 4 && machine[0] == 'i' && machine.substr(2) == "86") return "x86";
    return std::string(machine);
}

}  // namespace ds::format
