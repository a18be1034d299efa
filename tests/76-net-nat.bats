#!/usr/bin/env bats
# --net=nat with busybox containers: the bridge and eth0, DHCP answered for the guest's own
# client, MASQUERADE to a server in a test-made "outside" namespace, DNS through --dns, two
# containers talking, port forwards from 127.0.0.1 and from the outside, restarts keeping the
# address, --nat-ip and collisions, --upstream pinning, overlapping forwards refused, cleanup
# after a killed monitor. Nothing leaves the host (helpers/net.bash); after the suite the
# host's rules, policy rules, links and ip_forward are as before.

# `run --separate-stderr` sets $stderr.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    export NET_TAG=$$
    load helpers/net
    net_suite_setup a b c d e f
    export NAME="nat-$$"
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

# Starts container $1 on rootfs copy $2 with --net=nat and the suite's DNS; waits for its boot.
start_nat() {
    local name=$1 copy=$2
    shift 2
    ds --name="$name" --rootfs="$SUITE_TMP/$copy/rootfs" --net=nat --dns="$NET_OUT_IP" "$@" start
    wait_until 10 booted "$name"
}

nat_running() {
    ds --name="$NAME" pid >/dev/null 2>&1 && return 0
    start_nat "$NAME" a --port=18000:8000 --port=18100-18101:8100-8101/tcp >/dev/null
}

@test "eth0 has the saved address, the name's MAC and a default route through ds-br0" {
    nat_running
    local ip
    ip=$(saved_nat_ip "$NAME")
    [[ $ip == 172.28.* ]]
    [ "$(container_ip "$NAME")" = "$ip" ]
    run in_container "$NAME" ip route show default
    [[ $output == "default via 172.28.0.1 dev eth0"* ]]
    run in_container "$NAME" cat /sys/class/net/eth0/address
    [[ $output == 02:* ]]
    # The host end is a port of ds-br0, named after init's PID.
    local pid
    pid=$(ds --name="$NAME" pid)
    [ "$(basename "$(readlink "/sys/class/net/ds-v$pid/master")")" = ds-br0 ]
    run ip -4 -o addr show dev ds-br0
    [[ $output == *"172.28.0.1/16"* ]]
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 1 ]
}

@test "the guest's own DHCP client gets the container's address, router and DNS" {
    nat_running
    cat >"$SUITE_TMP/a/rootfs/root/dhcp.sh" <<'EOF'
#!/bin/sh
[ "$1" = bound ] && echo "ip=$ip mask=$subnet router=$router dns=$dns lease=$lease" >/root/lease
exit 0
EOF
    chmod 755 "$SUITE_TMP/a/rootfs/root/dhcp.sh"
    rm -f "$SUITE_TMP/a/rootfs/root/lease"
    run in_container "$NAME" udhcpc -i eth0 -n -q -t 5 -T 1 -s /root/dhcp.sh
    [ "$status" -eq 0 ]
    run cat "$SUITE_TMP/a/rootfs/root/lease"
    [ "$output" = "ip=$(saved_nat_ip "$NAME") mask=255.255.0.0 router=172.28.0.1 dns=$NET_OUT_IP lease=86400" ]
}

@test "a DHCP request from another MAC is not answered" {
    nat_running
    local mac ip
    mac=$(in_container "$NAME" cat /sys/class/net/eth0/address)
    ip=$(saved_nat_ip "$NAME")
    # The guest changes eth0's MAC: the server answers the container's own MAC only.
    in_container "$NAME" sh -c 'ip link set eth0 down; ip link set eth0 address 02:11:22:33:44:55; ip link set eth0 up'
    run in_container "$NAME" udhcpc -i eth0 -n -q -t 2 -T 1 -s /bin/true
    in_container "$NAME" sh -c "ip link set eth0 down; ip link set eth0 address $mac; ip link set eth0 up; ip addr replace $ip/16 dev eth0; ip route replace default via 172.28.0.1"
    [ "$status" -ne 0 ]
    [[ $output == *"broadcasting discover"* ]]
    [[ $output != *"obtained"* ]]
}

@test "the container reaches the bridge and, masqueraded, the outside server" {
    nat_running
    run in_container "$NAME" ping -c1 -W2 172.28.0.1
    [ "$status" -eq 0 ]
    run http_from "$NAME" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
    # The outside saw the host's address on the uplink, not the container's.
    grep -q "^$NET_HOST_IP " "$SUITE_TMP/http.log"
    run ! grep -q "^172\.28\." "$SUITE_TMP/http.log"
}

@test "names resolve through the configured DNS server" {
    nat_running
    run in_container "$NAME" cat /etc/resolv.conf
    [[ $output == *"nameserver $NET_OUT_IP"* ]]
    run in_container "$NAME" nslookup outside.test
    [ "$status" -eq 0 ]
    [[ $output == *"Address: $NET_OUT_IP"* || $output == *"Address 1: $NET_OUT_IP"* ]]
}

@test "two containers get distinct addresses and reach each other" {
    nat_running
    start_nat "$NAME-2" b >/dev/null
    local ip1 ip2
    ip1=$(container_ip "$NAME")
    ip2=$(container_ip "$NAME-2")
    [ -n "$ip2" ] && [ "$ip1" != "$ip2" ]
    run in_container "$NAME-2" ping -c1 -W2 "$ip1"
    [ "$status" -eq 0 ]
    run in_container "$NAME" ping -c1 -W2 "$ip2"
    [ "$status" -eq 0 ]
    ds --name="$NAME-2" stop
    # The first container's network is untouched by the second one's stop.
    run http_from "$NAME" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
}

@test "a port forward reaches the server inside from 127.0.0.1 and from the outside" {
    nat_running
    mkdir -p "$SUITE_TMP/a/rootfs/www"
    echo "inside-ok" >"$SUITE_TMP/a/rootfs/www/index.html"
    in_container "$NAME" httpd -p 8000 -h /www
    wait_until 5 in_container "$NAME" sh -c 'netstat -ltn | grep -q ":8000 "'
    run curl -s -m 5 http://127.0.0.1:18000/
    [ "$output" = "inside-ok" ]
    # As a LAN client would: to the host's address on the uplink.
    run ip netns exec "$NET_NS" curl -s -m 5 "http://$NET_HOST_IP:18000/"
    [ "$output" = "inside-ok" ]
    # A range forward maps port by port.
    in_container "$NAME" httpd -p 8101 -h /www
    wait_until 5 in_container "$NAME" sh -c 'netstat -ltn | grep -q ":8101 "'
    run curl -s -m 5 http://127.0.0.1:18101/
    [ "$output" = "inside-ok" ]
}

@test "a restart keeps the container's address" {
    nat_running
    local before
    before=$(container_ip "$NAME")
    ds --name="$NAME" restart >/dev/null
    wait_until 10 booted "$NAME"
    [ "$(container_ip "$NAME")" = "$before" ]
    ds --name="$NAME" stop >/dev/null
    start_nat "$NAME" a >/dev/null
    [ "$(container_ip "$NAME")" = "$before" ]
    [ "$(saved_nat_ip "$NAME")" = "$before" ]
}

@test "--nat-ip pins the address; another config's address is walked past" {
    ensure_stopped "$NAME-3"
    start_nat "$NAME-3" c --nat-ip=172.28.200.7 >/dev/null
    [ "$(container_ip "$NAME-3")" = 172.28.200.7 ]
    ds --name="$NAME-3" stop >/dev/null
    # The address is saved in $NAME-3's config: a second container asking for it gets another.
    run --separate-stderr start_nat "$NAME-4" d --nat-ip=172.28.200.7
    [ "$status" -eq 0 ]
    [[ $stderr == *"172.28.200.7 is taken"* ]]
    local ip
    ip=$(container_ip "$NAME-4")
    [[ $ip == 172.28.* ]] && [ "$ip" != 172.28.200.7 ]
    ds --name="$NAME-4" stop >/dev/null
}

@test "--upstream pins the uplink: the remote prefix is reached only through it" {
    ensure_stopped "$NAME-3"
    # Without the pin the host's main table has only the suite's "unreachable" route for it.
    start_nat "$NAME-3" c >/dev/null
    run http_from "$NAME-3" "$NET_REMOTE_IP" 8080
    [ "$output" != "outside-ok" ]
    ds --name="$NAME-3" stop >/dev/null
    start_nat "$NAME-3" c --upstream="ntup*,$NET_UPLINK" >/dev/null
    run http_from "$NAME-3" "$NET_REMOTE_IP" 8080
    [ "$output" = "outside-ok" ]
    run ip -4 rule show priority 6099
    [[ $output == *"from $(saved_nat_ip "$NAME-3") lookup"* ]]
    ds --name="$NAME-3" stop >/dev/null
    run ip -4 rule show priority 6099
    [ -z "$output" ]
}

@test "an upstream that is not up is refused and leaves nothing behind" {
    # A name and rootfs of its own: --upstream adds to the list a saved config already has, and
    # a start also loads the config saved next to the rootfs.
    run --separate-stderr ds --name="$NAME-5" --rootfs="$SUITE_TMP/f/rootfs" --net=nat \
        --upstream=nosuchif0 start
    [ "$status" -eq 2 ]
    [[ $stderr == *"no upstream interface matching 'nosuchif0' is up"* ]]
    [ ! -e "$DROIDSPACES_HOME/Net/$NAME-5.net" ]
    run ! ds --name="$NAME-5" pid
    [ -z "$(suite_cgroups_of "$NAME-5")" ]
}

@test "overlapping port forwards are refused with one clear line" {
    ensure_stopped "$NAME-3"
    run --separate-stderr ds --name="$NAME-3" --rootfs="$SUITE_TMP/c/rootfs" --net=nat \
        --port=9000-9010:9000-9010 --port=9005:80 start
    [ "$status" -eq 1 ]
    [[ $stderr == *"port forward '9005:80/tcp' overlaps '9000-9010:9000-9010/tcp'"* ]]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    run ! ds --name="$NAME-3" pid
    # One already forwarded by a running container is refused too.
    nat_running
    run --separate-stderr ds --name="$NAME-3" --rootfs="$SUITE_TMP/c/rootfs" --net=nat \
        --port=18000:80 start
    [ "$status" -eq 1 ]
    [[ $stderr == *"of running container '$NAME'"* ]]
    # Another protocol on the same port is no overlap.
    run ds --name="$NAME-3" --rootfs="$SUITE_TMP/c/rootfs" --net=nat --port=18000:80/udp start
    [ "$status" -eq 0 ]
    ds --name="$NAME-3" stop >/dev/null
}

@test "Debian systemd: systemd-networkd takes the DHCP lease of the container's address" {
    local root name="$NAME-sd"
    root=$(fixture_copy systemd "$SUITE_TMP/sd")
    # The fixture masks networkd (it must not touch a shared network); here it has its own.
    rm -f "$root/etc/systemd/system/systemd-networkd.service" \
        "$root/etc/systemd/system/systemd-networkd.socket"
    mkdir -p "$root/etc/systemd/system/multi-user.target.wants" \
        "$root/etc/systemd/system/sockets.target.wants" "$root/etc/systemd/network"
    ln -sfn /lib/systemd/system/systemd-networkd.service \
        "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
    ln -sfn /lib/systemd/system/systemd-networkd.socket \
        "$root/etc/systemd/system/sockets.target.wants/systemd-networkd.socket"
    printf '[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n' \
        >"$root/etc/systemd/network/20-eth0.network"
    ds --name="$name" --rootfs="$root" --net=nat --dns="$NET_OUT_IP" start >/dev/null
    wait_for_systemd "$name" >/dev/null
    local ip
    ip=$(saved_nat_ip "$name")
    wait_until 20 in_container "$name" sh -c "grep -qx 'ADDRESS=$ip' /run/systemd/netif/leases/*"
    run in_container "$name" sh -c 'cat /run/systemd/netif/leases/*'
    [[ $output == *"ROUTER=172.28.0.1"* ]]
    [[ $output == *"DNS=$NET_OUT_IP"* ]]
    run in_container "$name" bash -c "exec 3<>/dev/tcp/$NET_OUT_IP/8080; printf 'GET / HTTP/1.0\r\n\r\n' >&3; cat <&3"
    [[ $output == *"outside-ok"* ]]
    ds --name="$name" stop >/dev/null
}

@test "a reboot inside gets a fresh eth0 with the same address and one set of forwards" {
    nat_running
    local before ip
    before=$(ds --name="$NAME" pid)
    ip=$(saved_nat_ip "$NAME")
    ds_power_request --name="$NAME" run reboot
    wait_until 20 bash -c "p=\$($DROIDSPACES_BIN --name=$NAME pid) && [ \"\$p\" != $before ]"
    wait_until 10 booted "$NAME"
    [ "$(container_ip "$NAME")" = "$ip" ]
    run http_from "$NAME" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
    [ ! -e "/sys/class/net/ds-v$before" ]
    [ -e "/sys/class/net/ds-v$(ds --name="$NAME" pid)" ]
    run iptables -w -t nat -S PREROUTING
    [ "$(grep -c -- '--dport 18000 ' <<<"$output")" -eq 1 ]
}

@test "two NAT containers started at once both get working, distinct addresses" {
    ensure_stopped "$NAME-3"
    ensure_stopped "$NAME-4"
    start_nat "$NAME-3" c >"$SUITE_TMP/start3" 2>&1 &
    local p3=$!
    start_nat "$NAME-4" d >"$SUITE_TMP/start4" 2>&1 &
    local p4=$!
    wait "$p3" || { cat "$SUITE_TMP/start3"; false; }
    wait "$p4" || { cat "$SUITE_TMP/start4"; false; }
    local ip3 ip4
    ip3=$(container_ip "$NAME-3")
    ip4=$(container_ip "$NAME-4")
    [[ $ip3 == 172.28.* && $ip4 == 172.28.* && $ip3 != "$ip4" ]]
    run http_from "$NAME-3" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
    run http_from "$NAME-4" "$NET_OUT_IP" 8080
    [ "$output" = "outside-ok" ]
    ds --name="$NAME-3" stop >/dev/null &
    ds --name="$NAME-4" stop >/dev/null
    wait
}

@test "an upstream-written config with net_mode=nat and port forwards boots and works" {
    local name="$NAME-up"
    mkdir -p "$DROIDSPACES_HOME/Containers/$name"
    cat >"$DROIDSPACES_HOME/Containers/$name/container.config" <<EOF
# Droidspaces Container Configuration
# Generated automatically - Changes may be overwritten

name=$name
hostname=$name
rootfs_path=$SUITE_TMP/e/rootfs
disable_ipv6=0
enable_hw_access=0
enable_gpu_mode=0
selinux_permissive=0
allow_userns=0
volatile_mode=0
force_cgroupv1=0
block_nested_ns=0
foreground=0
net_mode=nat
upstream_interfaces=
port_forwards=18400:8400/tcp,18401:8401/udp
static_nat_ip=172.28.44.55
dns_servers=$NET_OUT_IP

# Android App Configuration
run_at_boot=1
EOF
    ds --name="$name" start >/dev/null
    wait_until 10 booted "$name"
    [ "$(container_ip "$name")" = 172.28.44.55 ]
    mkdir -p "$SUITE_TMP/e/rootfs/www"
    echo "upstream-ok" >"$SUITE_TMP/e/rootfs/www/index.html"
    in_container "$name" httpd -p 8400 -h /www
    wait_until 5 in_container "$name" sh -c 'netstat -ltn | grep -q ":8400 "'
    run curl -s -m 5 http://127.0.0.1:18400/
    [ "$output" = "upstream-ok" ]
    # The app's keys are still there.
    grep -qx "run_at_boot=1" "$DROIDSPACES_HOME/Containers/$name/container.config"
    ds --name="$name" stop >/dev/null
}

@test "after a monitor SIGKILL, stop removes the container's rules and the shared state" {
    stop_suite_containers
    start_nat "$NAME-3" c --port=18200:8200 >/dev/null
    local monitor
    monitor=$(monitor_pid "$NAME-3")
    kill -9 "$monitor"
    wait_until 5 bash -c "! kill -0 $monitor"
    run iptables -w -t nat -S PREROUTING
    [[ $output == *"--dport 18200"* ]]
    ds --name="$NAME-3" stop >/dev/null
    run iptables -w -t nat -S PREROUTING
    [[ $output != *"--dport 18200"* ]]
    net_state_clean
}

@test "after monitor and init are killed, scan removes what they left" {
    stop_suite_containers
    start_nat "$NAME-3" c --port=18300:8300 >/dev/null
    kill_monitor_and_init "$NAME-3"
    run ds scan
    [ "$status" -eq 0 ]
    [[ $output == *"network $NAME-3"* ]]
    net_state_clean
    # The empty cgroup goes once it is older than scan's grace period for starts in progress.
    wait_until 30 scan_removed_cgroup "$NAME-3"
}

@test "the host's network state is as before once the containers stop" {
    stop_suite_containers
    net_state_clean
}
