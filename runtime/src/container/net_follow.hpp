// Android's uplink follower (upstream's route monitor): a phone moves between Wi-Fi and mobile
// data under running containers, and netd flushes rules when it restarts (upstream issue #273).
// In every NAT container's monitor, on an Android host only: a netlink subscription to link,
// IPv4 address, route and rule changes plus a 1.5 s heartbeat re-probe the uplink and move
// rule 6100 to its table, re-point the container's pinned uplink (--upstream) when its first
// usable pattern changes, put back ip_forward, the policy rules and (on heartbeats, one
// `iptables -C` at a time) the netfilter rules the records list.
#pragma once

#include <string>
#include <vector>

#include "container/net_nat.hpp"
#include "container/net_uplink.hpp"
#include "sys/fd.hpp"

namespace ds::container::net {

// Android: rule 6100 (`from 172.28.0.0/16 lookup <uplink's netd table>`) for the uplink of this
// moment, swapped in the shared record at `shared_path` (`lines`: its content) when the uplink
// changed; left as it is while no uplink is usable. `rules`: the host's policy rules now.
void sync_android_uplink(sys::netlink::Socket& sock, const std::string& shared_path,
                         const std::vector<std::string>& lines,
                         const std::vector<sys::netlink::Rule>& rules, const Warn& warn);
// The gateway to reach the outside through `oif`: from the main table or, on Android, from
// netd's table of that interface.
UplinkRoute find_uplink_route(sys::netlink::Socket& sock, int oif);

class UplinkFollower {
  public:
    // Follows for the NAT container `config` (its record, its pinned uplink) when the host is
    // Android; does nothing elsewhere. Never throws: problems go to `warn`.
    void start(const Workspace& ws, const Config& config, const Warn& warn);
    void stop();
    // Readable when a change or a heartbeat is due; -1 when not following.
    int fd() const { return epoll_ ? epoll_.get() : -1; }
    void on_ready();

  private:
    void reassert(bool heartbeat);
    void note_problem(const std::string& what);
    sys::unique_fd epoll_, events_, timer_;
    std::string record_;
    std::vector<std::string> patterns_;
    Warn warn_;
    unsigned beat_ = 0;
    std::string last_problem_;  // logged once, not every 1.5 s
};

}  // namespace ds::container::net
