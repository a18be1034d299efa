// sys/netlink against the real kernel, inside a network namespace of the test's own: a thread
// unshares CLONE_NEWNET (per thread), so nothing is created in the host's namespace and
// everything dies with the thread's namespace.
#include "sys/netlink.hpp"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "sys/fd.hpp"

namespace ds::sys::netlink {
namespace {

in_addr ip(const char* text) {
    return *parse_ipv4(text);
}

// Runs `body` on a thread in a fresh network namespace; the failure text, or "".
std::string in_private_netns(const std::function<void()>& body) {
    std::string failure;
    std::thread worker([&] {
        if (::unshare(CLONE_NEWNET) != 0) {
            failure = "unshare(CLONE_NEWNET) failed";
            return;
        }
        try {
            body();
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    worker.join();
    return failure;
}

class Netlink : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces)";
    }
};

TEST_F(Netlink, BridgeVethAddressRouteAndLinks) {
    std::string failure = in_private_netns([] {
        Socket s = open();
        EXPECT_EQ(link_index(s, "ds-t-br0"), 0);
        create_bridge(s, "ds-t-br0");
        int bridge = link_index(s, "ds-t-br0");
        ASSERT_GT(bridge, 0);
        Mac mac = {0x02, 1, 2, 3, 4, 5};
        create_veth(s, "ds-t-h0", "ds-t-p0", &mac, -1);
        int host = link_index(s, "ds-t-h0"), peer = link_index(s, "ds-t-p0");
        ASSERT_GT(host, 0);
        ASSERT_GT(peer, 0);
        set_master(s, host, bridge);
        set_up(s, bridge);
        set_up(s, host);
        set_up(s, peer);
        add_address(s, bridge, ip("172.28.0.1"), 16);
        add_address(s, bridge, ip("172.28.0.1"), 16);  // EEXIST is fine
        bool found_host = false;
        for (const auto& l : list_links(s)) {
            if (l.name == "ds-t-h0") {
                found_host = true;
                EXPECT_EQ(l.master, bridge);
                EXPECT_EQ(l.kind, "veth");
            }
            if (l.name == "ds-t-br0") EXPECT_EQ(l.kind, "bridge");
        }
        EXPECT_TRUE(found_host);
        add_route(s, ip("10.9.0.0"), 16, ip("172.28.0.2"), bridge, 1000);
        bool found_route = false;
        for (const auto& r : list_routes(s, 1000))
            if (r.dst_len == 16 && r.gateway && format_ipv4(*r.gateway) == "172.28.0.2")
                found_route = true;
        EXPECT_TRUE(found_route);
        EXPECT_TRUE(delete_route(s, ip("10.9.0.0"), 16, 1000));
        EXPECT_FALSE(delete_route(s, ip("10.9.0.0"), 16, 1000));
        EXPECT_TRUE(delete_link(s, "ds-t-h0"));
        EXPECT_EQ(link_index(s, "ds-t-p0"), 0);  // the peer went with it
        EXPECT_FALSE(delete_link(s, "ds-t-h0"));
    });
    EXPECT_EQ(failure, "");
}

TEST_F(Netlink, PolicyRulesAddListDelete) {
    std::string failure = in_private_netns([] {
        Socket s = open();
        Rule rule;
        rule.priority = 6100;
        rule.from = std::make_pair(ip("172.28.3.4"), uint8_t{32});
        rule.table = 0x64730304;
        add_rule(s, rule);
        add_rule(s, rule);  // EEXIST is fine
        int seen = 0;
        for (const auto& r : list_rules(s))
            if (r.priority == 6100 && r.table == rule.table && r.from &&
                format_ipv4(r.from->first) == "172.28.3.4")
                ++seen;
        EXPECT_EQ(seen, 1);
        EXPECT_TRUE(delete_rule(s, rule));
        EXPECT_FALSE(delete_rule(s, rule));
    });
    EXPECT_EQ(failure, "");
}

TEST_F(Netlink, ErrorsNameTheLinkAndErrno) {
    std::string failure = in_private_netns([] {
        Socket s = open();
        create_bridge(s, "ds-t-dup");
        try {
            create_bridge(s, "ds-t-dup");
            ADD_FAILURE() << "a second bridge of one name was created";
        } catch (const Error& e) {
            std::string m = e.what();
            EXPECT_NE(m.find("'ds-t-dup'"), std::string::npos) << m;
            EXPECT_NE(m.find("errno 17"), std::string::npos) << m;
        }
    });
    EXPECT_EQ(failure, "");
}

TEST(NetlinkText, ParsesAndFormatsAddresses) {
    EXPECT_TRUE(parse_ipv4("172.28.0.1"));
    EXPECT_FALSE(parse_ipv4(""));
    EXPECT_FALSE(parse_ipv4("172.28.0"));
    EXPECT_FALSE(parse_ipv4("172.28.0.256"));
    EXPECT_FALSE(parse_ipv4("1.2.3.4.5.6.7.8.9"));
    EXPECT_EQ(format_ipv4(*parse_ipv4("10.0.0.1")), "10.0.0.1");
    EXPECT_EQ(format_mac({0x02, 0xab, 0, 1, 0x10, 0xff}), "02:ab:00:01:10:ff");
}

TEST(NetlinkMessage, OverflowIsRefusedNotWritten) {
    ifinfomsg ifi{};
    Message m(RTM_NEWLINK, 0, &ifi, sizeof ifi);
    char big[300] = {};
    for (int i = 0; i < 10; ++i)
        m.attr(IFLA_IFALIAS, big, sizeof big);
    EXPECT_TRUE(m.overflow());
    EXPECT_LE(m.header()->nlmsg_len, 1024u);
    Socket s = Socket::open_current();
    if (s.valid()) EXPECT_EQ(s.transact(m), EOVERFLOW);
}

}  // namespace
}  // namespace ds::sys::netlink
