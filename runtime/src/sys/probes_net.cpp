// `check`'s network probes: IPv6, TUN, and veth/bridge creation inside a throwaway network
// namespace (rtnetlink on a fixed buffer: no allocation in the child).
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>

#include "sys/file.hpp"
#include "sys/probe_support.hpp"

namespace ds::sys::probing {
namespace {

// --- rtnetlink, on a fixed buffer (no allocation inside the child) ------------------------------

struct NetlinkMessage {
    alignas(nlmsghdr) unsigned char buf[512] = {};
    bool overflow = false;
    nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(buf); }
};

void nl_start(NetlinkMessage& m, uint16_t type, uint16_t flags) {
    m.hdr()->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    m.hdr()->nlmsg_type = type;
    m.hdr()->nlmsg_flags = NLM_F_REQUEST | flags;
    m.hdr()->nlmsg_seq = 1;
    // The ifinfomsg after the header stays zero: AF_UNSPEC, any index.
}

// Appends `len` bytes (zero padded to alignment) at the next aligned offset; nullptr when full.
unsigned char* nl_reserve(NetlinkMessage& m, size_t len) {
    size_t off = NLMSG_ALIGN(m.hdr()->nlmsg_len);
    if (off + NLMSG_ALIGN(len) > sizeof m.buf) {
        m.overflow = true;
        return nullptr;
    }
    m.hdr()->nlmsg_len = off + NLMSG_ALIGN(len);
    return m.buf + off;
}

void nl_append(NetlinkMessage& m, const void* data, size_t len) {
    if (unsigned char* p = nl_reserve(m, len)) std::memcpy(p, data, len);
}

// An attribute; with data == nullptr it starts a nest closed by nl_end_nest().
rtattr* nl_attr(NetlinkMessage& m, uint16_t type, const void* data, size_t len) {
    auto* a = reinterpret_cast<rtattr*>(nl_reserve(m, RTA_SPACE(len)));
    if (!a) return nullptr;
    a->rta_type = type;
    a->rta_len = RTA_LENGTH(len);
    if (len) std::memcpy(RTA_DATA(a), data, len);
    return a;
}

rtattr* nl_name(NetlinkMessage& m, const char* name) {
    return nl_attr(m, IFLA_IFNAME, name, std::strlen(name) + 1);
}

void nl_end_nest(NetlinkMessage& m, rtattr* nest) {
    if (nest) nest->rta_len = m.buf + m.hdr()->nlmsg_len - reinterpret_cast<unsigned char*>(nest);
}

// RTM_NEWLINK of `kind` named `name`; for veth also the peer `peer`.
void build_new_link(NetlinkMessage& m, const char* kind, const char* name, const char* peer) {
    nl_start(m, RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    nl_name(m, name);
    rtattr* linkinfo = nl_attr(m, IFLA_LINKINFO, nullptr, 0);
    nl_attr(m, IFLA_INFO_KIND, kind, std::strlen(kind));
    if (peer) {
        rtattr* data = nl_attr(m, IFLA_INFO_DATA, nullptr, 0);
        rtattr* peer_info = nl_attr(m, VETH_INFO_PEER, nullptr, 0);
        ifinfomsg peer_msg{};
        nl_append(m, &peer_msg, sizeof peer_msg);
        nl_name(m, peer);
        nl_end_nest(m, peer_info);
        nl_end_nest(m, data);
    }
    nl_end_nest(m, linkinfo);
}

void build_get_link(NetlinkMessage& m, const char* name) {
    nl_start(m, RTM_GETLINK, 0);
    nl_name(m, name);
}

// Sends `m` and reads the first reply. Returns 0 when the kernel acknowledged or answered with
// data, the errno it answered with otherwise; `reply_type` gets the reply's message type. The
// kernel handles the request inside send(), so the reply is already queued when recv() runs.
int nl_transact(int sock, NetlinkMessage& m, uint16_t* reply_type = nullptr) {
    if (m.overflow) return EOVERFLOW;
    if (::send(sock, m.buf, m.hdr()->nlmsg_len, 0) < 0) return errno;
    alignas(nlmsghdr) unsigned char reply[8192];
    ssize_t n = ::recv(sock, reply, sizeof reply, 0);  // a longer RTM_NEWLINK is cut: fine
    if (n < 0) return errno;
    if (static_cast<size_t>(n) < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
    auto* h = reinterpret_cast<nlmsghdr*>(reply);
    if (reply_type) *reply_type = h->nlmsg_type;
    if (h->nlmsg_type != NLMSG_ERROR) return 0;
    return -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
}

ChildFailure open_rtnetlink_in_new_netns(unique_fd& sock) {
    if (::unshare(CLONE_NEWNET) != 0) return child_fail("unshare(CLONE_NEWNET)");
    sock.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!sock) return child_fail("socket(NETLINK_ROUTE)");
    timeval timeout{2, 0};  // the kernel always answers; this only bounds a broken one
    ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return child_ok();
}

// The kernel answers RTM_GETLINK for `name` with the device.
ChildFailure expect_link(int sock, const char* name) {
    NetlinkMessage lookup;
    build_get_link(lookup, name);
    uint16_t reply_type = 0;
    if (int err = nl_transact(sock, lookup, &reply_type)) return child_fail("RTM_GETLINK", err);
    if (reply_type != RTM_NEWLINK) return child_fail("RTM_GETLINK: unexpected reply", EPROTO);
    return child_ok();
}

// Creates a `kind` device (a veth also gets `peer`) in a fresh network namespace and checks that
// the kernel lists it (and the peer). The devices are not deleted one by one: RTM_DELLINK waits
// for RCU grace periods (25 ms for a veth, 50 ms for a bridge here), which would dominate the
// whole check. The namespace dies when the child exits and the kernel deletes them with it,
// asynchronously; they never existed outside it.
ChildFailure link_create_in_child(const char* kind, const char* name, const char* peer,
                                  const char* create_step) {
    unique_fd sock;
    if (auto f = open_rtnetlink_in_new_netns(sock); f.what) return f;
    NetlinkMessage create;
    build_new_link(create, kind, name, peer);
    if (int err = nl_transact(sock.get(), create)) return child_fail(create_step, err);
    if (auto f = expect_link(sock.get(), name); f.what) return f;
    return peer ? expect_link(sock.get(), peer) : child_ok();
}

}  // namespace

ProbeResult probe_ipv6(const HostFacts&) {
    unique_fd sock(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) return fail_errno_result("socket(AF_INET6)", errno);
    auto disabled = try_read_file("/proc/sys/net/ipv6/conf/all/disable_ipv6");
    if (disabled && disabled->rfind('1', 0) == 0) return pass("disabled by sysctl disable_ipv6");
    return pass();
}

// Not opened: closing a tun fd waits for an RCU grace period (over 100 ms on a busy host). The
// kernel's list of registered misc drivers plus the device node say the same without side
// effects.
ProbeResult probe_tun(const HostFacts& f) {
    bool registered = misc_list_has(try_read_file("/proc/misc").value_or(""), "tun");
    bool node = is_char_device("/dev/net/tun");
    if (registered && node) return pass();
    if (registered) return fail("tun driver registered but /dev/net/tun is missing");
    if (module_available(f, "tun")) return pass("module tun available, not loaded");
    return fail("tun is not in /proc/misc and there is no tun module");
}

ProbeResult probe_veth(const HostFacts&) {
    return run_in_child([] {
        return link_create_in_child("veth", "ds-probe-h0", "ds-probe-p0", "RTM_NEWLINK veth pair");
    });
}

ProbeResult probe_bridge(const HostFacts&) {
    return run_in_child([] {
        return link_create_in_child("bridge", "ds-probe-br0", nullptr, "RTM_NEWLINK bridge");
    });
}

}  // namespace ds::sys::probing
