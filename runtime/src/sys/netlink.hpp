// rtnetlink, the one way the runtime changes links, addresses, routes and policy rules (the NAT
// and gateway network modes) and probes for veth/bridge support (`check`).
//
// Two layers:
// - Message and Socket: a request on a fixed buffer and one send/receive. They never allocate,
//   so `check`'s probe children (forked, no allocation allowed) use them as they are.
// - The operations below them (create_veth, add_address, ...): they throw a runtime error that
//   names the operation, the interface and errno.
// Every operation acts in the network namespace the Socket was opened in.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/fd.hpp"

namespace ds::sys::netlink {

// One request: header, a family header (ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr) and
// attributes, on a fixed buffer. A request that does not fit is marked, and refused on send.
class Message {
  public:
    Message(uint16_t type, uint16_t flags, const void* family_header, size_t header_len);
    // An attribute; with data == nullptr and len == 0 it opens a nest closed by end_nest().
    rtattr* attr(uint16_t type, const void* data, size_t len);
    rtattr* attr_string(uint16_t type, const char* text);  // with its NUL
    rtattr* attr_u32(uint16_t type, uint32_t value) { return attr(type, &value, sizeof value); }
    rtattr* begin_nest(uint16_t type) { return attr(type, nullptr, 0); }
    void end_nest(rtattr* nest);
    // Raw bytes at the next aligned offset (a veth peer's ifinfomsg inside its nest).
    void append(const void* data, size_t len);

    nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buf_); }
    bool overflow() const { return overflow_; }

  private:
    unsigned char* reserve(size_t len);
    alignas(nlmsghdr) unsigned char buf_[1024] = {};
    bool overflow_ = false;
};

// A NETLINK_ROUTE socket, bound to the network namespace of the thread that opened it.
class Socket {
  public:
    // Invalid when socket() failed (errno set); check with `valid()`.
    static Socket open_current();
    bool valid() const { return static_cast<bool>(fd_); }

    // Sends `m` with NLM_F_ACK semantics and returns 0 when the kernel accepted it (or answered
    // with data), else the errno it answered with. Never allocates.
    int transact(Message& m);
    // A dump request: `on_message` is called for every reply message until NLMSG_DONE.
    // Returns 0 or an errno. `on_message(const nlmsghdr*)`.
    template <typename F>
    int dump(Message& m, F&& on_message);

  private:
    int send(Message& m);
    int receive(unsigned char* buf, size_t size, ssize_t& got);
    unique_fd fd_;
    uint32_t seq_ = 0;
};

template <typename F>
int Socket::dump(Message& m, F&& on_message) {
    if (int err = send(m)) return err;
    alignas(nlmsghdr) static thread_local unsigned char buf[32768];
    for (;;) {
        ssize_t n = 0;
        if (int err = receive(buf, sizeof buf, n)) return err;
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<size_t>(n));
             h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_seq != seq_) continue;
            if (h->nlmsg_type == NLMSG_DONE) return 0;
            if (h->nlmsg_type == NLMSG_ERROR) return -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
            on_message(h);
        }
    }
}

// --- operations (throwing) -------------------------------------------------------------------

using Mac = std::array<uint8_t, 6>;

struct Link {
    int index = 0;
    std::string name;
    unsigned flags = 0;  // IFF_UP, IFF_RUNNING, ...
    int master = 0;      // ifindex of the bridge it is enslaved to, 0 when none
    std::string kind;    // "veth", "bridge", "" when the kernel does not say
};

struct Route {
    int oif = 0;
    std::optional<in_addr> gateway;
    uint8_t dst_len = 0;
    in_addr dst{};
    uint32_t table = RT_TABLE_MAIN;
    uint32_t metric = 0;
};

// Opens a socket in the current namespace; throws naming errno.
Socket open();

// 0 when there is no such link.
int link_index(Socket& s, const std::string& name);
std::vector<Link> list_links(Socket& s);
// False when the kernel has no bridge support (EOPNOTSUPP: no "bridge" link kind).
bool create_bridge(Socket& s, const std::string& name);
// A veth pair: `host` here; `peer` created directly in the namespace `peer_netns_fd` (-1: here)
// with MAC `peer_mac` (nullptr: the kernel's random one).
void create_veth(Socket& s, const std::string& host, const std::string& peer, const Mac* peer_mac,
                 int peer_netns_fd);
// False when there was no such link. Deleting one end of a veth deletes both.
bool delete_link(Socket& s, const std::string& name);
void set_up(Socket& s, int index);
void set_master(Socket& s, int index, int master_index);
void set_mac(Socket& s, int index, const Mac& mac);
// EEXIST is fine: the address is there.
void add_address(Socket& s, int index, in_addr address, uint8_t prefix);
// `gateway` nullopt: a device route (scope link). EEXIST is fine. `table` 0 = main.
void add_route(Socket& s, in_addr dst, uint8_t dst_len, std::optional<in_addr> gateway, int oif,
               uint32_t table = RT_TABLE_MAIN);
// False when there was no such route.
bool delete_route(Socket& s, in_addr dst, uint8_t dst_len, uint32_t table);
std::vector<Route> list_routes(Socket& s, uint32_t table = RT_TABLE_MAIN);

struct Rule {
    uint32_t priority = 0;
    std::optional<std::pair<in_addr, uint8_t>> from;  // src/len
    std::optional<std::pair<in_addr, uint8_t>> to;    // dst/len
    uint32_t table = RT_TABLE_MAIN;
};
// EEXIST is fine.
void add_rule(Socket& s, const Rule& rule);
// False when there was no such rule.
bool delete_rule(Socket& s, const Rule& rule);
std::vector<Rule> list_rules(Socket& s);

// A non-blocking socket that receives the kernel's notifications of the RTMGRP_* `groups`.
// Invalid when it could not be made (errno set).
unique_fd subscribe(uint32_t groups);

// "172.28.0.1" -> in_addr; nullopt when it is not a dotted quad.
std::optional<in_addr> parse_ipv4(std::string_view text);
std::string format_ipv4(in_addr address);
std::string format_mac(const Mac& mac);

}  // namespace ds::sys::netlink
