// The NAT and gateway modes' records: undo logs written before each change to the host, and
// replayed backwards to remove exactly what was done (container/net_nat.hpp says where they live).
#pragma once

#include <netinet/in.h>

#include <chrono>

#include <string>
#include <utility>
#include <vector>

#include "container/net_nat.hpp"
#include "core/workspace.hpp"
#include "sys/fd.hpp"
#include "sys/lock.hpp"
#include "sys/netlink.hpp"

namespace ds::container::net {

// Host-wide: the shared state outlives any one workspace (two workspaces' containers share the
// bridge), and belongs to this boot of the machine like the rules it lists.
std::string net_state_dir();
std::string shared_record_path();
// <workspace>/Net/<name>.net: a NAT container's; <name>.gw: a gateway's cables to its clients'
// segments; <name>.lan: a gateway client's veth.
std::string container_record_path(const Workspace& ws, const std::string& name,
                                  const char* ext = ".net");

// Serialises every change of the host's NAT and gateway state.
sys::FileLock lock_host_net(std::chrono::milliseconds wait = std::chrono::seconds(30));

// An undo log: each line is written BEFORE the change it describes, so a process killed
// half-way leaves a record that covers everything it did (undoing a change that did not
// happen fails harmlessly).
class Record {
  public:
    explicit Record(const std::string& path);
    void add(const std::string& line);

  private:
    std::string path_;
    sys::unique_fd fd_;
};

std::vector<std::string> read_lines(const std::string& path);
std::pair<in_addr, uint8_t> parse_prefix(const std::string& text);
in_addr ipv4(const std::string& text);
std::string rule_line(const sys::netlink::Rule& rule);
// rule_line's words ("rule PRIORITY FROM TO TABLE") back; throws on a malformed line.
sys::netlink::Rule parse_rule_line(const std::vector<std::string>& words);
// Rewrites the record at `path` without `line` (a rule that was swapped for another).
void drop_record_line(const std::string& path, const std::string& line);
void write_sysctl(const std::string& path, const std::string& value);
// Undoes a record's lines, last first. Each step is tried on its own: one that fails (already
// gone) does not keep the others.
void undo(sys::netlink::Socket& sock, const std::string& iptables,
          const std::vector<std::string>& lines, const Warn& warn);

}  // namespace ds::container::net
