# Shared helpers for the bats suites. Load with: load helpers
#
# Each suite gets a private DROIDSPACES_HOME and a leak snapshot in setup_file; teardown_file
# stops what the suite started and fails if the host's mounts, loop devices, droidspaces cgroups
# or monitor processes differ from before the suite.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DROIDSPACES_BIN=${DROIDSPACES_BIN:-$REPO_ROOT/build/droidspaces}
export DROIDSPACES_BIN

# Every runtime invocation gets a hard timeout, so a hang fails the test instead of the run.
ds() {
    timeout --foreground -k 5 "${DS_TIMEOUT:-90}" "$DROIDSPACES_BIN" "$@"
}

# Polls `"$@"` until it succeeds or `seconds` pass. Usage: wait_until SECONDS CMD...
wait_until() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            echo "timed out after ${seconds}s waiting for: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

# A fresh copy of a fixture rootfs (tests must not boot the shared cache). Prints its path.
fixture_copy() {
    local name=$1 dest=$2 line src
    line=$("$REPO_ROOT/tests/fixtures/build.sh" "$name") || return 1
    src=${line#*=}
    mkdir -p "$dest"
    cp -a --reflink=auto "$src" "$dest/rootfs"
    echo "$dest/rootfs"
}

# What the host looks like, for the leak check.
host_snapshot() {
    echo "# mounts"
    awk '{print $5}' /proc/self/mountinfo | sort
    echo "# loop devices"
    losetup -a 2>/dev/null | sort
    echo "# droidspaces cgroups"
    find /sys/fs/cgroup -path '*droidspaces*' -type d 2>/dev/null | sort
    echo "# monitors"
    ps -eo args= | grep '^ds-monitor' | sort || true
}

suite_setup() {
    DROIDSPACES_HOME=$(mktemp -d /tmp/ds-test.XXXXXX)
    export DROIDSPACES_HOME
    SUITE_TMP=$(mktemp -d /tmp/ds-suite.XXXXXX)
    export SUITE_TMP
    host_snapshot >"$SUITE_TMP/host.before"
}

# Stops every container this suite's workspace knows about, by the runtime first and by PID
# (only our own monitors and inits) if that fails.
stop_suite_containers() {
    local pidfile name state
    for pidfile in "$DROIDSPACES_HOME"/Pids/*.pid; do
        [ -e "$pidfile" ] || continue
        name=$(basename "$pidfile" .pid)
        ds --name="$name" stop --timeout=10 >/dev/null 2>&1 && continue
        state="$DROIDSPACES_HOME/Pids/$name.state"
        [ -f "$state" ] || continue
        local init monitor
        init=$(sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' "$state")
        monitor=$(monitor_pid "$name")
        [ -n "$init" ] && kill -9 "$init" 2>/dev/null
        [ -n "$monitor" ] && wait_until 10 bash -c "! kill -0 $monitor"
    done
}

suite_teardown() {
    stop_suite_containers
    host_snapshot >"$SUITE_TMP/host.after"
    local leaks=0
    if ! diff -u "$SUITE_TMP/host.before" "$SUITE_TMP/host.after" >"$SUITE_TMP/leaks"; then
        echo "host state changed during the suite:" >&2
        cat "$SUITE_TMP/leaks" >&2
        leaks=1
    fi
    rm -rf "$DROIDSPACES_HOME" "$SUITE_TMP"
    return "$leaks"
}

# The leak check as a test of its own (a teardown_file failure is easy to miss).
assert_host_clean() {
    host_snapshot >"$SUITE_TMP/host.now"
    diff -u "$SUITE_TMP/host.before" "$SUITE_TMP/host.now"
}

# Runs a command inside a running container and prints its output.
in_container() {
    local name=$1
    shift
    ds --name="$name" run "$@"
}

# The monitor PID recorded for a running container.
monitor_pid() {
    sed -n 's/.*"monitor_pid":\([0-9]*\).*/\1/p' "$DROIDSPACES_HOME/Pids/$1.state"
}

# Fails naming the first namespace the container's init shares with the host.
assert_private_namespaces() {
    local pid ns
    pid=$(ds --name="$1" pid) || return 1
    for ns in pid mnt uts ipc cgroup net; do
        [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")" ] ||
            { echo "$ns is shared with the host"; return 1; }
    done
}

# The busybox fixture's rcS touches /run/booted when its boot is complete.
booted() {
    local pid
    pid=$(ds --name="$1" pid) && [ -e "/proc/$pid/root/run/booted" ]
}

# Waits up to 60 s for systemd in container $1 to finish booting; prints its final state
# (running or degraded).
wait_for_systemd() {
    local deadline=$((SECONDS + 60)) state
    while ((SECONDS < deadline)); do
        state=$(ds --name="$1" run systemctl is-system-running 2>/dev/null) || true
        case $state in
        running | degraded)
            echo "$state"
            return 0
            ;;
        esac
        sleep 0.1
    done
    echo "systemd still '$state' after 60 s" >&2
    return 1
}
