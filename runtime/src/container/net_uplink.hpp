// Which host interface carries a NAT container's traffic out (the uplink), as upstream picks it.
#pragma once

#include <string>
#include <vector>

#include "sys/netlink.hpp"

namespace ds::container::net {

// `patterns` (--upstream, fnmatch wildcards, in priority order) are authoritative when given:
// the first pattern that names a link that is up and running wins, "" when none does.
// Without patterns: the default route's interface (`default_oif`), else the first up link of
// upstream's whitelist (wlan*, eth*, v4-*, rmnet*, *ccmni*) that is not excluded (ds-*, lo,
// dummy*, swlan*, ap*, usb*, rndis*, ncm*, p2p*, tun*, ppp*, bt-pan).
std::string choose_uplink(const std::vector<std::string>& patterns,
                          const std::vector<sys::netlink::Link>& links, int default_oif);

// Netd's rule for the default network (Android): `from all fwmark 0x0/0xffff iif lo lookup T`.
inline constexpr uint32_t kNetdDefaultNetworkRule = 22000;
// Netd's per-interface tables: ifindex + 1000.
inline constexpr uint32_t kNetdTableOffset = 1000;

// The interface the host's own traffic leaves by, for choose_uplink's `default_oif`: netd's
// default-network rule when it names an interface table, else the main table's default route
// with the lowest metric; 0 when there is neither.
int default_uplink_oif(const std::vector<sys::netlink::Rule>& rules,
                       const std::vector<sys::netlink::Route>& main_routes);

struct UplinkRoute {
    int oif = 0;
    std::optional<in_addr> gateway;  // nullopt: the uplink is on-link (a device route)
};
// The gateway to use through `oif`: that of a main-table default route through it, else of
// any route through it, else none.
UplinkRoute uplink_route(const std::vector<sys::netlink::Route>& main_routes, int oif);

}  // namespace ds::container::net
