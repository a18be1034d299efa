// Seccomp user notification (kernel 5.0+) as raw ioctls, and passing one fd over a unix socket.
// The monitor's loop uses these: no allocation, no libseccomp state, errno on failure.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstdint>

#include "sys/fd.hpp"

namespace ds::sys {

// A notification as the kernel hands it out. The kernel's struct may be larger than the one in
// our headers (it copies its own size), so the buffer is padded to what it announced.
struct SeccompNotification {
    alignas(8) unsigned char buffer[256] = {};
    const seccomp_notif& get() const { return *reinterpret_cast<const seccomp_notif*>(buffer); }
};

// True when the running kernel's notification structs fit the fixed buffers above (asks
// SECCOMP_GET_NOTIF_SIZES once). False on kernels without user notification.
bool seccomp_notify_supported();

// Receives the next pending notification. -1 with errno (ENOENT: the caller went away).
int seccomp_notify_receive(int listener, SeccompNotification& out);
// True while notification `id` still waits for an answer (the calling thread is alive and still
// in the syscall): checked after reading from /proc/PID, so the PID was not recycled meanwhile.
bool seccomp_notify_id_valid(int listener, uint64_t id);
// Answers `id`: the syscall returns `value` (error == 0) or fails with -error. -1 with errno.
int seccomp_notify_respond(int listener, uint64_t id, int error, int64_t value = 0);

// One byte `tag` plus, when `fd` >= 0, the fd itself (SCM_RIGHTS). False on error.
bool send_fd(int socket, char tag, int fd);
// The counterpart; does not block (MSG_DONTWAIT). Returns the tag, or 0 when nothing arrived;
// a passed fd lands in `fd` (close-on-exec).
char receive_fd(int socket, unique_fd& fd);

}  // namespace ds::sys
