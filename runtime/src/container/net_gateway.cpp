#include "container/net_gateway.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "container/net_record.hpp"
#include "container/state.hpp"
#include "core/error.hpp"
#include "core/validate.hpp"
#include "sys/file.hpp"
#include "sys/syscall_error.hpp"

namespace ds::container::net {

namespace nl = sys::netlink;

namespace {

sys::unique_fd open_netns(pid_t pid) {
    std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
    sys::unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) sys::fail_errno("open " + path);
    return fd;
}

// The segment's bridge: no address; made when missing.
int ensure_segment(nl::Socket& sock, const std::string& bridge) {
    int index = nl::link_index(sock, bridge);
    if (!index) {
        if (!nl::create_bridge(sock, bridge))
            fail_runtime("--net=gateway needs bridge support in the kernel (CONFIG_BRIDGE)");
        index = nl::link_index(sock, bridge);
        if (!index) fail_runtime("bridge " + bridge + " vanished after creation");
    }
    nl::set_up(sock, index);
    return index;
}

// A fresh cable from the segment into the gateway's namespace (its LAN interface). One left
// from the gateway's previous boot is replaced.
void make_cable(nl::Socket& sock, const Workspace& ws, const std::string& gateway,
                const std::string& net, const std::string& bridge, const std::string& iface,
                pid_t gateway_pid) {
    // A gateway sharing the host's namespace would get the LAN interface on the host itself.
    struct stat ours, theirs;
    std::string ns = "/proc/" + std::to_string(gateway_pid) + "/ns/net";
    if (::stat("/proc/self/ns/net", &ours) != 0 || ::stat(ns.c_str(), &theirs) != 0 ||
        ours.st_ino == theirs.st_ino)
        fail_runtime("gateway '" + gateway +
                     "' has no network namespace of its own: start it with --net=nat");
    int bridge_index = ensure_segment(sock, bridge);
    std::string cable = gateway_cable_name(gateway, net);
    Record record(container_record_path(ws, gateway, ".gw"));
    record.add("segment " + bridge);
    record.add("link " + cable);
    nl::delete_link(sock, cable);
    sys::unique_fd netns = open_netns(gateway_pid);
    nl::Mac mac = gateway_cable_mac(gateway, net);
    nl::create_veth(sock, cable, iface, &mac, netns.get());
    int index = nl::link_index(sock, cable);
    if (!index) fail_runtime("veth " + cable + " vanished after creation");
    nl::set_master(sock, index, bridge_index);
    nl::set_up(sock, index);
}

// Deletes each bridge of `segments` that has no port left.
void reap_segments(nl::Socket& sock, const std::set<std::string>& segments, const Warn& warn) {
    if (segments.empty()) return;
    try {
        auto links = nl::list_links(sock);
        for (const auto& bridge : segments) {
            int index = 0;
            for (const auto& l : links)
                if (l.name == bridge) index = l.index;
            if (!index) continue;
            bool ports = false;
            for (const auto& l : links)
                if (l.master == index) ports = true;
            if (!ports && bridge.rfind("ds-", 0) == 0) nl::delete_link(sock, bridge);
        }
    } catch (const std::exception& e) {
        warn(std::string("gateway segment cleanup: ") + e.what());
    }
}

std::set<std::string> segments_of(const std::vector<std::string>& lines) {
    std::set<std::string> out;
    for (const auto& line : lines)
        if (line.rfind("segment ", 0) == 0) out.insert(line.substr(8));
    return out;
}

// The configs of the workspace, by directory entry.
template <typename F>
void for_each_config(const Workspace& ws, F&& f) {
    DIR* dir = ::opendir(ws.containers_dir().c_str());
    if (!dir) return;
    while (auto* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name.empty() || name[0] == '.') continue;
        std::string path = ws.containers_dir() + "/" + name + "/container.config";
        auto text = sys::try_read_file(path);
        if (!text) continue;
        try {
            Config c = parse_config(*text, path);
            if (c.name.empty()) c.name = name;
            f(c);
        } catch (const std::exception&) {
        }
    }
    ::closedir(dir);
}

}  // namespace

// --- pure ------------------------------------------------------------------------------------

std::string gateway_net_of(const Config& c) {
    return c.gateway_net.empty() ? "lan" : c.gateway_net;
}

std::string gateway_bridge_of(const Config& c) {
    return c.gateway_bridge.empty() ? "ds-" + gateway_net_of(c) : c.gateway_bridge;
}

std::string gateway_iface_of(const Config& c) {
    return c.gateway_lan_ifname.empty() ? "eth1" : c.gateway_lan_ifname;
}

std::string gateway_cable_name(const std::string& gateway, const std::string& net) {
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", name_hash(gateway + ":" + net));
    return std::string("ds-g") + hex;
}

sys::netlink::Mac gateway_cable_mac(const std::string& gateway, const std::string& net) {
    return container_mac("ds-gwmac:" + gateway + ":" + net);
}

void check_gateway_config(const Config& c) {
    if (c.gateway_container.empty())
        fail_usage("--net=gateway needs the router container: give --gateway=NAME");
    check_container_name(c.gateway_container);
    if (sanitize_name(c.gateway_container) == sanitize_name(c.name))
        fail_usage("invalid gateway '" + c.gateway_container +
                   "': a container cannot be its own gateway");
    std::string bridge = gateway_bridge_of(c);
    check_interface_name("gateway bridge", bridge, false);
    if (bridge == kBridge)
        fail_usage("invalid gateway bridge '" + bridge + "': it is the NAT mode's bridge");
}

// --- host side -------------------------------------------------------------------------------

void attach_gateway_client(const Workspace& ws, const Config& config, pid_t init_pid,
                           const Warn& warn) {
    auto lock = lock_host_net();
    nl::Socket sock = nl::open();
    std::vector<std::string> notes;
    Warn note = [&](const std::string& m) { notes.push_back(m); };
    release_gateway_locked(sock, ws, config.name, note);  // a previous boot's
    std::string path = container_record_path(ws, config.name, ".lan");
    std::string bridge = gateway_bridge_of(config);
    try {
        Record record(path);
        record.add("segment " + bridge);
        int bridge_index = ensure_segment(sock, bridge);
        std::string host = "ds-c" + std::to_string(init_pid);
        record.add("link " + host);
        nl::delete_link(sock, host);
        sys::unique_fd netns = open_netns(init_pid);
        nl::Mac mac = container_mac(config.name);
        nl::create_veth(sock, host, "eth0", &mac, netns.get());
        int index = nl::link_index(sock, host);
        if (!index) fail_runtime("veth " + host + " vanished after creation");
        nl::set_master(sock, index, bridge_index);
        nl::set_up(sock, index);
        auto gateway = find_running(ws, config.gateway_container);
        std::string cable = gateway_cable_name(config.gateway_container, gateway_net_of(config));
        if (!gateway) {
            warn("gateway '" + config.gateway_container +
                 "' is not running: deferring the cable until it starts");
        } else if (!nl::link_index(sock, cable)) {
            make_cable(sock, ws, config.gateway_container, gateway_net_of(config), bridge,
                       gateway_iface_of(config), gateway->init_pid);
        }
    } catch (...) {
        release_gateway_locked(sock, ws, config.name, note);
        throw;
    }
}

void wire_gateway_segments(const Workspace& ws, const std::string& gateway, pid_t init_pid,
                           const Warn& warn) {
    try {
        auto lock = lock_host_net();
        nl::Socket sock = nl::open();
        // The previous boot's cables went with its namespace, or go now.
        std::string path = container_record_path(ws, gateway, ".gw");
        auto old = read_lines(path);
        undo(sock, "", old, warn);
        ::unlink(path.c_str());
        std::set<std::string> wired;
        for_each_config(ws, [&](const Config& c) {
            if (c.net_mode != NetMode::gateway) return;
            if (sanitize_name(c.gateway_container) != sanitize_name(gateway)) return;
            if (!find_running(ws, c.name)) return;
            std::string net = gateway_net_of(c);
            if (!wired.insert(net).second) return;
            try {
                make_cable(sock, ws, gateway, net, gateway_bridge_of(c), gateway_iface_of(c),
                           init_pid);
            } catch (const std::exception& e) {
                warn("gateway segment " + net + ": " + e.what());
            }
        });
        reap_segments(sock, segments_of(old), warn);
    } catch (const std::exception& e) {
        warn(std::string("gateway wiring: ") + e.what());
    }
}

void release_gateway_locked(nl::Socket& sock, const Workspace& ws, const std::string& name,
                            const Warn& warn) {
    std::set<std::string> segments;
    for (const char* ext : {".lan", ".gw"}) {
        std::string path = container_record_path(ws, name, ext);
        auto lines = read_lines(path);
        if (lines.empty() && !sys::path_exists(path)) continue;
        undo(sock, "", lines, warn);
        ::unlink(path.c_str());
        auto s = segments_of(lines);
        segments.insert(s.begin(), s.end());
    }
    reap_segments(sock, segments, warn);
}

}  // namespace ds::container::net
