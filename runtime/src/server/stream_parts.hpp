// The pure parts of the live routes (server/streams.hpp), apart so that the unit tests reach
// them without the HTTP transport: Server-Sent Events framing, UTF-8 repair of console bytes,
// base64 for terminal output, and the rules an upload's name, extension and size follow.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ds::server {

// "event: <type>\ndata: <data as one line of JSON>\n\n". The JSON never holds a raw newline
// (dump escapes them) and invalid UTF-8 in strings is replaced, so one event is one frame.
std::string sse_event(std::string_view type, const nlohmann::ordered_json& data);
// ": <text>\n\n": an SSE comment (keep-alive), ignored by EventSource. Newlines in `text` are
// replaced by spaces.
std::string sse_comment(std::string_view text);

// Console bytes as valid UTF-8: each invalid byte becomes U+FFFD. A sequence cut at the end of
// `bytes` is not judged yet: it is kept in `carry` and completed by the next call (`carry`
// goes in front of `bytes`). Pass final=true at the end of the stream to flush it.
std::string utf8_repair(std::string_view bytes, std::string& carry, bool final = false);

std::string base64_encode(std::string_view bytes);
// nullopt for anything but canonical-alphabet base64 (padding optional, no whitespace).
std::optional<std::string> base64_decode(std::string_view text);

// 128 random bits (getrandom) as 32 hex digits: terminal and install job ids.
std::string new_stream_id();
// 32 lowercase hex digits.
bool is_stream_id(std::string_view id);

// A body type that makes POST /api/v1/install an upload: application/octet-stream,
// application/x-tar, application/gzip, application/x-gzip, application/x-xz, application/zstd,
// application/x-bzip2 (parameters after ';' ignored, case-insensitive).
bool is_upload_content_type(std::string_view content_type);
// The upload file's extension, from the client's file name when it ends in a known archive
// suffix (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar.bz2",
// ".tbz2"), else from the content type, else ".tar". Only these fixed strings are ever
// returned: the client's name never reaches the filesystem. (The installer recognises the
// format by its magic bytes; the extension is for people reading .uploads/.)
std::string upload_extension(std::string_view filename, std::string_view content_type);

// The largest upload accepted: what the workspace's filesystem has free (the installer then
// checks the room for what it unpacks to), and never more than kMaxUploadBytes.
constexpr uint64_t kMaxUploadBytes = 64ull << 30;  // 64 GiB
uint64_t upload_limit(uint64_t free_bytes);
// A Content-Length header's value as bytes; nullopt unless it is all digits and fits.
std::optional<uint64_t> parse_content_length(std::string_view value);

// A terminal's window: rows and cols, integers 1..1000 each; throws invalid naming the field.
struct WindowSize {
    unsigned short rows = 24, cols = 80;
};
WindowSize window_size(const nlohmann::json& body);

}  // namespace ds::server
