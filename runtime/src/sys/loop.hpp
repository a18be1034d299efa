// Loop devices by ioctl, no losetup: attach a file (LOOP_CONFIGURE, or LOOP_SET_FD +
// LOOP_SET_STATUS64 before Linux 5.8) with autoclear, find what backs a device, detach.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/fd.hpp"

namespace ds::sys {

struct LoopOptions {
    // LO_FLAGS_READ_ONLY. With LOOP_SET_FD the backing fd's mode decides: open it O_RDONLY.
    bool read_only = false;
    // LO_FLAGS_AUTOCLEAR: the device frees itself when its last opener (the mount) goes.
    bool autoclear = true;
    // false: bind with the pre-5.8 pair (LOOP_SET_FD + LOOP_SET_STATUS64) even where
    // LOOP_CONFIGURE exists (tests run the path most Android kernels take).
    bool loop_configure = true;
};

// An attached loop device, held open by `fd`. With autoclear, closing the last open of the
// device frees it: mount the device first, then let `fd` go.
struct LoopDevice {
    int number = -1;
    std::string path;  // the node opened: /dev/loopN, on Android /dev/block/loopN first
    unique_fd fd;
};

// Binds the open file `backing_fd` to a free loop device (LOOP_CTL_GET_FREE; a missing
// /dev/loopN node is created), with lo_file_name = `backing_path`. A device taken by another
// process between "free" and "bind" (EBUSY) is skipped for the next free one, a bounded number
// of times. Throws a runtime error naming the file, the device and errno.
LoopDevice attach_loop(int backing_fd, const std::string& backing_path, const LoopOptions& options);

// LOOP_CLR_FD through the device's open fd; a device that is already free is fine. Since Linux
// 5.x this only marks the device: it is cleared when its last open (this fd) is closed.
void clear_loop(const LoopDevice& loop);
// Opens loopN and asks the kernel to clear it (LOOP_CLR_FD). True when the device is free or the
// kernel took the request (a device still in use, by a mount, is only marked autoclear and freed
// by its last close); false when the kernel refused (EBUSY on old kernels) or loopN has no node.
// Throws for any other error.
bool detach_loop(int number);

// The file backing loopN (/sys/block/loopN/loop/backing_file, else LOOP_GET_STATUS64's
// lo_file_name, which the kernel truncates to 63 bytes), nullopt when the device is free.
std::optional<std::string> loop_backing_file(int number);
// Whether loopN frees itself after its last close (LO_FLAGS_AUTOCLEAR): sysfs, else
// LOOP_GET_STATUS64. False when the device is free.
bool loop_autoclear(int number);
// Numbers of the loop devices this kernel has (bound or not), ascending.
std::vector<int> loop_devices();
// Polls until loopN is free, or bound to something other than `backing_file`; true when that
// happened within `timeout`. The kernel releases an autoclear device after the last close, not
// always before umount2() returns.
bool wait_loop_released(int number, const std::string& backing_file,
                        std::chrono::milliseconds timeout);

// The existing node of loopN (Android: /dev/block/loopN before /dev/loopN), else /dev/loopN.
std::string loop_device_path(int number);
// Loop number of the block device MAJOR:MINOR (/sys/dev/block/M:m names it), nullopt when it
// is not a loop device.
std::optional<int> loop_number_of_device(unsigned major, unsigned minor);

// "loop12", "/dev/loop12", "/dev/block/loop12" -> 12; nullopt for anything else.
std::optional<int> parse_loop_name(std::string_view name);

}  // namespace ds::sys
