// One source per fuzz target, built two ways:
//  - with clang and -fsanitize=fuzzer (cmake -DDS_FUZZ=ON, `./build.sh fuzz`): the target is
//    libFuzzer's LLVMFuzzerTestOneInput;
//  - with the normal build (DS_FUZZ_REPLAY): the target registers itself with ds_fuzz_replay,
//    which runs every seed corpus file once under ctest, so `./build.sh test` needs no clang.
// A target returns normally for any input its parser accepts or rejects with ds::Error (bad
// input is expected); any other exception, a failed DS_FUZZ_CHECK, a sanitizer report or a hang
// is a bug.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace ds::fuzz {

using TargetFn = int (*)(const uint8_t* data, size_t size);

// Adds a target to the replay driver's table; returns true so it can initialise a static.
bool register_target(const char* name, TargetFn fn);

inline std::string_view as_text(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The input split at NUL bytes: argv for the CLI parser, several fields for the others. A
// trailing NUL does not add an empty last item, so "a\0b\0" and "a\0b" are the same input.
inline std::vector<std::string> split_nul(std::string_view text) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\0', start);
        if (end == std::string_view::npos) end = text.size();
        out.emplace_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

// An invariant that must hold for every input: on failure, say which one and abort, so that
// libFuzzer saves the input as a crash and the replay test fails.
[[noreturn]] inline void check_failed(const char* expr, const char* file, int line,
                                      const std::string& detail) {
    std::fprintf(stderr, "%s:%d: invariant failed: %s\n  %s\n", file, line, expr, detail.c_str());
    std::abort();
}

}  // namespace ds::fuzz

#define DS_FUZZ_CHECK(cond, detail) \
    ((cond) ? (void)0 : ::ds::fuzz::check_failed(#cond, __FILE__, __LINE__, (detail)))

#ifdef DS_FUZZ_REPLAY
#define DS_FUZZ_TARGET(name)                                         \
    static int ds_fuzz_one_##name(const uint8_t* data, size_t size); \
    [[maybe_unused]] static const bool ds_fuzz_registered_##name =   \
        ::ds::fuzz::register_target(#name, ds_fuzz_one_##name);      \
    static int ds_fuzz_one_##name(const uint8_t* data, size_t size)
#else
#define DS_FUZZ_TARGET(name) extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
#endif
