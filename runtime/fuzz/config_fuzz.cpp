// container.config: parse, save, load again. A config that loads must save to text that loads
// to the same effective config, saving must be a fixpoint, and the lines the runtime does not
// own (comments, blanks, unknown keys) must come back verbatim and in order.
#include <algorithm>
#include <string>
#include <vector>

#include "config_view.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "fuzz_target.hpp"

namespace {

using ds::Config;
using ds::fuzz::effective;

// The lines a save must keep: comments, blanks and lines whose key the runtime does not own.
std::vector<std::string> foreign_lines(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& line : lines) {
        auto t = ds::trim(line);
        auto eq = t.find('=');
        bool known = !t.empty() && t[0] != '#' && eq != std::string_view::npos &&
                     ds::is_known_config_key(ds::trim(t.substr(0, eq)));
        if (!known) out.push_back(line);
    }
    return out;
}

Config load_saved(const std::string& text, const char* what) {
    try {
        return ds::parse_config(text, what);
    } catch (const ds::Error& e) {
        ds::fuzz::check_failed("load_saved", __FILE__, __LINE__,
                               std::string(what) + " does not load: " + e.what() + "\n" + text);
    }
}

}  // namespace

DS_FUZZ_TARGET(config) {
    Config first;
    try {
        first = ds::parse_config(ds::fuzz::as_text(data, size), "fuzz");
    } catch (const ds::Error& e) {
        std::string message = e.what();  // rejected input: fine, with a one-line error
        DS_FUZZ_CHECK(message.find('\n') == std::string::npos, "error is not one line: " + message);
        return 0;
    }
    std::string saved = ds::serialize_config(first);
    Config second = load_saved(saved, "saved config");
    DS_FUZZ_CHECK(effective(second) == effective(first),
                  "saving changed the config:\n" + effective(first) + "\n---\n" +
                      effective(second) + "\n---saved:\n" + saved);
    DS_FUZZ_CHECK(ds::serialize_config(second) == saved,
                  "saving twice changed the file:\n" + saved);
    // (A file with no lines at all is saved as a fresh file, with the header comment.)
    DS_FUZZ_CHECK(first.source_lines.empty() ||
                      foreign_lines(second.source_lines) == foreign_lines(first.source_lines),
                  "a comment or unknown key was lost or moved:\n" + saved);

    // The same values written as a fresh file (no source lines) load back the same.
    Config fresh = first;
    fresh.source_lines.clear();
    std::string fresh_text = ds::serialize_config(fresh);
    DS_FUZZ_CHECK(effective(load_saved(fresh_text, "fresh config")) == effective(first),
                  "a fresh save changed the config:\n" + fresh_text);

    // --reset keeps a file that still loads.
    ds::reset_config(second);
    load_saved(ds::serialize_config(second), "reset config");
    return 0;
}
