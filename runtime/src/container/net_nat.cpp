#include "container/net_nat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <vector>

#include "container/net_firewall.hpp"
#include "container/net_follow.hpp"
#include "container/net_gateway.hpp"
#include "container/net_ports.hpp"
#include "container/net_record.hpp"
#include "container/net_uplink.hpp"
#include "container/state.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/lock.hpp"
#include "sys/platform.hpp"
#include "sys/process.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {

namespace nl = sys::netlink;

namespace {

constexpr const char* kBridgelessLine = "bridgeless";  // in the shared record

// True when a NAT container's host veth other than `except` is on the host.
bool other_nat_links(nl::Socket& sock) {
    for (const auto& link : nl::list_links(sock))
        if (link.name.rfind("ds-v", 0) == 0) return true;
    return false;
}

void release_shared_locked(nl::Socket& sock, const std::string& iptables, const Warn& warn) {
    auto lines = read_lines(shared_record_path());
    undo(sock, iptables, lines, warn);
    ::unlink(shared_record_path().c_str());
}

void release_container_locked(nl::Socket& sock, const std::string& iptables,
                              const std::string& path, const Warn& warn) {
    undo(sock, iptables, read_lines(path), warn);
    ::unlink(path.c_str());
}

// A policy rule, written to the record before it exists: a crash in between leaves a line whose
// delete finds nothing, never a rule nobody removes.
void add_recorded_rule(nl::Socket& sock, Record& record, const nl::Rule& rule) {
    record.add(rule_line(rule));
    nl::add_rule(sock, rule);
}

// Android routes by per-network tables (netd: table = ifindex + 1000) and sends unmarked traffic
// through rules the containers' packets do not match: upstream's rules below netd's VPN range.
// 6095: replies to hotspot/USB-tether clients (netd's local_network, table 97); 6100: the rest
// through the uplink's table, moved by the monitors' uplink followers when the uplink changes.
void android_policy_routing(nl::Socket& sock, Record& record) {
    nl::Rule local;
    local.priority = kRuleLocalNetwork;
    local.from = parse_prefix(kSubnet);
    local.table = kAndroidLocalNetworkTable;
    add_recorded_rule(sock, record, local);
    sync_android_uplink(sock, shared_record_path(), read_lines(shared_record_path()));
}

// The knobs of a link the containers sit behind (they go with it): no redirects between
// containers, no reverse path filter (replies of port forwards), and 127.0.0.1-sourced packets
// may leave through it (port forwards from localhost, masqueraded on the way out). A bridgeless
// host veth also answers ARP for the other containers' addresses (proxy_arp): their traffic
// goes through the host, as it would through the bridge.
void set_link_knobs(const std::string& iface, bool point_to_point) {
    std::string conf = "/proc/sys/net/ipv4/conf/" + iface + "/";
    write_sysctl(conf + "accept_redirects", "0");
    write_sysctl(conf + "send_redirects", "0");
    write_sysctl(conf + "rp_filter", "0");
    write_sysctl(conf + "route_localnet", "1");
    if (point_to_point) write_sysctl(conf + "proxy_arp", "1");
}

// The bridge and what every NAT container shares; set up by the first, kept while any runs.
// Returns the bridge's index, or 0 in bridgeless mode (a kernel without bridge support: each
// container gets a point-to-point veth, as upstream falls back to).
int ensure_shared(nl::Socket& sock, const std::string& iptables, const Warn& warn) {
    int bridge = nl::link_index(sock, kBridge);
    bool recorded = sys::path_exists(shared_record_path());
    if (recorded) {
        auto lines = read_lines(shared_record_path());
        if (std::find(lines.begin(), lines.end(), kBridgelessLine) != lines.end()) return 0;
        if (bridge) return bridge;
        release_shared_locked(sock, iptables, warn);  // a crash's leftovers
    }
    Record record(shared_record_path());
    std::string existing;
    for (const auto& table : existing_nft_tables())
        existing += " " + table;
    record.add("nft_existing" + existing);
    if (!bridge) {
        record.add(std::string("bridge ") + kBridge);
        if (nl::create_bridge(sock, kBridge)) {
            bridge = nl::link_index(sock, kBridge);
            if (!bridge)
                fail_runtime(std::string("bridge ") + kBridge + " vanished after creation");
        } else {
            record.add(kBridgelessLine);  // the monitor's log says "(bridgeless)"
        }
    }
    if (bridge) {
        nl::add_address(sock, bridge, ipv4(kGatewayIp), kPrefix);
        nl::set_up(sock, bridge);
        set_link_knobs(kBridge, false);
    }
    auto forward = sys::try_read_file("/proc/sys/net/ipv4/ip_forward");
    if (!forward || forward->rfind('1', 0) != 0) {
        record.add("ip_forward 0");
        sys::write_control_file("/proc/sys/net/ipv4/ip_forward", "1");
    }
    for (const auto& rule : shared_rules(bridge ? kBridge : "", kSubnet)) {
        record.add("ipt " + format_rule(rule));
        insert_rule(iptables, rule);
    }
    // Traffic between containers and to the bridge stays in the main table even when a
    // container's uplink is pinned (its rule 6100 would send it out).
    nl::Rule to_subnet;
    to_subnet.priority = kRuleToSubnet;
    to_subnet.to = parse_prefix(kSubnet);
    to_subnet.table = RT_TABLE_MAIN;
    add_recorded_rule(sock, record, to_subnet);
    if (sys::is_android()) android_policy_routing(sock, record);
    return bridge;
}

void pin_uplink(nl::Socket& sock, Record& record, const Config& config, const std::string& ip) {
    auto links = nl::list_links(sock);
    std::string uplink = choose_uplink(config.upstream_interfaces, links, 0);
    if (uplink.empty()) {
        std::string list;
        for (const auto& p : config.upstream_interfaces)
            list += (list.empty() ? "" : ",") + p;
        fail_runtime("no upstream interface matching '" + list + "' is up");
    }
    int oif = nl::link_index(sock, uplink);
    UplinkRoute route = find_uplink_route(sock, oif);
    uint32_t table = uplink_table(ip);
    record.add("route " + std::to_string(table) + " 0.0.0.0/0");
    nl::add_route(sock, in_addr{0}, 0, route.gateway, oif, table);
    nl::Rule rule;
    rule.priority = kRulePinnedUplink;
    rule.from = std::make_pair(ipv4(ip), uint8_t{32});
    rule.table = table;
    add_recorded_rule(sock, record, rule);
}

std::string require_iptables() {
    std::string iptables = find_iptables();
    if (iptables.empty())
        fail_runtime(
            "--net=nat needs iptables: not found in PATH, /system/bin, /usr/sbin or /sbin");
    return iptables;
}

}  // namespace

// --- pure ----------------------------------------------------------------------------------------

uint32_t name_hash(std::string_view text) {
    uint32_t h = 5381;
    for (unsigned char c : text)
        h = (h * 33) ^ c;
    return h;
}

std::string hashed_nat_ip(std::string_view name) {
    uint32_t h = name_hash(name);
    return "172.28." + std::to_string(((h >> 8) % 254) + 1) + "." + std::to_string((h % 254) + 1);
}

namespace {
// "172.28.X.Y" -> X, Y.
bool nat_octets(std::string_view ip, unsigned& x, unsigned& y) {
    constexpr std::string_view kPrefix = "172.28.";
    if (ip.substr(0, kPrefix.size()) != kPrefix) return false;
    const char* end = ip.data() + ip.size();
    auto [dot, ec1] = std::from_chars(ip.data() + kPrefix.size(), end, x);
    if (ec1 != std::errc() || dot == end || *dot != '.') return false;
    auto [last, ec2] = std::from_chars(dot + 1, end, y);
    return ec2 == std::errc() && last == end;
}
}  // namespace

std::string next_nat_ip(const std::string& ip) {
    unsigned x = 1, y = 1;
    if (!nat_octets(ip, x, y) || x < 1 || x > 254 || y < 1 || y > 254) return "172.28.1.1";
    if (++y > 254) {
        y = 1;
        if (++x > 254) x = 1;
    }
    return "172.28." + std::to_string(x) + "." + std::to_string(y);
}

std::string choose_nat_ip(std::string_view name, const std::string& requested,
                          const std::set<std::string>& taken, bool* collided) {
    if (collided) *collided = false;
    if (!requested.empty()) {
        if (!taken.count(requested)) return requested;
        if (collided) *collided = true;
    }
    std::string ip = hashed_nat_ip(name);
    for (unsigned i = 0; i < 254u * 254u && taken.count(ip); ++i)
        ip = next_nat_ip(ip);
    if (taken.count(ip)) fail_runtime("no free NAT address is left in " + std::string(kSubnet));
    return ip;
}

sys::netlink::Mac container_mac(std::string_view name) {
    uint32_t h = name_hash(name);
    uint32_t low = name_hash("ds-mac:" + std::string(name));
    return {0x02,
            static_cast<uint8_t>(h >> 24),
            static_cast<uint8_t>(h >> 16),
            static_cast<uint8_t>(h >> 8),
            static_cast<uint8_t>(h),
            static_cast<uint8_t>(low)};
}

std::string host_veth_name(pid_t init_pid) {
    return "ds-v" + std::to_string(init_pid);
}

uint32_t uplink_table(const std::string& ip) {
    unsigned x = 0, y = 0;
    if (!nat_octets(ip, x, y)) x = y = 0;
    return 0x64730000u | (x << 8) | y;  // "ds" in the high half: clear of Android's tables
}

// --- start ---------------------------------------------------------------------------------------

void assign_nat_address(const Workspace& ws, Config& config, const Warn& warn) {
    check_port_overlaps(config.port_forwards);
    require_iptables();
    std::set<std::string> taken;
    std::string own = sanitize_name(config.name);
    if (DIR* dir = ::opendir(ws.containers_dir().c_str())) {
        while (auto* entry = ::readdir(dir)) {
            std::string entry_name = entry->d_name;
            if (entry_name.empty() || entry_name[0] == '.' || entry_name == own) continue;
            std::string path = ws.containers_dir() + "/" + entry_name + "/container.config";
            auto text = sys::try_read_file(path);
            if (!text) continue;
            try {
                Config other = parse_config(*text, path);
                if (!other.static_nat_ip.empty()) taken.insert(other.static_nat_ip);
                if (other.net_mode != NetMode::nat || other.port_forwards.empty()) continue;
                if (find_running(ws, other.name.empty() ? entry_name : other.name))
                    check_port_overlaps_with(config.port_forwards, other.name, other.port_forwards);
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::invalid &&
                    std::string(e.what()).find("port forward") != std::string::npos)
                    throw;
            }
        }
        ::closedir(dir);
    }
    bool collided = false;
    std::string requested = config.static_nat_ip;
    config.static_nat_ip = choose_nat_ip(config.name, requested, taken, &collided);
    if (collided)
        warn("NAT address " + requested + " is taken by another container: using " +
             config.static_nat_ip);
}

// --- host side -----------------------------------------------------------------------------------

bool has_nat_record(const Workspace& ws, const std::string& name) {
    for (const char* ext : {".net", ".lan", ".gw"})
        if (sys::path_exists(container_record_path(ws, name, ext))) return true;
    return false;
}

std::vector<std::string> nat_record_names(const Workspace& ws) {
    std::vector<std::string> names;
    if (DIR* dir = ::opendir((ws.root + "/Net").c_str())) {
        while (auto* entry = ::readdir(dir)) {
            std::string file = entry->d_name;
            auto dot = file.rfind('.');
            if (dot == std::string::npos || dot == 0) continue;
            std::string ext = file.substr(dot);
            if ((ext == ".net" || ext == ".lan" || ext == ".gw") &&
                std::find(names.begin(), names.end(), file.substr(0, dot)) == names.end())
                names.push_back(file.substr(0, dot));
        }
        ::closedir(dir);
    }
    return names;
}

NatLink attach_nat(const Workspace& ws, const Config& config, pid_t init_pid) {
    std::string iptables = require_iptables();
    if (config.static_nat_ip.empty()) fail_runtime("no NAT address was assigned");
    auto lock = lock_host_net();
    nl::Socket sock = nl::open();
    std::string path = container_record_path(ws, config.name);
    std::vector<std::string> problems;
    Warn note = [&](const std::string& m) { problems.push_back(m); };
    if (sys::path_exists(path)) release_container_locked(sock, iptables, path, note);
    NatLink link{host_veth_name(init_pid), config.static_nat_ip};
    try {
        int bridge = ensure_shared(sock, iptables, note);
        Record record(path);
        record.add("ip " + link.ip);
        record.add("link " + link.host_veth);
        nl::delete_link(sock, link.host_veth);  // a stale one of a reused PID
        std::string ns_path = "/proc/" + std::to_string(init_pid) + "/ns/net";
        sys::unique_fd netns(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!netns) sys::fail_errno("open " + ns_path);
        nl::Mac mac = container_mac(config.name);
        nl::create_veth(sock, link.host_veth, "eth0", &mac, netns.get());
        int index = nl::link_index(sock, link.host_veth);
        if (!index) fail_runtime("veth " + link.host_veth + " vanished after creation");
        if (bridge) {
            nl::set_master(sock, index, bridge);
        } else {
            // Point-to-point: the gateway address on the host end, a host route to the guest.
            link.bridgeless = true;
            nl::add_address(sock, index, ipv4(kGatewayIp), 32);
            set_link_knobs(link.host_veth, true);
            for (const auto& rule : interface_rules(link.host_veth)) {
                record.add("ipt " + format_rule(rule));
                insert_rule(iptables, rule);
            }
        }
        nl::set_up(sock, index);
        if (!bridge) nl::add_route(sock, ipv4(link.ip), 32, std::nullopt, index);
        for (const auto& spec : config.port_forwards) {
            PortForward forward = parse_port_forward(normalize_port_forward(spec));
            for (const auto& rule : port_forward_rules(forward, link.ip)) {
                record.add("ipt " + format_rule(rule));
                insert_rule(iptables, rule);
            }
        }
        if (!config.upstream_interfaces.empty()) pin_uplink(sock, record, config, link.ip);
    } catch (...) {
        release_container_locked(sock, iptables, path, note);
        if (!other_nat_links(sock)) release_shared_locked(sock, iptables, note);
        throw;
    }
    return link;
}

bool release_nat(const Workspace& ws, const std::string& name, const Warn& warn) {
    std::string path = container_record_path(ws, name);
    bool had = has_nat_record(ws, name);
    try {
        auto lock = lock_host_net();
        nl::Socket sock = nl::open();
        std::string iptables = find_iptables();
        if (sys::path_exists(path)) release_container_locked(sock, iptables, path, warn);
        release_gateway_locked(sock, ws, name, warn);
        if (!other_nat_links(sock) && sys::path_exists(shared_record_path()))
            release_shared_locked(sock, iptables, warn);
    } catch (const std::exception& e) {
        warn(std::string("network cleanup of '") + name + "': " + e.what());
    }
    return had;
}

// --- guest side ----------------------------------------------------------------------------------

void configure_guest_eth0(const Config& config) {
    // NAT is IPv4 only, as upstream: no address the host does not route.
    for (const char* knob : {"all", "default", "eth0"})
        sys::write_control_file_if_present(
            std::string("/proc/sys/net/ipv6/conf/") + knob + "/disable_ipv6", "1");
    nl::Socket sock = nl::open();
    int index = nl::link_index(sock, "eth0");
    if (!index) fail_runtime("eth0 is missing in the container's network namespace");
    nl::add_address(sock, index, ipv4(config.static_nat_ip), kPrefix);
    nl::set_up(sock, index);
    nl::add_route(sock, in_addr{0}, 0, ipv4(kGatewayIp), index);
}

void bring_up_eth0() {
    nl::Socket sock = nl::open();
    int index = nl::link_index(sock, "eth0");
    if (!index) fail_runtime("eth0 is missing in the container's network namespace");
    nl::set_up(sock, index);
}

}  // namespace ds::container::net
