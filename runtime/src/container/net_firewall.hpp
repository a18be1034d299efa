// The NAT mode's netfilter rules: inserted with the host's own `iptables` (its backend is the
// host's choice: nf_tables on Debian, legacy xtables on Android), written to a record BEFORE
// each insert, and removed exactly (-D with the same spec) from that record. Nothing is ever
// flushed, and no policy is changed. docs/networking.md says why.
#pragma once

#include <string>
#include <vector>

namespace ds::container::net {

// One rule: "-t TABLE -I CHAIN 1 SPEC..." to add, "-t TABLE -D CHAIN SPEC..." to remove.
struct FirewallRule {
    std::string table;
    std::string chain;
    std::vector<std::string> spec;
    bool operator==(const FirewallRule&) const = default;
};

// "nat POSTROUTING -s 172.28.0.0/16 -j MASQUERADE" (the record's line form; no token holds a
// space) and back. parse returns false for a line that is not a rule.
std::string format_rule(const FirewallRule& rule);
bool parse_rule(const std::string& line, FirewallRule& rule);

// The shared rules of the NAT mode (one set while any NAT container runs): the MASQUERADE of
// `subnet`, and interface_rules of `bridge` ("" in bridgeless mode: each host veth gets its own).
std::vector<FirewallRule> shared_rules(const std::string& bridge, const std::string& subnet);
// What the containers behind `iface` need: FORWARD and INPUT accepts, the MSS clamp, and the
// MASQUERADE of port forwards from 127.0.0.1.
std::vector<FirewallRule> interface_rules(const std::string& iface);

// The host's iptables: PATH, then the places Android and Debian keep it; "" when none.
std::string find_iptables();

// Runs `iptables -w -t T -I C 1 SPEC`; throws naming the rule and iptables' own message.
void insert_rule(const std::string& iptables, const FirewallRule& rule);
// Runs `iptables -w -t T -D C SPEC`; false when no such rule was there (or iptables failed).
bool delete_rule(const std::string& iptables, const FirewallRule& rule);
// Runs `iptables -w -t T -C C SPEC`: 0 when the rule is there, 1 when it is not, another value
// when iptables could not tell (no lock, a missing match module).
int check_rule(const std::string& iptables, const FirewallRule& rule);

// nf_tables hosts: the tables iptables-nft made on the first insert stay behind, empty, after
// the last delete. These say which of nat/filter/mangle exist now (via `nft`), and delete one
// that holds no rule; both do nothing on legacy hosts or without `nft`.
std::vector<std::string> existing_nft_tables();
void delete_nft_table_if_empty(const std::string& table);

}  // namespace ds::container::net
