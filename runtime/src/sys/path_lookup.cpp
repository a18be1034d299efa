#include "sys/path_lookup.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "core/path_list.hpp"

namespace ds::sys {

std::string find_program(std::string_view name) {
    // getenv only reads: the environment is not changed by the runtime after main starts.
    const char* path = std::getenv("PATH");
    for (const auto& candidate : program_candidates(path ? path : "", name)) {
        struct stat st;
        if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
            ::access(candidate.c_str(), X_OK) == 0)
            return candidate;
    }
    return "";
}

}  // namespace ds::sys
