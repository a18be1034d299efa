#include "container/init_family.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <string_view>

#include "sys/fd.hpp"
#include "sys/rootfs_path.hpp"

namespace ds::container {
namespace {

constexpr std::array<std::pair<InitFamily, std::string_view>, 8> kNames = {{
    {InitFamily::systemd, "systemd"},
    {InitFamily::procd, "procd"},
    {InitFamily::openrc, "openrc"},
    {InitFamily::runit, "runit"},
    {InitFamily::s6, "s6"},
    {InitFamily::busybox, "busybox"},
    {InitFamily::sysvinit, "sysvinit"},
    {InitFamily::unknown, "unknown"},
}};

// Follows symlinks of `path` inside the tree `root` (an absolute link target is relative to the
// rootfs, as it will be after pivot_root). Every directory on the way is resolved inside the
// tree too, so a rootfs symlink never leads the probe to the host. Returns the final path
// inside the rootfs.
std::string resolve_in_rootfs(int root, std::string path) {
    for (int hops = 0; hops < 16; ++hops) {
        auto slash = path.rfind('/');
        std::string parent = path.substr(0, slash + 1);
        sys::unique_fd dir = sys::open_in_root(root, parent, O_PATH | O_DIRECTORY);
        if (!dir) return path;
        char target[PATH_MAX];
        ssize_t n =
            ::readlinkat(dir.get(), path.substr(slash + 1).c_str(), target, sizeof target - 1);
        if (n <= 0) return path;
        std::string t(target, static_cast<size_t>(n));
        path = t[0] == '/' ? t : parent + t;
    }
    return path;
}

// The first part of a binary: init binaries name themselves early enough. Read as a guest file
// (a FIFO or device the guest put there is never opened).
std::string head_of(int root, const std::string& path, size_t limit) {
    return sys::read_guest_file(root, path, limit, sys::Oversize::first_bytes).value_or("");
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

std::string_view to_string(InitFamily family) {
    for (auto& [f, name] : kNames)
        if (f == family) return name;
    return "unknown";
}

InitFamily parse_init_family(std::string_view text) {
    for (auto& [f, name] : kNames)
        if (name == text) return f;
    return InitFamily::unknown;
}

InitFamily detect_init_family(const std::string& rootfs, const std::string& init_path) {
    sys::unique_fd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return InitFamily::unknown;
    std::string real = resolve_in_rootfs(root.get(), init_path);
    std::string base = real.substr(real.rfind('/') + 1);
    if (base == "systemd" || contains(real, "/systemd/")) return InitFamily::systemd;
    if (base == "busybox") return InitFamily::busybox;
    if (base == "openrc-init") return InitFamily::openrc;
    if (base == "runit" || base == "runit-init") return InitFamily::runit;
    if (base == "s6-svscan" || base == "s6-linux-init") return InitFamily::s6;
    if (base == "procd") return InitFamily::procd;
    // A regular /sbin/init: tell by what the binary says about itself.
    std::string head = head_of(root.get(), real, 1 << 20);
    if (contains(head, "systemd")) return InitFamily::systemd;
    if (contains(head, "BusyBox")) return InitFamily::busybox;
    if (contains(head, "/run/initctl") || contains(head, "/dev/initctl"))
        return InitFamily::sysvinit;
    if (contains(head, "openrc")) return InitFamily::openrc;
    return InitFamily::unknown;
}

HaltRequest halt_request(InitFamily family, bool custom_init) {
    if (custom_init) return {HaltMethod::signal, SIGTERM};
    switch (family) {
        case InitFamily::systemd:
            return {HaltMethod::signal, SIGRTMIN + 3};
        case InitFamily::procd:
        case InitFamily::s6:
        case InitFamily::busybox:
            return {HaltMethod::signal, SIGUSR2};
        case InitFamily::runit:
            return {HaltMethod::signal, SIGCONT};
        case InitFamily::openrc:
            return {HaltMethod::signal, SIGPWR};
        case InitFamily::sysvinit:
            return {HaltMethod::initctl, SIGPWR};
        case InitFamily::unknown:
            break;
    }
    return {HaltMethod::signal, SIGTERM};
}

}  // namespace ds::container
