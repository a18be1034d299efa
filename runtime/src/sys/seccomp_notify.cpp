#include "sys/seccomp_notify.hpp"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ds::sys {
namespace {

struct ResponseBuffer {
    alignas(8) unsigned char buffer[256] = {};
};

bool sizes_fit() {
    struct seccomp_notif_sizes sizes = {};
    if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) != 0) return false;
    return sizes.seccomp_notif <= sizeof(SeccompNotification::buffer) &&
           sizes.seccomp_notif_resp <= sizeof(ResponseBuffer::buffer) &&
           sizes.seccomp_notif >= sizeof(seccomp_notif) &&
           sizes.seccomp_notif_resp >= sizeof(seccomp_notif_resp);
}

}  // namespace

bool seccomp_notify_supported() {
    static const bool supported = sizes_fit();
    return supported;
}

int seccomp_notify_receive(int listener, SeccompNotification& out) {
    // The kernel refuses a buffer that is not zeroed (EINVAL since 5.5).
    std::memset(out.buffer, 0, sizeof out.buffer);
    for (;;) {
        if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, out.buffer) == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

bool seccomp_notify_id_valid(int listener, uint64_t id) {
    return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

int seccomp_notify_respond(int listener, uint64_t id, int error, int64_t value) {
    ResponseBuffer response;
    auto* resp = reinterpret_cast<seccomp_notif_resp*>(response.buffer);
    resp->id = id;
    resp->error = error ? -error : 0;
    resp->val = error ? 0 : value;
    resp->flags = 0;  // never SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel would re-read memory
    for (;;) {
        if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response.buffer) == 0) return 0;
        if (errno != EINTR) return -1;
    }
}

bool send_fd(int socket, char tag, int fd) {
    struct iovec iov = {&tag, 1};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    }
    for (;;) {
        if (::sendmsg(socket, &msg, MSG_NOSIGNAL) == 1) return true;
        if (errno != EINTR) return false;
    }
}

char receive_fd(int socket, unique_fd& fd) {
    char tag = 0;
    struct iovec iov = {&tag, 1};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n != 1) return 0;
    for (struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
            cmsg->cmsg_len == CMSG_LEN(sizeof(int))) {
            int received;
            std::memcpy(&received, CMSG_DATA(cmsg), sizeof received);
            fd.reset(received);
        }
    }
    return tag;
}

}  // namespace ds::sys
