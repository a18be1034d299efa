#!/usr/bin/env bats
# --net=gateway: a busybox client's traffic goes through a forwarding busybox "router"
# container (NAT mode itself, its LAN interface the cable the runtime wires) to a server in the
# test-made outside namespace; the router's restart rewires its LAN before its init runs; a
# client started before its router is wired when the router starts; the segment bridge goes with
# the last of them. Nothing leaves the host (helpers/net.bash); the host's network state is as
# before after the suite.

# `run --separate-stderr` sets $stderr.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    export NET_TAG=$$
    load helpers/net
    net_suite_setup gw cl
    export GW="gw-$$" CL="cl-$$"
}

teardown_file() {
    load helpers
    load helpers/net
    net_suite_teardown
}

setup() {
    load helpers
    load helpers/net
}

start_gateway() {
    ds --name="$GW" --rootfs="$SUITE_TMP/gw/rootfs" --net=nat --dns="$NET_OUT_IP" start
    wait_until 10 booted "$GW"
}

start_client() {
    ds --name="$CL" --rootfs="$SUITE_TMP/cl/rootfs" --net=gateway --gateway="$GW" start
    wait_until 10 booted "$CL"
}

# The router: 192.168.77.1 on its LAN cable, forwarding, masquerading out of its eth0. Its
# rules live in its own network namespace (the host's iptables binary, run inside it).
configure_router() {
    local pid
    pid=$(ds --name="$GW" pid)
    in_container "$GW" sh -c 'ip addr add 192.168.77.1/24 dev eth1 && ip link set eth1 up &&
        echo 1 >/proc/sys/net/ipv4/ip_forward'
    nsenter -t "$pid" -n iptables -w -t nat -A POSTROUTING -o eth0 -j MASQUERADE
}

configure_client() {
    in_container "$CL" sh -c 'ip addr replace 192.168.77.2/24 dev eth0 &&
        ip route replace default via 192.168.77.1'
}

@test "gateway mode without --gateway, or naming itself, is refused" {
    run --separate-stderr ds --name="$CL" --rootfs="$SUITE_TMP/cl/rootfs" --net=gateway start
    [ "$status" -eq 1 ]
    [[ $stderr == *"--gateway=NAME"* ]]
    run --separate-stderr ds --name="$CL" --rootfs="$SUITE_TMP/cl/rootfs" --net=gateway \
        --gateway="$CL" start
    [ "$status" -eq 1 ]
    [[ $stderr == *"cannot be its own gateway"* ]]
    run ds --name="$CL" pid
    [ "$status" -ne 0 ]
}

@test "a client's traffic goes through the forwarding gateway container" {
    start_gateway >/dev/null
    start_client >/dev/null
    # Layer 2 only: the client's eth0 and the router's eth1 share the segment bridge ds-lan.
    [ -d /sys/class/net/ds-lan ]
    run ip -4 -o addr show dev ds-lan
    [ -z "$output" ]
    run in_container "$GW" cat /sys/class/net/eth1/operstate
    [ "$status" -eq 0 ]
    run in_container "$CL" ip -4 -o addr show dev eth0
    [ -z "$output" ]
    configure_router
    configure_client
    run http_from "$CL" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
}

@test "the router's restart rewires its LAN before its init runs" {
    ds --name="$GW" pid >/dev/null 2>&1 || start_gateway >/dev/null
    ds --name="$CL" pid >/dev/null 2>&1 || start_client >/dev/null
    ds --name="$GW" restart >/dev/null
    wait_until 10 booted "$GW"
    run in_container "$GW" cat /sys/class/net/eth1/address
    [ "$status" -eq 0 ]
    configure_router
    configure_client
    run http_from "$CL" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
}

@test "a client started before its router is wired when the router starts" {
    stop_suite_containers
    start_client >/dev/null
    grep -q "deferring" "$DROIDSPACES_HOME/Logs/$CL/log"
    start_gateway >/dev/null
    run in_container "$GW" cat /sys/class/net/eth1/address
    [ "$status" -eq 0 ]
    configure_router
    configure_client
    run http_from "$CL" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
}

@test "the segment bridge goes with the last of router and clients" {
    ds --name="$GW" pid >/dev/null 2>&1 || start_gateway >/dev/null
    ds --name="$CL" pid >/dev/null 2>&1 || start_client >/dev/null
    ds --name="$GW" stop >/dev/null
    # The client still holds the segment.
    [ -d /sys/class/net/ds-lan ]
    ds --name="$CL" stop >/dev/null
    wait_until 5 bash -c '[ ! -e /sys/class/net/ds-lan ]'
    net_state_clean
}
