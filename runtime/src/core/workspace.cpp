#include "core/workspace.hpp"

#include "core/validate.hpp"

namespace ds {

std::string Workspace::container_dir(std::string_view name) const {
    return containers_dir() + "/" + sanitize_name(name);
}
std::string Workspace::config_path(std::string_view name) const {
    return container_dir(name) + "/container.config";
}
std::string Workspace::pidfile(std::string_view name) const {
    return pids_dir() + "/" + sanitize_name(name) + ".pid";
}
std::string Workspace::sidecar(std::string_view name, std::string_view ext) const {
    return pids_dir() + "/" + sanitize_name(name) + "." + std::string(ext);
}
std::string Workspace::logs_dir(std::string_view name) const {
    return logs_root() + "/" + sanitize_name(name);
}
std::string Workspace::volatile_dir(std::string_view name) const {
    return root + "/Volatile/" + sanitize_name(name);
}
std::string Workspace::mount_point(std::string_view name) const {
    return mount_base + "/" + sanitize_name(name);
}

}  // namespace ds
