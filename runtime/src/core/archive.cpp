#include "core/archive.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/error.hpp"
#include "core/text.hpp"

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

// --- archive members ------------------------------------------------------------------------

namespace {

constexpr size_t kBlock = 512;
constexpr size_t kMaxPath = 4095;  // PATH_MAX less its NUL

uint64_t padding(uint64_t size) {
    return (kBlock - size % kBlock) % kBlock;
}

// A NUL-terminated header field.
std::string_view c_field(std::string_view block, size_t at, size_t size) {
    std::string_view field = block.substr(at, size);
    return field.substr(0, field.find('\0'));
}

// The size field: octal (spaces and NULs around it; all empty is 0), or GNU's base-256 for
// sizes that do not fit (first byte 0x80). nullopt for anything else or a negative number.
std::optional<uint64_t> size_field(std::string_view field) {
    auto first = static_cast<unsigned char>(field[0]);
    if (first & 0x80) {
        if (first != 0x80) return std::nullopt;  // negative, or too big for 64 bits
        uint64_t value = 0;
        for (size_t i = 1; i < field.size(); ++i) {
            if (value >> 55) return std::nullopt;
            value = (value << 8) | static_cast<unsigned char>(field[i]);
        }
        return value;
    }
    if (field.find_first_not_of(std::string_view("\0 ", 2)) == std::string_view::npos) return 0;
    return octal_field(field);
}

bool checksum_ok(std::string_view block) {
    auto stored = octal_field(block.substr(148, 8));
    if (!stored) return false;
    uint64_t unsigned_sum = 0;
    int64_t signed_sum = 0;  // some old tars summed signed chars
    for (size_t i = 0; i < kBlock; ++i) {
        bool in_field = i >= 148 && i < 156;
        unsigned_sum += in_field ? ' ' : static_cast<unsigned char>(block[i]);
        signed_sum += in_field ? ' ' : static_cast<signed char>(block[i]);
    }
    return unsigned_sum == *stored || static_cast<uint64_t>(signed_sum) == *stored;
}

bool all_zero(std::string_view block) {
    return block.find_first_not_of('\0') == std::string_view::npos;
}

std::string quoted_member(std::string_view name) {
    return "'" + printable(name) + "'";
}

std::string type_text(char type) {
    switch (type) {
        case 'S':
            return "a GNU sparse file (type 'S')";
        case 'V':
            return "a volume label (type 'V')";
        case 'M':
            return "a multi-volume continuation (type 'M')";
        case 'D':
            return "a GNU dump directory (type 'D')";
        case 'N':
            return "an old GNU long-name record (type 'N')";
        default:
            return "of an unknown type ('" + printable(std::string_view(&type, 1)) + "')";
    }
}

std::string kind_text(char type) {
    switch (type) {
        case '1':
            return "hard link";
        case '2':
            return "symlink";
        case '3':
            return "character device";
        case '4':
            return "block device";
        case '5':
            return "directory";
        case '6':
            return "fifo";
        default:
            return "file";
    }
}

// The records of a pax header: "LEN KEY=VALUE\n" each. False when malformed.
bool pax_records(std::string_view data,
                 const std::function<void(std::string_view, std::string_view)>& record) {
    while (!data.empty()) {
        size_t space = data.find(' ');
        if (space == 0 || space == std::string_view::npos || space > 19) return false;  // no wrap
        uint64_t len = 0;
        for (size_t i = 0; i < space; ++i) {
            if (data[i] < '0' || data[i] > '9') return false;
            len = len * 10 + static_cast<uint64_t>(data[i] - '0');
        }
        if (len <= space + 1 || len > data.size() || data[len - 1] != '\n') return false;
        std::string_view body = data.substr(space + 1, len - space - 2);
        size_t eq = body.find('=');
        if (eq == std::string_view::npos || eq == 0) return false;
        record(body.substr(0, eq), body.substr(eq + 1));
        data.remove_prefix(len);
    }
    return true;
}

std::optional<uint64_t> decimal(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    uint64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
}

}  // namespace

std::optional<std::string> member_path_problem(std::string_view path) {
    if (path.empty()) return "has an empty name";
    if (path.find('\0') != std::string_view::npos) return "has a NUL byte in its name";
    if (path.size() > kMaxPath) return "has a name longer than 4095 bytes";
    if (path.front() == '/') return "has an absolute name";
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        if (path.substr(start, slash - start) == "..") return "has a '..' component";
        start = slash + 1;
    }
    return std::nullopt;
}

std::string normalize_member_path(std::string_view path) {
    std::string out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        std::string_view part = path.substr(start, slash - start);
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        start = slash + 1;
    }
    return out;
}

std::string printable(std::string_view text) {
    std::string out;
    for (unsigned char c : text.substr(0, 200)) {
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    if (text.size() > 200) out += "...";
    return out;
}

void TarScanner::refuse(std::string problem) {
    status_ = Status::refused;
    problem_ = std::move(problem);
}

void TarScanner::corrupt(std::string problem) {
    status_ = Status::corrupt;
    problem_ = std::move(problem);
}

TarScanner::Status TarScanner::feed(std::string_view bytes, std::string* approved) {
    while (!bytes.empty() && status_ == Status::more) {
        size_t n;
        if (data_left_ > 0) {
            n = static_cast<size_t>(std::min<uint64_t>(data_left_, bytes.size()));
            if (approved) approved->append(bytes.substr(0, n));
            data_left_ -= n;
        } else if (meta_left_ > 0 || meta_pad_ > 0) {
            bool data = meta_left_ > 0;
            n = static_cast<size_t>(
                std::min<uint64_t>(data ? meta_left_ : meta_pad_, bytes.size()));
            if (data) meta_.append(bytes.substr(0, n));
            held_.append(bytes.substr(0, n));
            (data ? meta_left_ : meta_pad_) -= n;
            if (meta_left_ == 0 && meta_pad_ == 0) meta_done();
        } else {
            n = std::min(kBlock - block_.size(), bytes.size());
            block_.append(bytes.substr(0, n));
            if (block_.size() == kBlock) {
                std::string block = std::move(block_);
                block_.clear();
                offset_ += n;
                bytes.remove_prefix(n);
                header(block, approved);
                continue;
            }
        }
        offset_ += n;
        bytes.remove_prefix(n);
    }
    return status_;
}

TarScanner::Status TarScanner::finish(std::string* approved) {
    if (status_ != Status::more) return status_;
    if (offset_ == 0) {
        corrupt("the archive is empty");
    } else if (data_left_ > 0 || meta_left_ > 0 || meta_pad_ > 0 || !block_.empty() ||
               !held_.empty()) {
        corrupt("unexpected end of the archive at byte " + std::to_string(offset_) +
                " (the archive is truncated)");
    } else {
        if (approved) approved->append(2 * kBlock, '\0');
        status_ = Status::end;
    }
    return status_;
}

void TarScanner::meta_done() {
    std::string_view data = meta_;
    switch (meta_type_) {
        case 'L':
        case 'K':
            (meta_type_ == 'L' ? long_name_ : long_link_) =
                std::string(data.substr(0, data.find('\0')));
            break;
        case 'x':
        case 'g': {
            bool global = meta_type_ == 'g';
            bool ok = pax_records(data, [&](std::string_view key, std::string_view value) {
                if (status_ != Status::more) return;
                bool sparse = key.starts_with("GNU.sparse.");
                if (global && (key == "path" || key == "linkpath" || key == "size" || sparse)) {
                    refuse("a global pax header sets '" + printable(key) +
                           "' for every member after it");
                } else if (sparse) {
                    refuse("a pax header describes a GNU sparse file (" + printable(key) + ")");
                } else if (key == "path") {
                    pax_path_ = std::string(value);
                } else if (key == "linkpath") {
                    pax_link_ = std::string(value);
                } else if (key == "size") {
                    pax_size_ = decimal(value);
                    if (!pax_size_)
                        corrupt("a pax header has an invalid size '" + printable(value) + "'");
                }
            });
            if (!ok && status_ == Status::more)
                corrupt("malformed pax header at byte " + std::to_string(offset_));
            break;
        }
    }
    meta_.clear();
}

bool TarScanner::check_below(const std::string& candidate, const std::string& shown) {
    for (size_t slash = candidate.find('/'); slash != std::string::npos;
         slash = candidate.find('/', slash + 1)) {
        auto it = seen_.find(candidate.substr(0, slash));
        if (it == seen_.end() || it->second == Kind::directory) continue;
        refuse("member " + shown + " is under the " +
               (it->second == Kind::symlink ? "symlink" : "non-directory") + " member " +
               quoted_member(it->first) +
               (it->second == Kind::symlink ? ": extracting it would follow that symlink" : ""));
        return false;
    }
    return true;
}

bool TarScanner::check_paths(char type, const std::string& name, std::string_view header_name,
                             std::string_view header_link) {
    const std::string shown = quoted_member(name);
    // Every name some tar could use for this member, the one most tars use first.
    std::vector<std::string_view> names;
    if (!pax_path_.empty()) names.push_back(pax_path_);
    if (!long_name_.empty()) names.push_back(long_name_);
    if (!header_name.empty() || names.empty()) names.push_back(header_name);
    for (auto candidate : names) {
        if (auto why = member_path_problem(candidate)) {
            refuse("member " + quoted_member(candidate) + " " + *why);
            return false;
        }
        if (!check_below(normalize_member_path(candidate), shown)) return false;
    }
    if (type != '1') return true;
    std::vector<std::string_view> links;
    if (!pax_link_.empty()) links.push_back(pax_link_);
    if (!long_link_.empty()) links.push_back(long_link_);
    if (!header_link.empty()) links.push_back(header_link);
    if (links.empty()) {
        refuse("hard link " + shown + " has no target");
        return false;
    }
    // The first target is the one a tar that reads every header uses: it must be an earlier
    // file. The others (a 100-byte header field that a long target was cut to) are what a tar
    // that ignores pax or GNU headers would use: inside the rootfs, and never a symlink.
    for (size_t i = 0; i < links.size(); ++i) {
        std::string_view target = links[i];
        if (auto why = member_path_problem(target)) {
            refuse("hard link " + shown + " -> " + quoted_member(target) + ": the target " + *why);
            return false;
        }
        std::string key = normalize_member_path(target);
        if (i > 0 && !check_below(key, shown)) return false;
        auto it = seen_.find(key);
        if (i > 0 && it == seen_.end()) continue;
        if (it == seen_.end() || it->second == Kind::directory) {
            refuse("hard link " + shown + " -> " + quoted_member(target) +
                   ": the target is not an earlier file of the archive");
            return false;
        }
        // link(2) does not follow it, but a tar that used linkat(AT_SYMLINK_FOLLOW) would
        // link whatever host file the symlink names.
        if (it->second == Kind::symlink) {
            refuse("hard link " + shown + " -> " + quoted_member(target) +
                   ": the target is a symlink member, which a tar could follow out of the "
                   "rootfs");
            return false;
        }
    }
    return true;
}

void TarScanner::header(std::string_view block, std::string* approved) {
    const uint64_t at = offset_ - kBlock;
    if (all_zero(block)) {
        if (!held_.empty()) {
            corrupt("a pax or long-name header at the end of the archive describes no member");
            return;
        }
        if (offset_ == kBlock) {
            corrupt("the archive is empty");
            return;
        }
        // Every tar stops here: pass on a complete end marker and nothing after it.
        if (approved) approved->append(2 * kBlock, '\0');
        status_ = Status::end;
        return;
    }
    if (!checksum_ok(block)) {
        corrupt(at == 0 ? "not a tar archive (bad header checksum)"
                        : "corrupt tar header at byte " + std::to_string(at));
        return;
    }
    const char type = block[156];
    auto size = size_field(block.substr(124, 12));
    if (!size) {
        corrupt("corrupt tar header at byte " + std::to_string(at) + " (invalid size)");
        return;
    }
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (*size > kMaxMetaSize) {
            refuse("a " + std::string(type == 'L' || type == 'K' ? "long-name" : "pax") +
                   " header at byte " + std::to_string(at) + " has " + std::to_string(*size) +
                   " bytes (at most 1 MiB)");
            return;
        }
        held_.append(block);
        meta_type_ = type;
        meta_.clear();
        meta_left_ = *size;
        meta_pad_ = padding(*size);
        if (*size == 0) meta_done();
        return;
    }
    if (++members_ > kMaxMembers) {
        refuse("the archive has more than " + std::to_string(kMaxMembers) + " members");
        return;
    }

    bool posix = block.substr(257, 6) == std::string_view("ustar\0", 6);
    std::string header_name(c_field(block, 0, 100));
    if (posix && block[345] != '\0')
        header_name = std::string(c_field(block, 345, 155)) + "/" + header_name;
    std::string_view header_link = c_field(block, 157, 100);
    std::string name = !pax_path_.empty()    ? pax_path_
                       : !long_name_.empty() ? long_name_
                                             : header_name;
    const std::string shown = quoted_member(name);

    bool file = type == '0' || type == '\0' || type == '7';
    bool known = file || (type >= '1' && type <= '6');
    if (!known) {
        refuse("member " + shown + " is " + type_text(type) +
               ": only files, directories, symlinks, hard links, devices and fifos are "
               "installed");
        return;
    }
    if (pax_size_ && *pax_size_ != *size) {
        refuse("member " + shown + " has a pax size (" + std::to_string(*pax_size_) +
               ") that differs from its header's (" + std::to_string(*size) + ")");
        return;
    }
    bool directory = type == '5' || (file && !name.empty() && name.back() == '/');
    if (!file || directory) {
        if (*size != 0) {
            refuse("member " + shown + " is a " + (directory ? "directory" : kind_text(type)) +
                   " that carries " + std::to_string(*size) + " bytes of data");
            return;
        }
    }
    if (!check_paths(type, name, header_name, header_link)) return;

    std::string key = normalize_member_path(name);
    Kind kind = directory ? Kind::directory : type == '2' ? Kind::symlink : Kind::other;
    if (key.empty()) {
        if (kind != Kind::directory) {
            refuse("member " + shown + " (the top directory) is a " + kind_text(type));
            return;
        }
    } else if (auto [it, added] = seen_.emplace(key, kind); !added) {
        if (it->second != Kind::directory || kind != Kind::directory) {
            refuse("member " + shown + " appears twice: it would replace the earlier " +
                   (it->second == Kind::symlink     ? "symlink"
                    : it->second == Kind::directory ? "directory"
                                                    : "non-directory") +
                   " of that name");
            return;
        }
    }

    if (approved) {
        approved->append(held_);
        approved->append(block);
    }
    held_.clear();
    long_name_.clear();
    long_link_.clear();
    pax_path_.clear();
    pax_link_.clear();
    pax_size_.reset();
    data_left_ = file && !directory ? *size + padding(*size) : 0;
}

std::optional<std::string> tar_problem(std::string_view archive) {
    TarScanner scanner;
    scanner.feed(archive, nullptr);
    if (scanner.finish(nullptr) == TarScanner::Status::end) return std::nullopt;
    return scanner.problem();
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
    auto parsed = parse_plain_decimal(number);
    if (!parsed) bad();
    double n = *parsed;
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
