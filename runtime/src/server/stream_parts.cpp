// The pure parts of the live routes: see stream_parts.hpp.
#include "server/stream_parts.hpp"

#include <algorithm>
#include <charconv>
#include <limits>

#include "core/error.hpp"
#include "sys/random.hpp"

namespace ds::server {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kBase64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The bytes a lead byte announces (0 for a byte that cannot start a sequence), and the range
// its first continuation byte must lie in (overlongs, surrogates and > U+10FFFF excluded, as
// RFC 3629 section 4 says).
struct Lead {
    int length;
    unsigned char low, high;
};
Lead lead_of(unsigned char c) {
    if (c >= 0xC2 && c <= 0xDF) return {2, 0x80, 0xBF};
    if (c == 0xE0) return {3, 0xA0, 0xBF};
    if (c == 0xED) return {3, 0x80, 0x9F};
    if (c >= 0xE1 && c <= 0xEF) return {3, 0x80, 0xBF};
    if (c == 0xF0) return {4, 0x90, 0xBF};
    if (c >= 0xF1 && c <= 0xF3) return {4, 0x80, 0xBF};
    if (c == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// The media type without parameters or spaces, lowercase.
std::string media_type(std::string_view content_type) {
    content_type = content_type.substr(0, content_type.find(';'));
    while (!content_type.empty() && content_type.back() == ' ')
        content_type.remove_suffix(1);
    while (!content_type.empty() && content_type.front() == ' ')
        content_type.remove_prefix(1);
    return lower(content_type);
}

}  // namespace

std::string sse_event(std::string_view type, const nlohmann::ordered_json& data) {
    std::string out = "event: ";
    out += type;
    out += "\ndata: ";
    out += data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out += "\n\n";
    return out;
}

std::string sse_comment(std::string_view text) {
    std::string out = ": ";
    for (char c : text)
        out += (c == '\n' || c == '\r') ? ' ' : c;
    out += "\n\n";
    return out;
}

std::string utf8_repair(std::string_view bytes, std::string& carry, bool final) {
    std::string input = std::move(carry);
    carry.clear();
    input.append(bytes);
    std::string out;
    out.reserve(input.size());
    size_t i = 0;
    while (i < input.size()) {
        auto c = static_cast<unsigned char>(input[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
            ++i;
            continue;
        }
        Lead lead = lead_of(c);
        if (lead.length == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        // How much of the sequence is valid (the lead byte counts as 1).
        size_t valid = 1;
        while (valid < static_cast<size_t>(lead.length) && i + valid < input.size()) {
            auto next = static_cast<unsigned char>(input[i + valid]);
            unsigned char low = valid == 1 ? lead.low : 0x80;
            unsigned char high = valid == 1 ? lead.high : 0xBF;
            if (next < low || next > high) break;
            ++valid;
        }
        if (valid == static_cast<size_t>(lead.length)) {
            out.append(input, i, valid);
        } else if (i + valid == input.size() && !final) {
            carry = input.substr(i);  // cut by the chunk boundary: judged with the next bytes
        } else {
            out += kReplacement;  // one replacement per maximal invalid subpart (Unicode 3.9)
        }
        i += valid;
    }
    return out;
}

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                     static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                     static_cast<unsigned char>(bytes[i + 2]);
        out += kBase64[n >> 18 & 63];
        out += kBase64[n >> 12 & 63];
        out += kBase64[n >> 6 & 63];
        out += kBase64[n & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest > 0) {
        uint32_t n = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        if (rest == 2) n |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out += kBase64[n >> 18 & 63];
        out += kBase64[n >> 12 & 63];
        out += rest == 2 ? kBase64[n >> 6 & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    size_t pad = 0;
    while (!text.empty() && text.back() == '=' && pad < 2) {
        text.remove_suffix(1);
        ++pad;
    }
    if (text.size() % 4 == 1) return std::nullopt;
    if (pad > 0 && (text.size() + pad) % 4 != 0) return std::nullopt;
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        size_t v = kBase64.find(c);
        if (v == std::string_view::npos) return std::nullopt;
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>(acc >> bits & 0xFF);
        }
    }
    // The bits left over must be zero, so that one byte string has one encoding.
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string new_stream_id() {
    return sys::random_hex(16, "a stream id");
}

bool is_stream_id(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool is_upload_content_type(std::string_view content_type) {
    static constexpr std::string_view kTypes[] = {
        "application/octet-stream", "application/x-tar",   "application/gzip",
        "application/x-gzip",       "application/x-xz",    "application/zstd",
        "application/x-zstd",       "application/x-bzip2", "application/x-gtar"};
    std::string type = media_type(content_type);
    for (auto t : kTypes)
        if (type == t) return true;
    return false;
}

std::string upload_extension(std::string_view filename, std::string_view content_type) {
    static constexpr std::string_view kSuffixes[] = {
        ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.bz2", ".tbz2", ".tar"};
    std::string name = lower(filename);
    for (auto suffix : kSuffixes)
        if (name.size() > suffix.size() && name.ends_with(suffix)) return std::string(suffix);
    std::string type = media_type(content_type);
    if (type == "application/gzip" || type == "application/x-gzip") return ".tar.gz";
    if (type == "application/x-xz") return ".tar.xz";
    if (type == "application/zstd" || type == "application/x-zstd") return ".tar.zst";
    if (type == "application/x-bzip2") return ".tar.bz2";
    return ".tar";
}

uint64_t upload_limit(uint64_t free_bytes) {
    return std::min(kMaxUploadBytes, free_bytes);
}

std::optional<uint64_t> parse_content_length(std::string_view value) {
    if (value.empty() || value.size() > 20) return std::nullopt;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
    return n;
}

WindowSize window_size(const nlohmann::json& body) {
    WindowSize size;
    auto field = [&](const char* key) -> unsigned short {
        auto it = body.find(key);
        if (it == body.end() || !it->is_number_integer())
            fail_invalid(std::string("\"") + key + "\": expected an integer from 1 to 1000");
        auto v = it->get<int64_t>();
        if (v < 1 || v > 1000)
            fail_invalid(std::string("\"") + key + "\": " + std::to_string(v) +
                         " out of range: from 1 to 1000");
        return static_cast<unsigned short>(v);
    };
    if (!body.is_object()) fail_invalid("expected a JSON object {\"rows\": N, \"cols\": N}");
    size.rows = field("rows");
    size.cols = field("cols");
    return size;
}

}  // namespace ds::server
