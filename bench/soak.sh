#!/usr/bin/env bash
# The long loops (./build.sh soak): the lifecycle repeated until leaks and races show.
#
#   1. SD_PAIRS (50) back-to-back `start` + `stop` of the systemd fixture: zero kills (a stop
#      escalated to SIGKILL says "killed"; issue 8).
#   2. CYCLES (100) start/stop cycles of the busybox fixture, half with a directory rootfs and
#      half with an image rootfs (loop devices), then RESTARTS (50) `restart`s of one container.
#   Before and after: the host's mounts, loop devices, droidspaces cgroups, the process list of
#   ours and the descriptors of a long-lived witness container's monitor (running throughout)
#   must be identical. Prints the figures; exits non-zero on any kill or difference.
#
# Environment: DROIDSPACES_BIN (default build/droidspaces), SD_PAIRS, CYCLES, RESTARTS,
# SKIP_SYSTEMD=1. Needs root. Every container gets --net=none and a private DROIDSPACES_HOME.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${DROIDSPACES_BIN:-$ROOT/build/droidspaces}
SD_PAIRS=${SD_PAIRS:-50}
CYCLES=${CYCLES:-100}
RESTARTS=${RESTARTS:-50}
TAG="soak-$$"

log() { printf '[soak] %s\n' "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

WORK=$(mktemp -d /tmp/ds-soak.XXXXXX)
export DROIDSPACES_HOME="$WORK/home"
mkdir -p "$DROIDSPACES_HOME"

ds() { timeout --foreground -k 5 120 "$B" "$@"; }

cleanup() {
    local f name
    for f in "$DROIDSPACES_HOME"/Pids/*.pid; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .pid)
        ds --name="$name" stop --timeout=10 >/dev/null 2>&1 || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

fixture() {
    local line
    line=$("$ROOT/tests/fixtures/build.sh" "$1") || die "fixture $1"
    mkdir -p "$WORK/$1"
    cp -a --reflink=auto "${line#*=}" "$WORK/$1/rootfs"
    echo "$WORK/$1/rootfs"
}

# Our part of the host: mounts under the workspace or of our image, loop devices of our image,
# cgroups of our containers, processes of ours (monitors and what runs in our cgroups).
snapshot() {
    echo "# mounts"
    awk -v w="$WORK/" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort
    echo "# loop devices"
    losetup -j "$IMAGE" 2>/dev/null | sort
    echo "# cgroups"
    find /sys/fs/cgroup -type d -path "*droidspaces/$TAG*" 2>/dev/null | sort
    echo "# processes"
    ps -eo pid=,args= | awk -v t="ds-monitor:$TAG" 'index($2, t) == 1' | sort
    local cg
    for cg in $(find /sys/fs/cgroup -type d -path "*droidspaces/$TAG*" 2>/dev/null); do
        cat "$cg/cgroup.procs" 2>/dev/null
    done | sort -n
    echo "# witness monitor fds"
    ls -l "/proc/$WITNESS_MONITOR/fd" 2>/dev/null | awk 'NR > 1 {print $9, $10, $11}' | sort
}

booted() {
    local pid
    pid=$(ds --name="$1" pid 2>/dev/null) && [ -e "/proc/$pid/root/run/booted" ]
}
wait_booted() {
    local deadline=$((SECONDS + 30))
    until booted "$1"; do
        ((SECONDS < deadline)) || die "$1 did not boot"
        sleep 0.05
    done
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

BB=$(fixture busybox)
IMAGE="$WORK/bb.img"
mkfs.ext4 -q -F -d "$BB" "$IMAGE" 64M

# The witness runs through everything: its monitor's descriptors must not grow.
ds --name="$TAG-witness" --rootfs="$BB" --net=none start >/dev/null
wait_booted "$TAG-witness"
WITNESS_MONITOR=$(sed -n 's/.*"monitor_pid":\([0-9]*\).*/\1/p' "$DROIDSPACES_HOME/Pids/$TAG-witness.state")
snapshot >"$WORK/before"
FAILS=0

# --- 1. systemd start+stop pairs -------------------------------------------------------------
if [ "${SKIP_SYSTEMD:-0}" != 1 ]; then
    SD=$(fixture systemd)
    kills=0 t0=$(now_ms)
    for i in $(seq 1 "$SD_PAIRS"); do
        ds --name="$TAG-sd" --rootfs="$SD" --net=none start >/dev/null
        out=$(ds --name="$TAG-sd" stop --timeout=20 2>&1) || die "stop $i: $out"
        if [[ $out == *killed* ]]; then
            kills=$((kills + 1))
            log "pair $i: $out"
        fi
    done
    t=$(($(now_ms) - t0))
    log "systemd: $SD_PAIRS start+stop pairs, $kills killed, $((t / SD_PAIRS)) ms per pair (${t} ms)"
    ((kills == 0)) || FAILS=$((FAILS + 1))
fi

# --- 2. busybox start/stop cycles and restarts ------------------------------------------------
t0=$(now_ms) kills=0
for i in $(seq 1 "$CYCLES"); do
    if ((i % 2)); then src=(--rootfs="$BB"); else src=(--rootfs-img="$IMAGE"); fi
    ds --name="$TAG-bb" "${src[@]}" --net=none start >/dev/null
    wait_booted "$TAG-bb"
    out=$(ds --name="$TAG-bb" stop 2>&1) || die "stop $i: $out"
    [[ $out != *killed* ]] || kills=$((kills + 1))
done
t=$(($(now_ms) - t0))
log "busybox: $CYCLES start/stop cycles (dir and image alternately), $kills killed, $((t / CYCLES)) ms per cycle"
((kills == 0)) || FAILS=$((FAILS + 1))

t0=$(now_ms)
ds --name="$TAG-rs" --rootfs-img="$IMAGE" --net=none start >/dev/null
wait_booted "$TAG-rs"
for i in $(seq 1 "$RESTARTS"); do
    ds --name="$TAG-rs" --rootfs-img="$IMAGE" --net=none restart >/dev/null || die "restart $i"
    wait_booted "$TAG-rs"
done
ds --name="$TAG-rs" stop >/dev/null
t=$(($(now_ms) - t0))
log "busybox: $RESTARTS restarts of one image container, $((t / RESTARTS)) ms per restart"

# --- the host, before and after ---------------------------------------------------------------
snapshot >"$WORK/after"
if ! diff -u "$WORK/before" "$WORK/after" >"$WORK/diff"; then
    log "the host changed:"
    cat "$WORK/diff" >&2
    FAILS=$((FAILS + 1))
else
    log "mounts, loop devices, cgroups, processes and the witness monitor's $(grep -c . <(sed -n '/# witness/,$p' "$WORK/before") ) fd lines identical before and after"
fi
ds --name="$TAG-witness" stop >/dev/null
((FAILS == 0)) || die "$FAILS check(s) failed"
log "all checks passed"
