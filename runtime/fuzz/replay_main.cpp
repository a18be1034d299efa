// ds_fuzz_replay TARGET PATH...: runs every file under PATH (files, or directories walked in
// name order) through one fuzz target once, without libFuzzer. ctest runs it over each seed
// corpus so that inputs that once crashed keep being checked by the normal gcc build.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "fuzz_target.hpp"

namespace ds::fuzz {
namespace {

std::map<std::string, TargetFn>& targets() {
    static std::map<std::string, TargetFn> table;
    return table;
}

std::vector<std::filesystem::path> inputs_under(const std::filesystem::path& path) {
    std::vector<std::filesystem::path> files;
    if (std::filesystem::is_directory(path)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(path))
            if (entry.is_regular_file()) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
    } else {
        files.push_back(path);
    }
    return files;
}

std::string read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

bool register_target(const char* name, TargetFn fn) {
    targets()[name] = fn;
    return true;
}

}  // namespace ds::fuzz

int main(int argc, char** argv) {
    using ds::fuzz::targets;
    auto it = argc >= 3 ? targets().find(argv[1]) : targets().end();
    if (it == targets().end()) {
        std::fprintf(stderr, "usage: %s TARGET CORPUS_DIR_OR_FILE...\ntargets:", argv[0]);
        for (const auto& [name, fn] : targets())
            std::fprintf(stderr, " %s", name.c_str());
        std::fprintf(stderr, "\n");
        return 2;
    }
    size_t count = 0;
    for (int i = 2; i < argc; ++i) {
        std::vector<std::filesystem::path> files;
        try {
            files = ds::fuzz::inputs_under(argv[i]);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", argv[i], e.what());
            return 2;
        }
        for (const auto& file : files) {
            // Named before it runs: a crash or abort in the target leaves this as the last line.
            std::fprintf(stderr, "%s\n", file.c_str());
            std::string data;
            try {
                data = ds::fuzz::read_all(file);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s\n", e.what());
                return 2;
            }
            try {
                it->second(reinterpret_cast<const uint8_t*>(data.data()), data.size());
            } catch (const std::exception& e) {
                std::fprintf(stderr, "%s: uncaught exception: %s\n", file.c_str(), e.what());
                return 1;
            }
            ++count;
        }
    }
    if (count == 0) {
        std::fprintf(stderr, "%s: no inputs found\n", argv[1]);
        return 1;
    }
    std::printf("%s: %zu inputs ran clean\n", argv[1], count);
    return 0;
}
