// `droidspaces check`: runs the live probes (sys/probes.hpp) and reports them in upstream's
// layout, or as one JSON document with --json. Exit 0 when every required feature is present,
// 1 otherwise (upstream always exits 0; scripts here can rely on the code).
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "cli/output.hpp"
#include "core/error.hpp"
#include "sys/probes.hpp"

namespace ds::cli {
namespace {

constexpr int kExitRequiredMissing = 1;

struct Palette {
    const char* green = "";
    const char* red = "";
    const char* yellow = "";
    const char* dim = "";
    const char* bold = "";
    const char* reset = "";
};

Palette palette_for_stdout() {
    if (!::isatty(STDOUT_FILENO)) return {};
    return {"\033[32m", "\033[31m", "\033[33m", "\033[2m", "\033[1m", "\033[0m"};
}

std::string_view section_title(sys::Section section) {
    switch (section) {
        case sys::Section::required:
            return "Required";
        case sys::Section::recommended:
            return "Recommended";
        case sys::Section::optional:
            return "Optional";
    }
    return "";
}

// "  [✓] Name (detail)" and, when it failed, an indented hint line.
std::string format_line(const sys::CheckLine& line, const Palette& p) {
    bool ok = line.result.ok;
    const char* mark_color = ok                                       ? p.green
                             : line.section == sys::Section::required ? p.red
                                                                      : p.yellow;
    std::string out = "  ";
    out += mark_color;
    out += ok ? "[✓]" : "[✗]";
    out += p.reset;
    out += " ";
    out += line.name;
    if (!line.result.detail.empty()) out += " (" + line.result.detail + ")";
    out += "\n";
    if (!ok) {
        out += "      ";
        out += p.dim;
        out += line.hint;
        if (line.skipped_not_root) out += " (Note: namespace checks require root privileges)";
        out += p.reset;
        out += "\n";
    }
    return out;
}

std::string format_section(const sys::CheckReport& report, sys::Section section, const Palette& p) {
    std::string out = "\n";
    out += p.bold;
    out += section_title(section);
    out += ":";
    out += p.reset;
    out += "\n";
    for (const auto& line : report.lines)
        if (line.section == section) out += format_line(line, p);
    return out;
}

std::string format_verdict(const sys::CheckReport& report, const Palette& p) {
    if (report.ok())
        return std::string("\n  ") + p.green + "[✓]" + p.reset + " All required features found\n";
    return std::string("\n  ") + p.red + "[✗]" + p.reset + " " +
           std::to_string(report.missing_required) +
           " required feature(s) missing - Droidspaces will not work\n";
}

// Built in one string and written once, like upstream.
std::string format_text(const sys::CheckReport& report, const Palette& p) {
    std::string out = std::string(p.bold) + "Droidspaces v" + DS_VERSION +
                      " - checking system requirements" + p.reset + "\n";
    for (auto s : {sys::Section::required, sys::Section::recommended, sys::Section::optional})
        out += format_section(report, s, p);
    out += format_verdict(report, p);
    return out;
}

int report_check(Context& ctx) {
    sys::CheckReport report = ctx.rt().check();
    if (ctx.inv.json) {
        print_json(sys::check_report_json(report, DS_VERSION));
    } else {
        std::string text = format_text(report, palette_for_stdout());
        std::fputs(text.c_str(), stdout);
        std::fflush(stdout);
        if (!report.root)
            print_warning(
                "You are not root: namespace, pivot_root, devpts and network probes need root "
                "and are reported as missing");
    }
    return report.ok() ? kExitOk : kExitRequiredMissing;
}

}  // namespace

int cmd_check(Context& ctx) {
    try {
        return report_check(ctx);
    } catch (const std::exception& e) {
        print_error(std::string("check failed: ") + e.what());
        if (ctx.inv.json) print_json(error_json(ErrorKind::system, e.what()));
    }
    return kExitRequiredMissing;
}

}  // namespace ds::cli
