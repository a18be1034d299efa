#!/usr/bin/env bash
# Scale: COUNT (50) busybox containers running at once. Measures `show --json` (the listing
# the server will use; issue 8 asks p99 < 20 ms) over SAMPLES calls, and the memory each
# container costs the host (monitor RSS + init RSS, and PSS). Prints one markdown row per
# figure (bench/run.sh appends them to its report) and checks the host is clean afterwards.
#
# Environment: DROIDSPACES_BIN (default build/droidspaces), COUNT, SAMPLES. Needs root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${DROIDSPACES_BIN:-$ROOT/build/droidspaces}
COUNT=${COUNT:-50}
SAMPLES=${SAMPLES:-200}
TAG="scale-$$"
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

WORK=$(mktemp -d /tmp/ds-scale.XXXXXX)
export DROIDSPACES_HOME="$WORK/home"
mkdir -p "$DROIDSPACES_HOME"
ds() { timeout --foreground -k 5 120 "$B" "$@"; }

names() {
    local i
    for i in $(seq 1 "$COUNT"); do printf '%s-%02d\n' "$TAG" "$i"; done
}

cleanup() {
    local list
    list=$(names | paste -sd,)
    ds --name="$list" stop --timeout=10 >/dev/null 2>&1 || true
    local f
    for f in "$DROIDSPACES_HOME"/Pids/*.pid; do
        [ -e "$f" ] || continue
        ds --name="$(basename "$f" .pid)" stop --timeout=10 >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

line=$("$ROOT/tests/fixtures/build.sh" busybox)
SRC=${line#*=}

booted() {
    local pid
    pid=$(ds --name="$1" pid 2>/dev/null) && [ -e "/proc/$pid/root/run/booted" ]
}

stamp t0
for name in $(names); do
    mkdir -p "$WORK/$name"
    cp -a --reflink=auto "$SRC" "$WORK/$name/rootfs"
    ds --name="$name" --rootfs="$WORK/$name/rootfs" --net=none start >/dev/null
done
for name in $(names); do
    deadline=$((SECONDS + 60))
    until booted "$name"; do
        ((SECONDS < deadline)) || {
            log "$name did not boot"
            exit 1
        }
        sleep 0.05
    done
done
stamp t1
log "$COUNT containers started and booted in $(((t1 - t0) / 1000)) ms"

running=$(ds show --json | python3 -c 'import json,sys; d=json.load(sys.stdin); c=d.get("containers", d) if isinstance(d, dict) else d; print(len(c))')
log "show --json lists $running containers"

# SAMPLES timed runs of the command into FILE (microseconds, one per line).
time_runs() {
    local file=$1 a b
    shift
    : >"$file"
    for _ in $(seq 1 "$SAMPLES"); do
        stamp a
        "$B" "$@" >/dev/null
        stamp b
        echo $((b - a)) >>"$file"
    done
}
p99_ms() {
    sort -n "$1" | awk '{a[NR]=$1} END {i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; printf "%.2f\n", a[i] / 1000}'
}

time_runs "$WORK/show.us" show --json
read -r n med min max <<<"$(stats "$WORK/show.us")"
p99=$(p99_ms "$WORK/show.us")
# The list operation (every container, running or not, with cgroup usage): what the server's
# GET /api/v1/containers returns.
time_runs "$WORK/list.us" show --all --json
read -r ln lmed lmin lmax <<<"$(stats "$WORK/list.us")"
lp99=$(p99_ms "$WORK/list.us")

# Memory per container: the monitor and the container's init (kB).
: >"$WORK/rss"
: >"$WORK/pss"
for name in $(names); do
    state="$DROIDSPACES_HOME/Pids/$name.state"
    mon=$(sed -n 's/.*"monitor_pid":\([0-9]*\).*/\1/p' "$state")
    init=$(sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' "$state")
    rss=0 pss=0
    for p in $mon $init; do
        r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")
        s=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        rss=$((rss + r)) pss=$((pss + ${s:-0}))
    done
    echo "$rss" >>"$WORK/rss"
    echo "$pss" >>"$WORK/pss"
done
rss=$(median_kb "$WORK/rss")
pss=$(median_kb "$WORK/pss")

# Ten stops at a time: each waits for busybox's own ~2 s shutdown.
stamp t2
names | xargs -P 10 -I{} timeout -k 5 120 "$B" --name={} stop >/dev/null
stamp t3
log "$COUNT containers stopped (10 stops at a time) in $(((t3 - t2) / 1000)) ms"

left=$(find /sys/fs/cgroup -type d -path "*droidspaces/$TAG*" 2>/dev/null | wc -l)
mons=$(ps -eo args= | grep -c "^ds-monitor:$TAG" || true)
echo "| 7a | \`show --json\` with $COUNT busybox running ($running listed) | p50 $med ms, p99 $p99 ms [$min–$max] | | | p99 < 20 ms | $(verdict "$p99" lt 20) | $n |"
echo "| 7a' | list (\`show --all --json\`, usage from cgroups) with $COUNT running | p50 $lmed ms, p99 $lp99 ms [$lmin–$lmax] | | | p99 < 20 ms | $(verdict "$lp99" lt 20) | $ln |"
echo "| 7b | memory per container (monitor + init), $COUNT running | RSS $rss kB, PSS $pss kB (medians) | | | context | | $COUNT |"
echo "| 7c | leftovers after stopping all $COUNT | $left cgroups, $mons monitors | | | 0 | $( ((left + mons == 0)) && echo PASS || echo FAIL) | |"
((left + mons == 0))
