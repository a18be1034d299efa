#include "container/net_record.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <set>

#include "container/net_firewall.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/platform.hpp"
#include "sys/process.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {

namespace nl = sys::netlink;

using namespace std::chrono_literals;

std::string net_state_dir() {
    return sys::is_android() ? "/dev/droidspaces-net" : "/run/droidspaces-net";
}
std::string shared_record_path() {
    return net_state_dir() + "/shared";
}
std::string container_record_path(const Workspace& ws, const std::string& name, const char* ext) {
    return ws.root + "/Net/" + sanitize_name(name) + ext;
}

sys::FileLock lock_host_net(std::chrono::milliseconds wait) {
    sys::make_dirs(net_state_dir(), 0700);
    return sys::FileLock(net_state_dir() + "/lock", wait, "the host's NAT network state");
}

Record::Record(const std::string& path) : path_(path) {
    auto slash = path.rfind('/');
    sys::make_dirs(path.substr(0, slash), 0700);
    fd_.reset(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd_) sys::fail_errno("open " + path);
}

void Record::add(const std::string& line) {
    std::string text = line + "\n";
    if (!sys::write_all(fd_.get(), text.data(), text.size())) sys::fail_errno("write " + path_);
}

std::vector<std::string> read_lines(const std::string& path) {
    std::vector<std::string> lines;
    auto text = sys::try_read_file(path);
    if (!text) return lines;
    for (auto& line : text_lines(*text))
        if (!line.empty()) lines.push_back(std::move(line));
    return lines;
}

std::pair<in_addr, uint8_t> parse_prefix(const std::string& text) {
    auto slash = text.find('/');
    auto ip = nl::parse_ipv4(text.substr(0, slash));
    if (!ip) fail_runtime("bad address '" + text + "' in a network record");
    int len = slash == std::string::npos ? 32 : std::stoi(text.substr(slash + 1));
    return {*ip, static_cast<uint8_t>(len)};
}

in_addr ipv4(const std::string& text) {
    auto ip = nl::parse_ipv4(text);
    if (!ip) fail_runtime("bad IPv4 address '" + text + "'");
    return *ip;
}

std::string rule_line(const nl::Rule& rule) {
    auto side = [](const std::optional<std::pair<in_addr, uint8_t>>& p) {
        return p ? nl::format_ipv4(p->first) + "/" + std::to_string(p->second) : "-";
    };
    return "rule " + std::to_string(rule.priority) + " " + side(rule.from) + " " + side(rule.to) +
           " " + std::to_string(rule.table);
}

void drop_record_line(const std::string& path, const std::string& line) {
    std::string text;
    for (const auto& kept : read_lines(path))
        if (kept != line) text += kept + "\n";
    sys::write_file_atomic(path, text, 0600, sys::Durability::volatile_state);
}

nl::Rule parse_rule_line(const std::vector<std::string>& w) {
    if (w.size() != 5) fail_runtime("bad rule line in a network record");
    nl::Rule rule;
    rule.priority = static_cast<uint32_t>(std::stoul(w[1]));
    if (w[2] != "-") rule.from = parse_prefix(w[2]);
    if (w[3] != "-") rule.to = parse_prefix(w[3]);
    rule.table = static_cast<uint32_t>(std::stoul(w[4]));
    return rule;
}

void write_sysctl(const std::string& path, const std::string& value) {
    sys::write_control_file_if_present(path, value);
}

void undo(nl::Socket& sock, const std::string& iptables, const std::vector<std::string>& lines,
          const Warn& warn) {
    for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
        const auto w = text_words(*it);
        const std::string kind = w.empty() ? "" : w[0];
        auto word = [&w](size_t i) { return i < w.size() ? w[i] : std::string(); };
        try {
            if (kind == "ipt") {
                FirewallRule rule;
                if (parse_rule(std::string(std::string_view(*it).substr(3)), rule) &&
                    !iptables.empty())
                    delete_rule(iptables, rule);
            } else if (kind == "link" || kind == "bridge") {
                std::string name = word(1);
                // Only our own kinds of names: a record is a file on disk, not a command.
                if (name.rfind("ds-", 0) == 0) nl::delete_link(sock, name);
            } else if (kind == "rule") {
                nl::delete_rule(sock, parse_rule_line(w));
            } else if (kind == "route") {
                auto table = static_cast<uint32_t>(std::stoul(word(1)));
                auto [addr, len] = parse_prefix(word(2));
                if (table != RT_TABLE_MAIN && table != RT_TABLE_LOCAL)
                    nl::delete_route(sock, addr, len, table);
            } else if (kind == "ip_forward") {
                if (word(1) == "0") write_sysctl("/proc/sys/net/ipv4/ip_forward", "0");
            } else if (kind == "nft_existing") {
                std::set<std::string> existed(w.begin() + 1, w.end());
                for (const char* table : {"nat", "filter", "mangle"})
                    if (!existed.count(table)) delete_nft_table_if_empty(table);
            }
        } catch (const std::exception& e) {
            warn(std::string("network cleanup: ") + e.what());
        }
    }
}

}  // namespace ds::container::net
