#include "core/workspace.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/validate.hpp"
#include "sys/fd.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

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

void make_private_dir(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) sys::make_dirs(path.substr(0, slash));
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) sys::fail_errno("mkdir " + path);
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) sys::fail_errno("open " + path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) sys::fail_errno("stat " + path);
    if ((st.st_mode & 07777) != 0700 && ::fchmod(fd.get(), 0700) != 0)
        sys::fail_errno("chmod 0700 " + path);
}

void make_private_dirs(const Workspace& ws) {
    make_private_dir(ws.containers_dir());
    // Made when first needed (an image, --volatile); older ones are tightened now.
    for (const auto& dir : {ws.root + "/Volatile", ws.mount_base})
        if (sys::is_directory(dir)) make_private_dir(dir);
}

}  // namespace ds
