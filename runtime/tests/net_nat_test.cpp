// Unit tests of the NAT mode's pure parts: the name-derived address and MAC (upstream's hash),
// the collision walk, port forwards and their rules, the uplink choice, the firewall record's
// line form, and the DHCP server's parser and replies (hostile input: every length checked).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>

#include <set>

#include "container/net_dhcp.hpp"
#include "container/net_firewall.hpp"
#include "container/net_gateway.hpp"
#include "container/net_nat.hpp"
#include "container/net_ports.hpp"
#include "container/net_record.hpp"
#include "container/net_uplink.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "test_support.hpp"

namespace ds::container::net {
namespace {

in_addr ip(const char* text) {
    return *sys::netlink::parse_ipv4(text);
}

// --- addresses and MACs --------------------------------------------------------------------

TEST(NatAddress, HashIsUpstreamsDjb2Xor) {
    EXPECT_EQ(name_hash(""), 5381u);
    // h = 5381 * 33 ^ 'a'
    EXPECT_EQ(name_hash("a"), (5381u * 33u) ^ 'a');
    EXPECT_EQ(name_hash("ab"), (((5381u * 33u) ^ 'a') * 33u) ^ 'b');
}

TEST(NatAddress, DerivedFromTheNameInsideTheRange) {
    for (const char* name : {"debian", "ubuntu", "a", "my box", "kali_linux-2024"}) {
        std::string address = hashed_nat_ip(name);
        EXPECT_NO_THROW(check_nat_ip(address)) << address;
        EXPECT_EQ(address, hashed_nat_ip(name));  // stable
    }
    uint32_t h = name_hash("debian");
    EXPECT_EQ(hashed_nat_ip("debian"), "172.28." + std::to_string(((h >> 8) % 254) + 1) + "." +
                                           std::to_string((h % 254) + 1));
}

TEST(NatAddress, WalkSkipsRowZeroAnd255AndWraps) {
    EXPECT_EQ(next_nat_ip("172.28.1.1"), "172.28.1.2");
    EXPECT_EQ(next_nat_ip("172.28.1.254"), "172.28.2.1");
    EXPECT_EQ(next_nat_ip("172.28.254.254"), "172.28.1.1");
    EXPECT_EQ(next_nat_ip("garbage"), "172.28.1.1");
}

TEST(NatAddress, RequestedUnlessTakenThenTheHashWalk) {
    bool collided = true;
    EXPECT_EQ(choose_nat_ip("x", "172.28.9.9", {}, &collided), "172.28.9.9");
    EXPECT_FALSE(collided);
    std::string hashed = hashed_nat_ip("x");
    EXPECT_EQ(choose_nat_ip("x", "172.28.9.9", {"172.28.9.9"}, &collided), hashed);
    EXPECT_TRUE(collided);
    EXPECT_EQ(choose_nat_ip("x", "", {hashed}), next_nat_ip(hashed));
    EXPECT_EQ(choose_nat_ip("x", "", {hashed, next_nat_ip(hashed)}),
              next_nat_ip(next_nat_ip(hashed)));
}

TEST(NatAddress, MacIsLocalUnicastAndStable) {
    auto mac = container_mac("debian");
    EXPECT_EQ(mac[0], 0x02);  // locally administered, unicast
    EXPECT_EQ(mac, container_mac("debian"));
    EXPECT_NE(mac, container_mac("ubuntu"));
    uint32_t h = name_hash("debian");
    EXPECT_EQ(mac[1], static_cast<uint8_t>(h >> 24));
    EXPECT_EQ(mac[4], static_cast<uint8_t>(h));
    EXPECT_EQ(mac[5], static_cast<uint8_t>(name_hash("ds-mac:debian")));
}

TEST(NatAddress, NamesAndTables) {
    EXPECT_EQ(host_veth_name(1234), "ds-v1234");
    EXPECT_LE(host_veth_name(4194304).size(), 15u);  // pid_max: still an interface name
    EXPECT_NE(uplink_table("172.28.1.2"), uplink_table("172.28.2.1"));
    EXPECT_GT(uplink_table("172.28.1.2"), 255u);  // never main, local or default
}

// --- port forwards ---------------------------------------------------------------------------

TEST(PortForward, ParsesCanonicalEntries) {
    auto f = parse_port_forward("8080:80/tcp");
    EXPECT_EQ(f.host_first, 8080u);
    EXPECT_EQ(f.host_last, 8080u);
    EXPECT_EQ(f.container_first, 80u);
    EXPECT_EQ(f.proto, "tcp");
    f = parse_port_forward("1000-1010:2000-2010/udp");
    EXPECT_EQ(f.host_last, 1010u);
    EXPECT_EQ(f.container_last, 2010u);
    EXPECT_ERROR(parse_port_forward("80/tcp"), ErrorKind::invalid, "80/tcp");
    EXPECT_ERROR(parse_port_forward("1-3:1-2/tcp"), ErrorKind::invalid, "width");
}

TEST(PortForward, OverlapsRefusedNamingBoth) {
    EXPECT_NO_THROW(check_port_overlaps({"80", "81", "80/udp"}));
    EXPECT_ERROR(check_port_overlaps({"9000-9010:9000-9010", "9005:80"}), ErrorKind::invalid,
                 "'9005:80/tcp'", "'9000-9010:9000-9010/tcp'");
    // The container side may repeat: two host ports to one container port is fine.
    EXPECT_NO_THROW(check_port_overlaps({"8080:80", "8081:80"}));
    EXPECT_ERROR(check_port_overlaps_with({"8080:80"}, "web", {"8080:8080/tcp"}),
                 ErrorKind::invalid, "running container 'web'");
    EXPECT_NO_THROW(check_port_overlaps_with({"8080:80/udp"}, "web", {"8080:8080/tcp"}));
}

TEST(PortForward, RulesDnatFromOutsideAndLocalhost) {
    auto rules = port_forward_rules(parse_port_forward("8080:80/tcp"), "172.28.1.2");
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(format_rule(rules[0]),
              "nat PREROUTING -p tcp -m addrtype --dst-type LOCAL --dport 8080 -j DNAT "
              "--to-destination 172.28.1.2:80");
    EXPECT_EQ(rules[1].chain, "OUTPUT");
    EXPECT_EQ(format_rule(rules[2]), "filter FORWARD -p tcp -d 172.28.1.2 --dport 80 -j ACCEPT");
    // Same ports: the destination port stays; a shifted range maps port by port.
    rules = port_forward_rules(parse_port_forward("100-110:100-110/udp"), "172.28.1.2");
    EXPECT_NE(format_rule(rules[0]).find("--dport 100:110 -j DNAT --to-destination 172.28.1.2"),
              std::string::npos);
    EXPECT_EQ(format_rule(rules[0]).find("172.28.1.2:"), std::string::npos);
    rules = port_forward_rules(parse_port_forward("100-110:200-210/tcp"), "172.28.1.2");
    EXPECT_NE(format_rule(rules[0]).find("--to-destination 172.28.1.2:200-210/100"),
              std::string::npos);
}

// --- firewall records ------------------------------------------------------------------------

TEST(FirewallRecord, LinesRoundTrip) {
    for (const auto& rule : shared_rules("ds-br0", "172.28.0.0/16")) {
        FirewallRule back;
        ASSERT_TRUE(parse_rule(format_rule(rule), back)) << format_rule(rule);
        EXPECT_EQ(back, rule);
    }
}

TEST(FirewallRecord, RefusesOtherTablesAndEmptyRules) {
    FirewallRule rule;
    EXPECT_FALSE(parse_rule("", rule));
    EXPECT_FALSE(parse_rule("nat POSTROUTING", rule));
    EXPECT_FALSE(parse_rule("raw PREROUTING -j NOTRACK", rule));
    EXPECT_FALSE(parse_rule("security INPUT -j ACCEPT", rule));
}

TEST(FirewallRecord, SharedRulesOnlyConcernTheBridgeAndSubnet) {
    for (const auto& rule : shared_rules("ds-br0", "172.28.0.0/16")) {
        std::string line = format_rule(rule);
        EXPECT_TRUE(line.find("ds-br0") != std::string::npos ||
                    line.find("172.28.0.0/16") != std::string::npos)
            << line;
    }
}

TEST(FirewallRecord, BridgelessSharesOnlyTheMasqueradeAndEachVethGetsItsAccepts) {
    auto shared = shared_rules("", "172.28.0.0/16");
    ASSERT_EQ(shared.size(), 1u);
    EXPECT_EQ(format_rule(shared[0]),
              "nat POSTROUTING -s 172.28.0.0/16 ! -d 172.28.0.0/16 -j MASQUERADE");
    auto own = interface_rules("ds-v42");
    bool input = false;
    for (const auto& rule : own) {
        std::string line = format_rule(rule);
        EXPECT_NE(line.find(" ds-v42 "), std::string::npos) << line;
        EXPECT_EQ(line.find("ds-br0"), std::string::npos) << line;
        input = input || line == "filter INPUT -i ds-v42 -j ACCEPT";
    }
    EXPECT_TRUE(input);
    // With the bridge: the same rules for ds-br0 after the masquerade.
    auto bridged = shared_rules("ds-br0", "172.28.0.0/16");
    ASSERT_EQ(bridged.size(), own.size() + 1);
    EXPECT_EQ(bridged[1], interface_rules("ds-br0")[0]);
}

TEST(NatRecord, RuleLinesRoundTripAndOneLineIsDropped) {
    sys::netlink::Rule rule;
    rule.priority = 6100;
    rule.from = parse_prefix("172.28.0.0/16");
    rule.table = 1003;
    std::string line = rule_line(rule);
    EXPECT_EQ(line, "rule 6100 172.28.0.0/16 - 1003");
    auto back = parse_rule_line(text_words(line));
    EXPECT_EQ(back.priority, 6100u);
    EXPECT_EQ(back.table, 1003u);
    ASSERT_TRUE(back.from);
    EXPECT_FALSE(back.to);
    EXPECT_EQ(rule_line(back), line);
    EXPECT_THROW(parse_rule_line(text_words("rule 6100 172.28.0.0/16")), Error);
    EXPECT_THROW(parse_rule_line(text_words("rule 6100 999.1.1.1/8 - 5")), Error);

    test::TempDir dir;
    std::string path = dir.path() + "/shared";
    {
        Record record(path);
        record.add("ip_forward 0");
        record.add(line);
        record.add("rule 6100 172.28.0.0/16 - 1002");
    }
    drop_record_line(path, line);
    EXPECT_EQ(read_lines(path),
              (std::vector<std::string>{"ip_forward 0", "rule 6100 172.28.0.0/16 - 1002"}));
}

// --- uplink ----------------------------------------------------------------------------------

sys::netlink::Link link(int index, const char* name, bool up = true) {
    sys::netlink::Link l;
    l.index = index;
    l.name = name;
    l.flags = up ? (IFF_UP | IFF_RUNNING) : IFF_UP;
    return l;
}

TEST(Uplink, PatternsInPriorityOrderAndOnlyUsableLinks) {
    std::vector<sys::netlink::Link> links = {link(1, "lo"), link(2, "wlan0"),
                                             link(3, "rmnet_data0"), link(4, "eth1", false)};
    EXPECT_EQ(choose_uplink({"rmnet*", "wlan*"}, links, 2), "rmnet_data0");
    EXPECT_EQ(choose_uplink({"eth*", "wlan0"}, links, 0), "wlan0");  // eth1 is not running
    EXPECT_EQ(choose_uplink({"nosuch"}, links, 2), "");              // authoritative: no fallback
}

TEST(Uplink, DefaultRouteThenWhitelistWithoutPatterns) {
    std::vector<sys::netlink::Link> links = {link(1, "lo"), link(2, "ds-br0"), link(3, "tun0"),
                                             link(4, "wlan0"), link(5, "ccmni1")};
    EXPECT_EQ(choose_uplink({}, links, 5), "ccmni1");
    EXPECT_EQ(choose_uplink({}, links, 3), "wlan0");  // tun* is excluded
    EXPECT_EQ(choose_uplink({}, links, 0), "wlan0");
    EXPECT_EQ(choose_uplink({}, {link(1, "lo"), link(2, "ds-v12")}, 2), "");
}

TEST(Uplink, NetdDefaultNetworkRuleThenTheLowestMetricDefaultRoute) {
    sys::netlink::Route wifi, mobile, subnet;
    wifi.oif = 4;
    wifi.metric = 600;
    mobile.oif = 5;
    mobile.metric = 100;
    subnet.oif = 6;
    subnet.dst_len = 24;
    EXPECT_EQ(default_uplink_oif({}, {wifi, mobile, subnet}), 5);
    EXPECT_EQ(default_uplink_oif({}, {subnet}), 0);
    sys::netlink::Rule netd, other;
    netd.priority = kNetdDefaultNetworkRule;
    netd.table = 1004;
    other.priority = 21000;
    other.table = 1006;
    EXPECT_EQ(default_uplink_oif({other, netd}, {mobile}), 4);
    netd.table = RT_TABLE_MAIN;  // not an interface's table: the routes decide
    EXPECT_EQ(default_uplink_oif({netd}, {wifi, mobile}), 5);
}

TEST(Uplink, GatewayOfTheDefaultRouteFirst) {
    sys::netlink::Route connected, other, def;
    connected.oif = 4;
    other.oif = 4;
    other.dst_len = 8;
    other.gateway = ip("10.0.0.9");
    def.oif = 4;
    def.gateway = ip("10.0.0.1");
    auto r = uplink_route({connected, other, def}, 4);
    ASSERT_TRUE(r.gateway);
    EXPECT_EQ(sys::netlink::format_ipv4(*r.gateway), "10.0.0.1");
    r = uplink_route({connected, other}, 4);
    EXPECT_EQ(sys::netlink::format_ipv4(*r.gateway), "10.0.0.9");
    EXPECT_FALSE(uplink_route({connected}, 4).gateway);
}

// --- DHCP ------------------------------------------------------------------------------------

std::vector<uint8_t> request_packet(uint8_t type, const sys::netlink::Mac& mac,
                                    std::optional<in_addr> requested = std::nullopt) {
    std::vector<uint8_t> p(236, 0);
    p[0] = 1;
    p[1] = 1;
    p[2] = 6;
    p[4] = 0xde;
    p[5] = 0xad;
    std::copy(mac.begin(), mac.end(), p.begin() + 28);
    // Byte by byte: GCC 12 misreads vector::insert of a list here (-Wstringop-overread).
    for (uint8_t b : {99, 130, 83, 99, 53, 1})
        p.push_back(b);
    p.push_back(type);
    if (requested) {
        p.push_back(50);
        p.push_back(4);
        auto* b = reinterpret_cast<const uint8_t*>(&*requested);
        for (int i = 0; i < 4; ++i)
            p.push_back(b[i]);
    }
    p.push_back(255);
    return p;
}

// The value of option `code` in a reply, or empty.
std::vector<uint8_t> option(const std::vector<uint8_t>& reply, uint8_t code) {
    for (size_t pos = 240; pos + 1 < reply.size();) {
        uint8_t c = reply[pos];
        if (c == 0) {
            ++pos;
            continue;
        }
        if (c == 255) break;
        uint8_t len = reply[pos + 1];
        if (c == code) return {reply.begin() + pos + 2, reply.begin() + pos + 2 + len};
        pos += 2 + len;
    }
    return {};
}

TEST(Dhcp, DiscoverGetsAnOfferOfTheContainersAddress) {
    sys::netlink::Mac mac = container_mac("box");
    auto packet = request_packet(kDhcpDiscover, mac);
    auto request = parse_request(packet.data(), packet.size());
    ASSERT_TRUE(request);
    EXPECT_EQ(request->type, kDhcpDiscover);
    EXPECT_EQ(request->chaddr, mac);
    DhcpLease lease = nat_lease("172.28.5.6", {"10.0.0.53", "2620:fe::fe", "9.9.9.9", "1.1.1.1"});
    auto reply = build_reply(*request, lease);
    ASSERT_TRUE(reply);
    EXPECT_EQ((*reply)[0], 2);  // BOOTREPLY
    EXPECT_EQ(sys::netlink::format_ipv4(*reinterpret_cast<const in_addr*>(reply->data() + 16)),
              "172.28.5.6");
    EXPECT_EQ(option(*reply, 53), std::vector<uint8_t>{kDhcpOffer});
    EXPECT_EQ(option(*reply, 3), (std::vector<uint8_t>{172, 28, 0, 1}));
    EXPECT_EQ(option(*reply, 54), (std::vector<uint8_t>{172, 28, 0, 1}));
    EXPECT_EQ(option(*reply, 1), (std::vector<uint8_t>{255, 255, 0, 0}));
    // IPv4 DNS servers only, at most two.
    EXPECT_EQ(option(*reply, 6), (std::vector<uint8_t>{10, 0, 0, 53, 9, 9, 9, 9}));
    EXPECT_EQ(option(*reply, 51), (std::vector<uint8_t>{0, 1, 0x51, 0x80}));  // 86400
    EXPECT_GE(reply->size(), 300u);
}

TEST(Dhcp, RequestForOurAddressIsAckedAnyOtherNaked) {
    sys::netlink::Mac mac = container_mac("box");
    DhcpLease lease = nat_lease("172.28.5.6", {});
    auto ok = request_packet(kDhcpRequest, mac, ip("172.28.5.6"));
    auto reply = build_reply(*parse_request(ok.data(), ok.size()), lease);
    ASSERT_TRUE(reply);
    EXPECT_EQ(option(*reply, 53), std::vector<uint8_t>{kDhcpAck});
    EXPECT_EQ(option(*reply, 6), (std::vector<uint8_t>{1, 1, 1, 1, 8, 8, 8, 8}));
    auto other = request_packet(kDhcpRequest, mac, ip("172.28.9.9"));
    reply = build_reply(*parse_request(other.data(), other.size()), lease);
    ASSERT_TRUE(reply);
    EXPECT_EQ(option(*reply, 53), std::vector<uint8_t>{kDhcpNak});
    auto release = request_packet(kDhcpRelease, mac);
    EXPECT_FALSE(build_reply(*parse_request(release.data(), release.size()), lease));
}

TEST(Dhcp, MalformedPacketsAreDropped) {
    sys::netlink::Mac mac{};
    auto good = request_packet(kDhcpDiscover, mac);
    EXPECT_FALSE(parse_request(nullptr, 0));
    EXPECT_FALSE(parse_request(good.data(), 239));  // no magic cookie
    // Every truncation of a valid packet either parses or is refused, never read past.
    for (size_t n = 0; n < good.size(); ++n) {
        std::vector<uint8_t> cut(good.begin(), good.begin() + n);
        (void)parse_request(cut.data(), cut.size());
    }
    auto reply = good;
    reply[0] = 2;  // a BOOTREPLY is not a request
    EXPECT_FALSE(parse_request(reply.data(), reply.size()));
    auto overlong = good;
    overlong[241] = 200;  // option 53 claims 200 bytes
    EXPECT_FALSE(parse_request(overlong.data(), overlong.size()));
    auto no_type = good;
    no_type[240] = 12;  // hostname instead of the message type
    EXPECT_FALSE(parse_request(no_type.data(), no_type.size()));
    auto bad_type = good;
    bad_type[242] = 42;
    EXPECT_FALSE(parse_request(bad_type.data(), bad_type.size()));
}

TEST(Dhcp, UdpWrapperChecksums) {
    auto packet = wrap_udp(ip("172.28.0.1"), ip("255.255.255.255"), 67, 68, {1, 2, 3});
    ASSERT_EQ(packet.size(), 31u);
    // The IPv4 header sums to 0xffff with its checksum in place.
    uint32_t sum = 0;
    for (size_t i = 0; i < 20; i += 2)
        sum += static_cast<uint32_t>(packet[i] << 8 | packet[i + 1]);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    EXPECT_EQ(sum, 0xffffu);
    EXPECT_EQ(packet[9], IPPROTO_UDP);
    EXPECT_EQ(packet[22], 0);
    EXPECT_EQ(packet[23], 68);
}

}  // namespace
}  // namespace ds::container::net

// --- gateway mode --------------------------------------------------------------------------

namespace ds::container::net {
namespace {

TEST(Gateway, DefaultsAndNames) {
    Config client;
    client.name = "laptop";
    client.gateway_container = "router";
    EXPECT_EQ(gateway_net_of(client), "lan");
    EXPECT_EQ(gateway_bridge_of(client), "ds-lan");
    EXPECT_EQ(gateway_iface_of(client), "eth1");
    client.gateway_net = "iot";
    client.gateway_lan_ifname = "lan0";
    EXPECT_EQ(gateway_bridge_of(client), "ds-iot");
    EXPECT_EQ(gateway_iface_of(client), "lan0");
    client.gateway_bridge = "br-iot";
    EXPECT_EQ(gateway_bridge_of(client), "br-iot");
    std::string cable = gateway_cable_name("router", "lan");
    EXPECT_EQ(cable.size(), 12u);  // ds-g + 8 hex: an interface name
    EXPECT_EQ(cable.rfind("ds-g", 0), 0u);
    EXPECT_NE(cable, gateway_cable_name("router", "iot"));
    EXPECT_NE(cable, gateway_cable_name("router2", "lan"));
    EXPECT_EQ(gateway_cable_mac("router", "lan")[0], 0x02);
}

TEST(Gateway, ConfigRules) {
    Config client;
    client.name = "laptop";
    EXPECT_ERROR(check_gateway_config(client), ErrorKind::invalid, "--gateway=NAME");
    client.gateway_container = "laptop";
    EXPECT_ERROR(check_gateway_config(client), ErrorKind::invalid, "its own gateway");
    client.gateway_container = "router";
    EXPECT_NO_THROW(check_gateway_config(client));
    client.gateway_bridge = "ds-br0";
    EXPECT_ERROR(check_gateway_config(client), ErrorKind::invalid, "NAT mode's bridge");
}

}  // namespace
}  // namespace ds::container::net
