#include "container/net_follow.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "container/net_firewall.hpp"
#include "container/net_record.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "sys/file.hpp"
#include "sys/platform.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {

namespace nl = sys::netlink;

namespace {

constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";

bool same_side(const std::optional<std::pair<in_addr, uint8_t>>& a,
               const std::optional<std::pair<in_addr, uint8_t>>& b) {
    if (!a || !b) return !a && !b;
    return a->first.s_addr == b->first.s_addr && a->second == b->second;
}

bool has_rule(const std::vector<nl::Rule>& rules, const nl::Rule& rule) {
    return std::any_of(rules.begin(), rules.end(), [&](const nl::Rule& r) {
        return r.priority == rule.priority && r.table == rule.table &&
               same_side(r.from, rule.from) && same_side(r.to, rule.to);
    });
}

bool starts_with(const std::string& line, const char* prefix) {
    return line.rfind(prefix, 0) == 0;
}

int index_of(const std::vector<nl::Link>& links, const std::string& name) {
    for (const auto& link : links)
        if (link.name == name) return link.index;
    return 0;
}

}  // namespace

void sync_android_uplink(nl::Socket& sock, const std::string& shared_path,
                         const std::vector<std::string>& lines, const std::vector<nl::Rule>& rules,
                         const Warn& warn) {
    auto links = nl::list_links(sock);
    std::string uplink = choose_uplink({}, links, default_uplink_oif(rules, nl::list_routes(sock)));
    if (uplink.empty()) return;  // keep the last one: traffic resumes when it comes back
    nl::Rule rule;
    rule.priority = kRuleUplink;
    rule.from = parse_prefix(kSubnet);
    rule.table = static_cast<uint32_t>(index_of(links, uplink)) + kNetdTableOffset;
    const std::string line = rule_line(rule);
    std::vector<std::string> old;
    for (const auto& l : lines)
        if (starts_with(l, "rule 6100 ") && l != line) old.push_back(l);
    // Recorded before it exists; the old one is removed only once the new one routes.
    if (std::find(lines.begin(), lines.end(), line) == lines.end()) Record(shared_path).add(line);
    if (!has_rule(rules, rule)) nl::add_rule(sock, rule);
    for (const auto& l : old) {
        nl::delete_rule(sock, parse_rule_line(text_words(l)));
        drop_record_line(shared_path, l);
    }
    if (!old.empty())
        warn("NAT uplink is now " + uplink + " (rule 6100 -> table " + std::to_string(rule.table) +
             ")");
}

UplinkRoute find_uplink_route(nl::Socket& sock, int oif) {
    auto routes = nl::list_routes(sock);
    if (sys::is_android()) {
        auto netd = nl::list_routes(sock, static_cast<uint32_t>(oif) + kNetdTableOffset);
        routes.insert(routes.end(), netd.begin(), netd.end());
    }
    return uplink_route(routes, oif);
}

void UplinkFollower::start(const Workspace& ws, const Config& config, const Warn& warn) {
    stop();
    if (!sys::is_android() || config.net_mode != NetMode::nat) return;
    record_ = container_record_path(ws, config.name);
    patterns_ = config.upstream_interfaces;
    warn_ = warn;
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    events_ =
        nl::subscribe(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE);
    timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    bool ok = epoll_ && events_ && timer_;
    // The heartbeat catches what sends no notification: netd's iptables flushes, a sysctl.
    itimerspec beat = {{1, 500'000'000}, {1, 500'000'000}};
    ok = ok && ::timerfd_settime(timer_.get(), 0, &beat, nullptr) == 0;
    for (int fd : {events_.get(), timer_.get()}) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ok = ok && ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
    }
    if (!ok) {
        warn("NAT uplink follower not started: " + sys::errno_text(errno));
        stop();
    }
}

void UplinkFollower::stop() {
    epoll_.reset();
    events_.reset();
    timer_.reset();
}

void UplinkFollower::on_ready() {
    uint64_t expirations = 0;
    bool beat = ::read(timer_.get(), &expirations, sizeof expirations) == sizeof expirations;
    bool changed = false;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(events_.get(), buf, sizeof buf, MSG_DONTWAIT);
        // ENOBUFS: notifications were lost, which is a change too.
        if (n > 0 || (n < 0 && (errno == ENOBUFS || errno == EINTR))) {
            changed = true;
            continue;
        }
        break;
    }
    if (beat || changed) reassert(beat);
}

void UplinkFollower::reassert(bool heartbeat) {
    const std::string shared = shared_record_path();
    if (!sys::path_exists(shared)) return;
    try {
        auto lock = lock_host_net(std::chrono::milliseconds(200));
        auto lines = read_lines(shared);
        if (lines.empty()) return;
        auto own = read_lines(record_);
        nl::Socket sock = nl::open();
        auto forward = sys::try_read_file(kIpForward);
        if (!forward || forward->rfind('1', 0) != 0) {
            sys::write_control_file(kIpForward, "1");
            warn_("ip_forward was turned off: set to 1 again");
        }
        write_sysctl(std::string("/proc/sys/net/ipv4/conf/") + kBridge + "/route_localnet", "1");
        auto rules = nl::list_rules(sock);
        std::vector<FirewallRule> firewall;
        for (const auto* record : {&lines, &own})
            for (const auto& line : *record) {
                FirewallRule fw;
                if (starts_with(line, "ipt ") && parse_rule(line.substr(4), fw))
                    firewall.push_back(std::move(fw));
                if (!starts_with(line, "rule ") || starts_with(line, "rule 6100 ")) continue;
                nl::Rule rule = parse_rule_line(text_words(line));
                if (has_rule(rules, rule)) continue;
                nl::add_rule(sock, rule);
                warn_("policy rule " + std::to_string(rule.priority) + " was removed: put back");
            }
        sync_android_uplink(sock, shared, lines, rules, warn_);
        // The container's own --upstream: its table follows the first usable pattern.
        for (const auto& line : own) {
            if (patterns_.empty() || !starts_with(line, "rule 6099 ")) continue;
            uint32_t table = parse_rule_line(text_words(line)).table;
            int oif = nl::link_index(sock, choose_uplink(patterns_, nl::list_links(sock), 0));
            if (!oif) break;
            auto now = nl::list_routes(sock, table);
            if (std::any_of(now.begin(), now.end(),
                            [&](const nl::Route& r) { return r.dst_len == 0 && r.oif == oif; }))
                break;
            UplinkRoute route = find_uplink_route(sock, oif);
            nl::delete_route(sock, in_addr{0}, 0, table);
            nl::add_route(sock, in_addr{0}, 0, route.gateway, oif, table);
            warn_("pinned uplink now interface #" + std::to_string(oif));
        }
        // One `iptables -C` per heartbeat, round robin; a missing rule has all of them checked.
        std::string iptables = find_iptables();
        if (!heartbeat || firewall.empty() || iptables.empty()) return;
        if (check_rule(iptables, firewall[beat_++ % firewall.size()]) != 1) return;
        unsigned put_back = 0;
        for (const auto& fw : firewall)
            if (check_rule(iptables, fw) == 1) {
                insert_rule(iptables, fw);
                ++put_back;
            }
        warn_("put back " + std::to_string(put_back) + " netfilter rule(s) that were removed");
        last_problem_.clear();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::busy) note_problem(e.what());  // busy: a start or stop
    } catch (const std::exception& e) {
        note_problem(e.what());
    }
}

void UplinkFollower::note_problem(const std::string& what) {
    if (last_problem_ != what) warn_("NAT uplink follower: " + what);
    last_problem_ = what;
}

}  // namespace ds::container::net
