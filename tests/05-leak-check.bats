#!/usr/bin/env bats
# The suites' leak check (tests/helpers.bash) is scoped to what a suite owns: it must catch a
# real leak of the suite's own (a mount under its home, a loop device on its file, an empty
# cgroup of a name it used, a monitor of its workspace, an fd into its roots) and must not fail
# because of an unrelated container (another DROIDSPACES_HOME, another name) running on the host.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    export NAME="leak-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
}

# The v2 hierarchy's root (where the runtime's droidspaces/<name> cgroups live).
cgroup2_root() {
    awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo
}

@test "a clean suite passes the check" {
    run suite_host_clean
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "a mount left under the suite's home fails the check" {
    local mnt=$DROIDSPACES_HOME/mnt/leaked
    mkdir -p "$mnt"
    mount -t tmpfs -o size=1m leakcheck "$mnt"
    run suite_host_clean
    umount "$mnt"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"$mnt"* ]]
    run suite_host_clean
    [ "$status" -eq 0 ]
}

@test "a loop device backed by the suite's file fails the check" {
    local img=$SUITE_TMP/leak.img loop
    truncate -s 1M "$img"
    loop=$(losetup -f --show "$img")
    run suite_host_clean
    losetup -d "$loop"
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"$img"* ]]
    wait_until 10 suite_host_clean
}

@test "an empty cgroup of a name the suite used fails the check" {
    local root dir created_parent=0
    root=$(cgroup2_root)
    [ -n "$root" ] || skip "no cgroup v2 hierarchy"
    [ -d "$root/droidspaces" ] || created_parent=1
    dir=$root/droidspaces/$NAME-cg
    mkdir -p "$dir"
    suite_track_name "$NAME-cg"
    run suite_host_clean
    rmdir "$dir"
    # Another run's containers may live in the parent: its rmdir then fails, which is fine.
    if ((created_parent)); then rmdir "$root/droidspaces" 2>/dev/null || true; fi
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"$dir"* ]]
}

@test "a process of the suite's workspace fails the check" {
    (exec -a "ds-monitor:$NAME-mon" sleep 600) &
    local pid=$!
    wait_until 10 grep -q "ds-monitor:$NAME-mon" "/proc/$pid/cmdline"
    run suite_host_clean
    kill "$pid"
    wait "$pid" || true
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"ds-monitor:$NAME-mon"* ]]
}

@test "an fd held into the suite's roots fails the check" {
    local file=$SUITE_TMP/held
    : >"$file"
    sleep 600 <"$file" &
    local pid=$!
    run suite_host_clean
    kill "$pid"
    wait "$pid" || true
    echo "$output"
    [ "$status" -eq 1 ]
    [[ $output == *"fd of PID $pid: $file"* ]]
}

@test "an unrelated container (other workspace, other name) does not fail the check" {
    local other rootfs name="leak-other-$$"
    other=$(mktemp -d /tmp/ds-leak-other.XXXXXX)
    rootfs=$(fixture_copy busybox "$other/bb")
    # Not through ds(): this container is not the suite's.
    run env DROIDSPACES_HOME="$other/home" timeout -k 5 90 "$DROIDSPACES_BIN" --name="$name" \
        --rootfs="$rootfs" --net=none start
    echo "$output"
    local started=$status
    if [ "$started" -eq 0 ]; then
        run suite_host_clean
        echo "$output"
    fi
    DROIDSPACES_HOME="$other/home" timeout -k 5 90 "$DROIDSPACES_BIN" --name="$name" stop ||
        true
    rm -rf "$other"
    [ "$started" -eq 0 ]
    [ "$status" -eq 0 ]
}

@test "a container of another workspace with a name the suite also used does not fail the check" {
    local other rootfs name="$NAME-shared"
    suite_track_name "$name"
    other=$(mktemp -d /tmp/ds-leak-other.XXXXXX)
    rootfs=$(fixture_copy busybox "$other/bb")
    run env DROIDSPACES_HOME="$other/home" timeout -k 5 90 "$DROIDSPACES_BIN" --name="$name" \
        --rootfs="$rootfs" --net=none start
    echo "$output"
    local started=$status
    if [ "$started" -eq 0 ]; then
        run suite_host_clean
        echo "$output"
    fi
    DROIDSPACES_HOME="$other/home" timeout -k 5 90 "$DROIDSPACES_BIN" --name="$name" stop ||
        true
    rm -rf "$other"
    [ "$started" -eq 0 ]
    [ "$status" -eq 0 ]
}

@test "an empty droidspaces/ parent left behind fails the check" {
    local root
    root=$(cgroup2_root)
    [ -n "$root" ] || skip "no cgroup v2 hierarchy"
    [ ! -d "$root/droidspaces" ] || skip "the parent exists already (other runs' containers)"
    ! other_runs_active || skip "other runs use the runtime now (the parent is not judged then)"
    mkdir "$root/droidspaces"
    run suite_host_clean
    local raced=0
    if other_runs_active; then raced=1; fi
    rmdir "$root/droidspaces" 2>/dev/null || true
    echo "$output"
    ((raced == 0)) || skip "another run started meanwhile (the parent is not judged then)"
    [ "$status" -eq 1 ]
    [[ $output == *"$root/droidspaces (empty parent)"* ]]
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
