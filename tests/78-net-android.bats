#!/usr/bin/env bats
# --net=nat on a simulated Android host: the real binary runs in the simulated host's mount
# namespace (helpers/android.bash: /system/build.prop, so it takes the Android paths) AND in a
# test-made "phone" network namespace with two uplinks, wlan0 and rmnet0, to a test-made
# "outside" namespace, each with netd's per-interface table (ifindex + 1000) as a phone has.
# Upstream's policy rules 6090/6095/6100, the uplink follower (rule 6100 follows the uplink;
# what is flushed comes back), and their exact removal at the last stop, after a monitor
# SIGKILL (stop) and after monitor and init are killed (scan). The host's own network state
# (rules, policy rules, links, ip_forward) is compared before and after: nothing here touches it.
# As on Android, the runtime finds a legacy iptables first (/system/bin/iptables); the phone's
# netfilter is its own (per network namespace). Also here, because a kernel without bridges is a
# phone's: the bridgeless fallback, with the bridge refused as such a kernel refuses it.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/net
    load helpers/android
    export NET_TAG=$$
    suite_setup
    net_state_snapshot >"$SUITE_TMP/host-net.before"
    android_sim_setup
    export PHONE=dsnt-ph-$NET_TAG OUTSIDE=dsnt-ao-$NET_TAG
    ip netns add "$PHONE"
    ip netns add "$OUTSIDE"
    android_phone_links
    ip netns exec "$OUTSIDE" "$NET_PYTHON" -m http.server --bind 0.0.0.0 --directory \
        "$SUITE_TMP/www" 8080 >"$SUITE_TMP/http.log" 2>&1 &
    echo $! >"$SUITE_TMP/http.pid"
    wait_until 10 ip netns exec "$OUTSIDE" "$NET_PYTHON" -c \
        "import socket; socket.create_connection(('$NET_REMOTE_IP', 8080), 1)"
    phone_state >"$SUITE_TMP/phone.before"
    # Every runtime call of the suite runs on the simulated phone, with Android's PATH order.
    ln -s /usr/sbin/xtables-legacy-multi "$ANDROID_SYSTEM/bin/iptables"
    export REAL_BIN=$DROIDSPACES_BIN
    export DROIDSPACES_BIN=$SUITE_TMP/ds-on-phone
    export ON_PHONE="nsenter -t $ANDROID_SIM_HOLDER -m -r -w --net=/run/netns/$PHONE -- env PATH=/system/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$ON_PHONE" "$REAL_BIN" >"$DROIDSPACES_BIN"
    chmod 755 "$DROIDSPACES_BIN"
    fixture_copy busybox "$SUITE_TMP/a" >/dev/null
    fixture_copy busybox "$SUITE_TMP/b" >/dev/null
    export NAME="and-$$"
}

# The phone's two uplinks and netd's tables for them; the outside's "remote" address.
android_phone_links() {
    ip link add wlan0 netns "$PHONE" type veth peer name eth0 netns "$OUTSIDE"
    ip link add rmnet0 netns "$PHONE" type veth peer name eth1 netns "$OUTSIDE"
    ip -n "$PHONE" addr add 10.231.0.1/24 dev wlan0
    ip -n "$PHONE" addr add 10.232.0.1/24 dev rmnet0
    ip -n "$OUTSIDE" addr add 10.231.0.2/24 dev eth0
    ip -n "$OUTSIDE" addr add 10.232.0.2/24 dev eth1
    ip -n "$OUTSIDE" addr add "$NET_REMOTE_IP/32" dev lo
    local ns link
    for ns in "$PHONE" "$OUTSIDE"; do
        for link in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//'); do
            ip -n "$ns" link set "$link" up
        done
    done
    netd_table_route wlan0 10.231.0.2
    netd_table_route rmnet0 10.232.0.2
    mkdir -p "$SUITE_TMP/www"
    echo "outside-ok" >"$SUITE_TMP/www/index.html"
}

# netd's per-interface table of phone link $1: ifindex + 1000.
netd_table() {
    echo $(($(ip -n "$PHONE" -o link show "$1" | cut -d: -f1) + 1000))
}

netd_table_route() {
    ip -n "$PHONE" route replace default via "$2" dev "$1" table "$(netd_table "$1")"
}

# What the runtime may change in the phone: netfilter, policy rules, ds-* links, ip_forward.
phone_state() {
    local t
    for t in nat filter mangle; do
        phone_iptables -t "$t" -S 2>/dev/null | sed "s/^/$t: /"
    done
    ip netns exec "$PHONE" nft -s list ruleset 2>/dev/null
    ip -n "$PHONE" -4 rule show
    ip -n "$PHONE" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^ds-' || true
    ip netns exec "$PHONE" cat /proc/sys/net/ipv4/ip_forward
}

phone_iptables() {
    ip netns exec "$PHONE" iptables-legacy -w "$@"
}

phone_clean() {
    state_back_to phone_state "$SUITE_TMP/phone.before" "the phone's network state"
}

teardown_file() {
    load helpers
    load helpers/net
    load helpers/android
    local status=0
    [ -f "$SUITE_TMP/tracer.pid" ] && kill "$(cat "$SUITE_TMP/tracer.pid")" 2>/dev/null
    stop_suite_containers
    [ -f "$SUITE_TMP/http.pid" ] && kill "$(cat "$SUITE_TMP/http.pid")" 2>/dev/null
    ip netns del "$PHONE" 2>/dev/null
    ip netns del "$OUTSIDE" 2>/dev/null
    android_sim_teardown
    net_state_snapshot >"$SUITE_TMP/host-net.after"
    diff "$SUITE_TMP/host-net.before" "$SUITE_TMP/host-net.after" >&2 || status=1
    suite_teardown || status=1
    return "$status"
}

setup() {
    load helpers
    load helpers/net
    load helpers/android
}

start_nat() {
    local name=$1 copy=$2
    shift 2
    ds --name="$name" --rootfs="$SUITE_TMP/$copy/rootfs" --net=nat --dns=10.231.0.2 "$@" start
    wait_until 10 booted "$name"
}

nat_running() {
    ds --name="$NAME" pid >/dev/null 2>&1 && return 0
    start_nat "$NAME" a --port=18000:8000 >/dev/null
}

rule_6100_table() {
    ip -n "$PHONE" -4 rule show priority 6100 | sed -n 's/.*from 172\.28\.0\.0\/16 lookup \([0-9]*\).*/\1/p'
}

rule_6100_is() {
    [ "$(rule_6100_table)" = "$1" ]
}

# The outside server's body fetched from inside container $1 (path $2), and the source address
# the outside saw for that request (the phone's address on the uplink that carried it).
fetch_remote() {
    ds --name="$1" run sh -c \
        "printf 'GET /?$2 HTTP/1.0\r\n\r\n' | nc -w 5 $NET_REMOTE_IP 8080" | tr -d '\r' |
        sed '1,/^$/d'
}

seen_from() {
    grep -F "GET /?$1 " "$SUITE_TMP/http.log" | tail -1 | cut -d' ' -f1
}

@test "the runtime runs on the simulated phone: Android's marker, the phone's network" {
    run android_sim test -e /system/build.prop
    [ "$status" -eq 0 ]
    # What the suite's wrapper runs sees the phone's links only.
    run nsenter -t "$ANDROID_SIM_HOLDER" -m -r -w --net="/run/netns/$PHONE" -- cat /proc/net/dev
    [[ $output == *"wlan0:"* && $output == *"rmnet0:"* ]]
    local host_if
    host_if=$(ip -o route show default | awk '{print $5; exit}')
    [ -z "$host_if" ] || [[ $output != *" $host_if:"* ]]
}

@test "Android policy rules 6090/6095/6100 as upstream; traffic leaves by the uplink's table" {
    nat_running
    run ip -n "$PHONE" -4 rule show priority 6090
    [[ $output == "6090:"*"from all to 172.28.0.0/16 lookup main"* ]]
    run ip -n "$PHONE" -4 rule show priority 6095
    [[ $output == "6095:"*"from 172.28.0.0/16 lookup 97"* ]]
    rule_6100_is "$(netd_table wlan0)"
    # The state lives in the simulated /dev, not in the host's /run.
    [ ! -e /run/droidspaces-net/shared ]
    run fetch_remote "$NAME" via-wlan0
    [ "$output" = "outside-ok" ]
    [ "$(seen_from via-wlan0)" = 10.231.0.1 ]
    # The host's own policy rules have none of them.
    run ip -4 rule show
    [[ $output != *"172.28.0.0/16"* ]]
}

@test "the uplink follower moves rule 6100 to rmnet0 when wlan0 goes down, and back" {
    nat_running
    rule_6100_is "$(netd_table wlan0)"
    ip -n "$PHONE" link set wlan0 down
    wait_until 10 rule_6100_is "$(netd_table rmnet0)"
    run ip -n "$PHONE" -4 rule show priority 6100
    [ "$(wc -l <<<"$output")" -eq 1 ]
    run fetch_remote "$NAME" via-rmnet0
    [ "$output" = "outside-ok" ]
    [ "$(seen_from via-rmnet0)" = 10.232.0.1 ]
    # Wi-Fi is back (netd refills its table): the whitelist prefers it again.
    ip -n "$PHONE" link set wlan0 up
    netd_table_route wlan0 10.231.0.2
    wait_until 10 rule_6100_is "$(netd_table wlan0)"
    run fetch_remote "$NAME" via-wlan0-again
    [ "$output" = "outside-ok" ]
    [ "$(seen_from via-wlan0-again)" = 10.231.0.1 ]
    # The shared record lists the current rule only.
    run android_sim cat /dev/droidspaces-net/shared
    [ "$(grep -c '^rule 6100 ' <<<"$output")" -eq 1 ]
}

@test "netd's default-network rule names the uplink" {
    nat_running
    rule_6100_is "$(netd_table wlan0)"
    # netd: `from all fwmark 0x0/0xffff iif lo lookup <table>` at 22000 for the default network.
    ip -n "$PHONE" rule add priority 22000 fwmark 0x0/0xffff iif lo lookup "$(netd_table rmnet0)"
    wait_until 10 rule_6100_is "$(netd_table rmnet0)"
    ip -n "$PHONE" rule del priority 22000
    wait_until 10 rule_6100_is "$(netd_table wlan0)"
}

@test "what a netd restart flushes comes back: FORWARD rule, policy rule, ip_forward" {
    nat_running
    phone_iptables -F FORWARD
    ip -n "$PHONE" rule del priority 6095
    ip netns exec "$PHONE" sh -c 'echo 0 >/proc/sys/net/ipv4/ip_forward'
    wait_until 30 phone_iptables -C FORWARD -i ds-br0 -j ACCEPT
    wait_until 10 phone_iptables -C FORWARD -o ds-br0 -j ACCEPT
    wait_until 10 bash -c "ip -n $PHONE -4 rule show priority 6095 | grep -q 'lookup 97'"
    [ "$(ip netns exec "$PHONE" cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
    # The port forward's own FORWARD accept is put back too.
    wait_until 10 bash -c "ip netns exec $PHONE iptables-legacy -w -S FORWARD | grep -q -- '--dport 8000'"
    run fetch_remote "$NAME" after-flush
    [ "$output" = "outside-ok" ]
    # Once each: a re-check never duplicates.
    [ "$(phone_iptables -S FORWARD | grep -c -- '-i ds-br0 -j ACCEPT')" -eq 1 ]
}

@test "a second container shares the rules; the last stop removes them exactly" {
    nat_running
    start_nat "$NAME-2" b >/dev/null
    run ip -n "$PHONE" -4 rule show priority 6100
    [ "$(wc -l <<<"$output")" -eq 1 ]
    ds --name="$NAME-2" stop >/dev/null
    rule_6100_is "$(netd_table wlan0)"
    ds --name="$NAME" stop >/dev/null
    phone_clean
}

@test "after a monitor SIGKILL, stop removes the policy rules" {
    stop_suite_containers
    start_nat "$NAME-3" b >/dev/null
    rule_6100_is "$(netd_table wlan0)"
    local monitor
    monitor=$(monitor_pid "$NAME-3")
    kill -9 "$monitor"
    wait_until 5 bash -c "! kill -0 $monitor"
    rule_6100_is "$(netd_table wlan0)"
    ds --name="$NAME-3" stop >/dev/null
    phone_clean
}

@test "after monitor and init are killed, scan removes the policy rules" {
    stop_suite_containers
    start_nat "$NAME-3" b >/dev/null
    kill_monitor_and_init "$NAME-3"
    run ds scan
    [ "$status" -eq 0 ]
    [[ $output == *"network $NAME-3"* ]]
    phone_clean
    # The empty cgroup goes once it is older than scan's grace period for starts in progress.
    wait_until 30 scan_removed_cgroup "$NAME-3"
}

@test "a kernel without bridges: point-to-point links to the containers (bridgeless)" {
    stop_suite_containers
    phone_clean
    # This kernel has bridges. strace makes one rtnetlink request of the monitor, its
    # RTM_NEWLINK of ds-br0, fail with EOPNOTSUPP, the answer of a kernel without
    # CONFIG_BRIDGE; the runtime is the unchanged binary. strace counts per process: a stale
    # record of ten links (as a killed monitor leaves) makes the monitor send ten deletes and
    # the lookup of ds-br0 first, so the 12th sendto is the bridge's, and no other process
    # (the container's init sends 4 to set up eth0; legacy iptables sends none) is hit. The
    # tracer detaches (ends) once the container runs.
    mkdir -p "$DROIDSPACES_HOME/Net"
    seq 1 10 | sed 's/^/link ds-gone/' >"$DROIDSPACES_HOME/Net/$NAME-p.net"
    # shellcheck disable=SC2086  # ON_PHONE is a command line
    $ON_PHONE strace -I1 -f -qq -o /dev/null -e trace=sendto \
        -e inject=sendto:error=EOPNOTSUPP:when=12 "$REAL_BIN" --name="$NAME-p" \
        --rootfs="$SUITE_TMP/a/rootfs" --net=nat --port=18500:8500 start >/dev/null 3>&- &
    local tracer=$!
    echo "$tracer" >"$SUITE_TMP/tracer.pid"
    wait_until 20 booted "$NAME-p"
    kill "$tracer"  # -I1: strace ends on SIGTERM, detaching the monitor and init
    wait "$tracer" || true
    grep -q "(bridgeless)" "$DROIDSPACES_HOME/Logs/$NAME-p/log"
    run ip -n "$PHONE" link show ds-br0
    [ "$status" -ne 0 ]
    local pid ip veth
    pid=$(ds --name="$NAME-p" pid)
    ip=$(saved_nat_ip "$NAME-p")
    veth=ds-v$pid
    run ip -n "$PHONE" -4 -o addr show dev "$veth"
    [[ $output == *"172.28.0.1/32"* ]]
    run ip -n "$PHONE" route show "$ip"
    [[ $output == "$ip dev $veth"* ]]
    phone_iptables -C INPUT -i "$veth" -j ACCEPT
    phone_iptables -C FORWARD -i "$veth" -j ACCEPT
    run phone_iptables -S FORWARD
    [[ $output != *"ds-br0"* ]]
    run fetch_remote "$NAME-p" bridgeless
    [ "$output" = "outside-ok" ]
    # A port forward from the phone's 127.0.0.1 reaches the server inside.
    mkdir -p "$SUITE_TMP/a/rootfs/www"
    echo "inside-ok" >"$SUITE_TMP/a/rootfs/www/index.html"
    ds --name="$NAME-p" run sh -c 'httpd -p 8500 -h /www </dev/null >/dev/null 2>&1'
    wait_until 5 ds --name="$NAME-p" run sh -c 'netstat -ltn | grep -q ":8500 "'
    run ip netns exec "$PHONE" curl -s -m 5 http://127.0.0.1:18500/
    [ "$output" = "inside-ok" ]
    # The next container (no tracer) joins the bridgeless mode; the two reach each other.
    start_nat "$NAME-q" b >/dev/null
    run ip -n "$PHONE" link show ds-br0
    [ "$status" -ne 0 ]
    run ds --name="$NAME-q" run ping -c1 -W2 "$ip"
    [ "$status" -eq 0 ]
    ds --name="$NAME-q" stop >/dev/null
    ds --name="$NAME-p" stop >/dev/null
    phone_clean
}
