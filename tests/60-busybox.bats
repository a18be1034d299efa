#!/usr/bin/env bats
# A busybox system booted with busybox init as PID 1: boot, identity, isolation, reboot,
# poweroff, stop right after start, restart, several at once; the host left as it was.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="bb-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
}

# The container most tests look at, started as the first test starts it when it is not running.
busybox_running() {
    ensure_running "$NAME" --rootfs="$ROOTFS" --net=none --hostname=bbhost --dns=9.9.9.9,2620:fe::fe
    wait_until 10 booted "$NAME"
}

start_busybox() {
    local name=$1
    shift
    ds --name="$name" --rootfs="$ROOTFS" --net=none "$@" start
}

@test "start boots busybox init as PID 1 and returns its host PID" {
    ensure_stopped "$NAME"
    run start_busybox "$NAME" --hostname=bbhost --dns=9.9.9.9,2620:fe::fe
    [ "$status" -eq 0 ]
    local pid
    pid=$(ds --name="$NAME" pid)
    [[ $output == *"init PID $pid (busybox)"* ]]
    wait_until 10 booted "$NAME"
    [ "$(readlink "/proc/$pid/exe")" = "$(readlink -f "$ROOTFS/bin/busybox")" ] ||
        [[ $(readlink "/proc/$pid/exe") == */bin/busybox ]]
    run in_container "$NAME" cat /proc/1/cmdline
    [ "$output" = "init" ]
}

@test "a second start of a running name is refused" {
    busybox_running
    run --separate-stderr start_busybox "$NAME"
    [ "$status" -eq 1 ]
    [[ $stderr == *"'$NAME' is already running"* ]]
}

@test "hostname, /etc/hosts and resolv.conf are as configured" {
    busybox_running
    run in_container "$NAME" hostname
    [ "$output" = "bbhost" ]
    run in_container "$NAME" cat /etc/hostname
    [ "$output" = "bbhost" ]
    run in_container "$NAME" grep -c 'bbhost' /etc/hosts
    [ "$output" = "1" ]
    run in_container "$NAME" cat /etc/resolv.conf
    [ "$output" = $'nameserver 9.9.9.9\nnameserver 2620:fe::fe' ]
    # The hosts' own files were not touched.
    [ "$(hostname)" != "bbhost" ]
}

@test "namespaces differ from the host's, and only lo is up in --net=none" {
    busybox_running
    assert_private_namespaces "$NAME"
    run in_container "$NAME" ls /sys/class/net
    [ "$output" = "lo" ]
}

@test "the container sees its own cgroup as / and the host sees droidspaces/<name>" {
    busybox_running
    local pid
    pid=$(ds --name="$NAME" pid)
    run in_container "$NAME" cat /proc/self/cgroup
    [[ $output == *"0::/"* ]]
    run grep '^0::' "/proc/$pid/cgroup"
    [ "$output" = "0::/droidspaces/$NAME" ]
    run in_container "$NAME" sh -c 'grep " /sys/fs/cgroup " /proc/self/mountinfo'
    [[ $output == *" - cgroup2 "*"rw"* ]]
}

@test "/proc/sys and /sys are read-only, /dev is a private tmpfs with a pty console" {
    busybox_running
    run in_container "$NAME" sh -c 'echo 1 > /proc/sys/kernel/printk'
    [ "$status" -ne 0 ]
    run in_container "$NAME" sh -c 'touch /sys/x'
    [ "$status" -ne 0 ]
    run in_container "$NAME" sh -c 'ls /dev | sort | tr "\n" " "'
    for node in console full null ptmx pts random shm tty urandom zero; do
        [[ " $output " == *" $node "* ]] || { echo "missing /dev/$node"; return 1; }
    done
    run in_container "$NAME" sh -c 'readlink /proc/1/fd/0'
    [ "$output" = "/dev/console" ]
}

@test "the console is captured in Logs/<name>/console" {
    busybox_running
    wait_until 10 grep -q 'busybox-rcS: boot complete' "$DROIDSPACES_HOME/Logs/$NAME/console"
}

@test "run propagates exit codes" {
    busybox_running
    run in_container "$NAME" sh -c 'exit 7'
    [ "$status" -eq 7 ]
}

@test "reboot inside brings the container back with a new PID 1 and the edited config" {
    busybox_running
    local before after
    before=$(ds --name="$NAME" pid)
    sed -i 's/^hostname=.*/hostname=rebooted/' "$DROIDSPACES_HOME/Containers/$NAME/container.config"
    in_container "$NAME" reboot
    wait_until 20 bash -c "p=\$($DROIDSPACES_BIN --name=$NAME pid) && [ \"\$p\" != $before ]"
    after=$(ds --name="$NAME" pid)
    [ "$after" != "$before" ]
    wait_until 10 booted "$NAME"
    run in_container "$NAME" cat /proc/1/cmdline
    [ "$output" = "init" ]
    run in_container "$NAME" hostname
    [ "$output" = "rebooted" ]
    grep -q 'reboot requested' "$DROIDSPACES_HOME/Logs/$NAME/log"
}

@test "poweroff inside stops the container and cleans up" {
    busybox_running
    local pid monitor
    pid=$(ds --name="$NAME" pid)
    monitor=$(monitor_pid "$NAME")
    in_container "$NAME" poweroff
    wait_until 20 bash -c "! kill -0 $monitor 2>/dev/null"
    run ds --name="$NAME" pid
    [ "$output" = "NONE" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME.pid" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME.state" ]
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$NAME" ]
    [ ! -d "/sys/fs/cgroup/droidspaces/$NAME" ]
}

@test "stop right after start is not lost" {
    start_busybox "$NAME-quick"
    run ds --name="$NAME-quick" stop --timeout=10
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    run ds --name="$NAME-quick" pid
    [ "$output" = "NONE" ]
}

@test "restart boots again with the saved config" {
    ensure_stopped "$NAME"
    start_busybox "$NAME" --hostname=again
    local before
    before=$(ds --name="$NAME" pid)
    run ds --name="$NAME" restart
    [ "$status" -eq 0 ]
    [ "$(ds --name="$NAME" pid)" != "$before" ]
    run in_container "$NAME" hostname
    [ "$output" = "again" ]
    ds --name="$NAME" stop
}

@test "three containers run at once and stop with one command" {
    local n
    for n in a b c; do
        mkdir -p "$SUITE_TMP/multi-$n"
        cp -a "$ROOTFS" "$SUITE_TMP/multi-$n/rootfs"
        ds --name="$NAME-$n" --rootfs="$SUITE_TMP/multi-$n/rootfs" --net=none start
    done
    for n in a b c; do
        wait_until 10 booted "$NAME-$n"
    done
    [ "$(ds --name="$NAME-a" pid)" != "$(ds --name="$NAME-b" pid)" ]
    run ds --name="$NAME-a,$NAME-b,$NAME-c" stop
    [ "$status" -eq 0 ]
    for n in a b c; do
        [ "$(ds --name="$NAME-$n" pid)" = "NONE" ]
    done
}

@test "a failed boot says which step failed and leaves nothing behind" {
    mkdir -p "$SUITE_TMP/broken/rootfs/sbin" "$SUITE_TMP/broken/rootfs/etc"
    printf '#!/nonexistent/interpreter\n' >"$SUITE_TMP/broken/rootfs/sbin/init"
    chmod +x "$SUITE_TMP/broken/rootfs/sbin/init"
    run --separate-stderr ds --name="$NAME-broken" --rootfs="$SUITE_TMP/broken/rootfs" --net=none start
    [ "$status" -eq 2 ]
    [[ $stderr == *"exec /sbin/init"* ]]
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME-broken.pid" ]
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$NAME-broken" ]
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
