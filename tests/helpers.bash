# Shared helpers for the bats suites. Load with: load helpers
#
# Each suite gets a private DROIDSPACES_HOME and a leak snapshot in setup_file; teardown_file
# stops what the suite started and fails if anything that is the SUITE'S OWN leaked: mounts under
# its roots (DROIDSPACES_HOME, which holds the mount base, SUITE_TMP and any dir registered with
# suite_track_dir), loop devices backed by files there, droidspaces/<name> cgroups of the container
# names it used (recorded by ds(), every hierarchy), an empty droidspaces/ parent, its monitors
# and runtime helpers (processes whose environment carries its DROIDSPACES_HOME) and fds into its
# roots held by any process. Other suites and unrelated containers on the host are not looked at,
# so concurrent runs do not fail each other.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DROIDSPACES_BIN=${DROIDSPACES_BIN:-$REPO_ROOT/build/droidspaces}
export DROIDSPACES_BIN

# Every runtime invocation gets a hard timeout, so a hang fails the test instead of the run.
ds() {
    suite_record_names "$@"
    timeout --foreground -k 5 "${DS_TIMEOUT:-90}" "$DROIDSPACES_BIN" "$@"
}

# A power request from inside (`run poweroff`, `run reboot`, `run kill -USR2 1`): init's
# shutdown may SIGTERM the requesting command before it exits (status 143), which is still a
# delivered request. Usage: ds_power_request --name=N run poweroff
ds_power_request() {
    local status=0
    ds "$@" || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 143 ] || {
        echo "power request '$*' failed with status $status" >&2
        return 1
    }
}

# Records the container names of a runtime command line in $SUITE_TMP/names (the leak check
# looks at these names' cgroups). --name=A,B / --name A / -n A / -nA.
suite_record_names() {
    [ -n "${SUITE_TMP:-}" ] && [ -d "$SUITE_TMP" ] || return 0
    local arg value="" next=0
    for arg in "$@"; do
        if ((next)); then
            value+=",$arg"
            next=0
            continue
        fi
        case $arg in
        --name=*) value+=",${arg#--name=}" ;;
        --name | -n) next=1 ;;
        -n?*) value+=",${arg#-n}" ;;
        esac
    done
    [ -n "$value" ] || return 0
    tr ',' '\n' <<<"${value#,}" | grep -v '^$' >>"$SUITE_TMP/names" || true
}

# Names a container the suite starts without ds() (e.g. "$DROIDSPACES_BIN" directly).
suite_track_name() {
    suite_record_names --name="$1"
}

# Adds a directory the suite's containers or attacks use to the leak check's roots.
suite_track_dir() {
    realpath -m "$1" >>"$SUITE_TMP/roots"
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

# The suite's leak-check roots, one per line (real paths: mountinfo and losetup print those).
suite_roots() {
    realpath -m "$DROIDSPACES_HOME" "$SUITE_TMP"
    [ -f "$SUITE_TMP/roots" ] && cat "$SUITE_TMP/roots"
    return 0
}

# Every container name this suite used: recorded by ds() and whatever its workspace knows.
suite_names() {
    {
        [ -f "$SUITE_TMP/names" ] && cat "$SUITE_TMP/names"
        local f
        for f in "$DROIDSPACES_HOME"/Containers/* "$DROIDSPACES_HOME"/Pids/*.pid; do
            [ -e "$f" ] && basename "$f" .pid
        done
    } | grep -v '^\.' | sort -u
}

# Reads stdin lines and keeps those equal to or below one of the roots given as arguments.
under_roots() {
    awk -v roots="$*" 'BEGIN { n = split(roots, r, " ") }
        { for (i = 1; i <= n; i++) if (index($0, r[i]) == 1 &&
              (length($0) == length(r[i]) || substr($0, length(r[i]) + 1, 1) == "/")) { print; next } }'
}

# PIDs of processes that are this suite's runtime (monitors, helpers): their environment holds
# our DROIDSPACES_HOME and their title or executable is the runtime's. The bats processes carry
# the same environment but run bash, so they are not counted.
suite_runtime_pids() {
    local envfile dir exe args bin
    bin=$(realpath -m "$DROIDSPACES_BIN")
    # One grep over every environment (NUL-separated entries): no process per PID.
    while IFS= read -r envfile; do
        dir=${envfile%/environ}
        exe=$(readlink "$dir/exe" 2>/dev/null) || continue
        args=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null) || continue
        if [[ $args == ds-monitor:* || ${exe% (deleted)} == "$bin" ]]; then
            echo "${dir#/proc/} $args"
        fi
    done < <(grep -lzxF "DROIDSPACES_HOME=$DROIDSPACES_HOME" /proc/[0-9]*/environ 2>/dev/null)
}

# Whether a process lives in cgroup $1 or below it (cgroupfs files have size 0: read them).
cgroup_populated() {
    grep -qx 'populated 1' "$1/cgroup.events" 2>/dev/null && return 0
    find "$1" -name cgroup.procs -exec grep -q . {} \; -print -quit 2>/dev/null | grep -q .
}

# The cgroup directories of `name` in every hierarchy that are ours: present, and not another
# run's live container of the same name (populated while no monitor of ours serves the name).
suite_cgroups_of() {
    local name=$1 dir
    while IFS= read -r dir; do
        if cgroup_populated "$dir"; then
            # Populated: ours only if one of our monitors serves this name (it leaks too).
            suite_runtime_pids | grep -q " ds-monitor:$name " || continue
        fi
        echo "$dir"
    done < <(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -path "*/droidspaces/$name" \
        2>/dev/null | sort)
}

# Every droidspaces/ parent cgroup on the host (any hierarchy).
droidspaces_parents() {
    find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -name droidspaces 2>/dev/null | sort
}

# True while another run uses the runtime: a monitor of any workspace (ours are stopped when
# this is asked, and reported on their own if not), or a container cgroup under any parent.
other_runs_active() {
    local dir
    grep -qlz '^ds-monitor:' /proc/[0-9]*/cmdline 2>/dev/null && return 0
    while IFS= read -r dir; do
        find "$dir" -mindepth 1 -maxdepth 1 -type d -print -quit | grep -q . && return 0
    done < <(droidspaces_parents)
    return 1
}

# The droidspaces/ parents with no child cgroup, that were not there before the suite: the last
# cleanup should have removed them. Only judged when no other run's containers exist: another
# run may be between making a parent and its child (or the reverse on its way out).
empty_droidspaces_parents() {
    other_runs_active && return 0
    local dir
    while IFS= read -r dir; do
        grep -qxF "$dir" "$SUITE_TMP/parents.before" 2>/dev/null && continue
        find "$dir" -mindepth 1 -maxdepth 1 -type d -print -quit | grep -q . || echo "$dir"
    done < <(droidspaces_parents)
}

# Processes (other than this shell and its ancestors) holding fds into the suite's roots.
# The snapshot files themselves are excluded: the snapshot's own commands write to them.
fds_into_roots() {
    local skip=" " p=$BASHPID
    while [ "$p" -gt 1 ] 2>/dev/null; do
        skip+="$p "
        p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
    done
    # "<pid> <target>" for every fd on the host, in one find.
    find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l -printf '%h %l\n' 2>/dev/null |
        awk -v skip="$skip" -v roots="$*" -v own="$SUITE_TMP" '
            BEGIN { n = split(roots, r, " ") }
            {
                split($1, parts, "/"); pid = parts[3]
                if (index(skip, " " pid " ")) next
                target = substr($0, length($1) + 2)
                if (index(target, own "/host.") == 1 || index(target, own "/leaks") == 1) next
                for (i = 1; i <= n; i++)
                    if (index(target, r[i]) == 1 && (length(target) == length(r[i]) ||
                        substr(target, length(r[i]) + 1, 1) == "/")) {
                        print "fd of PID " pid ": " target; next
                    }
            }'
}

# What of the suite's own is on the host now, one line per item, for the leak check.
host_snapshot() {
    local -a roots
    mapfile -t roots < <(suite_roots)
    local name
    echo "# mounts"
    awk '{print $5}' /proc/self/mountinfo | under_roots "${roots[@]}" | sort
    echo "# loop devices"
    losetup -n -l -O BACK-FILE 2>/dev/null | sed 's/ *$//; s/ (deleted)$//' |
        under_roots "${roots[@]}" | sort
    echo "# droidspaces cgroups"
    for name in $(suite_names); do
        suite_cgroups_of "$name"
    done
    empty_droidspaces_parents | sed 's/$/ (empty parent)/'
    echo "# runtime processes"
    suite_runtime_pids | sort -k2
    echo "# fds"
    fds_into_roots "${roots[@]}" | sort
}

# Lines of snapshot $2 that snapshot $1 does not have (what appeared: removals are no leak).
snapshot_added() {
    comm -13 <(sort "$1") <(sort "$2")
}

suite_setup() {
    DROIDSPACES_HOME=$(mktemp -d /tmp/ds-test.XXXXXX)
    export DROIDSPACES_HOME
    SUITE_TMP=$(mktemp -d /tmp/ds-suite.XXXXXX)
    export SUITE_TMP
    : >"$SUITE_TMP/names"
    droidspaces_parents >"$SUITE_TMP/parents.before"
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

# Succeeds when nothing of the suite's own appeared since suite_setup; otherwise prints what
# did. Cleanup that is still finishing (a monitor removing its cgroup) is waited for, briefly.
suite_host_clean() {
    local deadline=$((SECONDS + 5))
    while :; do
        host_snapshot >"$SUITE_TMP/host.now"
        snapshot_added "$SUITE_TMP/host.before" "$SUITE_TMP/host.now" >"$SUITE_TMP/leaks"
        [ -s "$SUITE_TMP/leaks" ] || return 0
        ((SECONDS < deadline)) || break
        sleep 0.2
    done
    echo "the suite left this on the host:"
    cat "$SUITE_TMP/leaks"
    return 1
}

suite_teardown() {
    stop_suite_containers
    local leaks=0
    suite_host_clean >&2 || leaks=1
    rm -rf "$DROIDSPACES_HOME" "$SUITE_TMP"
    return "$leaks"
}

# The leak check as a test of its own (a teardown_file failure is easy to miss).
assert_host_clean() {
    suite_host_clean
}

# Starts container $1 with the start options that follow unless it runs already. A test that
# only looks at a running container calls it first, so that it passes alone (bats -f) and after
# a test that stopped or broke the container, instead of depending on an earlier test.
ensure_running() {
    local name=$1
    shift
    ds --name="$name" pid >/dev/null 2>&1 && return 0
    ds --name="$name" "$@" start >/dev/null
}

# Stops container $1 if it runs: a test that starts that name itself calls it first.
ensure_stopped() {
    ds --name="$1" pid >/dev/null 2>&1 || return 0
    ds --name="$1" stop >/dev/null
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

# A crash of container $1's monitor and init: both get SIGKILL; waits until both are gone.
kill_monitor_and_init() {
    local monitor init
    monitor=$(monitor_pid "$1")
    init=$(<"$DROIDSPACES_HOME/Pids/$1.pid")
    [ -n "$monitor" ] && [ -n "$init" ] || return 1
    kill -9 "$monitor" "$init"
    wait_until 10 bash -c "! kill -0 $monitor 2>/dev/null && ! kill -0 $init 2>/dev/null"
}

# Runs scan; succeeds once container $1's cgroups are gone (scan removes an empty one only
# after its grace period for starts in progress).
scan_removed_cgroup() {
    ds scan >/dev/null
    [ -z "$(suite_cgroups_of "$1")" ]
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

# The host's cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid host).
v2_root() {
    findmnt -rn -t cgroup2 -o TARGET | grep -E '^/sys/fs/cgroup(/unified)?$' | head -1
}

# The mount of the v1 hierarchy holding controller $1.
v1_root() {
    findmnt -rn -t cgroup -o TARGET,FS-OPTIONS |
        awk -v c="$1" '{ n = split($2, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $1; exit } }'
}

# Host directory of container $2's cgroup for controller $1: the v2 cgroup when the controller
# is enabled there, else droidspaces/$2 in the controller's v1 hierarchy.
limit_dir() {
    local v2 v1
    v2=$(v2_root)
    if [ -n "$v2" ] && grep -qw "$1" "$v2/cgroup.controllers"; then
        echo "$v2/droidspaces/$2"
        return
    fi
    v1=$(v1_root "$1")
    [ -n "$v1" ] || return 1
    echo "$v1/droidspaces/$2"
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
