#include "container/net_follow.hpp"

#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "container/net_firewall.hpp"
#include "container/net_record.hpp"
#include "core/text.hpp"
#include "sys/file.hpp"
#include "sys/platform.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {

namespace nl = sys::netlink;

namespace {

constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";

bool starts_with(const std::string& line, const char* prefix) {
    return line.rfind(prefix, 0) == 0;
}

bool contains(const std::vector<std::string>& lines, const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
}

// The host's policy rules in the records' form (rule_line), to compare with what they list.
std::vector<std::string> current_rules(nl::Socket& sock) {
    std::vector<std::string> out;
    for (const auto& rule : nl::list_rules(sock))
        out.push_back(rule_line(rule));
    return out;
}

}  // namespace

void sync_android_uplink(nl::Socket& sock, const std::string& shared_path,
                         const std::vector<std::string>& lines) {
    auto links = nl::list_links(sock);
    int oif = default_uplink_oif(nl::list_rules(sock), nl::list_routes(sock));
    std::string uplink = choose_uplink({}, links, oif);
    if (uplink.empty()) return;  // keep the last one: traffic resumes when it comes back
    nl::Rule rule;
    rule.priority = kRuleUplink;
    rule.from = parse_prefix(kSubnet);
    for (const auto& link : links)
        if (link.name == uplink) rule.table = static_cast<uint32_t>(link.index) + kNetdTableOffset;
    const std::string line = rule_line(rule);
    // Recorded before it exists; the old one goes only once the new one routes.
    if (!contains(lines, line)) Record(shared_path).add(line);
    if (!contains(current_rules(sock), line)) nl::add_rule(sock, rule);
    for (const auto& old : lines)
        if (starts_with(old, "rule 6100 ") && old != line) {
            nl::delete_rule(sock, parse_rule_line(text_words(old)));
            drop_record_line(shared_path, old);
        }
}

UplinkRoute find_uplink_route(nl::Socket& sock, int oif) {
    UplinkRoute route = uplink_route(nl::list_routes(sock), oif);
    if (!route.gateway && sys::is_android())
        route =
            uplink_route(nl::list_routes(sock, static_cast<uint32_t>(oif) + kNetdTableOffset), oif);
    return route;
}

void UplinkFollower::start(const Workspace& ws, const Config& config, const Warn& warn) {
    stop();
    if (!sys::is_android() || config.net_mode != NetMode::nat) return;
    ws_ = &ws;
    config_ = &config;
    warn_ = warn;
    events_ =
        nl::subscribe(RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV4_RULE);
    timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    itimerspec beat = {{1, 500'000'000}, {0, 1}};  // the first look right away
    if (!events_ || !timer_ || ::timerfd_settime(timer_.get(), 0, &beat, nullptr) != 0) {
        warn("NAT uplink follower not started: " + sys::errno_text(errno));
        stop();
    }
}

void UplinkFollower::stop() {
    events_.reset();
    timer_.reset();
}

void UplinkFollower::on_tick() {
    uint64_t expirations = 0;
    if (::read(timer_.get(), &expirations, sizeof expirations) != sizeof expirations) return;
    // What changed since the last tick; ENOBUFS: notifications were lost, a change too.
    char buf[4096];
    for (ssize_t n; (n = ::recv(events_.get(), buf, sizeof buf, MSG_DONTWAIT)) > 0 ||
                    (n < 0 && (errno == ENOBUFS || errno == EINTR));)
        changed_ = true;
    const std::string shared = shared_record_path();
    if (!sys::path_exists(shared)) return;
    std::optional<sys::FileLock> lock;
    try {
        lock.emplace(net_state_dir() + "/lock", std::chrono::milliseconds(200), "NAT state");
    } catch (const std::exception&) {
        return;  // a start or stop holds it: the next tick looks again
    }
    try {
        auto text = sys::try_read_file(shared).value_or("");
        if (text.empty()) return;
        text += sys::try_read_file(container_record_path(*ws_, config_->name)).value_or("");
        auto lines = text_lines(text);
        auto forward = sys::try_read_file(kIpForward);
        if (!forward || forward->rfind('1', 0) != 0) sys::write_control_file(kIpForward, "1");
        if (changed_) {
            nl::Socket sock = nl::open();
            follow_routing(sock, shared, lines);
        }
        changed_ = false;
        check_firewall(lines);
        last_problem_.clear();
    } catch (const std::exception& e) {
        // Logged once, not every tick.
        if (last_problem_ != e.what()) warn_(std::string("NAT uplink follower: ") + e.what());
        last_problem_ = e.what();
    }
}

// Policy rules the records list are put back (netd flushes rules it does not know when it
// restarts), and rule 6100 follows the uplink.
void UplinkFollower::follow_routing(nl::Socket& sock, const std::string& shared,
                                    const std::vector<std::string>& lines) {
    auto rules = current_rules(sock);
    for (const auto& line : lines)
        if (starts_with(line, "rule ") && !starts_with(line, "rule 6100 ") &&
            !contains(rules, line))
            nl::add_rule(sock, parse_rule_line(text_words(line)));
    sync_android_uplink(sock, shared, lines);
}

// One `iptables -C` per tick, round robin over the records' rules (each costs an exec); when
// one is missing, every rule is checked and the missing ones are inserted again.
void UplinkFollower::check_firewall(const std::vector<std::string>& lines) {
    std::string iptables = find_iptables();
    size_t count = 0;
    for (const auto& line : lines)
        count += starts_with(line, "ipt ");
    if (!count || iptables.empty()) return;
    size_t canary = tick_++ % count, at = 0;
    bool missing = false;
    // Two rounds: the canary alone; then, when it was missing, every rule.
    for (int round = 0; round < 2 && (round == 0 || missing); ++round)
        for (const auto& line : lines) {
            FirewallRule rule;
            if (!starts_with(line, "ipt ") || !parse_rule(line.substr(4), rule)) continue;
            if (round == 0 && at++ != canary) continue;
            if (check_rule(iptables, rule) != 1) continue;
            if (round == 0)
                missing = true;
            else
                insert_rule(iptables, rule);
        }
    if (missing) warn_("netfilter rules of the NAT containers were removed: inserted again");
}

}  // namespace ds::container::net
