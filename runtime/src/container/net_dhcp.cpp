#include "container/net_dhcp.hpp"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "container/net_nat.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {
namespace {

constexpr size_t kBootpFixed = 236;  // op .. file
constexpr uint8_t kMagic[4] = {99, 130, 83, 99};
constexpr uint8_t kBootRequest = 1, kBootReply = 2;

enum Option : uint8_t {
    kPad = 0,
    kSubnetMask = 1,
    kRouter = 3,
    kDns = 6,
    kBroadcast = 28,
    kRequestedIp = 50,
    kLeaseTime = 51,
    kMessageType = 53,
    kServerId = 54,
    kRenewal = 58,
    kRebinding = 59,
    kEnd = 255,
};

uint16_t checksum(const uint8_t* data, size_t size, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < size; i += 2)
        sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
    if (size & 1) sum += static_cast<uint32_t>(data[size - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

void put_option(std::vector<uint8_t>& out, uint8_t code, const void* data, uint8_t len) {
    out.push_back(code);
    out.push_back(len);
    auto* p = static_cast<const uint8_t*>(data);
    for (uint8_t i = 0; i < len; ++i)
        out.push_back(p[i]);
}

void put_u32(std::vector<uint8_t>& out, uint8_t code, uint32_t host_value) {
    uint32_t v = htonl(host_value);
    put_option(out, code, &v, 4);
}

}  // namespace

std::optional<DhcpRequest> parse_request(const uint8_t* data, size_t size) {
    if (!data || size < kBootpFixed + sizeof kMagic) return std::nullopt;
    if (data[0] != kBootRequest || data[1] != 1 /* ethernet */ || data[2] != 6) return std::nullopt;
    if (std::memcmp(data + kBootpFixed, kMagic, sizeof kMagic) != 0) return std::nullopt;
    DhcpRequest r;
    std::memcpy(&r.xid, data + 4, 4);
    std::memcpy(&r.flags, data + 10, 2);
    std::memcpy(&r.ciaddr, data + 12, 4);
    std::memcpy(r.chaddr.data(), data + 28, 6);
    // Options: code, length, value; every length checked against what is left.
    size_t pos = kBootpFixed + sizeof kMagic;
    while (pos < size) {
        uint8_t code = data[pos++];
        if (code == kPad) continue;
        if (code == kEnd) break;
        if (pos >= size) return std::nullopt;
        uint8_t len = data[pos++];
        if (len > size - pos) return std::nullopt;
        const uint8_t* value = data + pos;
        if (code == kMessageType && len == 1) r.type = value[0];
        if (code == kRequestedIp && len == 4) {
            in_addr a;
            std::memcpy(&a, value, 4);
            r.requested = a;
        }
        if (code == kServerId && len == 4) {
            in_addr a;
            std::memcpy(&a, value, 4);
            r.server_id = a;
        }
        pos += len;
    }
    if (r.type < kDhcpDiscover || r.type > kDhcpInform) return std::nullopt;
    return r;
}

std::optional<std::vector<uint8_t>> build_reply(const DhcpRequest& request,
                                                const DhcpLease& lease) {
    uint8_t type = 0;
    switch (request.type) {
        case kDhcpDiscover:
            type = kDhcpOffer;
            break;
        case kDhcpRequest: {
            // A REQUEST that selects another server's offer is not ours to answer.
            if (request.server_id && request.server_id->s_addr != lease.server.s_addr)
                return std::nullopt;
            in_addr wanted = request.requested ? *request.requested : request.ciaddr;
            type = wanted.s_addr == lease.address.s_addr ? kDhcpAck : kDhcpNak;
            break;
        }
        case kDhcpInform:
            type = kDhcpAck;
            break;
        default:
            return std::nullopt;  // RELEASE, DECLINE: the address stays this container's
    }
    std::vector<uint8_t> out(kBootpFixed, 0);
    out[0] = kBootReply;
    out[1] = 1;
    out[2] = 6;
    std::memcpy(out.data() + 4, &request.xid, 4);
    std::memcpy(out.data() + 10, &request.flags, 2);
    if (type != kDhcpNak) {
        if (request.type == kDhcpInform)
            std::memcpy(out.data() + 12, &request.ciaddr, 4);
        else
            std::memcpy(out.data() + 16, &lease.address, 4);  // yiaddr
        std::memcpy(out.data() + 20, &lease.server, 4);       // siaddr
    }
    std::memcpy(out.data() + 28, request.chaddr.data(), 6);
    out.insert(out.end(), std::begin(kMagic), std::end(kMagic));
    put_option(out, kMessageType, &type, 1);
    put_option(out, kServerId, &lease.server, 4);
    if (type != kDhcpNak) {
        if (request.type != kDhcpInform) {
            put_u32(out, kLeaseTime, lease.lease_seconds);
            put_u32(out, kRenewal, lease.lease_seconds / 2);
            put_u32(out, kRebinding, lease.lease_seconds / 8 * 7);
        }
        put_option(out, kSubnetMask, &lease.netmask, 4);
        in_addr broadcast{lease.address.s_addr | ~lease.netmask.s_addr};
        put_option(out, kBroadcast, &broadcast, 4);
        put_option(out, kRouter, &lease.server, 4);
        if (!lease.dns.empty()) {
            size_t count = std::min<size_t>(lease.dns.size(), 2);
            put_option(out, kDns, lease.dns.data(), static_cast<uint8_t>(4 * count));
        }
    }
    out.push_back(kEnd);
    while (out.size() < 300)
        out.push_back(kPad);  // BOOTP's minimum, which some clients still expect
    return out;
}

std::vector<uint8_t> wrap_udp(in_addr src, in_addr dst, uint16_t sport, uint16_t dport,
                              const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> packet(28 + payload.size(), 0);
    uint8_t* ip = packet.data();
    uint16_t total = static_cast<uint16_t>(packet.size());
    ip[0] = 0x45;
    ip[2] = static_cast<uint8_t>(total >> 8);
    ip[3] = static_cast<uint8_t>(total);
    ip[8] = 64;  // TTL
    ip[9] = IPPROTO_UDP;
    std::memcpy(ip + 12, &src, 4);
    std::memcpy(ip + 16, &dst, 4);
    uint16_t sum = checksum(ip, 20);
    ip[10] = static_cast<uint8_t>(sum >> 8);
    ip[11] = static_cast<uint8_t>(sum);
    uint8_t* udp = ip + 20;
    uint16_t udp_len = static_cast<uint16_t>(8 + payload.size());
    udp[0] = static_cast<uint8_t>(sport >> 8);
    udp[1] = static_cast<uint8_t>(sport);
    udp[2] = static_cast<uint8_t>(dport >> 8);
    udp[3] = static_cast<uint8_t>(dport);
    udp[4] = static_cast<uint8_t>(udp_len >> 8);
    udp[5] = static_cast<uint8_t>(udp_len);
    std::memcpy(udp + 8, payload.data(), payload.size());
    // The UDP checksum over the pseudo header and the datagram.
    uint32_t pseudo = 0;
    for (int i = 12; i < 20; i += 2)
        pseudo += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
    pseudo += IPPROTO_UDP + udp_len;
    uint16_t usum = checksum(udp, udp_len, pseudo);
    if (usum == 0) usum = 0xffff;
    udp[6] = static_cast<uint8_t>(usum >> 8);
    udp[7] = static_cast<uint8_t>(usum);
    return packet;
}

DhcpLease nat_lease(const std::string& ip, const std::vector<std::string>& dns_servers) {
    DhcpLease lease;
    lease.address = sys::netlink::parse_ipv4(ip).value_or(in_addr{});
    lease.server = *sys::netlink::parse_ipv4(kGatewayIp);
    lease.netmask.s_addr = htonl(0xffff0000u);
    for (const auto& server : dns_servers)
        if (auto a = sys::netlink::parse_ipv4(server)) lease.dns.push_back(*a);
    if (lease.dns.empty())
        lease.dns = {*sys::netlink::parse_ipv4("1.1.1.1"), *sys::netlink::parse_ipv4("8.8.8.8")};
    return lease;
}

void DhcpServer::open(const std::string& host_veth, const sys::netlink::Mac& client,
                      DhcpLease lease) {
    client_ = client;
    lease_ = lease;
    ifindex_ = static_cast<int>(::if_nametoindex(host_veth.c_str()));
    if (!ifindex_) sys::fail_errno("DHCP server: find " + host_veth);
    // ETH_P_ALL: a bridge port's frames go to the bridge before protocol handlers see them;
    // only the "all" taps run first.
    sys::unique_fd fd(
        ::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
    if (!fd) sys::fail_errno("DHCP server: AF_PACKET socket");
    // Accept: received (not outgoing) IPv4, UDP, not a fragment, destination port 67. Jumps
    // are relative: to "drop" (11) or "accept" (12).
    sock_filter program[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<__u32>(SKF_AD_OFF + SKF_AD_PKTTYPE)),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_OUTGOING, 9, 0),
        /* 2 */
        BPF_STMT(BPF_LD | BPF_H | BPF_ABS, static_cast<__u32>(SKF_AD_OFF + SKF_AD_PROTOCOL)),
        /* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 7),
        /* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 5),
        /* 6 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 6),
        /* 7 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x1fff, 3, 0),
        /* 8 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),
        /* 9 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),
        /* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 67, 1, 0),
        /* 11 */ BPF_STMT(BPF_RET | BPF_K, 0),
        /* 12 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
    };
    sock_fprog fprog{static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) != 0)
        sys::fail_errno("DHCP server: attach the packet filter");
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETH_P_ALL);
    addr.sll_ifindex = ifindex_;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        sys::fail_errno("DHCP server: bind to " + host_veth);
    fd_ = std::move(fd);
}

void DhcpServer::on_readable() {
    if (!fd_) return;
    uint8_t buf[2048];
    for (;;) {
        sockaddr_ll from{};
        socklen_t from_len = sizeof from;
        ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from),
                               &from_len);
        if (n < 0) return;  // EAGAIN: all read
        size_t size = static_cast<size_t>(n);
        if (size < 20) continue;
        size_t ihl = static_cast<size_t>(buf[0] & 0x0f) * 4;
        if (ihl < 20 || size < ihl + 8) continue;
        const uint8_t* payload = buf + ihl + 8;
        auto request = parse_request(payload, size - ihl - 8);
        // Only the container's own MAC, on its own veth: nothing else gets an address here.
        if (!request || request->chaddr != client_) continue;
        if (from.sll_halen == 6 && std::memcmp(from.sll_addr, client_.data(), 6) != 0) continue;
        auto reply = build_reply(*request, lease_);
        if (!reply) continue;
        in_addr broadcast{INADDR_BROADCAST};
        auto packet = wrap_udp(lease_.server, broadcast, 67, 68, *reply);
        sockaddr_ll to{};
        to.sll_family = AF_PACKET;
        to.sll_protocol = htons(ETH_P_IP);
        to.sll_ifindex = ifindex_;
        to.sll_halen = 6;
        std::memset(to.sll_addr, 0xff, 6);
        ::sendto(fd_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to);
    }
}

}  // namespace ds::container::net
