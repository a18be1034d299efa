#include "container/config_source.hpp"

#include <sys/stat.h>

#include "container/state.hpp"
#include "core/error.hpp"
#include "sys/file.hpp"

namespace ds::container {
namespace {

std::string rootfs_from_edits(const ConfigEdits& edits) {
    std::string rootfs;
    for (const auto& [key, value] : edits) {
        const ConfigOption* option = find_config_option(key);
        if (option && (option->kind == ConfigOptionKind::rootfs ||
                       option->kind == ConfigOptionKind::rootfs_img))
            rootfs = value;
    }
    return rootfs;
}

// The same path, or two names of one file or directory.
bool same_file(const std::string& a, const std::string& b) {
    if (a == b) return true;
    struct stat sa, sb;
    return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

std::string sibling_config(const std::string& rootfs) {
    auto slash = rootfs.rfind('/');
    std::string dir = slash == std::string::npos || slash == 0 ? "" : rootfs.substr(0, slash);
    return dir + "/container.config";
}

// Whether the container.config beside `rootfs` is this rootfs's own: upstream keeps one per
// rootfs folder (Containers/<name>/rootfs beside Containers/<name>/container.config), but
// /srv/debian and /srv/arch would both find /srv/container.config. It is this rootfs's when it
// does not exist yet, or its rootfs_path names this rootfs (an empty rootfs_path or an unreadable
// file is nobody's: it is neither read nor overwritten).
bool sibling_belongs_to(const std::string& rootfs) {
    const std::string path = sibling_config(rootfs);
    auto text = sys::try_read_file(path);
    if (!text) return !sys::path_exists(path);
    std::vector<std::string> ignored;
    Config theirs = parse_config(*text, path, &ignored);
    return !theirs.rootfs_path.empty() && same_file(theirs.rootfs_path, rootfs);
}

}  // namespace

Config load_config_file(const std::string& path, std::vector<std::string>* warnings) {
    auto text = sys::try_read_file(path);
    if (!text) {
        if (sys::path_exists(path)) fail_system("cannot read config '" + path + "'");
        return {};
    }
    std::vector<std::string> ignored;
    Config config = parse_config(*text, path, warnings ? warnings : &ignored);
    // One key for both kinds of rootfs: a file or block device is an image (upstream's rule).
    struct stat st;
    config.rootfs_is_image = !config.rootfs_path.empty() &&
                             ::stat(config.rootfs_path.c_str(), &st) == 0 &&
                             (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
    return config;
}

std::optional<Config> workspace_config(const Workspace& ws, const std::string& name) {
    if (!sys::path_exists(ws.config_path(name))) return std::nullopt;
    try {
        return load_config_file(ws.config_path(name));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

ResolvedConfig resolve_config(const Workspace& ws, const ConfigRequest& request) {
    ResolvedConfig resolved;
    if (!request.conf_path.empty()) {
        resolved.path = request.conf_path;
        resolved.config = load_config_file(resolved.path, &resolved.warnings);
    } else if (auto rootfs = rootfs_from_edits(request.edits);
               !rootfs.empty() && sibling_belongs_to(rootfs)) {
        resolved.path = sibling_config(rootfs);
        resolved.config = load_config_file(resolved.path, &resolved.warnings);
    } else if (!request.name.empty()) {
        // Never the running container's /run/droidspaces/container.config: the guest can
        // rewrite it (privileged=full, binds, env_file) and power off just before a start.
        resolved.config = load_config_file(ws.config_path(request.name), &resolved.warnings);
    }
    if (request.reset) reset_config(resolved.config);
    apply_config_edits(resolved.config, request.edits);
    if (!request.name.empty()) resolved.config.name = request.name;
    return resolved;
}

std::string resolve_single_name(const Workspace& ws, const std::vector<std::string>& names,
                                const std::string& conf_path, const std::string& command) {
    if (names.size() > 1)
        fail_invalid("'" + command + "' takes one container, got " + std::to_string(names.size()));
    if (names.size() == 1) return names[0];
    if (!conf_path.empty()) {
        auto config = load_config_file(conf_path);
        if (!config.name.empty()) return config.name;
    }
    std::vector<std::string> running;
    for (const auto& name : names_with_pidfiles(ws))
        if (auto state = find_running(ws, name)) running.push_back(state->name);
    if (running.empty()) fail_not_found("no containers are running: give --name=NAME");
    if (running.size() > 1) {
        std::string list;
        for (const auto& n : running)
            list += (list.empty() ? "" : ", ") + n;
        fail_invalid("several containers are running (" + list + "): give --name=NAME");
    }
    return running[0];
}

}  // namespace ds::container
