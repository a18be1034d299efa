// --net=nat: the bridge ds-br0 (172.28.0.1/16), one veth per container (eth0 inside, with a
// MAC and an address derived from the name as upstream does), the netfilter rules, ip_forward,
// and the policy routing of a pinned uplink; all of it recorded and removed exactly.
//
// Who does what: `start` picks the address and saves it (static_nat_ip); the monitor sets up
// the host side after it cloned init (attach_nat) and tears it down when init ends
// (release_nat); the container's init configures eth0 inside before it execs the distro's init
// (configure_guest_eth0); `stop` and `scan` call release_nat for a container whose monitor was
// killed. Records: <workspace>/Net/<name>.net per container, and one host-wide record of the
// shared state in kNetStateDir (tmpfs: a reboot forgets it with the rules it lists).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/workspace.hpp"
#include "sys/netlink.hpp"

namespace ds::container::net {

using Warn = std::function<void(const std::string&)>;

inline constexpr const char* kBridge = "ds-br0";
inline constexpr const char* kGatewayIp = "172.28.0.1";
inline constexpr const char* kSubnet = "172.28.0.0/16";
inline constexpr uint8_t kPrefix = 16;
// Policy-rule priorities, upstream's, below Android netd's VPN range (10000+).
inline constexpr uint32_t kRuleToSubnet = 6090;
inline constexpr uint32_t kRuleLocalNetwork = 6095;  // Android only
inline constexpr uint32_t kRuleUplink = 6100;
// A container's own --upstream pin: just before the shared uplink rule, so it wins.
inline constexpr uint32_t kRulePinnedUplink = 6099;
inline constexpr uint32_t kAndroidLocalNetworkTable = 97;  // netd's local_network

// --- pure: names and addresses (unit-tested) -------------------------------------------------

// Upstream's djb2-xor: h = 5381; h = h * 33 ^ c (32-bit).
uint32_t name_hash(std::string_view text);
// 172.28.X.Y from the name: X = ((h >> 8) % 254) + 1, Y = (h % 254) + 1.
std::string hashed_nat_ip(std::string_view name);
// The address after `ip` in the 172.28.1.1 .. 172.28.254.254 walk (wraps around).
std::string next_nat_ip(const std::string& ip);
// `requested` (a valid static_nat_ip, "" for none) when no other container has it, else the
// name's hash, walking forward past `taken`. `collided` says the requested one was taken.
std::string choose_nat_ip(std::string_view name, const std::string& requested,
                          const std::set<std::string>& taken, bool* collided = nullptr);
// 02: + 4 bytes of djb2(name) + the low byte of djb2("ds-mac:" + name): locally administered,
// unicast, stable across restarts.
sys::netlink::Mac container_mac(std::string_view name);
std::string host_veth_name(pid_t init_pid);  // "ds-v<pid>"
// The routing table a container's pinned uplink gets: one per container address.
uint32_t uplink_table(const std::string& ip);

// --- start (CLI side) --------------------------------------------------------------------------

// Sets config.static_nat_ip for a NAT start: the saved or --nat-ip address unless another
// config of the workspace holds it (then a warning and the hash walk), as upstream does.
// Also refuses port forwards that overlap each other or a running container's.
void assign_nat_address(const Workspace& ws, Config& config, const Warn& warn);

// --- host side (monitor) -----------------------------------------------------------------------

struct NatLink {
    std::string host_veth;  // ds-v<pid>, a port of ds-br0
    std::string ip;
    bool bridgeless = false;  // a point-to-point link: the kernel has no bridge support
};

// Everything the container needs on the host, for its init `init_pid` (whose network namespace
// gets eth0). Throws with the failed step; what it made is removed again first.
NatLink attach_nat(const Workspace& ws, const Config& config, pid_t init_pid);
// Removes what the record of `name` lists and, when no NAT container is left on the host, the
// shared state. Never throws: problems go to `warn`. True when there was a record.
bool release_nat(const Workspace& ws, const std::string& name, const Warn& warn);
bool has_nat_record(const Workspace& ws, const std::string& name);
// The (sanitised) names that have a record in the workspace, for `scan`.
std::vector<std::string> nat_record_names(const Workspace& ws);

// --- guest side (the container's init, before exec) ------------------------------------------

// eth0 up with the container's address and the default route through the bridge; IPv6 off.
void configure_guest_eth0(const Config& config);
// eth0 up, nothing else (--net=gateway clients).
void bring_up_eth0();

}  // namespace ds::container::net
