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

struct UplinkRoute {
    int oif = 0;
    std::optional<in_addr> gateway;  // nullopt: the uplink is on-link (a device route)
};
// The gateway to use through `oif`: that of a main-table default route through it, else of
// any route through it, else none.
UplinkRoute uplink_route(const std::vector<sys::netlink::Route>& main_routes, int oif);

}  // namespace ds::container::net
