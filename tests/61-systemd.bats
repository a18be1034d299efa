#!/usr/bin/env bats
# Debian bookworm with systemd as PID 1.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy systemd "$SUITE_TMP/sd")
    export ROOTFS
    export NAME="sd-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

# The container most tests look at, started as the first test starts it when it is not running.
systemd_running() {
    ensure_running "$NAME" --rootfs="$ROOTFS" --net=none --hostname=sdhost --dns=192.0.2.53
    wait_for_systemd "$NAME" >/dev/null
}

setup() {
    load helpers
}

@test "systemd boots to running (failed units are listed)" {
    ensure_stopped "$NAME"
    run ds --name="$NAME" --rootfs="$ROOTFS" --net=none --hostname=sdhost --dns=192.0.2.53 start
    [ "$status" -eq 0 ]
    [[ $output == *"(systemd)"* ]]
    run wait_for_systemd "$NAME"
    echo "state: $output"
    ds --name="$NAME" run systemctl --failed --no-legend --plain
    [ "$output" = "running" ] || [ "$output" = "degraded" ]
}

@test "PID 1 is systemd and knows it runs in a container" {
    systemd_running
    run ds --name="$NAME" run cat /proc/1/comm
    [ "$output" = "systemd" ]
    run ds --name="$NAME" run systemd-detect-virt --container
    [ "$output" = "droidspaces" ] || [ "$output" = "container-other" ]
    run ds --name="$NAME" run cat /run/systemd/container
    [ "$output" = "droidspaces" ]
}

@test "systemd built its cgroup tree inside the container's cgroup namespace" {
    systemd_running
    run ds --name="$NAME" run grep '^0::' /proc/1/cgroup
    [ "$output" = "0::/init.scope" ]
    local v2
    v2=$(findmnt -n -o TARGET -t cgroup2 | grep -E '^/sys/fs/cgroup(/unified)?$' | head -1)
    [ -d "$v2/droidspaces/$NAME/init.scope" ]
    [ -d "$v2/droidspaces/$NAME/system.slice" ]
    [ ! -d "$v2/init.scope" ] || [ -n "$(cat "$v2/init.scope/cgroup.procs")" ]
}

@test "hostname and DNS are as configured" {
    systemd_running
    run ds --name="$NAME" run hostname
    [ "$output" = "sdhost" ]
    run ds --name="$NAME" run cat /etc/resolv.conf
    [ "$output" = "nameserver 192.0.2.53" ]
}

@test "namespaces differ from the host's" {
    systemd_running
    assert_private_namespaces "$NAME"
}

@test "systemctl reboot brings it back with a new PID 1" {
    systemd_running
    local before
    before=$(ds --name="$NAME" pid)
    ds --name="$NAME" run systemctl reboot
    wait_until 30 bash -c "p=\$($DROIDSPACES_BIN --name=$NAME pid) && [ \"\$p\" != $before ]"
    run wait_for_systemd "$NAME"
    [ "$output" = "running" ] || [ "$output" = "degraded" ]
}

@test "stop halts systemd gracefully" {
    systemd_running
    run ds --name="$NAME" stop
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    grep -q 'Reached target.*System Shutdown' "$DROIDSPACES_HOME/Logs/$NAME/console"
    grep -q 'Halting system\|Powering off' "$DROIDSPACES_HOME/Logs/$NAME/console"
}

@test "poweroff inside cleans up" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    wait_for_systemd "$NAME"
    local monitor
    monitor=$(monitor_pid "$NAME")
    ds --name="$NAME" run systemctl poweroff
    wait_until 30 bash -c "! kill -0 $monitor 2>/dev/null"
    [ "$(ds --name="$NAME" pid)" = "NONE" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME.pid" ]
}

@test "stop right after start is not lost" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    run ds --name="$NAME" stop --timeout=20
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
}

# The halt request counts as delivered only when systemd handled SIGRTMIN+4 before it was sent
# (issue 8: a request dropped just before systemd blocked the signal was taken for delivered,
# and the stop escalated to SIGKILL). 50 pairs take ~30 s here (bench/soak.sh runs them too).
@test "50 back-to-back start+stop pairs: no stop is escalated to SIGKILL" {
    local i kills=0
    for i in $(seq 1 50); do
        ds --name="$NAME-pair" --rootfs="$ROOTFS" --net=none start >/dev/null
        run ds --name="$NAME-pair" stop --timeout=20
        [ "$status" -eq 0 ]
        if [[ $output == *"killed"* ]]; then
            echo "pair $i: $output"
            kills=$((kills + 1))
        fi
    done
    [ "$kills" -eq 0 ]
}

@test "--force-cgroupv1 boots systemd on the named v1 hierarchy, inside its own cgroup" {
    local v1
    v1=$(findmnt -n -o TARGET -t cgroup | while read -r m; do
        grep -q 'name=systemd' <<<"$(findmnt -n -o OPTIONS "$m")" && echo "$m"; done | head -1)
    [ -n "$v1" ] || skip "this host has no named systemd v1 hierarchy"
    ds --name="$NAME-v1" --rootfs="$ROOTFS" --net=none --force-cgroupv1 start
    run wait_for_systemd "$NAME-v1"
    [ "$output" = "running" ] || [ "$output" = "degraded" ]
    run ds --name="$NAME-v1" run grep name=systemd /proc/1/cgroup
    [[ $output == *":name=systemd:/init.scope" ]]
    [ -d "$v1/droidspaces/$NAME-v1/init.scope" ]
    ds --name="$NAME-v1" stop
    [ ! -d "$v1/droidspaces/$NAME-v1" ]
    ds --name="$NAME-v1" --rootfs="$ROOTFS" --reset start >/dev/null
    ds --name="$NAME-v1" stop
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
