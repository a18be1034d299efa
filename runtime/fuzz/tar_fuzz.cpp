// install's tar stream check (core/archive.hpp: TarScanner, tar_problem, member_path_problem,
// normalize_member_path, printable). Built only when archive.hpp has TarScanner (CMakeLists).
// The first input byte seeds how the stream is cut into feed() calls; the rest is the
// (decompressed) tar stream. Checked:
//  - the verdict, the problem (but for byte offsets) and the approved bytes do not depend on
//    how the stream is cut;
//  - approved bytes are the input's own, in order (an end marker may be completed with zeros),
//    and scanning them again gives the same verdict and the same bytes;
//  - problems are one printable line;
//  - an independent walk of an accepted stream finds no member name, long name, pax path or
//    hard-link target that is absolute or has a ".." component (what an extractor would use).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "core/archive.hpp"
#include "fuzz_target.hpp"

namespace {

using ds::archive::TarScanner;
using std::string;
using std::string_view;

struct Scan {
    TarScanner::Status status;
    string problem;
    string approved;
};

// Cut lengths from a tiny generator seeded by the first byte: 1..1024 bytes, so block and
// header boundaries fall everywhere.
Scan scan(string_view stream, unsigned seed) {
    TarScanner scanner;
    Scan out;
    uint32_t state = seed * 2654435761u + 1;
    while (!stream.empty() && scanner.status() == TarScanner::Status::more) {
        size_t cut = stream.size();
        if (seed != 0) {
            state = state * 1103515245u + 12345u;
            cut = std::min<size_t>(stream.size(), 1 + (state >> 16) % 1024);
        }
        scanner.feed(stream.substr(0, cut), &out.approved);
        stream.remove_prefix(cut);
    }
    out.status = scanner.finish(&out.approved);
    out.problem = scanner.problem();
    return out;
}

bool bad_path(string_view path) {
    if (!path.empty() && path.front() == '/') return true;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == string_view::npos) slash = path.size();
        if (path.substr(start, slash - start) == "..") return true;
        start = slash + 1;
    }
    return false;
}

string_view c_string(string_view field) {
    return field.substr(0, field.find('\0'));
}

uint64_t octal(string_view field) {
    if (!field.empty() && (static_cast<unsigned char>(field[0]) & 0x80)) {  // GNU base-256
        uint64_t v = 0;
        for (size_t i = 1; i < field.size(); ++i)
            v = (v << 8) | static_cast<unsigned char>(field[i]);
        return v;
    }
    uint64_t v = 0;
    for (char c : field)
        if (c >= '0' && c <= '7') v = v * 8 + static_cast<uint64_t>(c - '0');
    return v;
}

// The values of `key` in pax records "LEN KEY=VALUE\n" (any that parse).
std::vector<string> pax_values(string_view data, string_view key) {
    std::vector<string> out;
    while (!data.empty()) {
        size_t space = data.find(' ');
        if (space == string_view::npos) break;
        size_t len = 0;
        for (size_t i = 0; i < space && len <= data.size(); ++i)
            len = len * 10 + static_cast<size_t>(data[i] - '0');
        if (len <= space + 1 || len > data.size()) break;
        string_view body = data.substr(space + 1, len - space - 2);
        if (body.substr(0, key.size()) == key && body.size() > key.size() &&
            body[key.size()] == '=')
            out.emplace_back(body.substr(key.size() + 1));
        data.remove_prefix(len);
    }
    return out;
}

// Walks an accepted stream the simple way and checks every name an extractor could use: member
// names (header, ustar prefix, GNU long name, pax path) and, for hard links, their targets
// (header, GNU long link, pax linkpath). Symlink targets are the guest's business.
void check_names(string_view s) {
    std::vector<string> names, links;  // from long-name and pax headers, for the next member
    size_t at = 0;
    while (at + 512 <= s.size()) {
        string_view h = s.substr(at, 512);
        if (h.find_first_not_of('\0') == string_view::npos) return;
        char type = h[156];
        uint64_t size = octal(h.substr(124, 12));
        uint64_t blocks = (size + 511) / 512;
        at += 512;
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
            string_view data = s.substr(std::min(at, s.size()), size);
            if (type == 'L') names.emplace_back(c_string(data));
            if (type == 'K') links.emplace_back(c_string(data));
            for (auto& v : pax_values(data, "path"))
                names.push_back(v);
            for (auto& v : pax_values(data, "linkpath"))
                links.push_back(v);
            at += blocks * 512;
            continue;
        }
        string name(c_string(h.substr(0, 100)));
        if (h.substr(257, 6) == string_view("ustar\0", 6) && h[345] != '\0')
            name = string(c_string(h.substr(345, 155))) + "/" + name;
        names.push_back(name);
        if (type == '1') {
            links.emplace_back(c_string(h.substr(157, 100)));
            names.insert(names.end(), links.begin(), links.end());
        }
        for (const auto& p : names)
            DS_FUZZ_CHECK(!bad_path(p), "accepted a member path that leaves the target: " +
                                            ds::archive::printable(p));
        names.clear();
        links.clear();
        bool file = type == '0' || type == '\0' || type == '7';
        if (file) at += blocks * 512;
    }
}

// A problem with its numbers as '#'. The scanner names the byte offset of a malformed pax
// header as the offset where the read that completed it began, so that number depends on how
// the stream was cut (reported to the installer's owner); the rest of the text must not.
string without_numbers(const string& problem) {
    string out;
    for (char c : problem) {
        bool digit = c >= '0' && c <= '9';
        if (!digit)
            out += c;
        else if (out.empty() || out.back() != '#')
            out += '#';
    }
    return out;
}

void check_problem(const string& problem) {
    for (unsigned char c : problem)
        DS_FUZZ_CHECK(c >= 0x20 && c < 0x7f, "problem is not one printable line: " + problem);
}

}  // namespace

DS_FUZZ_TARGET(tar) {
    if (size == 0) return 0;
    string_view stream = ds::fuzz::as_text(data + 1, size - 1);

    // The pure helpers, on the same bytes.
    if (!ds::archive::member_path_problem(stream)) {
        DS_FUZZ_CHECK(!bad_path(stream), "member_path_problem passed a path that leaves");
        DS_FUZZ_CHECK(!bad_path(ds::archive::normalize_member_path(stream)), "normalized path");
    }
    string shown = ds::archive::printable(stream);
    check_problem(shown);

    Scan whole = scan(stream, 0);
    Scan cut = scan(stream, data[0] | 1);
    DS_FUZZ_CHECK(cut.status == whole.status && cut.approved == whole.approved,
                  "the verdict depends on how the stream is cut: '" + whole.problem + "' vs '" +
                      cut.problem + "'");
    // (Byte offsets in the problem may differ: see without_numbers.)
    DS_FUZZ_CHECK(without_numbers(cut.problem) == without_numbers(whole.problem),
                  "the problem depends on how the stream is cut: '" + whole.problem + "' vs '" +
                      cut.problem + "'");
    DS_FUZZ_CHECK(
        (whole.status == TarScanner::Status::end) == !ds::archive::tar_problem(stream).has_value(),
        "tar_problem disagrees with TarScanner");
    check_problem(whole.problem);

    // Approved bytes are the input's; an accepted stream ends with a full zero end marker.
    const string& ok = whole.approved;
    size_t own = ok.size();
    if (whole.status == TarScanner::Status::end) {
        DS_FUZZ_CHECK(
            ok.size() >= 1024 && ok.find_first_not_of('\0', ok.size() - 1024) == string::npos,
            "accepted stream without an end marker");
        own = ok.size() - 1024;
    }
    DS_FUZZ_CHECK(own <= stream.size() && ok.compare(0, own, stream.substr(0, own)) == 0,
                  "approved bytes that are not the input's");
    if (whole.status != TarScanner::Status::end) return 0;

    Scan again = scan(ok, 0);
    DS_FUZZ_CHECK(again.status == TarScanner::Status::end && again.approved == ok,
                  "the approved stream does not pass again: " + again.problem);
    check_names(ok);
    return 0;
}
