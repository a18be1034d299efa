#!/usr/bin/env bash
# Side-by-side benchmarks of droidspaces against its peers, measured in the same run.
#
#   sudo bench/run.sh          (or ./build.sh bench, which builds first)
#
# Writes bench/results/REPORT.md (and raw samples in bench/results/raw/) and prints the report
# on stdout; progress goes to stderr. See bench/README.md for what each number means.
#
# Environment:
#   DROIDSPACES_BIN      binary under test (default: build/droidspaces)
#   BENCH_RESULTS        output directory (default: bench/results)
#   BENCH_START_RUNS     busybox start/stop cycles (default 20, at least 20 for the report)
#   BENCH_BOOT_RUNS      systemd boots per runtime, alternating (default 5)
#   BENCH_RUN_RUNS       hyperfine runs for `run /bin/true` vs nsenter (default 200)
#   BENCH_RESTART_RUNS   busybox restarts (default 5)
#   BENCH_BOOT_TIMEOUT   seconds to wait for `running` (default 60)
#
# Everything it creates (containers, nspawn machines, temp dirs, the cgroups nspawn makes) is
# removed on exit, including failure and Ctrl-C; the host's mounts, droidspaces cgroups and
# container processes are compared before/after and any difference is reported.

set -uo pipefail
export LC_ALL=C

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib.sh
source "$BENCH_DIR/lib.sh"

B=${DROIDSPACES_BIN:-$ROOT/build/droidspaces}
RES=${BENCH_RESULTS:-$BENCH_DIR/results}
START_RUNS=${BENCH_START_RUNS:-20}
BOOT_RUNS=${BENCH_BOOT_RUNS:-5}
RUN_RUNS=${BENCH_RUN_RUNS:-200}
RESTART_RUNS=${BENCH_RESTART_RUNS:-5}
BOOT_TIMEOUT=${BENCH_BOOT_TIMEOUT:-60}

# Targets (see README.md).
TARGET_START_MS=20
UPSTREAM_START_MS=117
TARGET_BOOT_RATIO=1.0
TARGET_RUN_RATIO=1.5
TARGET_RSS_KB=1024
TARGET_RESTART_ADDS_MS=20

BB=dsb$$b      # busybox container
SD=dsb$$s      # systemd container
NSM=dsbns$$    # nspawn machine name
WORK=
NSPAWN_PID=
NSPAWN_LEADER=
NSPAWN_USED=0
PROBLEMS=()    # free-text notes for the report
CLEANED=0

problem() {
    PROBLEMS+=("$*")
    warn "$*"
}

# ---------------------------------------------------------------------------------------------
# Cleanup: runs on every exit. Idempotent.
# ---------------------------------------------------------------------------------------------

# Stops an nspawn machine the way systemd does for containers (SIGRTMIN+4 to its PID 1 =
# poweroff), then escalates.
stop_nspawn() {
    [[ -n $NSPAWN_PID ]] || return 0
    if pid_alive "$NSPAWN_PID"; then
        find_nspawn_leader "$NSPAWN_PID" && kill -s SIGRTMIN+4 "$NSPAWN_LEADER" 2>/dev/null
        if ! wait_gone "$NSPAWN_PID" 15; then
            warn "systemd-nspawn $NSPAWN_PID did not exit after SIGRTMIN+4: terminating it"
            kill -TERM "$NSPAWN_PID" 2>/dev/null
            wait_gone "$NSPAWN_PID" 10 || kill -KILL "$NSPAWN_PID" 2>/dev/null
        fi
    fi
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID=
}

# PIDs of the processes running this run's private copy of the binary: our clients (start,
# stop, run, ...) and our monitors (they re-exec the same file). Nobody else runs that file, so
# this is exact even with other containers on the machine.
our_procs() {
    [[ -n $WORK ]] || return 0
    find /proc -mindepth 2 -maxdepth 2 -name exe -lname "$WORK/droidspaces*" 2>/dev/null |
        awk -F/ '{print $3}' | sort -n
}

is_monitor() {
    local args
    args=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)
    [[ $args == ds-monitor:* ]]
}

# Stops one of our containers through the runtime (when it has a record of it).
stop_ours() {
    local name=$1
    [[ -n ${DROIDSPACES_HOME:-} ]] || return 0
    if [[ -e $DROIDSPACES_HOME/Pids/$name.pid || -e $DROIDSPACES_HOME/Pids/$name.state ]]; then
        timeout -k 5 30 "$B" --name="$name" stop --timeout=10 >>"$WORK/cleanup.log" 2>&1
    fi
}

# Everything of ours that survived `stop`: monitors lose their init (SIGKILL) and are given
# time to clean up after it; anything else running our binary is killed.
sweep_ours() {
    local p init
    for p in $(our_procs); do
        pid_alive "$p" || continue
        if is_monitor "$p"; then
            warn "monitor $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) survived stop: killing its init"
            for init in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
                kill -KILL "$init" 2>/dev/null
            done
            wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null
        else
            kill -TERM "$p" 2>/dev/null
            wait_gone "$p" 5 || kill -KILL "$p" 2>/dev/null
        fi
    done
}

# Interrupted clients first finish what they were doing: an interrupted `start` leaves a monitor
# that is still setting up (not yet named ds-monitor:NAME, no pid file) and must be waited for
# before it can be stopped.
settle_ours() {
    local deadline=$((SECONDS + 5)) p busy
    while ((SECONDS < deadline)); do
        busy=0
        for p in $(our_procs); do
            pid_alive "$p" && ! is_monitor "$p" && busy=1
        done
        ((busy)) || break
        sleep 0.05
    done
    sleep 0.2 # a monitor that has just been named still writes its state file
}

# The directories nspawn leaves in the cgroup trees and /run/systemd (compared with the
# listings taken before the first nspawn boot). Removes only new, empty ones that match what
# nspawn creates (payload/ and supervisor/ next to its own cgroup, /run/systemd/nspawn/*);
# anything else new is reported and left alone, since others may be using this machine.
NSPAWN_CG_REPORT=()
clean_nspawn_leftovers() {
    [[ $NSPAWN_USED == 1 && -f $WORK/nspawn-cg.before ]] || return 0
    find /sys/fs/cgroup -type d 2>/dev/null | sort >"$WORK/nspawn-cg.after"
    find /run/systemd -type d 2>/dev/null | sort >"$WORK/nspawn-run.after"
    local d new other
    new=$(comm -13 "$WORK/nspawn-cg.before" "$WORK/nspawn-cg.after"
        comm -13 "$WORK/nspawn-run.before" "$WORK/nspawn-run.after")
    NSPAWN_CG_REPORT=()
    # Deepest first, so children go before their parents.
    while IFS= read -r d; do
        [[ -n $d ]] || continue
        if [[ $d == *droidspaces* ]]; then
            other+="$d"$'\n'
            continue
        fi
        case "$d" in
        */payload | */payload/* | */supervisor | */supervisor/* | /run/systemd/nspawn | /run/systemd/nspawn/* | /run/systemd)
            if rmdir "$d" 2>/dev/null; then
                NSPAWN_CG_REPORT+=("removed: $d")
            else
                NSPAWN_CG_REPORT+=("could NOT remove (not empty or in use): $d")
            fi
            ;;
        *) other+="$d"$'\n' ;;
        esac
    done < <(printf '%s\n' "$new" | awk 'NF' | awk '{print gsub("/", "/"), $0}' | sort -rn | cut -d' ' -f2-)
    if [[ -n ${other:-} ]]; then
        while IFS= read -r d; do
            [[ -n $d ]] && NSPAWN_CG_REPORT+=("new during the run but not nspawn's pattern, left alone: $d")
        done <<<"$other"
    fi
    NSPAWN_USED=2
}

PROBE_CG=
cg_probe() {
    local root i a b c
    root=$(awk '$3 == "cgroup2" {print $2; exit}' /proc/mounts)
    [[ -n $root && -w $root ]] || return 0
    PROBE_CG=$root/ds-bench-probe.$$
    mkdir "$PROBE_CG" 2>/dev/null || {
        PROBE_CG=
        return 0
    }
    : >"$RAW/cg_write_cold.us"
    : >"$RAW/cg_write_warm.us"
    for ((i = 0; i < 5; i++)); do
        sleep 0.3
        # shellcheck disable=SC2030,SC2031
        (
            stamp a
            echo "$BASHPID" >"$PROBE_CG/cgroup.procs"
            stamp b
            echo "$BASHPID" >"$PROBE_CG/cgroup.procs"
            stamp c
            echo $((b - a)) >>"$RAW/cg_write_cold.us"
            echo $((c - b)) >>"$RAW/cg_write_warm.us"
        )
    done
    remove_probe_cg
}
remove_probe_cg() {
    [[ -n ${PROBE_CG:-} && -d $PROBE_CG ]] || return 0
    local i
    for ((i = 0; i < 50; i++)); do
        rmdir "$PROBE_CG" 2>/dev/null && break
        sleep 0.02
    done
    [[ -d $PROBE_CG ]] && problem "could not remove the probe cgroup $PROBE_CG"
    PROBE_CG=
}

cleanup() {
    local rc=$?
    ((CLEANED)) && return
    CLEANED=1
    trap '' INT TERM HUP
    [[ -n $WORK && -d $WORK ]] || exit "$rc"
    log "cleaning up"
    stop_nspawn
    settle_ours
    stop_ours "$BB"
    stop_ours "$SD"
    sweep_ours
    sleep 0.1
    [[ -z $(our_procs) ]] || problem "processes running the bench's binary survived cleanup: $(our_procs | tr '\n' ' ')"
    clean_nspawn_leftovers
    remove_probe_cg

    # Safety net: nothing may stay mounted under the work dir before it is deleted.
    local m leaked_mounts
    leaked_mounts=$(awk -v w="$WORK" 'index($5, w "/") == 1 || $5 == w {print $5}' /proc/self/mountinfo | sort -r)
    if [[ -n $leaked_mounts ]]; then
        problem "mounts left under $WORK after stopping everything: $(echo "$leaked_mounts" | tr '\n' ' ')"
        while IFS= read -r m; do umount -l "$m" 2>/dev/null; done <<<"$leaked_mounts"
    fi

    host_snapshot "$WORK" >"$WORK/host.after"
    if ! diff -u "$WORK/host.before" "$WORK/host.after" >"$WORK/host.diff"; then
        local ours
        ours=$(grep -E '^[+-][^+-]' "$WORK/host.diff" | grep -E "$BB|$SD|$NSM|$WORK|ds-bench-probe|payload|supervisor" || true)
        if [[ -n $ours ]]; then
            LEAK_NOTE="**WARNING: the host differs after the run in ways that look like this bench's:**"$'\n```\n'"$ours"$'\n```'
        else
            LEAK_NOTE="WARNING: the host differs after the run, but none of it names this run's containers or work dir (probably concurrent activity by others):"$'\n```\n'"$(grep -E '^[+-][^+-]' "$WORK/host.diff")"$'\n```'
        fi
        warn "host state differs before/after:"
        grep -E '^[+-][^+-]' "$WORK/host.diff" >&2
    else
        LEAK_NOTE="Host state before and after the run is identical (mounts, droidspaces cgroups, container processes)."
    fi

    # Written only when the run got far enough to have a report.
    if [[ -n ${REPORT_READY:-} ]]; then
        finish_report
    elif [[ -d $RES ]]; then
        echo "The bench did not finish (exit $rc). Cleanup: $LEAK_NOTE" >"$RES/REPORT.md"
        cat "$RES/REPORT.md"
    fi

    if [[ -z $(awk -v w="$WORK" 'index($5, w "/") == 1 {print}' /proc/self/mountinfo) ]]; then
        rm -rf --one-file-system "$WORK"
    else
        warn "not deleting $WORK: something is still mounted under it"
    fi
    exit "$rc"
}

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ---------------------------------------------------------------------------------------------
# Preflight
# ---------------------------------------------------------------------------------------------

[[ $EUID -eq 0 ]] || {
    echo "bench/run.sh must run as root" >&2
    exit 1
}
[[ -x $B ]] || {
    echo "droidspaces binary not found at $B (./build.sh, or set DROIDSPACES_BIN)" >&2
    exit 1
}
B_SRC=$(readlink -f "$B")
B=$B_SRC
for tool in nsenter unshare chroot awk; do
    command -v "$tool" >/dev/null || {
        echo "missing $tool" >&2
        exit 1
    }
done
HAVE_HYPERFINE=0
HAVE_NSPAWN=0
command -v hyperfine >/dev/null && HAVE_HYPERFINE=1
command -v systemd-nspawn >/dev/null && HAVE_NSPAWN=1
((HAVE_HYPERFINE)) || problem "hyperfine not installed: hyperfine-based rows are n/a (./build.sh deps)"
((HAVE_NSPAWN)) || problem "systemd-nspawn not installed: nspawn rows are n/a (./build.sh deps)"
((START_RUNS >= 20)) || problem "BENCH_START_RUNS=$START_RUNS is below the 20 the report asks for"

mkdir -p "$RES"
rm -rf "$RES/raw"
mkdir -p "$RES/raw"
RAW=$RES/raw
WORK=$(mktemp -d /tmp/ds-bench.XXXXXX)
export DROIDSPACES_HOME=$WORK/home
mkdir -p "$DROIDSPACES_HOME"
# A private copy of the binary: others may rebuild build/droidspaces while the bench runs, and
# every number in one report must come from one binary.
B=$WORK/droidspaces
for ((try = 0; ; try++)); do
    # A copy taken in the middle of someone's link step would be truncated: check it runs.
    if cp "$B_SRC" "$B" 2>/dev/null && cmp -s "$B_SRC" "$B" && "$B" version >/dev/null 2>&1; then
        break
    fi
    ((try >= 30)) && {
        echo "could not take a working copy of $B_SRC (being rebuilt?)" >&2
        exit 1
    }
    log "binary not usable yet (rebuild in progress?), retrying in 2 s"
    sleep 2
done
B_SHA=$(sha256sum "$B" | cut -c1-16)
B_MTIME=$(date -u -r "$B_SRC" '+%Y-%m-%d %H:%M:%S UTC')
host_snapshot "$WORK" >"$WORK/host.before"
LOG=$RAW/runtime.log
: >"$LOG"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
OTHER_MONITORS=$(ps -eo args= | grep -c '^ds-monitor' || true)
OTHER_NSPAWN=$(ps -eo args= | grep -c '^systemd-nspawn' || true)
BENCH_T0=$SECONDS

log "binary: $B_SRC (private copy $B, sha256 $B_SHA…)"
log "work dir: $WORK"

# ---------------------------------------------------------------------------------------------
# Fixtures: private copies (the cache is never booted in place).
# ---------------------------------------------------------------------------------------------
log "fixtures"
FIX=$("$ROOT/tests/fixtures/build.sh" busybox systemd) || {
    echo "could not get the rootfs fixtures (tests/fixtures/build.sh)" >&2
    exit 1
}
BB_SRC=$(sed -n 's/^busybox=//p' <<<"$FIX")
SD_SRC=$(sed -n 's/^systemd=//p' <<<"$FIX")
mkdir -p "$WORK/bb" "$WORK/sd"
cp -a --reflink=auto "$BB_SRC" "$WORK/bb/rootfs" || exit 1
cp -a --reflink=auto "$SD_SRC" "$WORK/sd/rootfs" || exit 1
BBROOT=$WORK/bb/rootfs
SDROOT=$WORK/sd/rootfs

# ---------------------------------------------------------------------------------------------
# Helpers around our runtime
# ---------------------------------------------------------------------------------------------

# init_pid NAME: from the pid file the runtime writes (no exec), else `droidspaces pid`.
init_pid() {
    local p=
    read -r p <"$DROIDSPACES_HOME/Pids/$1.pid" 2>/dev/null || true
    [[ $p =~ ^[0-9]+$ ]] || p=$("$B" --name="$1" pid 2>/dev/null)
    [[ $p =~ ^[0-9]+$ ]] && echo "$p"
}

monitor_pid() {
    json_num "$DROIDSPACES_HOME/Pids/$1.state" monitor_pid
}

# check_monitor NAME PID: the monitor must be the `ds-monitor:NAME` process.
check_monitor() {
    local args
    args=$(tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null)
    [[ $args == "ds-monitor:$1"* ]] || problem "monitor PID $2 of $1 is '$args', expected 'ds-monitor:$1'"
}

# poll_running PID DEADLINE_US: polls `systemctl is-system-running` through nsenter every
# ~10 ms. Sets BOOT_STATE; returns 0 once it says running.
poll_running() {
    local pid=$1 deadline=$2 now
    BOOT_STATE=
    while :; do
        BOOT_STATE=$(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null)
        [[ $BOOT_STATE == running ]] && return 0
        stamp now
        ((now > deadline)) && return 1
        pid_alive "$pid" || {
            BOOT_STATE="(init $pid exited)"
            return 1
        }
        sleep 0.01
    done
}

# sleep_until_us T: sleeps until the given stamp (no-op if already past).
sleep_until_us() {
    local now
    stamp now
    (($1 > now)) && sleep "$(awk -v d=$(($1 - now)) 'BEGIN {printf "%.3f", d / 1e6}')"
}

# ---------------------------------------------------------------------------------------------
# 6. Binary
# ---------------------------------------------------------------------------------------------
BIN_SIZE=$(stat -c %s "$B")
BIN_FILE=$(file -b "$B" 2>/dev/null || echo "file(1) not installed")

# ---------------------------------------------------------------------------------------------
# Host context: what moving a process into a fresh cgroup2 cgroup costs here. The first
# cgroup.procs write after an idle period waits for an RCU grace period (cgroup_threadgroup_rwsem
# taken for writing); the next one right after is cheap. `start` pays the cold one once.
# ---------------------------------------------------------------------------------------------
log "host: cgroup2 migration cost probe"
cg_probe

# ---------------------------------------------------------------------------------------------
# 1 + 5. busybox start (timed), stop (timed) cycles
# ---------------------------------------------------------------------------------------------
log "busybox: 1 warm-up + $START_RUNS start/stop cycles"
: >"$RAW/start_bb.us"
: >"$RAW/stop_bb.us"
for ((i = 0; i <= START_RUNS; i++)); do
    stamp t0
    "$B" --name="$BB" --rootfs="$BBROOT" --net=none start >>"$LOG" 2>&1
    rc=$?
    stamp t1
    if ((rc != 0)); then
        problem "busybox start failed (exit $rc) in cycle $i; see raw/runtime.log"
        break
    fi
    mon=$(monitor_pid "$BB")
    ((i > 0)) && echo $((t1 - t0)) >>"$RAW/start_bb.us"
    stamp t2
    "$B" --name="$BB" stop >>"$LOG" 2>&1
    rc=$?
    stamp t3
    if ((rc != 0)); then
        problem "busybox stop failed (exit $rc) in cycle $i"
        break
    fi
    ((i > 0)) && echo $((t3 - t2)) >>"$RAW/stop_bb.us"
    if [[ -n $mon ]] && ! wait_gone "$mon" 10; then
        problem "busybox monitor $mon still alive 10 s after stop returned (cycle $i)"
        break
    fi
done

# Peer for context: the bare namespace+chroot recipe.
if ((HAVE_HYPERFINE)); then
    log "peer: unshare + chroot /bin/true (hyperfine)"
    hyperfine -N --style basic --warmup 5 --runs 50 \
        --export-json "$RAW/unshare.json" --export-csv "$RAW/unshare.csv" \
        -n unshare "unshare --pid --mount --uts --ipc --fork chroot $BBROOT /bin/true" \
        >"$RAW/unshare.log" 2>&1 || problem "hyperfine unshare+chroot failed: $(tail -3 "$RAW/unshare.log")"
fi

# ---------------------------------------------------------------------------------------------
# 3 + 4 + 5. A running busybox container: monitor memory, run vs nsenter, restart
# ---------------------------------------------------------------------------------------------
log "busybox: monitor memory, run vs nsenter, restart x$RESTART_RUNS"
RUN_STATUS="not measured"
MEM_BB="NA NA NA NA"
: >"$RAW/restart_bb.us"
stamp t0
if "$B" --name="$BB" --rootfs="$BBROOT" --net=none start >>"$LOG" 2>&1; then
    P=$(init_pid "$BB")
    mon=$(monitor_pid "$BB")
    check_monitor "$BB" "$mon"
    sleep_until_us $((t0 + 2000000))
    MEM_BB=$(mem_sample "$mon")
    echo "$MEM_BB" >"$RAW/mem_monitor_bb.kb"

    run_out=$("$B" --name="$BB" run /bin/true 2>&1)
    run_rc=$?
    if grep -qi 'not implemented' <<<"$run_out"; then
        RUN_STATUS="n/a: \`run\` says not implemented ($(head -1 <<<"$run_out"))"
        problem "droidspaces run: not implemented yet ($(head -1 <<<"$run_out"))"
    elif ((run_rc != 0)); then
        RUN_STATUS="n/a: \`run /bin/true\` failed with exit $run_rc: $(head -1 <<<"$run_out")"
        problem "droidspaces run /bin/true failed (exit $run_rc): $(head -1 <<<"$run_out")"
    else
        RUN_STATUS=ok
    fi
    if ((HAVE_HYPERFINE)); then
        cmds=()
        [[ $RUN_STATUS == ok ]] && cmds+=(-n run "$B --name=$BB run /bin/true")
        cmds+=(-n nsenter "nsenter -t $P -a /bin/true")
        hyperfine -N --style basic --warmup 5 --runs "$RUN_RUNS" \
            --export-json "$RAW/run-vs-nsenter.json" --export-csv "$RAW/run-vs-nsenter.csv" \
            "${cmds[@]}" >"$RAW/run-vs-nsenter.log" 2>&1 ||
            problem "hyperfine run vs nsenter failed: $(tail -3 "$RAW/run-vs-nsenter.log")"
    fi

    for ((i = 1; i <= RESTART_RUNS; i++)); do
        stamp t0
        "$B" --name="$BB" restart >>"$LOG" 2>&1
        rc=$?
        stamp t1
        if ((rc != 0)); then
            problem "busybox restart failed (exit $rc) in run $i"
            break
        fi
        echo $((t1 - t0)) >>"$RAW/restart_bb.us"
    done
    mon=$(monitor_pid "$BB")
    "$B" --name="$BB" stop >>"$LOG" 2>&1 || problem "busybox stop after the restarts failed"
    [[ -n $mon ]] && { wait_gone "$mon" 10 || problem "busybox monitor $mon survived stop"; }
else
    problem "busybox start for the run/memory/restart section failed; see raw/runtime.log"
fi

# ---------------------------------------------------------------------------------------------
# 2 + 4 + 5. systemd: boot to `running`, ours vs nspawn, alternating, same rootfs copy
# ---------------------------------------------------------------------------------------------
: >"$RAW/boot_ours.us"
: >"$RAW/start_sd.us"
: >"$RAW/stop_sd.us"
: >"$RAW/userspace_ours.ms"
: >"$RAW/mem_monitor_sd.rss"
: >"$RAW/mem_monitor_sd.pss"
: >"$RAW/mem_monitor_sd.file"
: >"$RAW/mem_monitor_sd.anon"
: >"$RAW/boot_nspawn.us"
: >"$RAW/stop_nspawn.us"
: >"$RAW/userspace_nspawn.ms"
: >"$RAW/mem_nspawn.rss"
: >"$RAW/mem_nspawn.pss"

# boot_ours RECORD(0|1)
boot_ours() {
    local rec=$1 t0 t1 t2 t3 t4 p mon us mem
    stamp t0
    "$B" --name="$SD" --rootfs="$SDROOT" --net=none start >>"$LOG" 2>&1 || {
        problem "systemd start failed; see raw/runtime.log"
        return 1
    }
    stamp t1
    p=$(init_pid "$SD")
    if ! poll_running "$p" $((t0 + BOOT_TIMEOUT * 1000000)); then
        problem "ours: systemd did not reach 'running' within ${BOOT_TIMEOUT}s (last state: '${BOOT_STATE}')"
        nsenter -t "$p" -a systemctl --failed --no-legend >>"$LOG" 2>&1
        "$B" --name="$SD" stop >>"$LOG" 2>&1
        return 1
    fi
    stamp t2
    mon=$(monitor_pid "$SD")
    check_monitor "$SD" "$mon"
    us=$(systemd_userspace_ms "$p")
    sleep_until_us $((t0 + 2000000))
    mem=$(mem_sample "$mon")
    stamp t3
    "$B" --name="$SD" stop >>"$LOG" 2>&1 || problem "systemd stop failed"
    stamp t4
    [[ -n $mon ]] && { wait_gone "$mon" 15 || problem "systemd monitor $mon survived stop"; }
    if ((rec)); then
        echo $((t1 - t0)) >>"$RAW/start_sd.us"
        echo $((t2 - t0)) >>"$RAW/boot_ours.us"
        echo $((t4 - t3)) >>"$RAW/stop_sd.us"
        [[ $us != NA ]] && echo "$us" >>"$RAW/userspace_ours.ms"
        read -r r s rf ra <<<"$mem"
        [[ $r != NA ]] && echo "$r" >>"$RAW/mem_monitor_sd.rss"
        [[ $s != NA ]] && echo "$s" >>"$RAW/mem_monitor_sd.pss"
        [[ $rf != NA ]] && echo "$rf" >>"$RAW/mem_monitor_sd.file"
        [[ $ra != NA ]] && echo "$ra" >>"$RAW/mem_monitor_sd.anon"
    fi
    log "  ours:   running after $(((t2 - t0) / 1000)) ms (start returned after $(((t1 - t0) / 1000)) ms), stop $(((t4 - t3) / 1000)) ms"
    return 0
}

boot_nspawn() {
    local rec=$1 t0 t2 t3 t4 us mem deadline now
    stamp t0
    systemd-nspawn -D "$SDROOT" -b --register=no --keep-unit --console=passive \
        --private-network -M "$NSM" </dev/null >>"$RAW/nspawn.log" 2>&1 &
    NSPAWN_PID=$!
    NSPAWN_LEADER=
    deadline=$((t0 + BOOT_TIMEOUT * 1000000))
    # Same probe as ours, once the leader exists.
    while :; do
        if [[ -z $NSPAWN_LEADER ]]; then
            find_nspawn_leader "$NSPAWN_PID"
        fi
        if [[ -n $NSPAWN_LEADER ]]; then
            BOOT_STATE=$(nsenter -t "$NSPAWN_LEADER" -a systemctl is-system-running 2>/dev/null)
            [[ $BOOT_STATE == running ]] && break
        fi
        stamp now
        if ((now > deadline)) || ! pid_alive "$NSPAWN_PID"; then
            problem "nspawn: systemd did not reach 'running' within ${BOOT_TIMEOUT}s (last state: '${BOOT_STATE:-}'); see raw/nspawn.log"
            stop_nspawn
            return 1
        fi
        sleep 0.01
    done
    stamp t2
    us=$(systemd_userspace_ms "$NSPAWN_LEADER")
    sleep_until_us $((t0 + 2000000))
    mem=$(mem_sample "$NSPAWN_PID")
    stamp t3
    kill -s SIGRTMIN+4 "$NSPAWN_LEADER"
    wait "$NSPAWN_PID"
    local rc=$?
    stamp t4
    ((rc != 0)) && problem "systemd-nspawn exited with status $rc after SIGRTMIN+4"
    NSPAWN_PID=
    if ((rec)); then
        echo $((t2 - t0)) >>"$RAW/boot_nspawn.us"
        echo $((t4 - t3)) >>"$RAW/stop_nspawn.us"
        [[ $us != NA ]] && echo "$us" >>"$RAW/userspace_nspawn.ms"
        read -r r s _ <<<"$mem"
        [[ $r != NA ]] && echo "$r" >>"$RAW/mem_nspawn.rss"
        [[ $s != NA ]] && echo "$s" >>"$RAW/mem_nspawn.pss"
    fi
    log "  nspawn: running after $(((t2 - t0) / 1000)) ms, stop $(((t4 - t3) / 1000)) ms"
    return 0
}

log "systemd: 1 warm-up each + $BOOT_RUNS boots each, alternating ours / nspawn"
if ((HAVE_NSPAWN)); then
    find /sys/fs/cgroup -type d 2>/dev/null | sort >"$WORK/nspawn-cg.before"
    find /run/systemd -type d 2>/dev/null | sort >"$WORK/nspawn-run.before"
    NSPAWN_USED=1
fi
: >"$RAW/nspawn.log"
for ((i = 0; i <= BOOT_RUNS; i++)); do
    rec=$((i > 0 ? 1 : 0))
    boot_ours "$rec" || break
    if ((HAVE_NSPAWN)); then
        boot_nspawn "$rec" || break
    fi
done
clean_nspawn_leftovers

# Scale (row 7): SCALE_COUNT busybox containers at once, `show --json` p99 and memory per
# container (bench/scale.sh, its own private workspace; SCALE_COUNT=0 skips it). The list
# operation of the request layer is measured the same way once it exists.
SCALE_ROWS=""
if ((${SCALE_COUNT:-50} > 0)); then
    log "scale: ${SCALE_COUNT:-50} busybox containers at once"
    if ! SCALE_ROWS=$(COUNT=${SCALE_COUNT:-50} DROIDSPACES_BIN="$B" "$ROOT/bench/scale.sh" 2>>"$RAW/scale.log"); then
        problem "bench/scale.sh failed (log: $RAW/scale.log)"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
read -r N_START START_MED START_MIN START_MAX <<<"$(stats "$RAW/start_bb.us")"
read -r N_STOPBB STOPBB_MED STOPBB_MIN STOPBB_MAX <<<"$(stats "$RAW/stop_bb.us")"
read -r N_RESTART RESTART_MED RESTART_MIN RESTART_MAX <<<"$(stats "$RAW/restart_bb.us")"
# restart = the guest's shutdown + our handover + start; stop = the guest's shutdown + our stop.
RESTART_ADDS=NA
[[ $RESTART_MED != NA && $STOPBB_MED != NA ]] &&
    RESTART_ADDS=$(awk -v r="$RESTART_MED" -v s="$STOPBB_MED" 'BEGIN {printf "%.1f", r - s}')
read -r N_BOOT BOOT_MED BOOT_MIN BOOT_MAX <<<"$(stats "$RAW/boot_ours.us")"
read -r N_NBOOT NBOOT_MED NBOOT_MIN NBOOT_MAX <<<"$(stats "$RAW/boot_nspawn.us")"
read -r N_STARTSD STARTSD_MED STARTSD_MIN STARTSD_MAX <<<"$(stats "$RAW/start_sd.us")"
read -r N_STOPSD STOPSD_MED STOPSD_MIN STOPSD_MAX <<<"$(stats "$RAW/stop_sd.us")"
read -r N_NSTOP NSTOP_MED NSTOP_MIN NSTOP_MAX <<<"$(stats "$RAW/stop_nspawn.us")"
read -r N_CG CG_COLD_MED CG_COLD_MIN CG_COLD_MAX <<<"$(stats "$RAW/cg_write_cold.us")"
read -r _ CG_WARM_MED _ _ <<<"$(stats "$RAW/cg_write_warm.us")"
UNSHARE_MED=$(hyperfine_median "$RAW/unshare.csv" unshare)
RUN_MED=$(hyperfine_median "$RAW/run-vs-nsenter.csv" run)
NSENTER_MED=$(hyperfine_median "$RAW/run-vs-nsenter.csv" nsenter)
[[ $RUN_STATUS == ok ]] || RUN_MED=NA
US_OURS=$(median_kb "$RAW/userspace_ours.ms")
US_NSPAWN=$(median_kb "$RAW/userspace_nspawn.ms")
read -r BB_RSS BB_PSS BB_RFILE BB_RANON <<<"$MEM_BB"
SD_RFILE=$(median_kb "$RAW/mem_monitor_sd.file")
SD_RANON=$(median_kb "$RAW/mem_monitor_sd.anon")
SD_RSS=$(median_kb "$RAW/mem_monitor_sd.rss")
SD_PSS=$(median_kb "$RAW/mem_monitor_sd.pss")
NS_RSS=$(median_kb "$RAW/mem_nspawn.rss")
NS_PSS=$(median_kb "$RAW/mem_nspawn.pss")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$((SECONDS - BENCH_T0))

na() { [[ $1 == NA ]] && echo "n/a" || echo "$1$2"; }

finish_report() {
    local f=$RES/REPORT.md git_rev dirty
    git_rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    dirty=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -vc '^??' || true)
    {
        echo "# Droidspaces benchmark report"
        echo
        echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC') · commit \`$git_rev\`$( ((dirty > 0)) && echo " + $dirty modified tracked file(s)") · binary \`$B_SRC\` (mtime $B_MTIME, sha256 \`$B_SHA…\`, run from a private copy)"
        echo
        echo "Host: \`$(uname -sr)\`, $(nproc) CPUs, load avg before/after: $LOAD_BEFORE / $LOAD_AFTER." \
            "Other containers already running at start: $OTHER_MONITORS ds-monitor, $OTHER_NSPAWN systemd-nspawn (they share the CPUs)." \
            "Bench took ${ELAPSED}s."
        echo
        echo "Ratios are ours / peer (lower is better). Times are medians in ms; [min–max] in brackets."
        echo
        echo "| # | metric | ours | peer | ratio | target | verdict | n |"
        echo "|---|---|---|---|---|---|---|---|"
        echo "| 1 | \`start\` busybox (invoke → returns) | $(na "$START_MED" " ms") [$START_MIN–$START_MAX] | unshare+chroot /bin/true: $(na "$UNSHARE_MED" " ms") (context only) | $(ratio "$START_MED" "$UNSHARE_MED") | < $TARGET_START_MS ms (upstream ~$UPSTREAM_START_MS ms: ratio $(ratio "$START_MED" "$UPSTREAM_START_MS")) | $(verdict "$START_MED" lt "$TARGET_START_MS") | $N_START / 50 |"
        echo "| 1b | host: cold write to a new cgroup2 \`cgroup.procs\` (warm: $(na "$CG_WARM_MED" " ms")) | $(na "$CG_COLD_MED" " ms") [$CG_COLD_MIN–$CG_COLD_MAX] | | | context: what \`clone3(CLONE_INTO_CGROUP)\` saves row 1 | | $N_CG |"
        echo "| 2 | systemd boot → \`running\` | $(na "$BOOT_MED" " ms") [$BOOT_MIN–$BOOT_MAX] | systemd-nspawn -b: $(na "$NBOOT_MED" " ms") [$NBOOT_MIN–$NBOOT_MAX] | **$(ratio "$BOOT_MED" "$NBOOT_MED")** | ≤ $TARGET_BOOT_RATIO | $(verdict "$(ratio "$BOOT_MED" "$NBOOT_MED")" le "$TARGET_BOOT_RATIO") | $N_BOOT / $N_NBOOT |"
        echo "| 2a | … of which \`start\` returned (systemd) | $(na "$STARTSD_MED" " ms") [$STARTSD_MIN–$STARTSD_MAX] | | | | | $N_STARTSD |"
        echo "| 2b | … systemd's own \"Startup finished (userspace)\" | $(na "$US_OURS" " ms") | $(na "$US_NSPAWN" " ms") | $(ratio "$US_OURS" "$US_NSPAWN") | context | | $N_BOOT / $N_NBOOT |"
        echo "| 3 | \`run /bin/true\` in running busybox | $( [[ $RUN_STATUS == ok ]] && na "$RUN_MED" " ms" || echo "n/a") | nsenter -t PID -a /bin/true: $(na "$NSENTER_MED" " ms") | **$(ratio "$RUN_MED" "$NSENTER_MED")** | ≤ $TARGET_RUN_RATIO | $(verdict "$(ratio "$RUN_MED" "$NSENTER_MED")" le "$TARGET_RUN_RATIO") | $RUN_RUNS (hyperfine) |"
        echo "| 4a | monitor RSS / PSS, busybox (~2 s after start) | $(na "$BB_RSS" " kB") / $(na "$BB_PSS" " kB") (RSS = file $(na "$BB_RFILE" "") + anon $(na "$BB_RANON" "")) | | | RSS < $TARGET_RSS_KB kB | $(verdict "$BB_RSS" lt "$TARGET_RSS_KB") | 1 |"
        echo "| 4b | monitor RSS / PSS, systemd (~2 s after start) | $(na "$SD_RSS" " kB") / $(na "$SD_PSS" " kB") (RSS = file $(na "$SD_RFILE" "") + anon $(na "$SD_RANON" "")) | systemd-nspawn process: $(na "$NS_RSS" " kB") / $(na "$NS_PSS" " kB") (context) | $(ratio "$SD_RSS" "$NS_RSS") | RSS < $TARGET_RSS_KB kB | $(verdict "$SD_RSS" lt "$TARGET_RSS_KB") | $N_BOOT / $N_NBOOT |"
        echo "| 5a | \`stop\` busybox | $(na "$STOPBB_MED" " ms") [$STOPBB_MIN–$STOPBB_MAX] | | | | | $N_STOPBB |"
        echo "| 5b | \`stop\` systemd | $(na "$STOPSD_MED" " ms") [$STOPSD_MIN–$STOPSD_MAX] | nspawn, SIGRTMIN+4 → exit: $(na "$NSTOP_MED" " ms") [$NSTOP_MIN–$NSTOP_MAX] | $(ratio "$STOPSD_MED" "$NSTOP_MED") | context | | $N_STOPSD / $N_NSTOP |"
        echo "| 5c | \`restart\` busybox | $(na "$RESTART_MED" " ms") [$RESTART_MIN–$RESTART_MAX] | | | | | $N_RESTART |"
        echo "| 5d | what \`restart\` adds to the guest's own shutdown and boot (5c − 5a) | $(na "$RESTART_ADDS" " ms") | | | < $TARGET_RESTART_ADDS_MS ms | $(verdict "$RESTART_ADDS" lt "$TARGET_RESTART_ADDS_MS") | |"
        [[ -n $SCALE_ROWS ]] && printf '%s\n' "$SCALE_ROWS"
        echo "| 6 | binary size | $BIN_SIZE bytes ($(awk -v s="$BIN_SIZE" 'BEGIN {printf "%.2f MiB", s / 1048576}')) | | | | | |"
        echo
        echo "\`file\`: $BIN_FILE"
        echo
        if [[ $RUN_STATUS != ok ]]; then
            echo "Row 3: $RUN_STATUS"
            echo
        fi
        echo "## Notes"
        echo
        echo "- Row 1's peer does not boot anything (no init, no monitor, no cgroup, no /dev); it is the floor for namespaces + chroot + exec on this host."
        echo "- Busybox \`stop\`/\`restart\` include busybox init's own shutdown sequence, which sleeps ~1 s after SIGTERM-ing everything and ~1 s before powering off."
        echo "- Row 4: the monitor runs the bench's private copy of the binary, so nothing else shares its file pages and PSS ≈ RSS (the unshared cost). \"file\" is the static binary's pages mapped in (fault-around maps 64 kB around each touched page); \"anon\" is heap + stack."
        echo "- Row 2 uses one rootfs copy for both runtimes, booted alternately; the first boot of each was a discarded warm-up. The probe for both is \`nsenter -t PID -a systemctl is-system-running\` every ~10 ms."
        echo
        echo "## Leftovers"
        echo
        echo "${LEAK_NOTE:-not checked}"
        echo
        if ((${#NSPAWN_CG_REPORT[@]})); then
            echo "systemd-nspawn left these behind (compared with \`find /sys/fs/cgroup /run/systemd -type d\` before its first boot):"
            echo
            printf -- '- `%s`\n' "${NSPAWN_CG_REPORT[@]}"
        elif [[ $NSPAWN_USED == 2 ]]; then
            echo "systemd-nspawn left no new directories under /sys/fs/cgroup or /run/systemd."
        fi
        echo
        echo "## Problems seen during the run"
        echo
        if ((${#PROBLEMS[@]})); then
            printf -- '- %s\n' "${PROBLEMS[@]}"
        else
            echo "None."
        fi
        echo
        echo "Raw samples (µs per line), hyperfine JSON/CSV and logs: \`$RAW/\`."
    } >"$f"
    cat "$f"
}

REPORT_READY=1
# The report is written by cleanup() (trap EXIT), after the leak check, so it can include it.
exit 0
