#!/usr/bin/env bats
# Crash safety: the monitor is SIGKILLed at each stage of start, while running and during stop;
# the next start, stop or scan leaves the host clean (mounts, loop devices, cgroups including
# the shared droidspaces/ parent, processes, state files) and the state consistent.
#
# The stages come from the debug binary (build-debug/droidspaces, built by `./build.sh test`
# with -DDS_CRASH_POINTS): DS_CRASH_AT=<stage> makes its monitor raise SIGKILL there, and
# DS_FAULT=<syscall> makes one of its syscalls fail. Tests that need it skip without it; the
# monitor killed from outside uses the release binary.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    IMAGE="$SUITE_TMP/bb.img"
    mkfs.ext4 -q -F -d "$ROOTFS" "$IMAGE" 64M
    export IMAGE
    export NAME="crash-$$"
    DEBUG_BIN=${DROIDSPACES_DEBUG_BIN:-$REPO_ROOT/build-debug/droidspaces}
    export DEBUG_BIN
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
}

teardown() {
    # Whatever a failed test left running is stopped with the release binary.
    stop_suite_containers
}

need_debug_bin() {
    [ -x "$DEBUG_BIN" ] || skip "no debug binary at $DEBUG_BIN (./build.sh test builds it)"
}

# The debug binary with a crash point or fault armed (inherited by the monitor it spawns).
ds_crash() {
    local stage=$1
    shift
    DS_CRASH_AT=$stage timeout --foreground -k 5 90 "$DEBUG_BIN" "$@"
}
ds_fault() {
    local fault=$1
    shift
    DS_FAULT=$fault timeout --foreground -k 5 90 "$DEBUG_BIN" "$@"
}

# Prints what container $1 left on this host; nothing when it left nothing. $2: its image.
leftovers() {
    local name=$1 image=${2:-} f
    awk -v base="$DROIDSPACES_HOME/" 'index($5, base) == 1 {print "mount " $5}' /proc/self/mountinfo
    if [ -n "$image" ]; then losetup -j "$image" | sed 's/^/loop /'; fi
    find /sys/fs/cgroup -maxdepth 4 -type d -path "*/droidspaces/$name" 2>/dev/null |
        sed 's/^/cgroup /'
    for f in "$DROIDSPACES_HOME/Pids/$name".{pid,init,state,mount}; do
        if [ -e "$f" ]; then echo "record $f"; fi
    done
    if [ -e "$DROIDSPACES_HOME/Volatile/$name" ]; then echo "volatile dir"; fi
    if [ -e "$DROIDSPACES_HOME/mnt/$name" ]; then echo "mount point $DROIDSPACES_HOME/mnt/$name"; fi
    ps -eo pid=,args= | awk -v t="ds-monitor:$name" '$2 == t {print "monitor " $1}'
}

# The shared parent in the hierarchies container cgroups live in: gone, or still holding a
# container (another suite's).
empty_parent() {
    local p
    for p in /sys/fs/cgroup/droidspaces /sys/fs/cgroup/unified/droidspaces \
        /sys/fs/cgroup/systemd/droidspaces; do
        [ -d "$p" ] || continue
        [ -n "$(find "$p" -mindepth 1 -maxdepth 1 -type d)" ] || echo "$p"
    done
}
no_empty_parent() {
    [ -z "$(empty_parent)" ]
}

no_leftovers() {
    [ -z "$(leftovers "$@")" ]
}

assert_clean() {
    local left
    # Polled: a killed init's mount namespace lets go of a loop device a moment after it ends.
    wait_until 5 no_leftovers "$@" || true
    left=$(leftovers "$@")
    if [ -n "$left" ]; then
        echo "left behind by $1:" >&2
        echo "$left" >&2
        return 1
    fi
    # Polled: another suite's container may be between its cgroup's removal and its parent's.
    wait_until 5 no_empty_parent || {
        echo "empty cgroup parent left: $(empty_parent)" >&2
        return 1
    }
}

# The process is gone (not a zombie of ours: the monitor is not our child).
gone() {
    ! kill -0 "$1" 2>/dev/null
}

init_pid_of() {
    sed -n 's/.*"init_pid":\([0-9]*\).*/\1/p' "$DROIDSPACES_HOME/Pids/$1.state"
}

# A container that starts and stops cleanly under the same name afterwards: the state is
# consistent.
start_and_stop_again() {
    local name=$1
    shift
    ds --name="$name" --net=none "$@" start
    wait_until 10 booted "$name"
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    assert_clean "$name" "$IMAGE"
}

# --- killed from outside (release binary) -----------------------------------------------------

@test "monitor SIGKILLed while running: stop kills init and removes everything, parent included" {
    local name="$NAME-run"
    ds --name="$name" --rootfs="$ROOTFS" --net=none start
    wait_until 10 booted "$name"
    local monitor init
    monitor=$(monitor_pid "$name")
    init=$(init_pid_of "$name")
    kill -9 "$monitor"
    wait_until 10 gone "$monitor"
    # Still running and listed as such.
    run ds --name="$name" pid
    [ "$output" = "$init" ]
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    wait_until 10 gone "$init"
    assert_clean "$name"
    start_and_stop_again "$name" --rootfs="$ROOTFS"
}

@test "a stuck monitor is ended by restart's stop, so it cannot clean up over the new start" {
    local name="$NAME-stuck" monitor
    ds --name="$name" --rootfs="$ROOTFS" --net=none start
    wait_until 10 booted "$name"
    monitor=$(monitor_pid "$name")
    kill -STOP "$monitor"
    run ds --name="$name" --timeout=1 restart
    kill -CONT "$monitor" 2>/dev/null || true
    [ "$status" -eq 0 ]
    # Woken up, the old monitor would kill the cgroup the new instance now lives in. Ended: gone,
    # or a zombie this machine's PID 1 has not reaped yet (not "T", stopped and waiting).
    local stat
    stat=$(ps -o stat= -p "$monitor" || true)
    [[ -z $stat || $stat == Z* ]]
    [ "$(monitor_pid "$name")" != "$monitor" ]
    wait_until 10 booted "$name"
    ds --name="$name" stop
    assert_clean "$name"
}

@test "monitor SIGKILLed with an image rootfs: stop frees the mount and the loop device" {
    local name="$NAME-img"
    ds --name="$name" --rootfs-img="$IMAGE" --net=none start
    wait_until 10 booted "$name"
    local monitor
    monitor=$(monitor_pid "$name")
    kill -9 "$monitor"
    wait_until 10 gone "$monitor"
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    wait_until 10 bash -c "[ -z \"\$(losetup -j '$IMAGE')\" ]"
    assert_clean "$name" "$IMAGE"
}

@test "monitor and init both gone: the next stop or start cleans up after them" {
    local name="$NAME-both"
    ds --name="$name" --rootfs-img="$IMAGE" --net=none start
    wait_until 10 booted "$name"
    local monitor init
    monitor=$(monitor_pid "$name")
    init=$(init_pid_of "$name")
    kill -9 "$monitor"
    wait_until 10 gone "$monitor"
    kill -9 "$init"
    wait_until 10 gone "$init"
    run --separate-stderr ds --name="$name" stop
    [ "$status" -eq 1 ]
    [[ $stderr == *"is not running"* ]]
    wait_until 10 bash -c "[ -z \"\$(losetup -j '$IMAGE')\" ]"
    assert_clean "$name" "$IMAGE"
    start_and_stop_again "$name" --rootfs-img="$IMAGE"
}

@test "scan removes an empty droidspaces/ parent cgroup" {
    local root
    if [ -d /sys/fs/cgroup/unified ]; then root=/sys/fs/cgroup/unified; else root=/sys/fs/cgroup; fi
    [ -d "$root/droidspaces" ] && skip "other containers run on this host"
    mkdir "$root/droidspaces"
    run ds scan
    if [ -d "$root/droidspaces" ]; then rmdir "$root/droidspaces" 2>/dev/null || true; fi
    [ "$status" -eq 0 ]
    [[ $output == *"cgroup $root/droidspaces"* ]]
}

# --- killed at a stage of start (debug binary) ------------------------------------------------

crash_during_start() {
    local stage=$1 name=$2
    shift 2
    run --separate-stderr ds_crash "$stage" --name="$name" --net=none "$@" start
    [ "$status" -eq 2 ]
    [[ $stderr == *"exited before reporting"* ]]
    assert_clean "$name" "$IMAGE"
    start_and_stop_again "$name" "$@"
}

@test "monitor killed as it starts: the start fails and leaves nothing" {
    need_debug_bin
    crash_during_start monitor-start "$NAME-s1" --rootfs-img="$IMAGE"
}

@test "monitor killed before it clones init: the start fails and leaves nothing" {
    need_debug_bin
    crash_during_start before-clone "$NAME-s2" --rootfs="$ROOTFS" --volatile
}

@test "monitor killed while init boots: init is killed too and nothing is left" {
    need_debug_bin
    crash_during_start after-clone "$NAME-s3" --rootfs-img="$IMAGE"
}

@test "monitor killed after writing the record, before reporting: nothing is left" {
    need_debug_bin
    crash_during_start before-report "$NAME-s4" --rootfs="$ROOTFS"
}

@test "monitor killed right after reporting: start succeeds, stop cleans up" {
    need_debug_bin
    local name="$NAME-s5"
    ds_crash after-report --name="$name" --rootfs-img="$IMAGE" --net=none start
    wait_until 10 booted "$name"
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    wait_until 10 bash -c "[ -z \"\$(losetup -j '$IMAGE')\" ]"
    assert_clean "$name" "$IMAGE"
}

# --- killed during stop (debug binary) --------------------------------------------------------

@test "monitor killed as its cleanup begins: stop finishes the cleanup" {
    need_debug_bin
    local name="$NAME-c1"
    ds_crash cleanup --name="$name" --rootfs-img="$IMAGE" --net=none --volatile start
    wait_until 10 booted "$name"
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    wait_until 10 bash -c "[ -z \"\$(losetup -j '$IMAGE')\" ]"
    assert_clean "$name" "$IMAGE"
    start_and_stop_again "$name" --rootfs-img="$IMAGE"
}

@test "monitor killed half-way through its cleanup: stop finishes it" {
    need_debug_bin
    local name="$NAME-c2"
    ds_crash mid-cleanup --name="$name" --rootfs="$ROOTFS" --net=none start
    wait_until 10 booted "$name"
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    assert_clean "$name"
}

# --- monitor syscalls that fail (debug binary) -------------------------------------------------

@test "a failed signalfd fails the start with a clear error and leaves nothing" {
    need_debug_bin
    local name="$NAME-sfd"
    run --separate-stderr ds_fault signalfd --name="$name" --rootfs="$ROOTFS" --net=none start
    [ "$status" -eq 2 ]
    [[ $stderr == *"signalfd"* ]]
    [[ $stderr == *"errno 24"* ]]
    assert_clean "$name"
}

@test "a poll that keeps failing: the monitor still reaps init and stop ends cleanly" {
    need_debug_bin
    local name="$NAME-poll"
    ds_fault poll --name="$name" --rootfs="$ROOTFS" --net=none start
    local monitor
    monitor=$(monitor_pid "$name")
    wait_until 10 grep -q "poll keeps failing" "$DROIDSPACES_HOME/Logs/$name/log"
    run ds --name="$name" stop
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    wait_until 10 gone "$monitor"
    assert_clean "$name"
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
