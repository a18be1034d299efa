#!/usr/bin/env bats
# -H/--hw-access and --gpu with real busybox containers. This machine has no GPU: stand-in
# nodes (harmless char devices) are made in a private /dev of a private mount namespace (the
# "GPU host" below) or of the simulated Android host, so the mirroring, the GPU group and the
# device cgroup run for real; nothing of them reaches the host's /dev.

# $stderr comes from bats' run; guest scripts are single-quoted on purpose.
# shellcheck disable=SC2154,SC2016

bats_require_minimum_version 1.5.0

FW=/sys/module/firmware_class/parameters/path

setup_file() {
    load helpers
    load helpers/android
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    ROOTFS2=$(fixture_copy busybox "$SUITE_TMP/bb2")
    mkdir -p "$ROOTFS/lib/firmware" "$ROOTFS2/lib/firmware"
    cp -a "$ROOTFS/etc/group" "$SUITE_TMP/group.orig"
    export ROOTFS ROOTFS2 NAME="hw-$$"
    [ ! -e "$FW" ] || od -An -c "$FW" >"$SUITE_TMP/firmware.before"
    # The X11 socket's directory on the host, made (and removed) only when missing; the socket
    # itself lives on a tmpfs inside the GPU host's namespace.
    if [ ! -e /tmp/.X11-unix ]; then
        mkdir -m 1777 /tmp/.X11-unix
        touch "$SUITE_TMP/made-x11-dir"
    fi
    gpu_host_setup
    android_sim_setup
}

teardown_file() {
    load helpers
    load helpers/android
    stop_suite_containers
    android_sim_teardown
    [ -z "${GPU_HOST:-}" ] || kill "$GPU_HOST" 2>/dev/null || true
    [ ! -e "$SUITE_TMP/made-x11-dir" ] || rm -f /tmp/.X11-unix/X0
    [ ! -e "$SUITE_TMP/made-x11-dir" ] || rmdir /tmp/.X11-unix
    suite_teardown
}

teardown() {
    # A test that gave the host a firmware path of its own puts the empty one back.
    if [ -e "$SUITE_TMP/fw-restore" ]; then
        ds --name="$NAME-f1" stop 2>/dev/null || true
        printf '\0' >"$FW"
        rm -f "$SUITE_TMP/fw-restore"
    fi
}

setup() {
    load helpers
    load helpers/android
    # Every test states its options: no saved config (beside the rootfs or in the workspace)
    # carries -H, --gpu or --privileged over from an earlier test. Each test stops its own.
    rm -f "$SUITE_TMP"/bb*/container.config
    rm -rf "$DROIDSPACES_HOME"/Containers/hw-*
}

# A private mount namespace whose /dev is a tmpfs copy of the host's plus stand-in GPU nodes:
# renderD128 is 1:11 (kmsg, outside the default device allowlist, so opening it proves the
# --gpu rule), the rest 1:3 or 1:5. card0 and nvidiactl must never be mirrored.
gpu_host_setup() {
    unshare -m --propagation private -- bash -c '
        set -e
        dev=$(mktemp -d "$SUITE_TMP/gpu-dev.XXXXXX")
        mount -t tmpfs -o mode=755 ds-gpu-dev "$dev"
        cp -a /dev/. "$dev/" 2>/dev/null || true
        for d in pts shm mqueue; do
            if mountpoint -q "/dev/$d"; then mount --rbind "/dev/$d" "$dev/$d"; fi
        done
        mount --move "$dev" /dev
        rmdir "$dev"
        mkdir -p /dev/dri /dev/dma_heap
        mknod -m 660 /dev/dri/renderD128 c 1 11 && chgrp 44 /dev/dri/renderD128
        mknod -m 660 /dev/dri/card0 c 1 3
        mknod -m 666 /dev/dma_heap/system c 1 5
        mknod -m 666 /dev/kgsl-3d0 c 1 5
        mknod -m 666 /dev/mali0 c 1 3
        mknod -m 666 /dev/nvidiactl c 1 3
        mount -t tmpfs -o mode=1777 ds-x11 /tmp/.X11-unix
        python3 -c "import socket; socket.socket(socket.AF_UNIX).bind(\"/tmp/.X11-unix/X0\")"
        touch /dev/.gpu-host-ready
        exec sleep infinity' >"$SUITE_TMP/gpu-host.log" 2>&1 &
    GPU_HOST=$!
    export GPU_HOST
    wait_until 20 test -e "/proc/$GPU_HOST/root/dev/.gpu-host-ready" || {
        cat "$SUITE_TMP/gpu-host.log" >&2
        return 1
    }
}

# The runtime run inside the GPU host's mount namespace.
gpu_ds() {
    suite_record_names "$@"
    nsenter -t "$GPU_HOST" -m -- timeout -k 5 90 "$DROIDSPACES_BIN" "$@"
}

android_ds() {
    suite_record_names "$@"
    android_sim timeout -k 5 90 "$DROIDSPACES_BIN" "$@"
}

firmware_now() {
    od -An -c "$FW"
}

@test "--gpu mirrors only the known GPU nodes, as root:786 0660; card and blocklisted nodes stay out" {
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu start
    run gpu_ds --name="$NAME-g" run sh -c \
        'for n in dri/renderD128 kgsl-3d0 mali0 dma_heap/system; do
             stat -c "%n %a %u:%g %t:%T" /dev/$n; done
         ls /dev/dri; ls /dev/nvidiactl /dev/dri/card0 2>&1 || true'
    gpu_ds --name="$NAME-g" stop
    echo "$output"
    [[ $output == *"/dev/dri/renderD128 660 0:786 1:b"* ]]
    [[ $output == *"/dev/kgsl-3d0 660 0:786 1:5"* ]]
    [[ $output == *"/dev/mali0 660 0:786 1:3"* ]]
    [[ $output == *"/dev/dma_heap/system 660 0:786 1:5"* ]]
    [[ $output == *"/dev/nvidiactl: No such file"* ]]
    [[ $output == *"/dev/dri/card0: No such file"* ]]
}

@test "--gpu: the device cgroup lets the guest open a mirrored node, and only with --gpu" {
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu start
    run gpu_ds --name="$NAME-g" run sh -c 'exec 3</dev/dri/renderD128 && echo opened'
    gpu_ds --name="$NAME-g" stop
    [ "$output" = "opened" ]
    # The same node made by a guest without --gpu: refused by the allowlist. (The config kept
    # beside the rootfs remembers --gpu: it goes first.)
    rm -f "$SUITE_TMP/bb/container.config" "$DROIDSPACES_HOME/Containers/$NAME-g/container.config"
    gpu_ds --name="$NAME-n" --rootfs="$ROOTFS" --net=none start
    run gpu_ds --name="$NAME-n" run sh -c 'mknod /dev/r c 1 11 && exec 3</dev/r && echo opened'
    gpu_ds --name="$NAME-n" stop
    echo "$output"
    [[ $output == *"Operation not permitted"* ]]
}

@test "the droidspaces-gpu group is added once across restarts; an existing line gets root" {
    cp -a "$SUITE_TMP/group.orig" "$ROOTFS/etc/group"
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu start
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu restart
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu restart
    gpu_ds --name="$NAME-g" stop
    [ "$(grep -c '^droidspaces-gpu:' "$ROOTFS/etc/group")" -eq 1 ]
    grep -qx 'droidspaces-gpu:x:786:root' "$ROOTFS/etc/group"
    # The guest's other lines are kept as they were.
    [ "$(grep -v '^droidspaces-gpu:' "$ROOTFS/etc/group")" = "$(cat "$SUITE_TMP/group.orig")" ]
    { cat "$SUITE_TMP/group.orig"; echo 'droidspaces-gpu:x:786:alice'; } >"$ROOTFS/etc/group"
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu start
    gpu_ds --name="$NAME-g" stop
    grep -qx 'droidspaces-gpu:x:786:alice,root' "$ROOTFS/etc/group"
    cp -a "$SUITE_TMP/group.orig" "$ROOTFS/etc/group"
}

@test "a guest /etc/group that is a symlink is refused: neither it nor its target changes" {
    echo 'host-file: keep me' >"$SUITE_TMP/host-target"
    echo 'guest-file: keep me' >"$ROOTFS/etc/group.real"
    for target in "$SUITE_TMP/host-target" /etc/group.real; do
        ln -sfn "$target" "$ROOTFS/etc/group"
        gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu start
        gpu_ds --name="$NAME-g" stop
        [ -L "$ROOTFS/etc/group" ]
        [ "$(readlink "$ROOTFS/etc/group")" = "$target" ]
    done
    [ "$(cat "$SUITE_TMP/host-target")" = 'host-file: keep me' ]
    [ "$(cat "$ROOTFS/etc/group.real")" = 'guest-file: keep me' ]
    grep -q '/etc/group is not a regular file' "$DROIDSPACES_HOME/Logs/$NAME-g/log"
    rm -f "$ROOTFS/etc/group" "$ROOTFS/etc/group.real"
    cp -a "$SUITE_TMP/group.orig" "$ROOTFS/etc/group"
}

@test "-H: devtmpfs /dev, writable /sys, only CAP_SYS_MODULE dropped, the upstream warning" {
    # The host's own /dev is that devtmpfs: the boot must leave it as it is.
    local host_dev
    host_dev=$(ls -a /dev)
    run --separate-stderr gpu_ds --name="$NAME-h" --rootfs="$ROOTFS" --net=none -H start
    [ "$status" -eq 0 ]
    [[ $stderr == *"--hw-access: the container gets the host's devices"* ]]
    run gpu_ds --name="$NAME-h" run sh -c \
        'awk "\$5 == \"/dev\" || \$5 == \"/sys\" {print \$5, \$9, \$6}" /proc/self/mountinfo
         grep CapBnd /proc/self/status; ls -d /sys/firmware/*/ | head -1'
    # init's own bounding set is the same as run's.
    local init_bnd
    init_bnd=$(sed -n 's/^CapBnd:\t//p' "/proc/$(gpu_ds --name="$NAME-h" pid)/status")
    gpu_ds --name="$NAME-h" stop
    [[ $output == *"CapBnd:	$init_bnd"* ]]
    echo "$output"
    [[ $output == *"/dev devtmpfs rw"* ]]
    [[ $output == *"/sys sysfs rw"* ]]
    # Bit 16 (CAP_SYS_MODULE) is clear, bit 17 (CAP_SYS_RAWIO) set.
    local bnd=$((16#$(sed -n 's/^CapBnd:\t//p' <<<"$output")))
    [ $(((bnd >> 16) & 1)) -eq 0 ]
    [ $(((bnd >> 17) & 1)) -eq 1 ]
    # /sys/firmware is not masked under -H.
    [[ $output == *"/sys/firmware/"* ]]
    [ "$(ls -a /dev)" = "$host_dev" ]
}

@test "-H -f with a systemd guest: /sys read-only, its top-level directories writable binds" {
    # A stand-in systemd (the family is told by the path): it records its /sys mounts.
    mkdir -p "$ROOTFS2/lib/systemd"
    cat >"$ROOTFS2/lib/systemd/systemd" <<'INIT'
#!/bin/sh
awk '$5 ~ /^\/sys(\/(devices|class|fs))?$/ {print $5, substr($6, 1, 2)}' /proc/self/mountinfo >/hwcheck.out
echo hwcheck-ready
trap "exit 0" TERM
while :; do sleep 1; done
INIT
    chmod 755 "$ROOTFS2/lib/systemd/systemd"
    run python3 "$REPO_ROOT/tests/helpers/pty_harness.py" --timeout 30 \
        -e 'expect hwcheck-ready' -e 'send \x1b\x04' -e 'expect Detached' -e wait-exit -- \
        "$DROIDSPACES_BIN" --name="$NAME-s" --rootfs="$ROOTFS2" --net=none -H \
        --init=/lib/systemd/systemd -f start
    suite_track_name "$NAME-s"
    ds --name="$NAME-s" stop --timeout=5
    rm -rf "$ROOTFS2/lib/systemd"
    cat "$ROOTFS2/hwcheck.out"
    grep -qx '/sys ro' "$ROOTFS2/hwcheck.out"
    grep -qx '/sys/devices rw' "$ROOTFS2/hwcheck.out"
    grep -qx '/sys/class rw' "$ROOTFS2/hwcheck.out"
    grep -qx '/sys/fs rw' "$ROOTFS2/hwcheck.out"
    rm -f "$ROOTFS2/hwcheck.out"
}

@test "-H and --gpu bind the desktop's X11 socket when the host has one" {
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu start
    run gpu_ds --name="$NAME-g" run sh -c 'test -S /tmp/.X11-unix/X0 && stat -c %a /tmp/.X11-unix'
    gpu_ds --name="$NAME-g" stop
    [ "$output" = "1777" ]
    # No socket on the host (outside the GPU host's namespace): nothing bound, no failure.
    ds --name="$NAME-p" --rootfs="$ROOTFS" --net=none --gpu start
    run ds --name="$NAME-p" run sh -c 'test -e /tmp/.X11-unix/X0 && echo present || echo absent'
    ds --name="$NAME-p" stop
    [ "$output" = "absent" ]
}

@test "--gpu with -B onto /dev/dri: the bound host directory's nodes are left as they are" {
    local fake="$SUITE_TMP/fake-dri" before
    mkdir -p "$fake"
    mknod -m 600 "$fake/renderD128" c 1 3
    before=$(stat -c '%i %u:%g %a %t:%T' "$fake/renderD128")
    run --separate-stderr gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu \
        -B "$fake:/dev/dri" start
    gpu_ds --name="$NAME-g" stop
    local after
    after=$(stat -c '%i %u:%g %a %t:%T' "$fake/renderD128")
    rm -rf "$fake"
    echo "before=$before after=$after"
    [ "$status" -eq 0 ]
    [ "$after" = "$before" ]
    grep -q '/dev/dri/renderD128 not mirrored' "$DROIDSPACES_HOME/Logs/$NAME-g/log"
}

@test "-H/--gpu with -B onto /tmp: a bound host /tmp/.X11-unix keeps its mode" {
    local fake="$SUITE_TMP/fake-tmp"
    mkdir -p "$fake/.X11-unix"
    chmod 700 "$fake/.X11-unix"
    gpu_ds --name="$NAME-g" --rootfs="$ROOTFS" --net=none --gpu -B "$fake:/tmp" start
    gpu_ds --name="$NAME-g" stop
    local mode
    mode=$(stat -c %a "$fake/.X11-unix")
    rm -rf "$fake"
    [ "$mode" = "700" ]
}

@test "-H sets the firmware path only when empty; the stop gives it back exactly" {
    [ -e "$FW" ] || skip "no $FW on this kernel"
    [ -z "$(cat "$FW")" ] || skip "the host has a firmware path of its own"
    local fw1
    fw1=$(realpath "$ROOTFS/lib/firmware")
    ds --name="$NAME-f1" --rootfs="$ROOTFS" --net=none -H start
    ds --name="$NAME-f1" --rootfs="$ROOTFS" --net=none -H restart
    [ "$(cat "$FW")" = "$fw1" ]
    # A second rootfs finds the path taken: left as it is (one directory, never a list).
    run --separate-stderr ds --name="$NAME-f2" --rootfs="$ROOTFS2" --net=none -H start
    [ "$status" -eq 0 ]
    [[ $stderr == *"firmware path"*"is left as it is"* ]]
    [ "$(cat "$FW")" = "$fw1" ]
    ds --name="$NAME-f1" stop
    [ "$(firmware_now)" = "$(cat "$SUITE_TMP/firmware.before")" ]
    ds --name="$NAME-f2" stop
    [ "$(firmware_now)" = "$(cat "$SUITE_TMP/firmware.before")" ]
}

@test "-H leaves the host's own firmware path alone (start succeeds with a warning)" {
    [ -e "$FW" ] || skip "no $FW on this kernel"
    [ -z "$(cat "$FW")" ] || skip "the host has a firmware path of its own"
    local host_path=/run/ds-test-host-firmware
    printf '%s' "$host_path" >"$FW"
    touch "$SUITE_TMP/fw-restore"
    run --separate-stderr ds --name="$NAME-f1" --rootfs="$ROOTFS" --net=none -H start
    [ "$status" -eq 0 ]
    [[ $stderr == *"firmware path"*"$host_path"*"is left as it is"* ]]
    [ "$(cat "$FW")" = "$host_path" ]
    ds --name="$NAME-f1" stop
    [ "$(cat "$FW")" = "$host_path" ]
}

@test "-H on a killed monitor: the next stop still restores the firmware path" {
    [ -e "$FW" ] || skip "no $FW on this kernel"
    ds --name="$NAME-f1" --rootfs="$ROOTFS" --net=none -H start
    grep -qF "$(realpath "$ROOTFS/lib/firmware")" "$FW"
    local monitor
    monitor=$(monitor_pid "$NAME-f1")
    kill -9 "$monitor"
    wait_until 10 bash -c "! kill -0 $monitor"
    ds --name="$NAME-f1" stop || true
    [ "$(firmware_now)" = "$(cat "$SUITE_TMP/firmware.before")" ]
}

# `run` inside the simulated Android host does not reach the container's root (the simulation is
# a chroot), so the checks run as the container's init itself: a script that writes what it
# sees to /hwcheck.out in the rootfs (a directory on the host), then waits to be stopped.
android_check() {
    local name=$1 script=$2
    shift 2
    printf '#!/bin/sh\n{\n%s\n} >/hwcheck.out 2>&1\ntouch /hwcheck.done\ntrap "exit 0" TERM\nwhile :; do sleep 1; done\n' \
        "$script" >"$ROOTFS/hwcheck"
    chmod 755 "$ROOTFS/hwcheck"
    rm -f "$ROOTFS/hwcheck.out" "$ROOTFS/hwcheck.done"
    android_ds --name="$name" --rootfs="$ROOTFS" --net=none --init=/hwcheck "$@" start
    wait_until 20 test -e "$ROOTFS/hwcheck.done"
    android_ds --name="$name" stop --timeout=5
    output=$(cat "$ROOTFS/hwcheck.out")
    echo "$output"
}

@test "Android -H: devtmpfs copied without the blocklisted nodes, GPU nodes mirrored" {
    android_sim mkdir -p /dev/dri
    android_sim mknod -m 660 /dev/kgsl-3d0 c 1 5
    android_sim mknod -m 660 /dev/dri/renderD128 c 1 11
    android_check "$NAME-a" '
        awk "\$5 == \"/dev\" {print \$5, \$9}" /proc/self/mountinfo
        ls /dev/tty1 /dev/tty63 /dev/vcs /dev/cpu_dma_latency
        ls /dev/loop-control /dev/null /dev/tty
        stat -c "%n %a %g" /dev/kgsl-3d0 /dev/dri/renderD128' -H
    [[ $output == *"/dev tmpfs"* ]]
    for gone in tty1 tty63 vcs cpu_dma_latency; do
        [[ $output == *"/dev/$gone: No such file"* ]]
    done
    [[ $output == *"/dev/loop-control"* ]]
    [[ $output == *"/dev/kgsl-3d0 660 786"* ]]
    [[ $output == *"/dev/dri/renderD128 660 786"* ]]
}

@test "Android -H: the device cgroup denies the blocklisted nodes' numbers and allows the rest" {
    # 7:0 is /dev/vcs (blocklisted), 1:11 /dev/kmsg (not): the guest makes both itself. 4:200
    # is no node at all, but major 4 (VTs, ttyS) has nothing but blocklisted nodes: denied whole.
    android_check "$NAME-a" '
        mknod /dev/v c 7 0 && (exec 3</dev/v) && echo vcs-opened
        mknod /dev/t c 4 200 && (exec 3</dev/t) && echo tty-opened
        mknod /dev/k c 1 11 && (exec 3</dev/k) && echo kmsg-opened' -H
    [ "$(grep -c "Operation not permitted" <<<"$output")" -eq 2 ]
    [[ $output != *"vcs-opened"* ]]
    [[ $output != *"tty-opened"* ]]
    [[ $output == *"kmsg-opened"* ]]
}

@test "Android -H with --privileged=unfiltered-dev keeps the blocklisted nodes" {
    android_check "$NAME-a" '
        awk "\$5 == \"/dev\" {print \$5, \$9}" /proc/self/mountinfo; ls /dev/vcs' \
        -H --privileged=unfiltered-dev
    [[ $output == *"/dev devtmpfs"* ]]
    [[ $output == *"/dev/vcs"* ]]
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    android_sim_teardown
    kill "$GPU_HOST" && wait_until 10 bash -c "! kill -0 $GPU_HOST"
    rm -f "$ROOTFS/hwcheck" "$ROOTFS/hwcheck.out" "$ROOTFS/hwcheck.done"
    assert_host_clean
    [ ! -e "$FW" ] || [ "$(firmware_now)" = "$(cat "$SUITE_TMP/firmware.before")" ]
    [ -z "$(ls "$DROIDSPACES_HOME"/Pids/*.firmware 2>/dev/null)" ]
}
