#!/usr/bin/env bats
# Hosts without a usable cgroup2 mount or named v1 hierarchy (older Android kernels: v1
# controllers only, cgroup2 mounted nowhere): the runtime mounts its own hierarchy under
# /run/droidspaces-cgroup and unmounts it with the last container. Such a host is made by hiding
# this machine's cgroup2 and name=systemd mounts in a private mount namespace (a holder process
# keeps it; every runtime command of these tests runs in it with nsenter). The host's own mounts
# are never touched; the kernel's hierarchies are the same inside and out, so the host view of
# /sys/fs/cgroup shows (and the leak check judges) the containers' cgroups.
#
# The v1 named fallback for kernels without cgroup2 cannot happen here (this kernel has
# cgroup2); its mount, and a systemd guest booting on it with the legacy layout, are proven
# through --force-cgroupv1, which takes the same path (the choice itself is unit-tested in
# runtime/tests/cgroup_own_test.cpp). Also here: the simulated Android host
# (tests/helpers/android.bash), where the mount goes under /dev.

# shellcheck disable=SC2154 # $stderr is set by bats' run --separate-stderr
bats_require_minimum_version 1.5.0

OWN=/run/droidspaces-cgroup

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    SD_ROOTFS=$(fixture_copy systemd "$SUITE_TMP/sd")
    export ROOTFS SD_ROOTFS
    export NAME="cgf-$$"
    DEBUG_BIN=${DROIDSPACES_DEBUG_BIN:-$REPO_ROOT/build-debug/droidspaces}
    export DEBUG_BIN
    [ -d /sys/fs/cgroup/unified ] || [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] ||
        skip "this host mounts no cgroup2 to hide"
    [ ! -e "$OWN" ] || skip "$OWN exists on this host already"
    # Old Android: the v1 controllers stay, cgroup2 and name=systemd go.
    # shellcheck disable=SC2016 # expanded by the holder's shell
    HOLDER=$(start_holder 'for m in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do
            if mountpoint -q "$m"; then umount -l "$m"; fi; done
        if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then umount -l /sys/fs/cgroup; fi')
    # Android (tests/helpers/android.bash) without cgroup2 or name=systemd: its /sys/fs is a
    # tmpfs over the rbind of /sys, which goes first so that nothing covered stays listed.
    load helpers/android
    android_sim_setup
    android_sim umount -l /sys/fs
    android_sim umount -l /sys/fs/cgroup/unified
    android_sim umount -l /sys/fs/cgroup/systemd
    # Nothing at all: the whole tree goes (a tmpfs over it would not do: mountinfo still lists
    # the mounts it covers).
    BARE=$(start_holder 'umount -l /sys/fs/cgroup')
    export HOLDER BARE
}

teardown_file() {
    load helpers
    load helpers/android
    stop_in_holder "$HOLDER"
    stop_in_holder "$BARE"
    stop_in_holder "${ANDROID_SIM_HOLDER:-}"
    end_holder "$HOLDER"
    end_holder "$BARE"
    android_sim_teardown
    suite_teardown
}

setup() {
    load helpers
    load helpers/android
}

# Starts a process in a new private mount namespace that runs shell code $1 there and then
# sleeps; prints its PID once the namespace has no cgroup2 mount.
start_holder() {
    unshare -m --propagation private -- sh -c "$1 && exec sleep infinity" \
        >"$SUITE_TMP/holder.log" 2>&1 &
    local pid=$!
    wait_until 10 holder_ready "$pid" || {
        cat "$SUITE_TMP/holder.log" >&2
        end_holder "$pid"
        return 1
    }
    echo "$pid"
}

holder_ready() {
    kill -0 "$1" && [ "$(readlink "/proc/$1/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] &&
        ! grep -q ' - cgroup2 ' "/proc/$1/mountinfo"
}

end_holder() {
    [ -n "${1:-}" ] || return 0
    kill "$1" 2>/dev/null || true
    wait_until 10 bash -c "! kill -0 $1" || true
}

# The runtime in holder $1's namespace: ns HOLDER-PID ARGS...
ns() {
    local holder=$1
    shift
    suite_record_names "$@"
    timeout --foreground -k 5 "${DS_TIMEOUT:-90}" nsenter -t "$holder" -m -r -w -- \
        "$DROIDSPACES_BIN" "$@"
}

# The debug binary (tests/66-crash.bats) in holder $2's namespace with crash point $1 armed.
ns_crash() {
    local stage=$1 holder=$2
    shift 2
    [ -x "$DEBUG_BIN" ] || skip "no debug binary at $DEBUG_BIN (./build.sh test builds it)"
    suite_record_names "$@"
    DS_CRASH_AT=$stage timeout --foreground -k 5 90 nsenter -t "$holder" -m -r -w -- \
        "$DEBUG_BIN" "$@"
}

# Stops what a failed test left running in the namespace (the host's view cannot reach its
# private mount), then whatever of ours is left of the runtime's own directory on the host.
stop_in_holder() {
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 0
    local pidfile
    for pidfile in "$DROIDSPACES_HOME"/Pids/*.pid; do
        [ -e "$pidfile" ] || continue
        ns "$1" --name="$(basename "$pidfile" .pid)" stop --timeout=10 >/dev/null 2>&1 || true
    done
    ns "$1" scan >/dev/null 2>&1 || true
}

# The holder's mountinfo lists the runtime's own hierarchy ($1: unified or systemd).
own_mounted() {
    grep -q " $OWN/$1 " "/proc/${2:-$HOLDER}/mountinfo"
}

# Neither the mount nor the directory is left, in the namespace or on the host.
own_gone() {
    ! grep -q " $OWN" "/proc/${1:-$HOLDER}/mountinfo" && [ ! -e "$OWN" ]
}

# Waits up to 60 s for systemd in container $2 (namespace of holder $1) to finish booting;
# prints its final state.
systemd_state() {
    local holder=$1 name=$2 state="" deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        state=$(ns "$holder" --name="$name" run systemctl is-system-running 2>/dev/null) || true
        case $state in running | degraded) break ;; esac
        sleep 0.2
    done
    echo "$state"
}

scanned_clean() {
    ns "$HOLDER" scan >/dev/null && own_gone "$HOLDER"
}

gone() {
    ! kill -0 "$1" 2>/dev/null
}

state_field() {
    sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$DROIDSPACES_HOME/Pids/$1.state"
}

@test "check names the hierarchy it will mount and where" {
    run ns "$HOLDER" check
    [[ $output == *"Cgroup v2 (not mounted by the host: start mounts cgroup2 at $OWN/unified)"* ]]
    # The host itself has its own: no fallback there.
    run "$DROIDSPACES_BIN" check
    [[ $output != *"$OWN"* ]]
}

@test "a busybox container gets a cgroup in the runtime's own cgroup2; --pids-limit applies; stop removes both" {
    local name="$NAME-bb" init
    run ns "$HOLDER" --name="$name" --rootfs="$ROOTFS" --net=none --pids-limit=16 start
    [ "$status" -eq 0 ]
    own_mounted unified
    init=$(state_field "$name" init_pid)
    grep -qx "0::/droidspaces/$name" "/proc/$init/cgroup"
    [ -d "/sys/fs/cgroup/unified/droidspaces/$name" ]  # the same hierarchy, seen from the host
    run ns "$HOLDER" check
    [[ $output == *"Cgroup v2 ($OWN/unified, mounted by droidspaces"* ]]
    # pids is on a v1 hierarchy here (as on old Android): the limit goes there.
    [ "$(cat "/sys/fs/cgroup/pids/droidspaces/$name/pids.max")" = 16 ]
    # shellcheck disable=SC2016 # expanded inside the container
    run ns "$HOLDER" --name="$name" run sh -c \
        'i=0; while [ $i -lt 40 ]; do sleep 1000 </dev/null >/dev/null 2>&1 & i=$((i + 1)); done; echo "forked=$i"'
    [[ $output == *"fork"* ]]
    [[ $output != *"forked=40"* ]]
    # `run`, `info` and `show` find the container through the mount.
    run ns "$HOLDER" --name="$name" info
    [ "$status" -eq 0 ]
    [[ $output == *"$OWN/unified/droidspaces/$name"* ]]
    run ns "$HOLDER" --name="$name" stop --timeout=5
    [ "$status" -eq 0 ]
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
    [ ! -d "/sys/fs/cgroup/pids/droidspaces/$name" ]
}

@test "the mount stays while another container is in it and goes with the last" {
    local a="$NAME-a" b="$NAME-b"
    ns "$HOLDER" --name="$a" --rootfs="$ROOTFS" --net=none start
    cp -a "$ROOTFS" "$SUITE_TMP/bb2"
    ns "$HOLDER" --name="$b" --rootfs="$SUITE_TMP/bb2" --net=none start
    ns "$HOLDER" --name="$a" stop --timeout=5
    own_mounted unified
    [ -d "/sys/fs/cgroup/unified/droidspaces/$b" ]
    grep -qx "0::/droidspaces/$b" "/proc/$(state_field "$b" init_pid)/cgroup"
    ns "$HOLDER" --name="$b" stop --timeout=5
    wait_until 10 own_gone
}

@test "a container on the host's own mount of the same hierarchy does not keep ours mounted" {
    local host_name="$NAME-host" ours="$NAME-ours"
    cp -a "$ROOTFS" "$SUITE_TMP/bb-host"
    ds --name="$host_name" --rootfs="$SUITE_TMP/bb-host" --net=none start
    [ -d "/sys/fs/cgroup/unified/droidspaces/$host_name" ]
    ns "$HOLDER" --name="$ours" --rootfs="$ROOTFS" --net=none start
    # Our mount shows the host's container too; it is not ours.
    nsenter -t "$HOLDER" -m -- test -d "$OWN/unified/droidspaces/$host_name"
    ns "$HOLDER" --name="$ours" stop --timeout=5
    wait_until 10 own_gone
    [ -d "/sys/fs/cgroup/unified/droidspaces/$host_name" ]
    ds --name="$host_name" stop --timeout=5
}

@test "a Debian systemd guest boots to running on the runtime's own cgroup2" {
    local name="$NAME-sd" state
    ns "$HOLDER" --name="$name" --rootfs="$SD_ROOTFS" --net=none start
    state=$(systemd_state "$HOLDER" "$name")
    echo "state: $state"
    ns "$HOLDER" --name="$name" run systemctl --failed --no-legend --plain || true
    [ "$state" = running ] || [ "$state" = degraded ]
    run ns "$HOLDER" --name="$name" run grep '^0::' /proc/1/cgroup
    [ "$output" = "0::/init.scope" ]
    [ -d "/sys/fs/cgroup/unified/droidspaces/$name/init.scope" ]
    ns "$HOLDER" --name="$name" stop
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
}

@test "a Debian systemd guest boots on the runtime's own name=systemd hierarchy (legacy layout)" {
    local name="$NAME-sdv1" rootfs state
    rootfs=$(fixture_copy systemd "$SUITE_TMP/sd-v1")
    ns "$HOLDER" --name="$name" --rootfs="$rootfs" --net=none --force-cgroupv1 start
    own_mounted systemd
    state=$(systemd_state "$HOLDER" "$name")
    echo "state: $state"
    [ "$state" = running ] || [ "$state" = degraded ]
    run ns "$HOLDER" --name="$name" run grep name=systemd /proc/1/cgroup
    [[ $output == *":name=systemd:/init.scope" ]]
    [ -d "/sys/fs/cgroup/systemd/droidspaces/$name/init.scope" ]
    ns "$HOLDER" --name="$name" stop
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/systemd/droidspaces/$name" ]
}

@test "monitor SIGKILLed: stop kills init through the cgroup, removes it and unmounts" {
    local name="$NAME-kill" monitor init
    ns "$HOLDER" --name="$name" --rootfs="$ROOTFS" --net=none start
    monitor=$(state_field "$name" monitor_pid)
    init=$(state_field "$name" init_pid)
    kill -9 "$monitor"
    wait_until 10 gone "$monitor"
    own_mounted unified
    run ns "$HOLDER" --name="$name" stop
    [ "$status" -eq 0 ]
    wait_until 10 gone "$init"
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
}

@test "monitor and init SIGKILLed: scan removes the cgroup and unmounts" {
    local name="$NAME-scan" monitor init
    ns "$HOLDER" --name="$name" --rootfs="$ROOTFS" --net=none start
    monitor=$(state_field "$name" monitor_pid)
    init=$(state_field "$name" init_pid)
    kill -9 "$monitor"
    wait_until 10 gone "$monitor"
    kill -9 "$init"
    wait_until 10 gone "$init"
    own_mounted unified
    # scan leaves a cgroup younger than its grace period (10 s) alone: it is asked again.
    wait_until 30 scanned_clean
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
}

@test "monitor killed as its cleanup begins: stop finishes it and unmounts" {
    local name="$NAME-c1"
    ns_crash cleanup "$HOLDER" --name="$name" --rootfs="$ROOTFS" --net=none start
    own_mounted unified
    run ns "$HOLDER" --name="$name" stop
    [ "$status" -eq 0 ]
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
}

@test "monitor killed while init boots: the failed start leaves no mount" {
    local name="$NAME-boot"
    run --separate-stderr ns_crash after-clone "$HOLDER" --name="$name" --rootfs="$ROOTFS" \
        --net=none start
    [ "$status" -eq 2 ]
    [[ $stderr == *"exited before reporting"* ]]
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
}

@test "--force-cgroupv1 without a named systemd hierarchy mounts name=systemd and unmounts it" {
    local name="$NAME-v1" init
    # A copy of its own: the config kept beside a rootfs would carry --force-cgroupv1 over.
    cp -a "$ROOTFS" "$SUITE_TMP/bb-v1"
    run ns "$HOLDER" --name="$name" --rootfs="$SUITE_TMP/bb-v1" --net=none --force-cgroupv1 start
    [ "$status" -eq 0 ]
    own_mounted systemd
    grep -q " $OWN/systemd .* - cgroup cgroup .*name=systemd" "/proc/$HOLDER/mountinfo"
    init=$(state_field "$name" init_pid)
    grep -qE "^[0-9]+:name=systemd:/droidspaces/$name\$" "/proc/$init/cgroup"
    [ -d "/sys/fs/cgroup/systemd/droidspaces/$name" ]
    ns "$HOLDER" --name="$name" stop --timeout=5
    wait_until 10 own_gone
    [ ! -d "/sys/fs/cgroup/systemd/droidspaces/$name" ]
}

@test "started from inside a cgroup2 subtree, the mount still shows the whole hierarchy" {
    local name="$NAME-sub" sub="/sys/fs/cgroup/unified/$NAME-sub-test"
    mkdir "$sub"
    # The start (and so its mount child) lives in a cgroup below the root: a mount from a new
    # cgroup namespace would show only that subtree, so it is made from the initial one.
    run sh -c "echo \$\$ >'$sub/cgroup.procs' && exec nsenter -t '$HOLDER' -m -- \
        '$DROIDSPACES_BIN' --name='$name' --rootfs='$ROOTFS' --net=none start"
    suite_track_name "$name"
    [ "$status" -eq 0 ]
    awk -v m="$OWN/unified" '$5 == m { print $4 }' "/proc/$HOLDER/mountinfo" >"$SUITE_TMP/root"
    [ "$(cat "$SUITE_TMP/root")" = / ]
    grep -qx "0::/droidspaces/$name" "/proc/$(state_field "$name" init_pid)/cgroup"
    ns "$HOLDER" --name="$name" stop --timeout=5
    wait_until 10 own_gone
    # The monitor was born in the subtree too; it is gone once the stop has finished.
    wait_until 10 rmdir "$sub"
}

@test "a symlink planted at the runtime's directory is refused, nothing is mounted through it" {
    local name="$NAME-link" decoy="$SUITE_TMP/decoy"
    mkdir -p "$decoy/unified"
    for link in "$OWN" "$OWN/unified"; do
        if [ "$link" = "$OWN" ]; then
            ln -s "$decoy" "$OWN"
        else
            mkdir "$OWN"
            ln -s "$decoy/unified" "$OWN/unified"
        fi
        run --separate-stderr ns "$HOLDER" --name="$name" --rootfs="$ROOTFS" --net=none start
        rm -f "$OWN/unified" 2>/dev/null || true
        rm -f "$OWN" 2>/dev/null || rmdir "$OWN/users" "$OWN" 2>/dev/null || true
        echo "$stderr"
        [ "$status" -eq 0 ]
        [[ $stderr == *"$link"* ]]
        [[ $stderr == *"starts without the runtime's own cgroup"* ]]
        run grep -c " - cgroup2 " "/proc/$HOLDER/mountinfo"
        [ "$output" = 0 ]
        [ -z "$(ls -A "$decoy/unified")" ]
        ns "$HOLDER" --name="$name" stop --timeout=5
    done
}

@test "no cgroup mounted at all: the container still gets its cgroup; a limit without a controller warns" {
    local name="$NAME-bare"
    run --separate-stderr ns "$BARE" --name="$name" --rootfs="$ROOTFS" --net=none --pids-limit=16 start
    [ "$status" -eq 0 ]
    [[ $stderr == *"pids controller is not available"*"--pids-limit not applied"* ]]
    own_mounted unified "$BARE"
    grep -qx "0::/droidspaces/$name" "/proc/$(state_field "$name" init_pid)/cgroup"
    ns "$BARE" --name="$name" stop --timeout=5
    wait_until 10 own_gone "$BARE"
}

@test "on Android the runtime's own hierarchy goes under /dev" {
    local name="$NAME-and"
    run ns "$ANDROID_SIM_HOLDER" check
    [[ $output == *"start mounts cgroup2 at /dev/droidspaces-cgroup/unified"* ]]
    ns "$ANDROID_SIM_HOLDER" --name="$name" --rootfs="$ROOTFS" --net=none start
    grep -q " /dev/droidspaces-cgroup/unified .* - cgroup2 " "/proc/$ANDROID_SIM_HOLDER/mountinfo"
    grep -qx "0::/droidspaces/$name" "/proc/$(state_field "$name" init_pid)/cgroup"
    [ -d "/sys/fs/cgroup/unified/droidspaces/$name" ]
    ns "$ANDROID_SIM_HOLDER" --name="$name" stop --timeout=5
    wait_until 10 bash -c "! grep -q droidspaces-cgroup /proc/$ANDROID_SIM_HOLDER/mountinfo"
    run nsenter -t "$ANDROID_SIM_HOLDER" -m -r -- test -e /dev/droidspaces-cgroup
    [ "$status" -eq 1 ]
    [ ! -e /dev/droidspaces-cgroup ]
}

@test "the host is as it was before the suite" {
    stop_in_holder "$HOLDER"
    stop_in_holder "$BARE"
    stop_in_holder "$ANDROID_SIM_HOLDER"
    end_holder "$HOLDER"
    end_holder "$BARE"
    android_sim_teardown
    [ ! -e "$OWN" ]
    assert_host_clean
}
