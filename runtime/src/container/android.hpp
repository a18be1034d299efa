// What a container changes on an Android host, and the undoing of it (upstream §13.5-§13.8,
// §9.3): SELinux permissive (-P), the system tuning every start applies, /data remounted suid
// for a directory rootfs, Android storage (-S) and the Termux helpers (container/termux.hpp).
//
// Host-wide changes are recorded in <ws>/Pids/.android (written atomically, under
// Pids/.android.lock) with the containers that hold each one. A change is undone only when we
// made it (SELinux that was already permissive stays so) and only when no holder still runs or
// is being started or stopped; the record carries the boot id, so after a reboot (which undid
// everything) it is dropped. Release runs when a container stops, when a failed start rolls
// back, when a stale record is cleaned up and in `scan` (a killed monitor), so a device is never
// left permissive by a container that is gone.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "container/boot_plan.hpp"
#include "container/termux.hpp"
#include "core/env_file.hpp"
#include "core/workspace.hpp"

namespace ds::container::android {

using Warn = std::function<void(const std::string&)>;

// Refuses bad values of the Android-only options before anything changes (--tx11-flags,
// --virgl-flags). On Android only: elsewhere those options are skipped.
void check_options(const Config& config);

// `start`, after the config is saved and before the monitor: applies the host changes this
// container needs, starts (or reuses) its Termux helpers, waits for -S storage to be unlocked.
// Returns the variables the guest gets (DISPLAY, GALLIUM_DRIVER, PULSE_SERVER).
// `rootfs`: the directory that becomes / (an image's mount point), for the -S checks.
EnvVars prepare_start(const Workspace& ws, const Config& config, const std::string& rootfs,
                      const Warn& warn);

// Undoes what no container needs any more; `stopping` (a container name, or "") counts as gone.
// Returns what was undone, one line each ("SELinux enforcing restored"...). Nothing off Android.
std::vector<std::string> release_unneeded(const Workspace& ws, const std::string& stopping,
                                          const Warn& warn);

// The guest variables of the helpers `config` asks for whose socket is up.
EnvVars guest_env(const Config& config);

// Boot, before pivot_root: -S storage at /storage/emulated/0 and /sdcard, and the helpers'
// sockets in /tmp, each resolved inside the rootfs (`root_fd`): a rootfs symlink never puts a
// mount on the host. What cannot be bound is skipped with a warning.
void bind_guest_paths(const BootPlan& plan, int root_fd, const Warn& warn);

// The record (exposed for its unit test). Resources: what a container can hold.
enum Resource : unsigned { kTuning, kSuid, kSelinux, kX11, kVirgl, kPulse, kResources };
struct HostState {
    std::string boot;
    unsigned changed = 0;    // bit per resource we changed: tuning applied, /data remounted,
                             // SELinux switched from enforcing (helpers: see `helpers`)
    std::string suid_mount;  // the mount we remounted suid
    termux::Process helpers[3];
    std::vector<std::pair<unsigned, std::string>> holders;  // resource, container name

    bool empty() const {
        return !changed && holders.empty() && !helpers[0].pid && !helpers[1].pid && !helpers[2].pid;
    }
};
std::string serialize_state(const HostState& state);
HostState parse_state(std::string_view text);

}  // namespace ds::container::android
