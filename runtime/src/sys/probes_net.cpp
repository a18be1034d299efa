// `check`'s network probes: IPv6, TUN, and veth/bridge creation inside a throwaway network
// namespace (sys/netlink's fixed-buffer requests: no allocation in the child).
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cstring>

#include "sys/file.hpp"
#include "sys/netlink.hpp"
#include "sys/probe_support.hpp"

namespace ds::sys::probing {
namespace {

// --- rtnetlink: sys/netlink's Message and Socket (fixed buffers, no allocation) --------------

// RTM_NEWLINK of `kind` named `name`; for veth also the peer `peer`.
netlink::Message new_link(const char* kind, const char* name, const char* peer) {
    ifinfomsg ifi{};
    netlink::Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    m.attr_string(IFLA_IFNAME, name);
    rtattr* linkinfo = m.begin_nest(IFLA_LINKINFO);
    m.attr(IFLA_INFO_KIND, kind, std::strlen(kind));
    if (peer) {
        rtattr* data = m.begin_nest(IFLA_INFO_DATA);
        rtattr* peer_info = m.begin_nest(VETH_INFO_PEER);
        ifinfomsg peer_msg{};
        m.append(&peer_msg, sizeof peer_msg);
        m.attr_string(IFLA_IFNAME, peer);
        m.end_nest(peer_info);
        m.end_nest(data);
    }
    m.end_nest(linkinfo);
    return m;
}

ChildFailure open_rtnetlink_in_new_netns(netlink::Socket& sock) {
    if (::unshare(CLONE_NEWNET) != 0) return child_fail("unshare(CLONE_NEWNET)");
    sock = netlink::Socket::open_current();
    if (!sock.valid()) return child_fail("socket(NETLINK_ROUTE)");
    return child_ok();
}

// The kernel answers RTM_GETLINK for `name` with the device.
ChildFailure expect_link(netlink::Socket& sock, const char* name) {
    ifinfomsg ifi{};
    netlink::Message lookup(RTM_GETLINK, 0, &ifi, sizeof ifi);
    lookup.attr_string(IFLA_IFNAME, name);
    if (int err = sock.transact(lookup)) return child_fail("RTM_GETLINK", err);
    return child_ok();
}

// Creates a `kind` device (a veth also gets `peer`) in a fresh network namespace and checks that
// the kernel lists it (and the peer). The devices are not deleted one by one: RTM_DELLINK waits
// for RCU grace periods (25 ms for a veth, 50 ms for a bridge here), which would dominate the
// whole check. The namespace dies when the child exits and the kernel deletes them with it,
// asynchronously; they never existed outside it.
ChildFailure link_create_in_child(const char* kind, const char* name, const char* peer,
                                  const char* create_step) {
    netlink::Socket sock;
    if (auto f = open_rtnetlink_in_new_netns(sock); f.what) return f;
    netlink::Message create = new_link(kind, name, peer);
    if (int err = sock.transact(create)) return child_fail(create_step, err);
    if (auto f = expect_link(sock, name); f.what) return f;
    return peer ? expect_link(sock, peer) : child_ok();
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
