// --port forwards of the NAT mode: the canonical "H1-H2:C1-C2/proto" entries of the config as
// ranges, the overlap rule, and the netfilter rules one forward needs.
#pragma once

#include <string>
#include <vector>

#include "container/net_firewall.hpp"

namespace ds::container::net {

struct PortForward {
    unsigned host_first = 0, host_last = 0;
    unsigned container_first = 0, container_last = 0;
    std::string proto;  // "tcp" or "udp"
    std::string spec;   // as written in the config
};

// A canonical entry (core's normalize_port_forward made it); throws a usage error otherwise.
PortForward parse_port_forward(const std::string& canonical);

// Two forwards of one protocol whose host ranges share a port cannot both be served (the first
// DNAT rule would take every packet): refused with one line naming both. Upstream warns and
// skips the later one; a container that silently lacks a forward its config asks for is worse.
void check_port_overlaps(const std::vector<std::string>& forwards);
// The same between this container's forwards and another running container's.
void check_port_overlaps_with(const std::vector<std::string>& mine, const std::string& other_name,
                              const std::vector<std::string>& theirs);

// DNAT for packets to any host address (from outside, PREROUTING, and from the host itself,
// OUTPUT: 127.0.0.1 included), and the FORWARD accept for the container's port.
std::vector<FirewallRule> port_forward_rules(const PortForward& forward,
                                             const std::string& container_ip);

}  // namespace ds::container::net
