#include "sys/netlink.hpp"

#include <arpa/inet.h>
#include <linux/fib_rules.h>
#include <linux/if_link.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "sys/syscall_error.hpp"

namespace ds::sys::netlink {

// --- Message -----------------------------------------------------------------------------------

Message::Message(uint16_t type, uint16_t flags, const void* family_header, size_t header_len) {
    header()->nlmsg_len = NLMSG_LENGTH(header_len);
    header()->nlmsg_type = type;
    header()->nlmsg_flags = NLM_F_REQUEST | flags;
    if (header_len) std::memcpy(NLMSG_DATA(header()), family_header, header_len);
}

unsigned char* Message::reserve(size_t len) {
    size_t off = NLMSG_ALIGN(header()->nlmsg_len);
    if (off + NLMSG_ALIGN(len) > sizeof buf_) {
        overflow_ = true;
        return nullptr;
    }
    header()->nlmsg_len = off + NLMSG_ALIGN(len);
    return buf_ + off;
}

void Message::append(const void* data, size_t len) {
    if (unsigned char* p = reserve(len)) std::memcpy(p, data, len);
}

rtattr* Message::attr(uint16_t type, const void* data, size_t len) {
    auto* a = reinterpret_cast<rtattr*>(reserve(RTA_SPACE(len)));
    if (!a) return nullptr;
    a->rta_type = type;
    a->rta_len = RTA_LENGTH(len);
    if (len) std::memcpy(RTA_DATA(a), data, len);
    return a;
}

rtattr* Message::attr_string(uint16_t type, const char* text) {
    return attr(type, text, std::strlen(text) + 1);
}

void Message::end_nest(rtattr* nest) {
    if (nest) nest->rta_len = buf_ + header()->nlmsg_len - reinterpret_cast<unsigned char*>(nest);
}

// --- Socket ------------------------------------------------------------------------------------

Socket Socket::open_current() {
    Socket s;
    s.fd_.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (s.fd_) {
        timeval timeout{5, 0};  // the kernel always answers; this only bounds a broken one
        ::setsockopt(s.fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    }
    return s;
}

int Socket::send(Message& m) {
    if (m.overflow()) return EOVERFLOW;
    m.header()->nlmsg_seq = ++seq_;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    for (;;) {
        if (::sendto(fd_.get(), m.header(), m.header()->nlmsg_len, 0,
                     reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0)
            return 0;
        if (errno != EINTR) return errno;
    }
}

int Socket::receive(unsigned char* buf, size_t size, ssize_t& got) {
    for (;;) {
        got = ::recv(fd_.get(), buf, size, 0);
        if (got >= 0) return got == 0 ? EPROTO : 0;
        if (errno != EINTR) return errno;
    }
}

int Socket::transact(Message& m) {
    m.header()->nlmsg_flags |= NLM_F_ACK;
    if (int err = send(m)) return err;
    // The kernel handles the request inside send(): its answer is queued. A stale answer (an
    // earlier request's, after a timeout) is skipped by its sequence number.
    alignas(nlmsghdr) unsigned char reply[8192];
    for (;;) {
        ssize_t n = 0;
        if (int err = receive(reply, sizeof reply, n)) return err;
        for (auto* h = reinterpret_cast<nlmsghdr*>(reply); NLMSG_OK(h, static_cast<size_t>(n));
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type != NLMSG_ERROR) return 0;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) return EPROTO;
            return -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
        }
    }
}

// --- operations --------------------------------------------------------------------------------

namespace {

void check(int err, const std::string& what) {
    if (err) fail_errno(what, err);
}

ifinfomsg link_header(int index = 0) {
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = index;
    return ifi;
}

std::string link_name(const std::string& name) {
    return "'" + name + "'";
}

// The attributes of a message after its family header of `header_len` bytes.
template <typename F>
void for_each_attr(const nlmsghdr* h, size_t header_len, F&& f) {
    auto* a = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(NLMSG_DATA(h)) +
                                              NLMSG_ALIGN(header_len));
    int len = static_cast<int>(h->nlmsg_len) - static_cast<int>(NLMSG_LENGTH(header_len));
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
        f(a);
}

in_addr attr_addr(const rtattr* a) {
    in_addr v{};
    if (RTA_PAYLOAD(a) >= sizeof v) std::memcpy(&v, RTA_DATA(a), sizeof v);
    return v;
}

uint32_t attr_u32(const rtattr* a) {
    uint32_t v = 0;
    if (RTA_PAYLOAD(a) >= sizeof v) std::memcpy(&v, RTA_DATA(a), sizeof v);
    return v;
}

std::string describe_route(in_addr dst, uint8_t len, uint32_t table) {
    return "route " + format_ipv4(dst) + "/" + std::to_string(len) + " (table " +
           std::to_string(table) + ")";
}

Message route_message(uint16_t type, uint16_t flags, in_addr dst, uint8_t dst_len, uint32_t table,
                      uint8_t scope) {
    rtmsg rt{};
    rt.rtm_family = AF_INET;
    rt.rtm_dst_len = dst_len;
    rt.rtm_table = table < 256 ? static_cast<uint8_t>(table) : uint8_t{RT_TABLE_UNSPEC};
    rt.rtm_protocol = RTPROT_STATIC;
    rt.rtm_scope = scope;
    rt.rtm_type = RTN_UNICAST;
    Message m(type, flags, &rt, sizeof rt);
    if (dst_len) m.attr(RTA_DST, &dst, sizeof dst);
    m.attr_u32(RTA_TABLE, table);
    return m;
}

Message rule_message(uint16_t type, uint16_t flags, const Rule& rule) {
    fib_rule_hdr frh{};
    frh.family = AF_INET;
    frh.action = FR_ACT_TO_TBL;
    frh.table = rule.table < 256 ? static_cast<uint8_t>(rule.table) : uint8_t{RT_TABLE_UNSPEC};
    if (rule.from) frh.src_len = rule.from->second;
    if (rule.to) frh.dst_len = rule.to->second;
    Message m(type, flags, &frh, sizeof frh);
    m.attr_u32(FRA_PRIORITY, rule.priority);
    m.attr_u32(FRA_TABLE, rule.table);
    if (rule.from) m.attr(FRA_SRC, &rule.from->first, sizeof(in_addr));
    if (rule.to) m.attr(FRA_DST, &rule.to->first, sizeof(in_addr));
    return m;
}

std::string describe_rule(const Rule& rule) {
    std::string out = "rule priority " + std::to_string(rule.priority);
    if (rule.from)
        out += " from " + format_ipv4(rule.from->first) + "/" + std::to_string(rule.from->second);
    if (rule.to)
        out += " to " + format_ipv4(rule.to->first) + "/" + std::to_string(rule.to->second);
    return out + " lookup " + std::to_string(rule.table);
}

}  // namespace

Socket open() {
    Socket s = Socket::open_current();
    if (!s.valid()) fail_errno("open an rtnetlink socket");
    return s;
}

int link_index(Socket& s, const std::string& name) {
    auto ifi = link_header();
    Message m(RTM_GETLINK, 0, &ifi, sizeof ifi);
    m.attr_string(IFLA_IFNAME, name.c_str());
    int index = 0;
    // A GETLINK of one name answers with one RTM_NEWLINK, or an error.
    m.header()->nlmsg_flags |= NLM_F_ACK;
    int err = s.dump(m, [&](const nlmsghdr* h) {
        if (h->nlmsg_type == RTM_NEWLINK)
            index = static_cast<const ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
    });
    // The answer has no NLMSG_DONE: dump() returns on the ACK (error 0) that follows.
    if (err == ENODEV) return 0;
    check(err, "look up link " + link_name(name));
    return index;
}

std::vector<Link> list_links(Socket& s) {
    auto ifi = link_header();
    Message m(RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi);
    std::vector<Link> links;
    int err = s.dump(m, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWLINK) return;
        auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        Link link;
        link.index = info->ifi_index;
        link.flags = info->ifi_flags;
        for_each_attr(h, sizeof(ifinfomsg), [&](const rtattr* a) {
            if (a->rta_type == IFLA_IFNAME)
                link.name =
                    std::string(static_cast<const char*>(RTA_DATA(a)),
                                strnlen(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a)));
            else if (a->rta_type == IFLA_MASTER)
                link.master = static_cast<int>(attr_u32(a));
            else if (a->rta_type == IFLA_LINKINFO) {
                int len = static_cast<int>(RTA_PAYLOAD(a));
                for (auto* n = static_cast<const rtattr*>(RTA_DATA(a)); RTA_OK(n, len);
                     n = RTA_NEXT(n, len))
                    if (n->rta_type == IFLA_INFO_KIND)
                        link.kind = std::string(
                            static_cast<const char*>(RTA_DATA(n)),
                            strnlen(static_cast<const char*>(RTA_DATA(n)), RTA_PAYLOAD(n)));
            }
        });
        links.push_back(std::move(link));
    });
    check(err, "list links");
    return links;
}

bool create_bridge(Socket& s, const std::string& name) {
    auto ifi = link_header();
    Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    m.attr_string(IFLA_IFNAME, name.c_str());
    rtattr* info = m.begin_nest(IFLA_LINKINFO);
    m.attr(IFLA_INFO_KIND, "bridge", 6);
    m.end_nest(info);
    int err = s.transact(m);
    if (err == EOPNOTSUPP) return false;
    check(err, "create bridge " + link_name(name));
    return true;
}

void create_veth(Socket& s, const std::string& host, const std::string& peer, const Mac* peer_mac,
                 int peer_netns_fd) {
    auto ifi = link_header();
    Message m(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof ifi);
    m.attr_string(IFLA_IFNAME, host.c_str());
    rtattr* info = m.begin_nest(IFLA_LINKINFO);
    m.attr(IFLA_INFO_KIND, "veth", 4);
    rtattr* data = m.begin_nest(IFLA_INFO_DATA);
    rtattr* peer_info = m.begin_nest(VETH_INFO_PEER);
    auto peer_ifi = link_header();
    m.append(&peer_ifi, sizeof peer_ifi);
    m.attr_string(IFLA_IFNAME, peer.c_str());
    if (peer_mac) m.attr(IFLA_ADDRESS, peer_mac->data(), peer_mac->size());
    if (peer_netns_fd >= 0) m.attr_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
    m.end_nest(peer_info);
    m.end_nest(data);
    m.end_nest(info);
    check(s.transact(m), "create veth pair " + link_name(host) + "/" + link_name(peer));
}

bool delete_link(Socket& s, const std::string& name) {
    auto ifi = link_header();
    Message m(RTM_DELLINK, 0, &ifi, sizeof ifi);
    m.attr_string(IFLA_IFNAME, name.c_str());
    int err = s.transact(m);
    if (err == ENODEV) return false;
    check(err, "delete link " + link_name(name));
    return true;
}

void set_up(Socket& s, int index) {
    auto ifi = link_header(index);
    ifi.ifi_flags = IFF_UP;
    ifi.ifi_change = IFF_UP;
    Message m(RTM_NEWLINK, 0, &ifi, sizeof ifi);
    check(s.transact(m), "bring up link #" + std::to_string(index));
}

void set_master(Socket& s, int index, int master_index) {
    auto ifi = link_header(index);
    Message m(RTM_NEWLINK, 0, &ifi, sizeof ifi);
    m.attr_u32(IFLA_MASTER, static_cast<uint32_t>(master_index));
    check(s.transact(m),
          "attach link #" + std::to_string(index) + " to bridge #" + std::to_string(master_index));
}

void set_mac(Socket& s, int index, const Mac& mac) {
    auto ifi = link_header(index);
    Message m(RTM_NEWLINK, 0, &ifi, sizeof ifi);
    m.attr(IFLA_ADDRESS, mac.data(), mac.size());
    check(s.transact(m), "set MAC " + format_mac(mac) + " on link #" + std::to_string(index));
}

void add_address(Socket& s, int index, in_addr address, uint8_t prefix) {
    ifaddrmsg ifa{};
    ifa.ifa_family = AF_INET;
    ifa.ifa_prefixlen = prefix;
    ifa.ifa_index = static_cast<unsigned>(index);
    Message m(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
    m.attr(IFA_LOCAL, &address, sizeof address);
    m.attr(IFA_ADDRESS, &address, sizeof address);
    if (prefix < 31) {
        uint32_t mask = prefix ? htonl(~((1u << (32 - prefix)) - 1)) : 0;
        in_addr broadcast{address.s_addr | ~mask};
        m.attr(IFA_BROADCAST, &broadcast, sizeof broadcast);
    }
    int err = s.transact(m);
    if (err == EEXIST) return;
    check(err, "add address " + format_ipv4(address) + "/" + std::to_string(prefix) + " to link #" +
                   std::to_string(index));
}

void add_route(Socket& s, in_addr dst, uint8_t dst_len, std::optional<in_addr> gateway, int oif,
               uint32_t table) {
    Message m = route_message(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, dst, dst_len, table,
                              gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
    if (gateway) m.attr(RTA_GATEWAY, &*gateway, sizeof(in_addr));
    if (oif) m.attr_u32(RTA_OIF, static_cast<uint32_t>(oif));
    int err = s.transact(m);
    if (err == EEXIST) return;
    check(err, "add " + describe_route(dst, dst_len, table));
}

bool delete_route(Socket& s, in_addr dst, uint8_t dst_len, uint32_t table) {
    // Scope "nowhere" matches a route of any scope, as `ip route del` asks.
    Message m = route_message(RTM_DELROUTE, 0, dst, dst_len, table, RT_SCOPE_NOWHERE);
    int err = s.transact(m);
    if (err == ESRCH || err == ENOENT) return false;
    check(err, "delete " + describe_route(dst, dst_len, table));
    return true;
}

std::vector<Route> list_routes(Socket& s, uint32_t table) {
    rtmsg rt{};
    rt.rtm_family = AF_INET;
    Message m(RTM_GETROUTE, NLM_F_DUMP, &rt, sizeof rt);
    std::vector<Route> routes;
    int err = s.dump(m, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWROUTE) return;
        auto* r = static_cast<const rtmsg*>(NLMSG_DATA(h));
        if (r->rtm_family != AF_INET) return;
        Route route;
        route.dst_len = r->rtm_dst_len;
        route.table = r->rtm_table;
        for_each_attr(h, sizeof(rtmsg), [&](const rtattr* a) {
            if (a->rta_type == RTA_OIF) route.oif = static_cast<int>(attr_u32(a));
            if (a->rta_type == RTA_GATEWAY) route.gateway = attr_addr(a);
            if (a->rta_type == RTA_DST) route.dst = attr_addr(a);
            if (a->rta_type == RTA_TABLE) route.table = attr_u32(a);
            if (a->rta_type == RTA_PRIORITY) route.metric = attr_u32(a);
        });
        if (route.table == table) routes.push_back(route);
    });
    check(err, "list routes");
    return routes;
}

void add_rule(Socket& s, const Rule& rule) {
    Message m = rule_message(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, rule);
    int err = s.transact(m);
    if (err == EEXIST) return;
    check(err, "add " + describe_rule(rule));
}

bool delete_rule(Socket& s, const Rule& rule) {
    Message m = rule_message(RTM_DELRULE, 0, rule);
    int err = s.transact(m);
    if (err == ENOENT || err == ESRCH) return false;
    check(err, "delete " + describe_rule(rule));
    return true;
}

std::vector<Rule> list_rules(Socket& s) {
    fib_rule_hdr frh{};
    frh.family = AF_INET;
    Message m(RTM_GETRULE, NLM_F_DUMP, &frh, sizeof frh);
    std::vector<Rule> rules;
    int err = s.dump(m, [&](const nlmsghdr* h) {
        if (h->nlmsg_type != RTM_NEWRULE) return;
        auto* f = static_cast<const fib_rule_hdr*>(NLMSG_DATA(h));
        Rule rule;
        rule.table = f->table;
        for_each_attr(h, sizeof(fib_rule_hdr), [&](const rtattr* a) {
            if (a->rta_type == FRA_PRIORITY) rule.priority = attr_u32(a);
            if (a->rta_type == FRA_TABLE) rule.table = attr_u32(a);
            if (a->rta_type == FRA_SRC) rule.from = std::make_pair(attr_addr(a), f->src_len);
            if (a->rta_type == FRA_DST) rule.to = std::make_pair(attr_addr(a), f->dst_len);
        });
        rules.push_back(rule);
    });
    check(err, "list policy rules");
    return rules;
}

unique_fd subscribe(uint32_t groups) {
    unique_fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    local.nl_groups = groups;
    if (fd && ::bind(fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) fd.reset();
    return fd;
}

std::optional<in_addr> parse_ipv4(std::string_view text) {
    if (text.empty() || text.size() > 15) return std::nullopt;
    char buf[16] = {};
    std::memcpy(buf, text.data(), text.size());
    in_addr out{};
    if (::inet_pton(AF_INET, buf, &out) != 1) return std::nullopt;
    return out;
}

std::string format_ipv4(in_addr address) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &address, buf, sizeof buf);
    return buf;
}

std::string format_mac(const Mac& mac) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i) out += ':';
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

}  // namespace ds::sys::netlink
