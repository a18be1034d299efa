#include "container/net_ports.hpp"

#include "core/error.hpp"
#include "core/validate.hpp"

namespace ds::container::net {
namespace {

bool parse_range(const std::string& text, unsigned& first, unsigned& last) {
    auto dash = text.find('-');
    try {
        size_t used = 0;
        first = static_cast<unsigned>(std::stoul(text.substr(0, dash), &used));
        if (used != (dash == std::string::npos ? text.size() : dash)) return false;
        last = first;
        if (dash != std::string::npos) {
            auto rest = text.substr(dash + 1);
            last = static_cast<unsigned>(std::stoul(rest, &used));
            if (used != rest.size()) return false;
        }
    } catch (const std::exception&) {
        return false;
    }
    return first >= 1 && last <= 65535 && first <= last;
}

std::string range_text(unsigned first, unsigned last, char separator) {
    return first == last ? std::to_string(first)
                         : std::to_string(first) + separator + std::to_string(last);
}

bool overlap(const PortForward& a, const PortForward& b) {
    return a.proto == b.proto && a.host_first <= b.host_last && b.host_first <= a.host_last;
}

}  // namespace

PortForward parse_port_forward(const std::string& canonical) {
    PortForward f;
    f.spec = canonical;
    auto slash = canonical.find('/');
    auto colon = canonical.find(':');
    if (slash == std::string::npos || colon == std::string::npos || colon > slash ||
        !parse_range(canonical.substr(0, colon), f.host_first, f.host_last) ||
        !parse_range(canonical.substr(colon + 1, slash - colon - 1), f.container_first,
                     f.container_last))
        fail_usage("invalid port forward '" + canonical + "': expected HOST:CONTAINER/PROTO");
    f.proto = canonical.substr(slash + 1);
    if (f.proto != "tcp" && f.proto != "udp")
        fail_usage("invalid port forward '" + canonical + "': protocol must be tcp or udp");
    if (f.host_last - f.host_first != f.container_last - f.container_first)
        fail_usage("invalid port forward '" + canonical + "': port range width mismatch");
    return f;
}

void check_port_overlaps(const std::vector<std::string>& forwards) {
    std::vector<PortForward> parsed;
    for (const auto& spec : forwards) {
        PortForward f = parse_port_forward(normalize_port_forward(spec));
        for (const auto& earlier : parsed)
            if (overlap(earlier, f))
                fail_usage("port forward '" + f.spec + "' overlaps '" + earlier.spec +
                           "': a host port can be forwarded to one place only");
        parsed.push_back(f);
    }
}

void check_port_overlaps_with(const std::vector<std::string>& mine, const std::string& other_name,
                              const std::vector<std::string>& theirs) {
    for (const auto& a : mine) {
        PortForward f = parse_port_forward(normalize_port_forward(a));
        for (const auto& b : theirs) {
            PortForward g = parse_port_forward(normalize_port_forward(b));
            if (overlap(f, g))
                fail_usage("port forward '" + f.spec + "' overlaps '" + g.spec +
                           "' of running container '" + other_name +
                           "': a host port can be forwarded to one place only");
        }
    }
}

std::vector<FirewallRule> port_forward_rules(const PortForward& f, const std::string& ip) {
    std::string dport = range_text(f.host_first, f.host_last, ':');
    // Same ports on both sides: the destination port is kept. Otherwise a single port is
    // rewritten, and a range is shifted port by port (DNAT's "first-last/base" form).
    std::string to = ip;
    if (f.host_first != f.container_first) {
        to += ":" + range_text(f.container_first, f.container_last, '-');
        if (f.host_first != f.host_last) to += "/" + std::to_string(f.host_first);
    }
    std::vector<std::string> dnat = {
        "-p",      f.proto, "-m", "addrtype", "--dst-type",       "LOCAL",
        "--dport", dport,   "-j", "DNAT",     "--to-destination", to};
    return {
        {"nat", "PREROUTING", dnat},
        {"nat", "OUTPUT", dnat},
        {"filter",
         "FORWARD",
         {"-p", f.proto, "-d", ip, "--dport", range_text(f.container_first, f.container_last, ':'),
          "-j", "ACCEPT"}},
    };
}

}  // namespace ds::container::net
