#include "sys/platform.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include "sys/file.hpp"

namespace ds::sys {

bool is_android() {
    static const bool android =
        !path_exists("/system/bin/recovery") &&
        (path_exists("/system/build.prop") || path_exists("/system/bin/app_process"));
    return android;
}

Workspace detect_workspace() {
    Workspace ws;
    if (const char* home = ::getenv("DROIDSPACES_HOME"); home && *home) {
        ws.root = absolute_path(home);
        ws.mount_base = ws.root + "/mnt";
    } else {
        ws.root = is_android() ? "/data/local/Droidspaces" : "/var/lib/Droidspaces";
        ws.mount_base = "/mnt/Droidspaces";
    }
    return ws;
}

std::string absolute_path(const std::string& path) {
    std::string p = path;
    if (p.rfind("~/", 0) == 0) {
        if (const char* home = ::getenv("HOME")) p = std::string(home) + p.substr(1);
    }
    char resolved[PATH_MAX];
    if (::realpath(p.c_str(), resolved)) return resolved;
    if (p.empty() || p[0] != '/') {
        char cwd[PATH_MAX];
        if (::getcwd(cwd, sizeof cwd)) {
            while (p.rfind("./", 0) == 0)
                p.erase(0, 2);
            p = std::string(cwd) + (std::string(cwd) == "/" ? "" : "/") + p;
        }
    }
    while (p.size() > 1 && p.back() == '/')
        p.pop_back();
    return p;
}

}  // namespace ds::sys
