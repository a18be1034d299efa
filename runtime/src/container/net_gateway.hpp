// --net=gateway: layer-2 plumbing between client containers and a router container, as upstream
// does. Per segment a bridge without an address (ds-<net>, or --gateway-bridge); each client gets
// a veth ds-c<pid> on it with eth0 inside (MAC from its name); the gateway container gets a
// "cable" ds-g<hash8> on the bridge with its LAN interface (--gateway-iface, eth1) inside. No
// address, DHCP, NAT or firewall: the gateway container owns the policy.
//
// A client is wired to its gateway when the gateway runs; a gateway (re)booting rewires the
// segments of all its running clients before its init starts, so it sees its LAN at boot.
// Records: <workspace>/Net/<client>.lan and <workspace>/Net/<gateway>.gw (container/net_record).
#pragma once

#include <sys/types.h>

#include <string>

#include "container/net_nat.hpp"
#include "core/config.hpp"
#include "core/workspace.hpp"
#include "sys/netlink.hpp"

namespace ds::container::net {

// --- pure ------------------------------------------------------------------------------------

std::string gateway_net_of(const Config& client);     // gateway_net, default "lan"
std::string gateway_bridge_of(const Config& client);  // gateway_bridge, default "ds-<net>"
std::string gateway_iface_of(const Config& client);   // gateway_lan_ifname, default "eth1"
// "ds-g" + 8 hex digits of djb2("<gateway>:<net>"): one cable per gateway and segment.
std::string gateway_cable_name(const std::string& gateway, const std::string& net);
sys::netlink::Mac gateway_cable_mac(const std::string& gateway, const std::string& net);
// A gateway client's config: a gateway is named, valid, not the client itself. Throws a usage
// error naming the rule.
void check_gateway_config(const Config& client);

// --- host side (monitors) --------------------------------------------------------------------

// The client `config` whose init is `init_pid`: its veth on the segment, and the cable into
// its gateway when that runs (else noted through `warn`). Throws with the failed step.
void attach_gateway_client(const Workspace& ws, const Config& config, pid_t init_pid,
                           const Warn& warn);
// A container `gateway` (re)booting with init `init_pid`: a fresh cable into it for the segment
// of every running client that names it. Never throws (problems go to `warn`).
void wire_gateway_segments(const Workspace& ws, const std::string& gateway, pid_t init_pid,
                           const Warn& warn);
// Removes `name`'s client veth and gateway cables (its .lan and .gw records) and each segment
// bridge left without a port. Called with the host network lock held.
void release_gateway_locked(sys::netlink::Socket& sock, const Workspace& ws,
                            const std::string& name, const Warn& warn);

}  // namespace ds::container::net
