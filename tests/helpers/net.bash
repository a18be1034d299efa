# Helpers for the networking suites (76-net-nat, 77-net-gateway). Load after helpers.bash:
#   load helpers; load helpers/net
#
# Nothing may leave this machine: the "outside" is a network namespace the suite makes, joined
# to the host by a veth pair that stands in for the uplink (pinned with --upstream where a test
# needs it). Its servers (HTTP, DNS) listen only there. The host's own interfaces, routes and
# rules are never changed, apart from one "unreachable" route for the test's "remote" prefix,
# so that a packet the runtime sends the wrong way is dropped here instead of leaving.

# Names kept short: interface names have 15 characters at most.
NET_TAG=${NET_TAG:-$$}
NET_NS=dsnt-out-$NET_TAG           # the outside namespace
NET_UPLINK=ntup$((NET_TAG % 100000)) # host end of the test uplink (not ds-*: not ours to clean)
NET_PEER=eth0                      # its end inside the outside namespace
NET_HOST_IP=10.231.0.1             # the host's address on the test uplink
NET_OUT_IP=10.231.0.2              # the outside server
NET_REMOTE_IP=198.18.7.1           # "the internet": only reachable through the pinned uplink
NET_REMOTE_NET=198.18.7.0/24
NET_PYTHON=/usr/bin/python3

# The host's network state that the runtime touches, one item per line, for before/after.
# Rules without counters (iptables -S, nft -s), policy rules, ds-* links, ip_forward.
net_state_snapshot() {
    local t
    echo "# iptables"
    if command -v iptables >/dev/null; then
        for t in nat filter mangle; do
            iptables -w -t "$t" -S 2>/dev/null | sed "s/^/$t: /"
        done
    fi
    echo "# nft"
    if command -v nft >/dev/null; then
        nft -s list ruleset 2>/dev/null
    fi
    echo "# rules"
    ip -4 rule show
    echo "# links"
    ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep '^ds-' || true
    echo "# ip_forward"
    cat /proc/sys/net/ipv4/ip_forward
    echo "# shared record"
    ls /run/droidspaces-net/shared 2>/dev/null || true
}

net_setup_file() {
    net_state_snapshot >"$SUITE_TMP/net.before"
    ip netns add "$NET_NS"
    ip link add "$NET_UPLINK" type veth peer name "$NET_PEER" netns "$NET_NS"
    ip addr add "$NET_HOST_IP/24" dev "$NET_UPLINK"
    ip link set "$NET_UPLINK" up
    ip -n "$NET_NS" link set lo up
    ip -n "$NET_NS" addr add "$NET_OUT_IP/24" dev "$NET_PEER"
    ip -n "$NET_NS" addr add "$NET_REMOTE_IP/32" dev lo
    ip -n "$NET_NS" link set "$NET_PEER" up
    # A packet for the "remote" prefix that is not policy-routed into the test uplink dies here.
    ip route add unreachable "$NET_REMOTE_NET"
    mkdir -p "$SUITE_TMP/www"
    echo "outside-ok" >"$SUITE_TMP/www/index.html"
    ip netns exec "$NET_NS" "$NET_PYTHON" -m http.server --bind 0.0.0.0 --directory \
        "$SUITE_TMP/www" 8080 >"$SUITE_TMP/http.log" 2>&1 &
    echo $! >"$SUITE_TMP/http.pid"
    ip netns exec "$NET_NS" "$NET_PYTHON" "$REPO_ROOT/tests/helpers/dns_server.py" \
        "$NET_OUT_IP" "$NET_OUT_IP" >"$SUITE_TMP/dns.log" 2>&1 &
    echo $! >"$SUITE_TMP/dns.pid"
    wait_until 10 ip netns exec "$NET_NS" "$NET_PYTHON" -c \
        "import socket; socket.create_connection(('$NET_OUT_IP', 8080), 1)"
}

net_teardown_file() {
    local pid
    for pid in http dns; do
        [ -f "$SUITE_TMP/$pid.pid" ] && kill "$(cat "$SUITE_TMP/$pid.pid")" 2>/dev/null
    done
    ip route del unreachable "$NET_REMOTE_NET" 2>/dev/null
    ip link del "$NET_UPLINK" 2>/dev/null
    ip netns del "$NET_NS" 2>/dev/null
    return 0
}

# A network suite's setup_file after NET_TAG is set: workspace, test network, and one busybox
# rootfs copy under $SUITE_TMP/<name>/rootfs for each name given.
net_suite_setup() {
    suite_setup
    net_setup_file
    local name
    for name in "$@"; do
        fixture_copy busybox "$SUITE_TMP/$name" >/dev/null
    done
}

# A network suite's teardown_file: its containers stopped, the host's network state compared with
# the one before the suite, the test network and the workspace removed (each even if one fails).
net_suite_teardown() {
    stop_suite_containers
    local status=0
    net_state_clean >&2 || status=1
    net_teardown_file
    suite_teardown || status=1
    return "$status"
}

# Succeeds when the host's network state is as it was before the suite; prints the difference.
# The monitors' cleanup ends a moment after `stop` returns: polled briefly.
net_state_clean() {
    state_back_to net_state_snapshot "$SUITE_TMP/net.before" "the host's network state"
}

# Polls for 5 s until command $1 prints what file $2 holds; else prints the difference under
# the name $3 and fails.
state_back_to() {
    local snapshot=$1 before=$2 what=$3 deadline=$((SECONDS + 5))
    while :; do
        "$snapshot" >"$before.now"
        diff "$before" "$before.now" >"$before.diff" && return 0
        ((SECONDS < deadline)) || break
        sleep 0.2
    done
    echo "$what changed:"
    cat "$before.diff"
    return 1
}

# The address the runtime saved for container $1.
saved_nat_ip() {
    sed -n 's/^static_nat_ip=//p' "$DROIDSPACES_HOME/Containers/$1/container.config"
}

# eth0's IPv4 address inside container $1.
container_ip() {
    in_container "$1" ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1
}

# The body of http://HOST:PORT/ fetched from inside container $1 (busybox nc: the static
# busybox's wget crashes in its resolver).
http_from() {
    local name=$1 host=$2 port=$3
    in_container "$name" sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $host $port" |
        tr -d '\r' | sed '1,/^$/d'
}
