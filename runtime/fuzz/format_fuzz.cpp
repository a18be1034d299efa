// The small text formats read from the guest and the kernel (os-release, NSpid, /proc/uptime,
// cgroup files) and the printers the CLI feeds them to. The first byte picks the function (a
// letter from kParsers, any other byte modulo the table); the rest, split at NULs, is its input.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/format.hpp"
#include "fuzz_target.hpp"

namespace {

using std::string;
using std::string_view;
using Args = std::vector<string>;
namespace format = ds::format;

string arg(const Args& args, size_t i) {
    return i < args.size() ? args[i] : string();
}

// The first 8 bytes of an argument as a number, so that every value can be reached.
uint64_t number(const Args& args, size_t i) {
    string s = arg(args, i);
    uint64_t n = 0;
    std::memcpy(&n, s.data(), std::min(s.size(), sizeof n));
    return n;
}

void os_release(const Args& args) {
    string text = arg(args, 0);
    if (auto v = format::os_release_value(text, arg(args, 1)))
        DS_FUZZ_CHECK(v->find('\n') == string::npos, "an os-release value spans lines");
    string pretty = format::os_pretty_name(text);
    DS_FUZZ_CHECK(pretty.find('\n') == string::npos, "the pretty name spans lines");
}

void key_value(const Args& args) {
    string line = format::key_value("KEY", arg(args, 0));
    DS_FUZZ_CHECK(line.find_first_of("\r\n") == line.size() - 1,
                  "key_value is not exactly one line");
}

void nspid(const Args& args) {
    if (auto pid = format::parse_nspid(arg(args, 0)))
        DS_FUZZ_CHECK(pid->levels >= 1, "NSpid with no levels");
}

void uptime(const Args& args) {
    int64_t s =
        format::process_uptime(arg(args, 0), number(args, 1), static_cast<long>(number(args, 2)));
    DS_FUZZ_CHECK(s >= -1, "negative uptime");
    string text = format::uptime(s);
    DS_FUZZ_CHECK(!text.empty(), "empty uptime text");
    (void)format::uptime(static_cast<int64_t>(number(args, 1)));
}

void sizes(const Args& args) {
    string text = format::bytes(number(args, 0));
    DS_FUZZ_CHECK(!text.empty() && text.size() < 32, "bytes text: " + text);
}

void cgroup(const Args& args) {
    (void)format::parse_cgroup_value(arg(args, 0));
    (void)format::flat_keyed_value(arg(args, 0), arg(args, 1));
    (void)format::count_lines(arg(args, 0));
}

void arch(const Args& args) {
    DS_FUZZ_CHECK(!format::arch_name(arg(args, 0)).empty() || arg(args, 0).empty(),
                  "empty architecture name");
}

// Rows of up to 4 cells from the arguments: the table has a header and one line per row.
void table(const Args& args) {
    std::vector<string> header = {"NAME", "PID", "ROOTFS"};
    std::vector<std::vector<string>> rows;
    for (size_t i = 0; i < args.size(); i += 4)
        rows.emplace_back(args.begin() + i, args.begin() + std::min(args.size(), i + 4));
    for (auto style : {format::TableStyle::plain, format::TableStyle::box}) {
        string out = format::table(header, rows, style);
        DS_FUZZ_CHECK(!out.empty() && out.back() == '\n', "table does not end a line");
    }
    (void)format::join(args, ",");
    for (const auto& a : args)
        DS_FUZZ_CHECK(format::display_width(a) <= a.size(), "display width above byte count");
}

struct Parser {
    char letter;
    void (*run)(const Args&);
};

constexpr Parser kParsers[] = {
    {'o', os_release}, {'k', key_value}, {'n', nspid}, {'u', uptime},
    {'b', sizes},      {'c', cgroup},    {'a', arch},  {'t', table},
};

}  // namespace

DS_FUZZ_TARGET(format) {
    if (size == 0) return 0;
    const Parser* parser = &kParsers[data[0] % std::size(kParsers)];
    for (const auto& p : kParsers)
        if (p.letter == static_cast<char>(data[0])) parser = &p;
    parser->run(ds::fuzz::split_nul(ds::fuzz::as_text(data + 1, size - 1)));
    return 0;
}
