#include "container/net_uplink.hpp"

#include <fnmatch.h>
#include <net/if.h>

namespace ds::container::net {
namespace {

constexpr const char* kWhitelist[] = {"wlan*", "eth*", "v4-*", "rmnet*", "*ccmni*"};
constexpr const char* kExcluded[] = {"ds-*",   "lo",   "dummy*", "swlan*", "ap*",  "usb*",
                                     "rndis*", "ncm*", "p2p*",   "tun*",   "ppp*", "bt-pan"};

bool usable(const sys::netlink::Link& link) {
    return (link.flags & IFF_UP) && (link.flags & IFF_RUNNING);
}

bool matches(const char* pattern, const std::string& name) {
    return ::fnmatch(pattern, name.c_str(), 0) == 0;
}

bool excluded(const std::string& name) {
    for (const char* pattern : kExcluded)
        if (matches(pattern, name)) return true;
    return false;
}

}  // namespace

std::string choose_uplink(const std::vector<std::string>& patterns,
                          const std::vector<sys::netlink::Link>& links, int default_oif) {
    if (!patterns.empty()) {
        for (const auto& pattern : patterns)
            for (const auto& link : links)
                if (usable(link) && matches(pattern.c_str(), link.name)) return link.name;
        return "";
    }
    for (const auto& link : links)
        if (link.index == default_oif && usable(link) && !excluded(link.name)) return link.name;
    for (const char* pattern : kWhitelist)
        for (const auto& link : links)
            if (usable(link) && !excluded(link.name) && matches(pattern, link.name))
                return link.name;
    return "";
}

int default_uplink_oif(const std::vector<sys::netlink::Rule>& rules,
                       const std::vector<sys::netlink::Route>& main_routes) {
    for (const auto& rule : rules)
        if (rule.priority == kNetdDefaultNetworkRule && rule.table > kNetdTableOffset &&
            rule.table < kNetdTableOffset + 65536)
            return static_cast<int>(rule.table - kNetdTableOffset);
    const sys::netlink::Route* best = nullptr;
    for (const auto& route : main_routes)
        if (route.dst_len == 0 && route.oif && (!best || route.metric < best->metric))
            best = &route;
    return best ? best->oif : 0;
}

UplinkRoute uplink_route(const std::vector<sys::netlink::Route>& main_routes, int oif) {
    UplinkRoute out;
    out.oif = oif;
    for (const auto& route : main_routes)
        if (route.oif == oif && route.dst_len == 0 && route.gateway) {
            out.gateway = route.gateway;
            return out;
        }
    for (const auto& route : main_routes)
        if (route.oif == oif && route.gateway) {
            out.gateway = route.gateway;
            return out;
        }
    return out;
}

}  // namespace ds::container::net
