#include "core/archive.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/error.hpp"

namespace ds::archive {
namespace {

bool starts_with_bytes(std::string_view head, std::string_view magic) {
    return head.size() >= magic.size() && head.substr(0, magic.size()) == magic;
}

// An octal tar header field: digits, optionally led by spaces and ended by a space or NUL.
std::optional<uint64_t> octal_field(std::string_view field) {
    size_t i = 0;
    while (i < field.size() && field[i] == ' ')
        ++i;
    uint64_t value = 0;
    size_t digits = 0;
    for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i, ++digits)
        value = value * 8 + static_cast<uint64_t>(field[i] - '0');
    if (digits == 0) return std::nullopt;
    for (; i < field.size(); ++i)
        if (field[i] != ' ' && field[i] != '\0') return std::nullopt;
    return value;
}

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        parts.emplace_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

std::string join_path(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts)
        out += (out.empty() ? "" : "/") + p;
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
        text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
        text.remove_suffix(1);
    return text;
}

}  // namespace

// --- archives -------------------------------------------------------------------------------

bool is_tar_header(std::string_view block) {
    if (block.size() < 512) return false;
    if (block.substr(257, 5) == "ustar") return true;
    // Old (v7) headers have no magic: the checksum field (148..155) is the byte sum of the
    // header with that field read as spaces. An all-zero block is the end marker, not a header.
    auto stored = octal_field(block.substr(148, 8));
    if (!stored || block[0] == '\0') return false;
    uint64_t sum = 0;
    for (size_t i = 0; i < 512; ++i)
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
    return sum == *stored;
}

std::optional<Compression> detect_compression(std::string_view head) {
    if (starts_with_bytes(head, "\x1f\x8b")) return Compression::gzip;
    if (starts_with_bytes(head, std::string_view("\xfd\x37\x7a\x58\x5a\x00", 6)))
        return Compression::xz;
    if (starts_with_bytes(head, "\x28\xb5\x2f\xfd")) return Compression::zstd;
    if (starts_with_bytes(head, "BZh") && head.size() >= 4 && head[3] >= '1' && head[3] <= '9')
        return Compression::bzip2;
    if (is_tar_header(head)) return Compression::none;
    return std::nullopt;
}

std::string_view compression_name(Compression compression) {
    switch (compression) {
        case Compression::none:
            return "tar";
        case Compression::gzip:
            return "gzip";
        case Compression::xz:
            return "xz";
        case Compression::zstd:
            return "zstd";
        case Compression::bzip2:
            return "bzip2";
    }
    return "tar";
}

std::string_view decompressor(Compression compression) {
    return compression == Compression::none ? "" : compression_name(compression);
}

uint64_t tar_entry_size(uint64_t file_size) {
    return 512 + (file_size + 511) / 512 * 512;
}

// --- sizes ----------------------------------------------------------------------------------

uint64_t parse_image_size(std::string_view value) {
    auto bad = [&] {
        fail_usage("invalid image size '" + std::string(value) +
                   "' for --img: expected a size like 512M, 4G or 1.5G (K, M, G, T), from 16M "
                   "to 16T");
    };
    std::string_view text = trim(value);
    size_t unit_at = 0;
    while (unit_at < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
        ++unit_at;
    std::string_view number = text.substr(0, unit_at);
    std::string unit;
    for (char c : text.substr(unit_at))
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    double n = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() ||
        !std::isfinite(n))
        bad();
    double multiplier = 0;
    static const std::pair<const char*, double> kUnits[] = {
        {"", 1},
        {"b", 1},
        {"k", 1024.0},
        {"m", 1024.0 * 1024},
        {"g", 1024.0 * 1024 * 1024},
        {"t", 1024.0 * 1024 * 1024 * 1024},
    };
    for (const auto& [name, mult] : kUnits) {
        std::string u = name;
        if (unit == u || (!u.empty() && u != "b" && (unit == u + "b" || unit == u + "ib")))
            multiplier = mult;
    }
    if (multiplier == 0) bad();
    double bytes = n * multiplier;
    if (bytes < static_cast<double>(kMinImageSize) || bytes > static_cast<double>(kMaxImageSize))
        bad();
    return static_cast<uint64_t>(bytes) / 4096 * 4096;
}

std::string human_size(uint64_t bytes) {
    if (bytes < 1024) return std::to_string(bytes) + " B";
    static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes) / 1024;
    size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(kUnits)) {
        value /= 1024;
        ++unit;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
    return buf;
}

// --- progress -------------------------------------------------------------------------------

int percent(uint64_t done, uint64_t total) {
    if (total == 0) return 0;
    if (done >= total) return 100;
    auto p = static_cast<int>(static_cast<long double>(done) * 100 / total);
    return std::clamp(p, 0, 99);
}

std::string progress_bar(uint64_t done, uint64_t total, size_t width) {
    size_t filled = 0;
    if (total > 0)
        filled = done >= total
                     ? width
                     : static_cast<size_t>(static_cast<long double>(done) * width / total);
    std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "] ";
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", percent(done, total));
    return bar + pct + "  " + human_size(done) + " / " + human_size(total);
}

std::string progress_text(uint64_t done, uint64_t total) {
    return std::to_string(percent(done, total)) + "% (" + human_size(done) + " / " +
           human_size(total) + ")";
}

bool ProgressThrottle::due(uint64_t now_ms, bool final) {
    if (!final && last_ms_ && now_ms - *last_ms_ < interval_ms_) return false;
    last_ms_ = now_ms;
    return true;
}

bool DecileLines::due(int pct) {
    int decile = std::clamp(pct, 0, 100) / 10 * 10;
    if (decile <= printed_) return false;
    printed_ = decile;
    return true;
}

// --- tar's complaints -----------------------------------------------------------------------

std::string failure_line(std::string_view stderr_text) {
    static constexpr std::string_view kEpilogues[] = {
        "Error is not recoverable",
        "Child returned status",
        "Exiting with failure status",
    };
    std::string best;
    size_t start = 0;
    while (start < stderr_text.size()) {
        size_t end = stderr_text.find_first_of("\r\n", start);
        if (end == std::string_view::npos) end = stderr_text.size();
        std::string_view line = trim(stderr_text.substr(start, end - start));
        start = end + 1;
        if (line.empty()) continue;
        bool epilogue =
            std::any_of(std::begin(kEpilogues), std::end(kEpilogues),
                        [&](std::string_view e) { return line.find(e) != std::string_view::npos; });
        if (!epilogue) best = line;
    }
    return best;
}

bool mentions_no_space(std::string_view stderr_text) {
    return stderr_text.find("No space left on device") != std::string_view::npos ||
           stderr_text.find("Disk quota exceeded") != std::string_view::npos;
}

// --- rootfs facts ---------------------------------------------------------------------------

InRootPath resolve_in_root(std::string_view path, bool follow_last, const PathLookup& lookup) {
    std::vector<std::string> todo;  // components still to walk, the next one at the back
    auto push = [&](std::string_view p) {
        auto parts = split_path(p);
        for (auto it = parts.rbegin(); it != parts.rend(); ++it)
            todo.push_back(std::move(*it));
    };
    auto only_noise_left = [&] {
        return std::all_of(todo.begin(), todo.end(),
                           [](const std::string& c) { return c.empty() || c == "."; });
    };
    push(path);
    std::vector<std::string> done;
    InRootPath out;
    int links = 0;
    while (!todo.empty()) {
        std::string component = std::move(todo.back());
        todo.pop_back();
        if (component.empty() || component == ".") continue;
        if (component == "..") {
            if (!done.empty()) done.pop_back();
            continue;
        }
        bool last = only_noise_left();
        done.push_back(component);
        std::string relative = join_path(done);
        PathInfo info = lookup(relative);
        if (!info.exists) {
            out.relative = relative;
            out.error = last ? 0 : ENOENT;
            return out;
        }
        if (info.is_symlink && (!last || follow_last)) {
            if (++links > 40) {
                out.relative = relative;
                out.error = ELOOP;
                return out;
            }
            done.pop_back();
            if (!info.target.empty() && info.target.front() == '/') done.clear();
            push(info.target);
            continue;
        }
        if (!last && !info.is_directory) {
            out.relative = relative;
            out.error = ENOTDIR;
            return out;
        }
    }
    out.relative = join_path(done);
    out.exists = true;
    return out;
}

std::string hostname_for(std::string_view name) {
    std::vector<std::string> labels;
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string_view::npos) dot = name.size();
        std::string label;
        for (char c : name.substr(start, dot - start))
            label += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
        while (!label.empty() && label.front() == '-')
            label.erase(0, 1);
        while (!label.empty() && label.back() == '-')
            label.pop_back();
        if (!label.empty()) labels.push_back(label);
        start = dot + 1;
    }
    std::string host;
    for (const auto& l : labels)
        host += (host.empty() ? "" : ".") + l;
    if (host.size() > 64) host.resize(64);
    while (!host.empty() && (host.back() == '-' || host.back() == '.'))
        host.pop_back();
    return host.empty() ? "localhost" : host;
}

std::string ext4_label(std::string_view name) {
    return std::string(name.substr(0, 16));
}

bool hosts_has_localhost(std::string_view hosts) {
    size_t start = 0;
    while (start < hosts.size()) {
        size_t end = hosts.find('\n', start);
        if (end == std::string_view::npos) end = hosts.size();
        std::string_view line = hosts.substr(start, end - start);
        start = end + 1;
        line = line.substr(0, line.find('#'));
        std::vector<std::string_view> words;
        size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])))
                ++i;
            size_t j = i;
            while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j])))
                ++j;
            if (j > i) words.push_back(line.substr(i, j - i));
            i = j;
        }
        if (words.size() >= 2 && words[0] == "127.0.0.1" &&
            std::find(words.begin() + 1, words.end(), "localhost") != words.end())
            return true;
    }
    return false;
}

bool is_blank(std::string_view text) {
    return trim(text).empty();
}

}  // namespace ds::archive
