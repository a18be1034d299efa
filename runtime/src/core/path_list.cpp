#include "core/path_list.hpp"

#include <algorithm>

namespace ds {

std::vector<std::string> program_candidates(std::string_view path_value, std::string_view name) {
    std::vector<std::string> out;
    if (name.empty() || name.find('/') != std::string_view::npos) return out;
    std::vector<std::string_view> dirs;
    auto add = [&dirs](std::string_view dir) {
        while (dir.size() > 1 && dir.back() == '/')
            dir.remove_suffix(1);
        if (dir.empty() || dir.front() != '/') return;
        if (std::find(dirs.begin(), dirs.end(), dir) == dirs.end()) dirs.push_back(dir);
    };
    while (!path_value.empty()) {
        size_t colon = path_value.find(':');
        add(path_value.substr(0, colon));
        path_value.remove_prefix(colon == std::string_view::npos ? path_value.size() : colon + 1);
    }
    for (std::string_view dir : kProgramDirs)
        add(dir);
    out.reserve(dirs.size());
    for (std::string_view dir : dirs)
        out.push_back(std::string(dir) + (dir == "/" ? "" : "/") + std::string(name));
    return out;
}

}  // namespace ds
