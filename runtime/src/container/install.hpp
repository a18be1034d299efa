// `install`: a new container from a rootfs tarball (tar, tar.gz, tar.xz, tar.zst, tar.bz2) or a
// directory, extracted into Containers/<name>/rootfs/ or into a new sparse ext4 image
// Containers/<name>/rootfs.img, made bootable by a few post-install fixes, with its
// container.config written.
//
// The operation reports what it does as structured events (steps, throttled progress, warnings,
// done) to a callback, so the CLI and a web server can each present them their own way. It
// builds everything in a temp dir Containers/.install@<name>.XXXXXX and renames it into place
// at the very end: on any failure or cancellation the temp dir is unmounted and removed, so no
// half-made container is ever visible.
//
// A tarball is untrusted: every member is checked (ar::TarScanner) before anything is made,
// and again while it streams into tar, which runs sandboxed (a private mount namespace where
// only the new rootfs is writable), so neither the archive nor a buggy host tar can create,
// link or change anything outside the new rootfs. Files of the new rootfs are read with
// sys::read_guest_file (in-root, non-blocking, regular only, size-capped).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/workspace.hpp"

namespace ds::container {

struct InstallRequest {
    std::string name;         // validated again here
    std::string source;       // absolute path: tarball or directory
    uint64_t image_size = 0;  // 0: directory rootfs; else bytes of the sparse image
    std::string image_fs = "ext4";
    bool try_lock = false;  // a held container lock fails at once (busy) instead of waiting
};

struct InstallEvent {
    enum class Type { step, progress, warning, done };
    Type type = Type::step;
    std::string step;     // step: "mkfs", "extract", "fixes", "config"
    std::string message;  // step: what is being done, in words; warning: the warning
    uint64_t bytes = 0;   // progress: source bytes consumed so far
    uint64_t total = 0;   // progress: source bytes in all (an estimate for a directory)
    int percent = 0;      // progress
    std::string name;     // done
    std::string rootfs;   // done: the rootfs directory or image
    std::string config;   // done: the container.config written
    bool image = false;   // done: the rootfs is an image
    std::string os;       // done: the rootfs's os-release PRETTY_NAME, "" when it has none
    std::vector<std::string> fixes;  // done: what the post-install fixes changed
};
using InstallSink = std::function<void(const InstallEvent&)>;

struct InstallResult {
    std::string name;
    std::string container_dir;
    std::string rootfs;  // Containers/<name>/rootfs or Containers/<name>/rootfs.img
    std::string config_path;
    bool image = false;
    std::string os;
    std::vector<std::string> fixes;  // "wrote /etc/hostname", "created /tmp", ...
};

// Installs the container. `cancel_fd` (-1 for none) is polled during the long steps: when it
// becomes readable (a signalfd, an eventfd) the install stops, cleans up and throws. Throws
// ds::Error: exit code 1 for bad input found before anything was created (bad name, an existing
// container, a missing source, not an archive, an archive member that breaks a rule, a missing
// tool, bad size), 2 for failures on the
// way (a corrupt or truncated archive, disk full, image too small, interrupted); either way
// nothing of the container remains.
InstallResult install_container(const Workspace& ws, const InstallRequest& request,
                                const InstallSink& sink, int cancel_fd = -1);

// One event as a JSON object: {"event":"progress","bytes":N,"total":M,"percent":P},
// {"event":"step","step":S,"message":...}, {"event":"warning","message":...},
// {"event":"done","name":...,"rootfs":...,"config":...,"image":B,"os":...,"fixes":[...]}.
inline nlohmann::ordered_json event_json(const InstallEvent& e) {
    switch (e.type) {
        case InstallEvent::Type::progress:
            return {{"event", "progress"},
                    {"bytes", e.bytes},
                    {"total", e.total},
                    {"percent", e.percent}};
        case InstallEvent::Type::step:
            return {{"event", "step"}, {"step", e.step}, {"message", e.message}};
        case InstallEvent::Type::warning:
            return {{"event", "warning"}, {"message", e.message}};
        case InstallEvent::Type::done:
            return {{"event", "done"},    {"name", e.name},   {"rootfs", e.rootfs},
                    {"config", e.config}, {"image", e.image}, {"os", e.os},
                    {"fixes", e.fixes}};
    }
    return {};
}

// The failure event: {"event":"error","message":...}.
inline nlohmann::ordered_json error_event_json(std::string_view message) {
    return {{"event", "error"}, {"message", message}};
}

}  // namespace ds::container
