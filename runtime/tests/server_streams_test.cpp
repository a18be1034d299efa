// Unit tests for server/stream_parts: SSE framing, UTF-8 repair of console bytes, base64, stream
// ids, and the upload's type, extension and size rules.
#include "server/stream_parts.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/error.hpp"

namespace {

using namespace ds::server;
using nlohmann::ordered_json;

TEST(SseEvent, OneFrameWithTypeAndOneLineOfJson) {
    EXPECT_EQ(sse_event("job", {{"id", "ab"}}), "event: job\ndata: {\"id\":\"ab\"}\n\n");
}

TEST(SseEvent, NewlinesInDataAreEscapedSoTheFrameCannotBeSplit) {
    // An attacker-controlled console line must not inject a second SSE field or event.
    std::string frame = sse_event("console", {{"text", "a\n\ndata: evil\r\nevent: end\n"}});
    EXPECT_EQ(frame.find("\n\n"), frame.size() - 2);
    EXPECT_EQ(frame.find('\r'), std::string::npos);
    EXPECT_EQ(std::count(frame.begin(), frame.end(), '\n'), 3);
}

TEST(SseEvent, InvalidUtf8IsReplacedNotThrown) {
    std::string frame = sse_event("x", {{"t", std::string("a\xff"
                                                          "b")}});
    EXPECT_NE(frame.find("a\xEF\xBF\xBD"
                         "b"),
              std::string::npos);
}

TEST(SseComment, KeepAliveAndNoNewlinesInside) {
    EXPECT_EQ(sse_comment("keep-alive"), ": keep-alive\n\n");
    EXPECT_EQ(sse_comment("a\nb\rc"), ": a b c\n\n");
}

TEST(Utf8Repair, ValidTextPassesUnchanged) {
    std::string carry;
    std::string text = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80";
    EXPECT_EQ(utf8_repair(text, carry), text);
    EXPECT_TRUE(carry.empty());
}

TEST(Utf8Repair, InvalidBytesBecomeReplacementCharacters) {
    std::string carry;
    const std::string r = "\xEF\xBF\xBD";
    EXPECT_EQ(utf8_repair("a\xff"
                          "b",
                          carry),
              "a" + r + "b");
    EXPECT_EQ(utf8_repair("\x80", carry), r);                          // lone continuation
    EXPECT_EQ(utf8_repair("\xC0\xAF", carry), r + r);                  // overlong '/'
    EXPECT_EQ(utf8_repair("\xED\xA0\x80", carry), r + r + r);          // surrogate D800
    EXPECT_EQ(utf8_repair("\xF4\x90\x80\x80", carry), r + r + r + r);  // > U+10FFFF
    EXPECT_EQ(utf8_repair("\xE2\x82"
                          "x",
                          carry),
              r + "x");  // truncated, one U+FFFD
    EXPECT_TRUE(carry.empty());
}

TEST(Utf8Repair, ASequenceCutByAChunkBoundaryIsCompletedByTheNextChunk) {
    std::string carry;
    EXPECT_EQ(utf8_repair("ab\xE2\x82", carry), "ab");
    EXPECT_EQ(carry, "\xE2\x82");
    EXPECT_EQ(utf8_repair("\xAC"
                          "c",
                          carry),
              "\xE2\x82\xAC"
              "c");
    EXPECT_TRUE(carry.empty());
}

TEST(Utf8Repair, FinalFlushesAnIncompleteSequence) {
    std::string carry;
    EXPECT_EQ(utf8_repair("\xF0\x9F", carry), "");
    EXPECT_EQ(utf8_repair("", carry, true), "\xEF\xBF\xBD");
    EXPECT_TRUE(carry.empty());
}

TEST(Base64, RoundTripsEveryLength) {
    std::string bytes;
    for (int i = 0; i < 40; ++i) {
        auto decoded = base64_decode(base64_encode(bytes));
        ASSERT_TRUE(decoded);
        EXPECT_EQ(*decoded, bytes);
        bytes += static_cast<char>(i * 37);
    }
    EXPECT_EQ(base64_encode("hi\n"), "aGkK");
    EXPECT_EQ(base64_encode("h"), "aA==");
    EXPECT_EQ(*base64_decode("aA"), "h");  // padding optional
}

TEST(Base64, RejectsWhatIsNotBase64) {
    EXPECT_FALSE(base64_decode("a"));
    EXPECT_FALSE(base64_decode("aGk*"));
    EXPECT_FALSE(base64_decode("aG k"));
    EXPECT_FALSE(base64_decode("aB=="));  // non-zero leftover bits
    EXPECT_FALSE(base64_decode("a==="));
}

TEST(StreamId, RandomHexOf128Bits) {
    std::set<std::string> ids;
    for (int i = 0; i < 64; ++i) {
        std::string id = new_stream_id();
        EXPECT_TRUE(is_stream_id(id)) << id;
        ids.insert(id);
    }
    EXPECT_EQ(ids.size(), 64u);
    EXPECT_FALSE(is_stream_id("ABCDEF0123456789abcdef0123456789"));
    EXPECT_FALSE(is_stream_id("abc"));
    EXPECT_FALSE(is_stream_id("../../../../etc/passwd0123456789"));
}

TEST(Upload, ContentTypesThatMakeAnUpload) {
    for (const char* upload :
         {"application/octet-stream", "Application/X-Tar; charset=binary", "application/gzip",
          "application/x-xz", "application/zstd", "application/x-bzip2"})
        EXPECT_TRUE(is_upload_content_type(upload)) << upload;
    for (const char* other :
         {"application/json", "multipart/form-data; boundary=x", "", "application/octet-streamx"})
        EXPECT_FALSE(is_upload_content_type(other)) << other;
}

TEST(Upload, ExtensionFromTheFileNameThenTheTypeAndNeverTheClientsText) {
    struct Case {
        const char *filename, *content_type, *extension;
    };
    const Case cases[] = {{"alpine.tar.xz", "", ".tar.xz"},
                          {"ROOTFS.TAR.GZ", "", ".tar.gz"},
                          {"x.tgz", "application/octet-stream", ".tgz"},
                          {"x.tar.zst", "", ".tar.zst"},
                          {"x.tar.bz2", "", ".tar.bz2"},
                          {"x.tar", "application/gzip", ".tar"},
                          {"", "application/gzip", ".tar.gz"},
                          {"", "application/x-xz", ".tar.xz"},
                          {"", "application/octet-stream", ".tar"}};
    for (const auto& c : cases)
        EXPECT_EQ(upload_extension(c.filename, c.content_type), c.extension)
            << c.filename << " " << c.content_type;
    // A name cannot smuggle a path or an unknown suffix into .uploads/.
    for (const char* name : {"../../etc/cron.d/x", "a.tar.gz/../../x", "evil.sh", ".tar"})
        EXPECT_EQ(upload_extension(name, ""), ".tar") << name;
}

TEST(Upload, LimitIsTheFreeSpaceCappedAt64GiB) {
    EXPECT_EQ(upload_limit(1000), 1000u);
    EXPECT_EQ(upload_limit(1ull << 40), kMaxUploadBytes);
}

TEST(Upload, ContentLengthDigitsOnly) {
    EXPECT_EQ(parse_content_length("0"), 0u);
    EXPECT_EQ(parse_content_length("314572800"), 314572800u);
    for (const char* bad : {"", "-1", "+5", "12 ", "0x10", "99999999999999999999999"})
        EXPECT_FALSE(parse_content_length(bad)) << bad;
}

TEST(WindowSize, RowsAndColsFrom1To1000) {
    auto size = window_size(nlohmann::json{{"rows", 40}, {"cols", 120}});
    EXPECT_EQ(size.rows, 40);
    EXPECT_EQ(size.cols, 120);
    size = window_size(nlohmann::json{{"rows", 1000}, {"cols", 1}});
    EXPECT_EQ(size.rows, 1000);
    for (auto bad :
         {nlohmann::json{{"rows", 0}, {"cols", 80}}, nlohmann::json{{"rows", 24}, {"cols", 1001}},
          nlohmann::json{{"rows", -1}, {"cols", 80}}, nlohmann::json{{"rows", "24"}, {"cols", 80}},
          nlohmann::json{{"rows", 24.5}, {"cols", 80}}, nlohmann::json{{"rows", 24}},
          nlohmann::json::array()}) {
        try {
            window_size(bad);
            ADD_FAILURE() << bad.dump();
        } catch (const ds::Error& e) {
            EXPECT_EQ(e.kind(), ds::ErrorKind::invalid) << bad.dump();
        }
    }
}

}  // namespace
