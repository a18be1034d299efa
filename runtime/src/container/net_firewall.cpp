#include "container/net_firewall.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.hpp"
#include "core/text.hpp"
#include "sys/path_lookup.hpp"
#include "sys/spawn.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {
namespace {

constexpr size_t kMaxToolOutput = 16384;
const char* const kToolEnv[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin:/system/bin", "LC_ALL=C"};

struct ToolRun {
    int exit_code = 0;
    std::string output;
};

// A short tool, no shell, stdin from /dev/null, stdout+stderr captured.
ToolRun run_tool(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) sys::fail_errno("pipe2 for " + args.front());
    sys::unique_fd out_read(fds[0]), out_write(fds[1]);
    sys::SpawnOptions options;
    options.path = args.front();
    options.argv = args;
    options.env = std::vector<std::string>(std::begin(kToolEnv), std::end(kToolEnv));
    options.fds = {{out_write.get(), STDOUT_FILENO}, {out_write.get(), STDERR_FILENO}};
    sys::Child child = sys::spawn(options);
    out_write.reset();
    ToolRun run;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out_read.get(), buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (run.output.size() < kMaxToolOutput) run.output.append(buf, static_cast<size_t>(n));
    }
    int status = child.wait();
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return run;
}

// `op` is "-I" (at position 1), "-D" or "-C" (does the rule exist?).
std::vector<std::string> iptables_args(const std::string& iptables, const FirewallRule& rule,
                                       const char* op) {
    // -w: wait for the xtables lock instead of failing when another iptables runs.
    std::vector<std::string> args = {iptables, "-w", "-t", rule.table, op, rule.chain};
    if (op[1] == 'I') args.push_back("1");
    args.insert(args.end(), rule.spec.begin(), rule.spec.end());
    return args;
}

std::string first_line(const std::string& text) {
    auto end = text.find('\n');
    return text.substr(0, end);
}

bool executable(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
           ::access(path.c_str(), X_OK) == 0;
}

std::string find_tool(const std::string& name) {
    std::string found = sys::find_program(name);
    if (!found.empty()) return found;
    for (const char* dir : {"/system/bin/", "/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"})
        if (executable(dir + name)) return dir + name;
    return "";
}

}  // namespace

std::string format_rule(const FirewallRule& rule) {
    std::string out = rule.table + " " + rule.chain;
    for (const auto& token : rule.spec)
        out += " " + token;
    return out;
}

bool parse_rule(const std::string& line, FirewallRule& rule) {
    auto words = text_words(line);
    if (words.size() < 2) return false;
    FirewallRule parsed;
    parsed.table = words[0];
    parsed.chain = words[1];
    if (parsed.table != "nat" && parsed.table != "filter" && parsed.table != "mangle") return false;
    parsed.spec.assign(words.begin() + 2, words.end());
    if (parsed.spec.empty()) return false;
    rule = std::move(parsed);
    return true;
}

std::vector<FirewallRule> interface_rules(const std::string& iface) {
    return {
        // Port forwards from 127.0.0.1: the reply must come back to the host, not to a
        // loopback address the container cannot route.
        {"nat", "POSTROUTING", {"-s", "127.0.0.0/8", "-o", iface, "-j", "MASQUERADE"}},
        {"filter", "FORWARD", {"-i", iface, "-j", "ACCEPT"}},
        {"filter", "FORWARD", {"-o", iface, "-j", "ACCEPT"}},
        // DHCP and DNS to the host, and port forwards' replies.
        {"filter", "INPUT", {"-i", iface, "-j", "ACCEPT"}},
        // The MSS clamp of upstream, limited to the containers' own traffic.
        {"mangle",
         "FORWARD",
         {"-i", iface, "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS",
          "--clamp-mss-to-pmtu"}},
        {"mangle",
         "FORWARD",
         {"-o", iface, "-p", "tcp", "--tcp-flags", "SYN,RST", "SYN", "-j", "TCPMSS",
          "--clamp-mss-to-pmtu"}},
    };
}

std::vector<FirewallRule> shared_rules(const std::string& bridge, const std::string& subnet) {
    // Containers reach the outside with the host's address.
    std::vector<FirewallRule> rules = {
        {"nat", "POSTROUTING", {"-s", subnet, "!", "-d", subnet, "-j", "MASQUERADE"}}};
    if (!bridge.empty()) {
        auto more = interface_rules(bridge);
        rules.insert(rules.end(), more.begin(), more.end());
    }
    return rules;
}

std::string find_iptables() {
    return find_tool("iptables");
}

void insert_rule(const std::string& iptables, const FirewallRule& rule) {
    auto run = run_tool(iptables_args(iptables, rule, "-I"));
    if (run.exit_code != 0)
        fail_runtime("iptables could not insert rule '" + format_rule(rule) +
                     "': " + first_line(run.output));
}

bool delete_rule(const std::string& iptables, const FirewallRule& rule) {
    try {
        return run_tool(iptables_args(iptables, rule, "-D")).exit_code == 0;
    } catch (const Error&) {
        return false;
    }
}

int check_rule(const std::string& iptables, const FirewallRule& rule) {
    try {
        return run_tool(iptables_args(iptables, rule, "-C")).exit_code;
    } catch (const Error&) {
        return -1;
    }
}

std::vector<std::string> existing_nft_tables() {
    std::vector<std::string> tables;
    std::string iptables = find_iptables(), nft = find_tool("nft");
    if (iptables.empty() || nft.empty()) return tables;
    try {
        if (run_tool({iptables, "-V"}).output.find("nf_tables") == std::string::npos) return tables;
        // One listing for the three (each nft run costs milliseconds of the start).
        auto listing = run_tool({nft, "list", "tables", "ip"});
        if (listing.exit_code != 0) return tables;
        for (const auto& line : text_lines(listing.output))
            for (const char* table : {"nat", "filter", "mangle"})
                if (line == std::string("table ip ") + table) tables.push_back(table);
    } catch (const Error&) {
    }
    return tables;
}

void delete_nft_table_if_empty(const std::string& table) {
    std::string iptables = find_iptables(), nft = find_tool("nft");
    if (iptables.empty() || nft.empty()) return;
    try {
        if (run_tool({iptables, "-V"}).output.find("nf_tables") == std::string::npos) return;
        // `-S` lists the chains' policies ("-P"), user chains ("-N") and rules ("-A"): a table
        // with any rule or any chain of its own is someone's and stays.
        auto listing = run_tool({iptables, "-w", "-t", table, "-S"});
        if (listing.exit_code != 0) return;
        for (const auto& line : text_lines(listing.output))
            if (!line.empty() && line.rfind("-P ", 0) != 0) return;
        auto show = run_tool({nft, "list", "table", "ip", table});
        if (show.exit_code != 0) return;
        // Chains iptables-nft did not make (a user's nft base chain in "ip nat") keep it too.
        for (const auto& line : text_lines(show.output)) {
            auto pos = line.find("chain ");
            if (pos == std::string::npos) continue;
            std::string name = line.substr(pos + 6);
            name = name.substr(0, name.find(' '));
            if (name != "PREROUTING" && name != "INPUT" && name != "FORWARD" && name != "OUTPUT" &&
                name != "POSTROUTING")
                return;
        }
        run_tool({nft, "delete", "table", "ip", table});
    } catch (const Error&) {
    }
}

}  // namespace ds::container::net
