// The NAT mode's DHCP server: the monitor answers its own container's DHCP client (udhcpc,
// dhcpcd, systemd-networkd, dhclient) with the one address the container owns, as upstream does,
// so the distro's own network setup ends up with what the runtime already configured.
//
// Everything a guest sends is hostile: parse_request checks every length before it reads, and
// only a request from the container's own MAC on its own veth is answered.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sys/fd.hpp"
#include "sys/netlink.hpp"

namespace ds::container::net {

enum DhcpType : uint8_t {
    kDhcpDiscover = 1,
    kDhcpOffer = 2,
    kDhcpRequest = 3,
    kDhcpDecline = 4,
    kDhcpAck = 5,
    kDhcpNak = 6,
    kDhcpRelease = 7,
    kDhcpInform = 8,
};

struct DhcpRequest {
    uint32_t xid = 0;  // as on the wire
    uint16_t flags = 0;
    sys::netlink::Mac chaddr{};
    in_addr ciaddr{};
    uint8_t type = 0;
    std::optional<in_addr> requested;  // option 50
    std::optional<in_addr> server_id;  // option 54
};

struct DhcpLease {
    in_addr address{};
    in_addr server{};  // the bridge: router, server id
    in_addr netmask{};
    std::vector<in_addr> dns;  // at most two are sent
    uint32_t lease_seconds = 86400;
};

// A BOOTP request (the UDP payload); nullopt for anything malformed, a reply, or one without
// a DHCP message type.
std::optional<DhcpRequest> parse_request(const uint8_t* data, size_t size);
// The reply to `request` (OFFER, ACK or NAK), or nullopt when it gets none (RELEASE, DECLINE,
// a REQUEST meant for another server). The UDP payload.
std::optional<std::vector<uint8_t>> build_reply(const DhcpRequest& request, const DhcpLease& lease);
// IPv4 + UDP headers (checksums filled) around `payload`.
std::vector<uint8_t> wrap_udp(in_addr src, in_addr dst, uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload);

// The server on one host veth (an AF_PACKET socket: the veth is a bridge port, so its frames
// never reach a UDP socket). A BPF filter lets only the container's UDP packets to port 67 wake
// the monitor.
class DhcpServer {
  public:
    DhcpServer() = default;
    // Throws naming the interface and errno.
    void open(const std::string& host_veth, const sys::netlink::Mac& client, DhcpLease lease);
    void close() { fd_.reset(); }
    int fd() const { return fd_.get(); }
    // Reads what is queued and answers it; never throws.
    void on_readable();

  private:
    sys::unique_fd fd_;
    int ifindex_ = 0;
    sys::netlink::Mac client_{};
    DhcpLease lease_;
};

// The lease of a NAT container: its address, the bridge, /16, and its DNS servers (the IPv4
// ones of `dns_servers`, else 1.1.1.1 and 8.8.8.8).
DhcpLease nat_lease(const std::string& ip, const std::vector<std::string>& dns_servers);

}  // namespace ds::container::net
