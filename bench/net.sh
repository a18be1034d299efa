#!/usr/bin/env bash
# NAT figures (run alone, root): what --net=nat adds to `start`, and TCP throughput from a NAT
# container to a server in a test-made "outside" namespace, as a ratio to the host's own
# throughput to that server (the same veth uplink without the bridge and MASQUERADE).
#
#   sudo bench/net.sh            # prints a small Markdown table on stdout, progress on stderr
#
# Also the monitor's memory: a NAT container's (DHCP server) and, on a simulated Android phone
# (tests/helpers/android.bash plus a test-made "phone" network namespace), one that also runs the
# uplink follower, each against a --net=none container's monitor.
#
# Variables: DROIDSPACES_BIN (build/droidspaces), NET_BENCH_STARTS (15 start/stop cycles per
# mode), NET_BENCH_SECONDS (5 s per iperf3 run). Needs iperf3. Nothing leaves the host: the
# "outside" is a namespace this script makes (tests/helpers/net.bash) and removes on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/lib.sh"
DROIDSPACES_BIN=${DROIDSPACES_BIN:-$REPO_ROOT/build/droidspaces}
STARTS=${NET_BENCH_STARTS:-15}
SECONDS_PER_RUN=${NET_BENCH_SECONDS:-5}

command -v iperf3 >/dev/null || {
    warn "iperf3 is missing (apt-get install iperf3)"
    exit 1
}

DROIDSPACES_HOME=$(mktemp -d /tmp/ds-bench-net.XXXXXX)
SUITE_TMP=$DROIDSPACES_HOME/suite
mkdir -p "$SUITE_TMP"
export DROIDSPACES_HOME SUITE_TMP REPO_ROOT DROIDSPACES_BIN
export NET_TAG=$$
# shellcheck source=tests/helpers.bash
source "$REPO_ROOT/tests/helpers.bash"
# shellcheck source=tests/helpers/net.bash
source "$REPO_ROOT/tests/helpers/net.bash"

# shellcheck source=tests/helpers/android.bash
source "$REPO_ROOT/tests/helpers/android.bash"
PHONE=dsnt-bph-$$
PHONE_OUT=dsnt-bpo-$$
on_phone() {
    nsenter -t "$ANDROID_SIM_HOLDER" -m -r -w --net="/run/netns/$PHONE" -- \
        env PATH=/system/bin:/usr/sbin:/usr/bin:/sbin:/bin "$DROIDSPACES_BIN" "$@"
}

IPERF_PID=""
cleanup() {
    for name in bench-none bench-nat; do
        "$DROIDSPACES_BIN" --name="$name" stop >/dev/null 2>&1 || true
    done
    [[ -n ${ANDROID_SIM_HOLDER:-} ]] && on_phone --name=bench-and stop >/dev/null 2>&1
    ip netns del "$PHONE" 2>/dev/null
    ip netns del "$PHONE_OUT" 2>/dev/null
    android_sim_teardown
    [[ -n $IPERF_PID ]] && kill "$IPERF_PID" 2>/dev/null
    net_teardown_file
    rm -rf "$DROIDSPACES_HOME"
}
trap cleanup EXIT

net_setup_file
ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")

# 1. start time, --net=none vs --net=nat, alternating so both see the same machine.
log "start/stop x$STARTS per mode"
t0=0 t1=0
: >"$SUITE_TMP/none.us"
: >"$SUITE_TMP/nat.us"
for ((i = 0; i < STARTS; i++)); do
    for mode in none nat; do
        stamp t0
        "$DROIDSPACES_BIN" --name="bench-$mode" --rootfs="$ROOTFS" --net="$mode" start \
            >/dev/null 2>&1
        stamp t1
        echo $((t1 - t0)) >>"$SUITE_TMP/$mode.us"
        "$DROIDSPACES_BIN" --name="bench-$mode" stop >/dev/null 2>&1
    done
done
none_ms=$(median_of "$SUITE_TMP/none.us")
nat_ms=$(median_of "$SUITE_TMP/nat.us")

# 2. throughput: the host's own, then from inside the NAT container (its network namespace,
# the host's iperf3 binary: the busybox guest has none).
ip netns exec "$NET_NS" iperf3 -s -B "$NET_OUT_IP" >/dev/null 2>&1 &
IPERF_PID=$!
wait_until 10 ip netns exec "$NET_NS" bash -c "exec 3<>/dev/tcp/$NET_OUT_IP/5201"
gbits() { sed -n 's/.*"bits_per_second":[[:space:]]*\([0-9.e+]*\).*/\1/p' | tail -1 |
    awk '{printf "%.2f\n", $1 / 1e9}'; }
log "iperf3 host -> outside (${SECONDS_PER_RUN}s)"
host_gbps=$(iperf3 -c "$NET_OUT_IP" -t "$SECONDS_PER_RUN" -J | gbits)
"$DROIDSPACES_BIN" --name=bench-nat --rootfs="$ROOTFS" --net=nat start >/dev/null 2>&1
pid=$("$DROIDSPACES_BIN" --name=bench-nat pid)
pid_monitor_nat=$(json_num "$DROIDSPACES_HOME/Pids/bench-nat.state" monitor_pid)
log "iperf3 NAT container -> outside (${SECONDS_PER_RUN}s)"
nat_gbps=$(nsenter -t "$pid" -n iperf3 -c "$NET_OUT_IP" -t "$SECONDS_PER_RUN" -J | gbits)

# 3. monitor memory (RSS and PSS, kB): the median of 20 samples 0.3 s apart, once each monitor
# has been quiet long enough to shed its start-up pages (0.5 s). On the phone the follower's
# 1.5 s tick faults code in for a moment; the monitor sheds it again 0.5 s after each tick.
"$DROIDSPACES_BIN" --name=bench-none --rootfs="$ROOTFS" --net=none start >/dev/null 2>&1
android_sim_setup
ip netns add "$PHONE"
ip netns add "$PHONE_OUT"
ip link add wlan0 netns "$PHONE" type veth peer name eth0 netns "$PHONE_OUT"
ip -n "$PHONE" addr add 10.233.0.1/24 dev wlan0
ip -n "$PHONE" link set wlan0 up
ip -n "$PHONE" link set lo up
ip -n "$PHONE_OUT" link set eth0 up
ip -n "$PHONE" route add default dev wlan0 table $(($(ip -n "$PHONE" -o link show wlan0 | cut -d: -f1) + 1000))
ln -sf /usr/sbin/xtables-legacy-multi "$ANDROID_SYSTEM/bin/iptables"
log "monitor memory: --net=none, --net=nat, --net=nat on a simulated phone"
on_phone --name=bench-and --rootfs="$ROOTFS" --net=nat start >/dev/null 2>&1
sleep 6
monitor_of() { json_num "$DROIDSPACES_HOME/Pids/$1.state" monitor_pid; }
mons=("$(monitor_of bench-none)" "$pid_monitor_nat" "$(monitor_of bench-and)")
for ((i = 0; i < 20; i++)); do
    for m in 0 1 2; do
        read -r rss pss _ < <(mem_sample "${mons[m]}")
        echo "$rss" >>"$SUITE_TMP/rss.$m"
        echo "$pss" >>"$SUITE_TMP/pss.$m"
    done
    sleep 0.3
done
none_rss=$(median_kb "$SUITE_TMP/rss.0") none_pss=$(median_kb "$SUITE_TMP/pss.0")
nat_rss=$(median_kb "$SUITE_TMP/rss.1") nat_pss=$(median_kb "$SUITE_TMP/pss.1")
and_rss=$(median_kb "$SUITE_TMP/rss.2") and_pss=$(median_kb "$SUITE_TMP/pss.2")
and_max=$(sort -n "$SUITE_TMP/rss.2" | tail -1)

cat <<EOF
| row | droidspaces | reference | ratio |
|---|---|---|---|
| start, --net=nat vs --net=none (median of $STARTS, ms) | $nat_ms | $none_ms | $(ratio "$nat_ms" "$none_ms") |
| TCP throughput, NAT container vs host -> outside namespace (Gbit/s) | $nat_gbps | $host_gbps | $(ratio "$nat_gbps" "$host_gbps") |
| monitor RSS, --net=nat vs --net=none (kB) | $nat_rss | $none_rss | $(ratio "$nat_rss" "$none_rss") |
| monitor PSS, --net=nat vs --net=none (kB) | $nat_pss | $none_pss | $(ratio "$nat_pss" "$none_pss") |
| monitor RSS, --net=nat on Android (uplink follower) vs --net=none (kB) | $and_rss | $none_rss | $(ratio "$and_rss" "$none_rss") |
| monitor PSS, --net=nat on Android (uplink follower) vs --net=none (kB) | $and_pss | $none_pss | $(ratio "$and_pss" "$none_pss") |
| monitor RSS peak right after a follower tick, Android vs --net=none (kB) | $and_max | $none_rss | $(ratio "$and_max" "$none_rss") |
EOF
