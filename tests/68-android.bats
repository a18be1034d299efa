#!/usr/bin/env bats
# Android host integration, run by the real binary inside the simulated Android host
# (tests/helpers/android.bash): -S storage (and a hostile rootfs around it), -P SELinux
# permissive and its restore (also after a killed monitor), the system tuning every start
# applies and the last stop reverts, and /data remounted suid for a directory rootfs on it.

# shellcheck disable=SC2154,SC2016
bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/android
    suite_setup
    android_sim_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="an-$$"
    # Stand-ins for Android's tools: each records how it was called.
    for tool in cmd dumpsys; do
        printf '#!/bin/sh\necho "%s $*" >>/data/local/tmp/tuning.log\n' "$tool" \
            >"$ANDROID_SYSTEM/bin/$tool"
        chmod 755 "$ANDROID_SYSTEM/bin/$tool"
    done
    echo "hello from the phone" >"$ANDROID_SDCARD/Download/hello.txt"
}

teardown_file() {
    load helpers
    load helpers/android
    android_stop_all
    suite_teardown
    android_sim_teardown
}

setup() {
    load helpers
    load helpers/android
}

# A copy of the busybox rootfs under `dir` (a host path the simulation sees as it is), made on
# first use, so that each test also runs alone.
rootfs_copy() {
    if [ ! -d "$1/rootfs" ]; then
        mkdir -p "$1"
        cp -a "$ROOTFS" "$1/rootfs"
    fi
    echo "$1/rootfs"
}

enforce() {
    cat "$ANDROID_SELINUX/enforce"
}

dsa_booted() {
    local pid
    pid=$(dsa --name="$1" pid) && [ -e "/proc/$pid/root/run/booted" ]
}

@test "-S binds /storage/emulated/0 at the same path and at /sdcard" {
    run --separate-stderr dsa --name="$NAME-s" --rootfs="$ROOTFS" --net=none -S start
    [ "$status" -eq 0 ]
    [[ $stderr != *"locked"* ]]
    run dsa --name="$NAME-s" run cat /sdcard/Download/hello.txt
    [ "$output" = "hello from the phone" ]
    run dsa --name="$NAME-s" run cat /storage/emulated/0/Download/hello.txt
    [ "$output" = "hello from the phone" ]
    # Both ways lead to the phone's storage, not to a copy.
    dsa --name="$NAME-s" run sh -c 'echo from-guest > /sdcard/Download/guest.txt'
    [ "$(cat "$ANDROID_SDCARD/Download/guest.txt")" = "from-guest" ]
    rm -f "$ANDROID_SDCARD/Download/guest.txt"
    dsa --name="$NAME-s" stop
}

# Nothing under a host directory: no entry, no mount (seen from the simulated host).
host_dir_untouched() {
    [ -z "$(find "$1" -mindepth 1)" ] && ! android_sim mountpoint -q "$1"
}

@test "-S: a rootfs whose /sdcard and /storage are symlinks to host paths gets nothing on the host" {
    local root
    root=$(rootfs_copy "$SUITE_TMP/evil")
    mkdir -p "$SUITE_TMP/host-sd" "$SUITE_TMP/host-storage"
    rm -rf "$root/sdcard" "$root/storage"
    ln -s "$SUITE_TMP/host-sd" "$root/sdcard"
    ln -s "$SUITE_TMP/host-storage" "$root/storage"
    run --separate-stderr dsa --name="$NAME-e" --rootfs="$root" --net=none -S start
    [ "$status" -eq 0 ]
    [[ $stderr == *"/sdcard will not be bound"* ]]
    [[ $stderr == *"/storage/emulated/0 will not be bound"* ]]
    host_dir_untouched "$SUITE_TMP/host-sd"
    host_dir_untouched "$SUITE_TMP/host-storage"
    run dsa --name="$NAME-e" run cat /sdcard/Download/hello.txt
    [ "$status" -ne 0 ]
    dsa --name="$NAME-e" stop
    host_dir_untouched "$SUITE_TMP/host-sd"
    host_dir_untouched "$SUITE_TMP/host-storage"
}

@test "-S: a rootfs symlink is followed inside the rootfs, as the guest sees it" {
    local root
    root=$(rootfs_copy "$SUITE_TMP/linked")
    rm -rf "$root/storage"
    mkdir -p "$root/mnt/phone"
    ln -s /mnt/phone "$root/storage"
    dsa --name="$NAME-l" --rootfs="$root" --net=none -S start
    run dsa --name="$NAME-l" run cat /storage/emulated/0/Download/hello.txt
    [ "$output" = "hello from the phone" ]
    run dsa --name="$NAME-l" run cat /mnt/phone/emulated/0/Download/hello.txt
    [ "$output" = "hello from the phone" ]
    dsa --name="$NAME-l" stop
}

@test "-S with storage still locked (empty before the first unlock) warns and boots" {
    mkdir -p "$SUITE_TMP/unlocked"
    mv "$ANDROID_SDCARD"/* "$SUITE_TMP/unlocked/"
    run --separate-stderr dsa --name="$NAME-s" --rootfs="$ROOTFS" --net=none -S start
    mv "$SUITE_TMP/unlocked"/* "$ANDROID_SDCARD/"
    [ "$status" -eq 0 ]
    [[ $stderr == *"/storage/emulated/0 is locked"* ]]
    dsa --name="$NAME-s" stop
}

@test "-P: permissive while a container that asked for it runs, enforcing after the last stops" {
    [ "$(enforce)" = 1 ]
    dsa --name="$NAME-p1" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none -P start
    [ "$(enforce)" = 0 ]
    dsa --name="$NAME-p2" --rootfs="$(rootfs_copy "$SUITE_TMP/p2")" --net=none -P start
    # A container without -P does not hold it.
    dsa --name="$NAME-p3" --rootfs="$(rootfs_copy "$SUITE_TMP/p3")" --net=none start
    dsa --name="$NAME-p1" stop
    [ "$(enforce)" = 0 ]
    dsa --name="$NAME-p2" stop
    [ "$(enforce)" = 1 ]
    dsa --name="$NAME-p3" stop
    [ "$(enforce)" = 1 ]
}

@test "-P: a guest that powers itself off gets enforcing restored by its monitor" {
    [ "$(enforce)" = 1 ]
    dsa --name="$NAME-off" --rootfs="$(rootfs_copy "$SUITE_TMP/off")" --net=none -P start
    wait_until 10 dsa_booted "$NAME-off"
    [ "$(enforce)" = 0 ]
    local status=0
    dsa --name="$NAME-off" run poweroff || status=$?
    [ "$status" -eq 0 ] || [ "$status" -eq 143 ]
    wait_until 20 test ! -e "$DROIDSPACES_HOME/Pids/$NAME-off.pid"
    wait_until 10 grep -qx 1 "$ANDROID_SELINUX/enforce"
}

@test "-P: a powered-off monitor keeps what a new start of the same name holds" {
    local lockfile=$DROIDSPACES_HOME/Pids/.android.lock record=$DROIDSPACES_HOME/Pids/.android
    local monitor fd cfd
    dsa --name="$NAME-o2" --rootfs="$(rootfs_copy "$SUITE_TMP/off2")" --net=none -P start
    wait_until 10 dsa_booted "$NAME-o2"
    monitor=$(monitor_pid "$NAME-o2")
    exec {fd}>"$lockfile"
    flock -x "$fd"
    dsa --name="$NAME-o2" run poweroff || true
    # The monitor, its record removed, waits for the Android state to release what it held.
    wait_until 20 bash -c "ls -l /proc/$monitor/fd 2>/dev/null | grep -q '/Pids/.android.lock'"
    # Meanwhile a new start of the name takes its lock and holds SELinux permissive again.
    exec {cfd}>"$DROIDSPACES_HOME/Pids/$NAME-o2.lock"
    flock -x "$cfd"
    echo "holder 2 $NAME-o2" >>"$record"
    exec {fd}>&-
    wait_until 20 bash -c "! kill -0 $monitor 2>/dev/null || grep -q '^State:[[:space:]]*Z' /proc/$monitor/status"
    local mode
    mode=$(enforce)
    exec {cfd}>&-
    dsa scan >/dev/null
    [ "$mode" = 0 ]
    [ "$(enforce)" = 1 ]
}

@test "-P never enforces a mode it did not change" {
    printf 0 >"$ANDROID_SELINUX/enforce"
    dsa --name="$NAME-p1" --rootfs="$(rootfs_copy "$SUITE_TMP/never")" --net=none -P start
    dsa --name="$NAME-p1" stop
    run enforce
    printf 1 >"$ANDROID_SELINUX/enforce"
    [ "$output" = 0 ]
}

@test "-P after a monitor SIGKILL: the next stop restores enforcing" {
    dsa --name="$NAME-p1" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none -P start
    wait_until 10 dsa_booted "$NAME-p1"
    kill -9 "$(monitor_pid "$NAME-p1")"
    [ "$(enforce)" = 0 ]
    dsa --name="$NAME-p1" stop
    [ "$(enforce)" = 1 ]
}

@test "-P after init and monitor were both killed: scan restores enforcing" {
    dsa --name="$NAME-p1" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none -P start
    wait_until 10 dsa_booted "$NAME-p1"
    kill_monitor_and_init "$NAME-p1"
    [ "$(enforce)" = 0 ]
    run dsa scan
    [ "$status" -eq 0 ]
    [[ $output == *"selinux restored"* ]]
    [ "$(enforce)" = 1 ]
    # The name boots again and its stop removes the cgroup scan left for its grace period.
    dsa --name="$NAME-p1" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none start
    dsa --name="$NAME-p1" stop
}

@test "-P: enforcing that could not be restored at the stop is restored by the next release" {
    dsa --name="$NAME-r" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none -P start
    [ "$(enforce)" = 0 ]
    # For a while the mode cannot be written (a directory in its place).
    rm "$ANDROID_SELINUX/enforce"
    mkdir "$ANDROID_SELINUX/enforce"
    run --separate-stderr dsa --name="$NAME-r" stop
    rmdir "$ANDROID_SELINUX/enforce"
    printf 0 >"$ANDROID_SELINUX/enforce"
    [ "$status" -eq 0 ]
    [[ $stderr == *"SELinux: could not restore enforcing mode"* ]]
    run dsa scan
    [ "$status" -eq 0 ]
    [[ $output == *"selinux restored"* ]]
    [ "$(enforce)" = 1 ]
    [ ! -e "$DROIDSPACES_HOME/Pids/.android" ]
}

@test "-P: the change is recorded before the device is switched to permissive" {
    local mode=$ANDROID_SELINUX/enforce record=$DROIDSPACES_HOME/Pids/.android
    # A FIFO for the mode: the test sees each read and write the runtime makes, in order.
    rm "$mode"
    mkfifo "$mode"
    dsa --name="$NAME-k" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none -P start \
        >"$SUITE_TMP/k.out" 2>&1 &
    local starter=$! changed=none written=none
    # It reads enforcing, then writes permissive; in between (before it checks the write took)
    # a SIGKILL would leave the record as it is now.
    if timeout 20 sh -c 'printf 1 >"$1"' - "$mode"; then
        written=$(timeout 20 cat "$mode")
        changed=$(awk '$1 == "changed" { print $2 }' "$record")
        timeout 20 sh -c 'printf 0 >"$1"' - "$mode" || true
    fi
    wait_until 30 bash -c "! kill -0 $starter"
    rm "$mode"
    printf 0 >"$mode"
    [ "$written" = 0 ]
    [ "$changed" != none ] && [ $((changed & 4)) -ne 0 ]
    dsa --name="$NAME-k" stop
    [ "$(enforce)" = 1 ]
}

@test "-P: a restart whose start fails early still restores enforcing" {
    local root
    root=$(rootfs_copy "$SUITE_TMP/restart")
    dsa --name="$NAME-re" --rootfs="$root" --net=none -P start
    [ "$(enforce)" = 0 ]
    # The new start fails at its first checks: no init in the rootfs any more.
    mv "$root/sbin/init" "$root/sbin/init.away"
    run --separate-stderr dsa --name="$NAME-re" restart
    mv "$root/sbin/init.away" "$root/sbin/init"
    [ "$status" -ne 0 ]
    [[ $stderr == *"not found in rootfs"* ]]
    [ "$(dsa --name="$NAME-re" pid)" = NONE ]
    [ "$(enforce)" = 1 ]
}

@test "start applies the system tuning once; the last stop reverts it" {
    rm -f "$ANDROID_DATA/local/tmp/tuning.log"
    dsa --name="$NAME-t1" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none start
    dsa --name="$NAME-t2" --rootfs="$(rootfs_copy "$SUITE_TMP/p2")" --net=none start
    run cat "$ANDROID_DATA/local/tmp/tuning.log"
    [ "${lines[0]}" = "cmd device_config put activity_manager max_phantom_processes 2147483647" ]
    [ "${lines[1]}" = "cmd device_config set_sync_disabled_for_tests persistent" ]
    [ "${lines[2]}" = "dumpsys deviceidle disable" ]
    [ "${#lines[@]}" -eq 3 ]
    dsa --name="$NAME-t1" stop
    [ "$(wc -l <"$ANDROID_DATA/local/tmp/tuning.log")" -eq 3 ]
    dsa --name="$NAME-t2" stop
    run cat "$ANDROID_DATA/local/tmp/tuning.log"
    [ "${lines[3]}" = "cmd device_config put activity_manager max_phantom_processes 32" ]
    [ "${lines[4]}" = "cmd device_config set_sync_disabled_for_tests none" ]
    [ "${lines[5]}" = "dumpsys deviceidle enable" ]
    [ "${#lines[@]}" -eq 6 ]
    [ ! -e "$DROIDSPACES_HOME/Pids/.android" ]
}

@test "the Android tools run as root get a fixed environment, not the caller's" {
    local tool=$ANDROID_SYSTEM/bin/dumpsys
    cp "$tool" "$SUITE_TMP/dumpsys.orig"
    printf '#!/bin/sh\nexport -p >/data/local/tmp/tool.env\n' >"$tool"
    LD_LIBRARY_PATH=/data/local/tmp/evil DS_FROM_TERMUX=1 \
        dsa --name="$NAME-env" --rootfs="$(rootfs_copy "$SUITE_TMP/p1")" --net=none start
    cp "$SUITE_TMP/dumpsys.orig" "$tool"
    run cat "$ANDROID_DATA/local/tmp/tool.env"
    rm -f "$ANDROID_DATA/local/tmp/tool.env"
    dsa --name="$NAME-env" stop
    [[ $output == *"PATH='/system/bin:/system/xbin'"* ]]
    [[ $output != *LD_LIBRARY_PATH* ]]
    [[ $output != *DS_FROM_TERMUX* ]]
}

data_options() {
    android_sim findmnt -n -o OPTIONS --target /data
}

@test "a directory rootfs on a nosuid /data: remounted suid while it runs, nosuid again after" {
    local root
    mkdir -p "$ANDROID_DATA/ds"
    cp -a "$ROOTFS" "$ANDROID_DATA/ds/rootfs"
    android_sim mount -o remount,bind,nosuid,nodev /data
    [[ $(data_options) == *nosuid* ]]
    dsa --name="$NAME-d" --rootfs=/data/ds/rootfs --net=none start
    [[ $(data_options) != *nosuid* ]]
    # Only nosuid changed.
    [[ $(data_options) == *nodev* ]]
    # The guest's root inherits it: its setuid programs (sudo) work.
    run dsa --name="$NAME-d" run awk '$2 == "/" { print $4 }' /proc/mounts
    [[ $output == rw* ]]
    [[ $output != *nosuid* ]]
    dsa --name="$NAME-d" stop
    [[ $(data_options) == *nosuid* ]]
    android_sim mount -o remount,bind /data
    rm -rf "$ANDROID_DATA/ds"
}

@test "the host is as it was before the suite" {
    android_stop_all
    [ "$(enforce)" = 1 ]
    [ ! -e "$DROIDSPACES_HOME/Pids/.android" ]
    stop_suite_containers
    android_sim_teardown  # its holder keeps a log open under the suite's directory
    assert_host_clean
}
