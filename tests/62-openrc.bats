#!/usr/bin/env bats
# Debian bookworm with sysvinit as PID 1 running OpenRC (rc_sys="lxc").

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy openrc "$SUITE_TMP/or")
    export ROOTFS
    export NAME="or-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

# The container most tests look at, started as the first test starts it when it is not running.
openrc_running() {
    ensure_running "$NAME" --rootfs="$ROOTFS" --net=none --hostname=orhost
    wait_until 60 in_runlevel_2
}

setup() {
    load helpers
}

# sysvinit reports "N 2" once it has entered the default runlevel, and OpenRC then lists its
# default services as started.
in_runlevel_2() {
    [ "$(ds --name="$NAME" run runlevel 2>/dev/null)" = "N 2" ] || return 1
    local status
    status=$(ds --name="$NAME" run rc-status default 2>/dev/null) || return 1
    [[ $status == *"started"* && $status != *"starting"* && $status != *"stopped"* ]]
}

@test "sysvinit boots OpenRC to the default runlevel" {
    ensure_stopped "$NAME"
    run ds --name="$NAME" --rootfs="$ROOTFS" --net=none --hostname=orhost start
    [ "$status" -eq 0 ]
    [[ $output == *"(sysvinit)"* ]]
    wait_until 60 in_runlevel_2
    run ds --name="$NAME" run rc-status default
    echo "$output"
    [[ $output == *"Runlevel: default"* ]]
    [[ $output != *"stopped"* ]]
    [[ $output != *"crashed"* ]]
}

@test "PID 1 is sysvinit's init and the hostname is set" {
    openrc_running
    run ds --name="$NAME" run cat /proc/1/comm
    [ "$output" = "init" ]
    run ds --name="$NAME" run readlink /proc/1/exe
    [ "$output" = "/sbin/init" ] || [ "$output" = "/usr/sbin/init" ]
    run ds --name="$NAME" run hostname
    [ "$output" = "orhost" ]
}

@test "namespaces differ from the host's" {
    openrc_running
    assert_private_namespaces "$NAME"
}

@test "reboot inside brings it back with a new PID 1" {
    openrc_running
    local before
    before=$(ds --name="$NAME" pid)
    ds_power_request --name="$NAME" run reboot
    wait_until 60 bash -c "p=\$($DROIDSPACES_BIN --name=$NAME pid) && [ \"\$p\" != $before ]"
    wait_until 60 in_runlevel_2
}

@test "stop asks sysvinit for runlevel 0 through /run/initctl" {
    openrc_running
    run ds --name="$NAME" stop
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    grep -q 'Switching to runlevel: 0\|Entering runlevel: 0\|Will now halt' \
        "$DROIDSPACES_HOME/Logs/$NAME/console"
}

@test "poweroff inside cleans up" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    wait_until 60 in_runlevel_2
    local monitor
    monitor=$(monitor_pid "$NAME")
    ds_power_request --name="$NAME" run poweroff
    wait_until 60 bash -c "! kill -0 $monitor 2>/dev/null"
    [ "$(ds --name="$NAME" pid)" = "NONE" ]
}

@test "stop right after start is not lost" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    run ds --name="$NAME" stop --timeout=30
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
