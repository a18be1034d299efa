// The command line: argv is the input split at NUL bytes. What parses must give valid names,
// and the config options applied to a config must leave a config that saves and loads back the
// same (the command line and the file must not disagree on what a value means).
#include <string>
#include <vector>

#include "cli/options.hpp"
#include "config_view.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "fuzz_target.hpp"

namespace {

void check_one_line(const ds::Error& e) {
    std::string message = e.what();
    DS_FUZZ_CHECK(!message.empty() && message.find('\n') == std::string::npos,
                  "error is not one line: " + message);
}

}  // namespace

DS_FUZZ_TARGET(options) {
    auto argv = ds::fuzz::split_nul(ds::fuzz::as_text(data, size));
    ds::cli::Invocation inv;
    try {
        inv = ds::cli::parse_command_line(argv);
    } catch (const ds::Error& e) {
        check_one_line(e);
        return 0;
    }
    for (const auto& name : inv.names) {
        try {
            ds::check_container_name(name);
        } catch (const ds::Error& e) {
            DS_FUZZ_CHECK(false, std::string("an invalid name was accepted: ") + e.what());
        }
    }

    ds::Config config;
    config.name = "fuzz";
    try {
        ds::cli::apply_overrides(inv, config);
    } catch (const ds::Error& e) {
        check_one_line(e);
        return 0;
    }
    std::string saved = ds::serialize_config(config);
    ds::Config loaded;
    try {
        loaded = ds::parse_config(saved, "saved");
    } catch (const ds::Error& e) {
        DS_FUZZ_CHECK(false, std::string("the command line made a config that does not load: ") +
                                 e.what() + "\n" + saved);
    }
    DS_FUZZ_CHECK(ds::fuzz::effective(loaded) == ds::fuzz::effective(config),
                  "the command line's values change when saved and loaded:\n" +
                      ds::fuzz::effective(config) + "\n---\n" + ds::fuzz::effective(loaded));
    return 0;
}
