// install's pure helpers (core/archive.hpp): archive magic and tar headers, --img sizes, the
// progress text, tar's stderr, the in-rootfs path resolver and the names derived from a
// container name. The first byte picks the function (a letter from kParsers, any other byte
// modulo the table); the rest, split at NULs where a function takes several inputs, is its input.
// (The member-name / link-target check of helper "install" gets its own row when it lands.)
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/archive.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "fuzz_target.hpp"

namespace {

using std::string;
using std::string_view;
namespace archive = ds::archive;

uint64_t number(string_view s) {
    uint64_t n = 0;
    std::memcpy(&n, s.data(), std::min(s.size(), sizeof n));
    return n;
}

void head(string_view text) {
    if (auto c = archive::detect_compression(text)) {
        DS_FUZZ_CHECK(!archive::compression_name(*c).empty(), "unnamed compression");
        (void)archive::decompressor(*c);
    }
    (void)archive::is_tar_header(text);
}

void image_size(string_view text) {
    try {
        uint64_t n = archive::parse_image_size(text);
        DS_FUZZ_CHECK(n % 4096 == 0, "image size not in whole blocks");
        DS_FUZZ_CHECK(n >= archive::kMinImageSize - 4096 && n <= archive::kMaxImageSize,
                      "image size out of range: " + std::to_string(n));
    } catch (const ds::Error&) {
    }
}

void progress(string_view text) {
    uint64_t done = number(text), total = number(text.substr(std::min<size_t>(8, text.size())));
    int pct = archive::percent(done, total);
    DS_FUZZ_CHECK(pct >= 0 && pct <= 100, "percent out of range");
    DS_FUZZ_CHECK(pct < 100 || done >= total, "100% before done");
    (void)archive::progress_bar(done, total, text.size() % 64);
    (void)archive::progress_text(done, total);
    (void)archive::human_size(done);
    (void)archive::tar_entry_size(done);
    archive::ProgressThrottle throttle(total % 1000);
    archive::DecileLines deciles;
    for (unsigned char c : text.substr(std::min<size_t>(16, text.size()))) {
        (void)throttle.due(c, c & 1);
        (void)deciles.due(static_cast<int>(c) - 20);
    }
}

void tar_stderr(string_view text) {
    string line = archive::failure_line(text);
    DS_FUZZ_CHECK(line.find_first_of("\r\n") == string::npos, "failure line spans lines");
    (void)archive::mentions_no_space(text);
}

// A component list that cannot name anything outside the rootfs.
bool confined(const string& relative) {
    if (relative.empty()) return true;
    if (relative.front() == '/' || relative.back() == '/') return false;
    for (const auto& part : ds::split_list(relative, "/"))
        if (part == "." || part == "..") return false;
    return relative.find("//") == string::npos;
}

// A rootfs described by the input: "dir/", "link>target" or "file", one per NUL-separated item
// after the path to resolve and a flags byte.
void resolve(string_view text) {
    auto items = ds::fuzz::split_nul(text);
    if (items.size() < 2) return;
    std::map<string, archive::PathInfo> tree;
    for (size_t i = 2; i < items.size(); ++i) {
        const string& item = items[i];
        archive::PathInfo info;
        info.exists = true;
        string path = item;
        if (auto arrow = item.find('>'); arrow != string::npos) {
            path = item.substr(0, arrow);
            info.is_symlink = true;
            info.target = item.substr(arrow + 1);
        } else if (!item.empty() && item.back() == '/') {
            path.pop_back();
            info.is_directory = true;
        }
        tree.emplace(path, info);
    }
    size_t lookups = 0;
    auto lookup = [&](const string& relative) {
        DS_FUZZ_CHECK(confined(relative), "lookup outside the rootfs: '" + relative + "'");
        DS_FUZZ_CHECK(++lookups < 100000, "resolve_in_root does not terminate");
        auto it = tree.find(relative);
        return it == tree.end() ? archive::PathInfo{} : it->second;
    };
    bool follow_last = !items[1].empty() && (items[1][0] & 1);
    auto out = archive::resolve_in_root(items[0], follow_last, lookup);
    DS_FUZZ_CHECK(confined(out.relative), "resolved outside the rootfs: '" + out.relative + "'");
}

void names(string_view text) {
    string host = archive::hostname_for(text);
    try {
        ds::check_hostname(host);
    } catch (const ds::Error& e) {
        DS_FUZZ_CHECK(false, string("hostname_for made an invalid hostname: ") + e.what());
    }
    DS_FUZZ_CHECK(archive::ext4_label(text).size() <= 16, "ext4 label longer than 16 bytes");
    (void)archive::hosts_has_localhost(text);
    (void)archive::is_blank(text);
}

struct Parser {
    char letter;
    void (*run)(string_view);
};

constexpr Parser kParsers[] = {
    {'m', head},       {'s', image_size}, {'p', progress},
    {'t', tar_stderr}, {'r', resolve},    {'n', names},
};

}  // namespace

DS_FUZZ_TARGET(archive) {
    if (size == 0) return 0;
    const Parser* parser = &kParsers[data[0] % std::size(kParsers)];
    for (const auto& p : kParsers)
        if (p.letter == static_cast<char>(data[0])) parser = &p;
    parser->run(ds::fuzz::as_text(data + 1, size - 1));
    return 0;
}
