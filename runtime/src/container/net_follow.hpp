// Android's uplink follower (upstream's route monitor): a phone moves between Wi-Fi and mobile
// data under running containers, and netd flushes rules when it restarts (upstream issue #273).
// In every NAT container's monitor, on an Android host only, a 1.5 s tick: when the netlink
// subscription (links, IPv4 addresses, routes, rules) reported a change since the last tick, the
// uplink is probed again and rule 6100 moved to its table, the container's pinned uplink
// (--upstream) re-pointed to its first usable pattern, and the policy rules the records list
// put back; on every tick ip_forward is put back, and one netfilter rule of the records is
// checked (`iptables -C`, round robin), all of them put back when one is missing.
#pragma once

#include <string>
#include <vector>

#include "container/net_nat.hpp"
#include "container/net_uplink.hpp"
#include "sys/fd.hpp"

namespace ds::container::net {

// Android: rule 6100 (`from 172.28.0.0/16 lookup <uplink's netd table>`) for the uplink of this
// moment, swapped in the shared record at `shared_path` (`lines`: what it lists) when the uplink
// changed; left as it is while no uplink is usable.
void sync_android_uplink(sys::netlink::Socket& sock, const std::string& shared_path,
                         const std::vector<std::string>& lines);
// The gateway to reach the outside through `oif`: from the main table or, on Android, from
// netd's table of that interface.
UplinkRoute find_uplink_route(sys::netlink::Socket& sock, int oif);

class UplinkFollower {
  public:
    // Follows for the NAT container `config` of `ws` (both must outlive the following) when the
    // host is Android; does nothing elsewhere. Never throws: problems go to `warn`.
    void start(const Workspace& ws, const Config& config, const Warn& warn);
    void stop();
    // Readable on each 1.5 s tick; -1 when not following.
    int fd() const { return timer_ ? timer_.get() : -1; }
    void on_tick();

  private:
    void follow_routing(sys::netlink::Socket& sock, const std::string& shared,
                        const std::vector<std::string>& lines);
    void check_firewall(const std::vector<std::string>& lines);
    sys::unique_fd events_, timer_;
    const Workspace* ws_ = nullptr;
    const Config* config_ = nullptr;
    Warn warn_;
    bool changed_ = true;  // the first tick looks at everything
    unsigned tick_ = 0;
    std::string last_problem_;
};

}  // namespace ds::container::net
