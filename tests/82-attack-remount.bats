#!/usr/bin/env bats
# Issue 7, hole 11: a guest must not remount the host's filesystem. The busybox rootfs sits alone
# on a loop-mounted ext4 filesystem that the host mounts read-write; the guest's
# `mount -o remount,ro /` (what Debian's umountroot and OpenRC's mount-ro run at shutdown) would
# reconfigure that superblock, i.e. make the host's filesystem read-only. With the remount guard
# the guest's mount becomes read-only and the host's stays read-write.
#
# Remounts are made from init's process tree (a small agent started by inittab runs commands the
# test drops into the guest's /run): `run`/`enter` processes have no monitor listening and are
# refused instead, which is a test of its own.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    export NAME="rmt-$$"
    export SD_NAME="rmt-sd-$$"
    export IMG_NAME="rmt-img-$$"
    export IMAGE="$SUITE_TMP/hostfs.img"
    export HOSTFS="$SUITE_TMP/hostfs"
    # Room for the systemd fixture too: its remounts must only ever reach this throwaway fs.
    truncate -s 512M "$IMAGE"
    mkfs.ext4 -q -F "$IMAGE"
    mkdir -p "$HOSTFS"
    mount -o loop "$IMAGE" "$HOSTFS"
    ROOTFS=$(fixture_copy busybox "$HOSTFS")
    export ROOTFS
    mkdir -p "$HOSTFS/data"
    install_agent "$ROOTFS"
}

teardown_file() {
    load helpers
    stop_suite_containers
    # Read-write again if a guard failed, so the teardown itself cannot fail on it.
    if mountpoint -q "$HOSTFS"; then
        fsfreeze -u "$HOSTFS" 2>/dev/null || true
        mount -o remount,rw "$HOSTFS" 2>/dev/null || true
        umount "$HOSTFS" || umount -l "$HOSTFS"
    fi
    local loop
    for loop in $(losetup -j "$IMAGE" | cut -d: -f1); do losetup -d "$loop"; done
    suite_teardown
}

setup() {
    load helpers
}

# Runs commands dropped into /run/agent.cmd from init's tree; busybox init starts it once.
install_agent() {
    local root=$1
    cat >"$root/sbin/ds-test-agent" <<'EOF'
#!/bin/sh
while :; do
    if [ -e /run/agent.cmd ]; then
        sh /run/agent.cmd >/run/agent.out 2>&1
        echo $? >/run/agent.rc.new
        rm -f /run/agent.cmd
        mv /run/agent.rc.new /run/agent.rc
    fi
    sleep 0.1
done
EOF
    chmod 755 "$root/sbin/ds-test-agent"
    # Debian's umountroot does this at shutdown; its outcome goes to the console log.
    cat >"$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::once:/sbin/ds-test-agent
::shutdown:/bin/sh -c 'mount -o remount,ro / && echo shutdown-remount-ro-ok'
::shutdown:/bin/echo busybox-shutdown
EOF
}

# Runs shell code in the guest ($GUEST, default $NAME), as a process of init's tree; prints its
# output, returns its status.
guest_sh() {
    local pid run
    pid=$(ds --name="${GUEST:-$NAME}" pid) || return 90
    run=/proc/$pid/root/run
    rm -f "$run/agent.rc" "$run/agent.out"
    printf '%s\n' "$1" >"$run/agent.new"
    mv "$run/agent.new" "$run/agent.cmd"
    wait_until 20 test -e "$run/agent.rc" || return 91
    cat "$run/agent.out"
    return "$(cat "$run/agent.rc")"
}

# The busybox guest the attacks use, started as the first test starts it when it is not running
# (each test also passes alone, or after a test that stopped the guest).
guest_running() {
    ensure_running "$NAME" --rootfs="$ROOTFS" --net=none -B "$HOSTFS/data:/data"
    wait_until 10 booted "$NAME"
}

host_options() {
    findmnt -n -o OPTIONS --mountpoint "$HOSTFS"
}

# The host's mount is read-write and a host process can write there.
assert_host_writable() {
    local options
    options=$(host_options)
    echo "host options: $options"
    [[ $options == rw,* ]]
    touch "$HOSTFS/host-write-$BATS_TEST_NUMBER"
    rm "$HOSTFS/host-write-$BATS_TEST_NUMBER"
}

@test "the busybox guest boots from a directory on the loop-mounted ext4" {
    ensure_stopped "$NAME"
    run ds --name="$NAME" --rootfs="$ROOTFS" --net=none -B "$HOSTFS/data:/data" start
    [ "$status" -eq 0 ]
    wait_until 10 booted "$NAME"
    run guest_sh 'echo agent-ready'
    [ "$status" -eq 0 ]
    [ "$output" = "agent-ready" ]
    assert_host_writable
}

@test "the guest's mount -o remount,ro / makes its / read-only, not the host's filesystem" {
    guest_running
    run guest_sh 'mount -o remount,ro /'
    echo "remount: $output"
    [ "$status" -eq 0 ]
    assert_host_writable
    # The guest's own mount of it is read-only now.
    run guest_sh 'touch /remount-probe'
    [ "$status" -ne 0 ]
    [[ $output == *"Read-only file system"* ]]
    run guest_sh "awk '\$2 == \"/\" { print \$4 }' /proc/mounts"
    [[ $output == ro,* ]]
    [ ! -e "$ROOTFS/remount-probe" ]
    # And back: the guest can make its own mount writable again.
    run guest_sh 'mount -o remount,rw / && touch /remount-probe'
    [ "$status" -eq 0 ]
    [ -e "$ROOTFS/remount-probe" ]
    rm -f "$ROOTFS/remount-probe"
}

@test "the guest cannot freeze or shut down the host's filesystem through its rootfs" {
    guest_running
    # Without the guard FIFREEZE would block every writer of $HOSTFS (teardown thaws it).
    run guest_sh 'fsfreeze --freeze / || fsfreeze -f /'
    echo "freeze: $output"
    [ "$status" -ne 0 ]
    [[ $output == *"Operation not permitted"* ]]
    run timeout 10 touch "$HOSTFS/after-freeze"
    [ "$status" -eq 0 ]
    rm -f "$HOSTFS/after-freeze"
    # EXT4_IOC_SHUTDOWN on a file of the rootfs: without the guard the host's fs stops.
    printf '%s\n' '#include <errno.h>' '#include <fcntl.h>' '#include <stdint.h>' \
        '#include <stdio.h>' '#include <string.h>' '#include <sys/ioctl.h>' \
        'int main(void) {' \
        '    int fd = open("/", O_RDONLY | O_DIRECTORY);' \
        '    uint32_t flags = 2; /* EXT4_GOING_FLAGS_NOLOGFLUSH */' \
        '    int rc = ioctl(fd, _IOR(0x58, 125, uint32_t), &flags);' \
        '    printf("shutdown: %s\n", rc ? strerror(errno) : "done");' \
        '    return rc ? 1 : 0;' '}' >"$SUITE_TMP/fs_shutdown.c"
    gcc -static -O1 -o "$ROOTFS/fs-shutdown" "$SUITE_TMP/fs_shutdown.c"
    run guest_sh '/fs-shutdown'
    rm -f "$ROOTFS/fs-shutdown"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Operation not permitted"* ]]
    assert_host_writable
}

@test "an unprivileged guest user cannot have the monitor remount anything" {
    guest_running
    # The filter runs before the kernel's own permission check: the guard makes that check.
    run guest_sh 'su tester -s /bin/sh -c "mount -o remount,ro /"'
    echo "$output"
    [ "$status" -ne 0 ]
    run guest_sh "awk '\$2 == \"/\" { print \$4 }' /proc/mounts"
    [[ $output == rw,* ]]
    assert_host_writable
}

@test "no remount helper outlives its call" {
    guest_running
    run guest_sh 'mount -o remount,ro /data && mount -o remount,rw /data'
    [ "$status" -eq 0 ]
    wait_until 10 bash -c "! pgrep -f '[d]s-remount-guard:$NAME'"
}

@test "a remount of a -B source's filesystem does not change the host" {
    guest_running
    run guest_sh 'mount -o remount,ro,noexec /data'
    echo "remount: $output"
    [ "$status" -eq 0 ]
    assert_host_writable
    run guest_sh 'touch /data/probe'
    [ "$status" -ne 0 ]
    [[ $output == *"Read-only file system"* ]]
    # The rootfs, another mount of the same superblock, is still writable in the guest.
    run guest_sh 'touch /rootfs-probe && rm /rootfs-probe'
    [ "$status" -eq 0 ]
}

@test "the guest still remounts its own tmpfs, with its options taking effect" {
    guest_running
    run guest_sh 'mkdir -p /tmp/own && mount -t tmpfs own /tmp/own -o size=1m &&
        mount -o remount,size=2m /tmp/own && df -k /tmp/own | awk "NR == 2 { print \$2 }"'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "2048" ]
    # The runtime's /run is the container's too.
    run guest_sh 'mount -o remount,size=3m /run && df -k /run | awk "NR == 2 { print \$2 }"'
    [ "$status" -eq 0 ]
    [ "$output" = "3072" ]
    run guest_sh 'umount /tmp/own'
    [ "$status" -eq 0 ]
}

@test "run and enter processes are refused superblock remounts; the host stays read-write" {
    guest_running
    run ds --name="$NAME" run mount -o remount,ro /
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"ermission denied"* || $output == *"not permitted"* ]]
    assert_host_writable
    # Per-mount (bind) remounts are theirs to make.
    run ds --name="$NAME" run mount -o remount,bind,ro /data
    [ "$status" -eq 0 ]
    assert_host_writable
}

@test "after an in-container reboot the new init's remounts are guarded too" {
    guest_running
    local before
    before=$(ds --name="$NAME" pid)
    # The reboot runs the shutdown actions first: remount,ro / among them.
    in_container "$NAME" reboot
    wait_until 20 bash -c "p=\$($DROIDSPACES_BIN --name=$NAME pid) && [ \"\$p\" != $before ]"
    wait_until 10 booted "$NAME"
    assert_host_writable
    run guest_sh 'mount -o remount,ro / && touch /probe'
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Read-only file system"* ]]
    assert_host_writable
    run guest_sh 'mount -o remount,rw /'
    [ "$status" -eq 0 ]
}

@test "stop: the shutdown's remount,ro / succeeds for the guest and leaves the host read-write" {
    guest_running
    run ds --name="$NAME" stop
    [ "$status" -eq 0 ]
    grep -q 'shutdown-remount-ro-ok' "$DROIDSPACES_HOME/Logs/$NAME/console"
    grep -q 'busybox-shutdown' "$DROIDSPACES_HOME/Logs/$NAME/console"
    assert_host_writable
}

@test "a systemd guest boots as before, systemd-remount-fs does not fail, the host's fs is unchanged" {
    local rootfs before after state
    # On the test's ext4 as well: a failing guard must not touch a real host filesystem.
    rootfs=$(fixture_copy systemd "$HOSTFS/sd")
    # An fstab entry for /: systemd-remount-fs then runs `mount -o remount /` at boot.
    echo '/dev/root / auto rw,relatime 0 0' >"$rootfs/etc/fstab"
    before=$(host_options)
    run ds --name="$SD_NAME" --rootfs="$rootfs" --net=none -B "$HOSTFS/data:/data" start
    [ "$status" -eq 0 ]
    run wait_for_systemd "$SD_NAME"
    state=$output
    echo "state: $state"
    run ds --name="$SD_NAME" run systemctl --failed --no-legend --plain
    echo "failed units: $output"
    [[ $output != *remount* ]]
    [ "$state" = "running" ] || [ "$state" = "degraded" ]
    # It ran (the fstab entry) and succeeded.
    run ds --name="$SD_NAME" run systemctl show -p ActiveState --value systemd-remount-fs
    [ "$output" = "active" ]
    run ds --name="$SD_NAME" run systemctl show -p Result --value systemd-remount-fs
    [ "$output" = "success" ]
    run ds --name="$SD_NAME" run systemctl show -p ExecMainStatus --value systemd-remount-fs
    [ "$output" = "0" ]
    run ds --name="$SD_NAME" run systemctl show -p ExecMainStartTimestampMonotonic --value \
        systemd-remount-fs
    [ "${output:-0}" -gt 0 ]
    # A process of systemd's tree (not run/enter) remounts a -B source read-only with
    # util-linux's mount: only the guest's mount changes. (/ has writers here, journald: a
    # read-only remount of it fails with EBUSY, as on any booted system.)
    run ds --name="$SD_NAME" run systemd-run --wait --pipe --quiet mount -o remount,ro /data
    echo "systemd-run: $output"
    [ "$status" -eq 0 ]
    run ds --name="$SD_NAME" run findmnt -n -o OPTIONS /data
    [[ $output == ro,* ]]
    [ "$(host_options)" = "$before" ]
    run ds --name="$SD_NAME" stop
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    grep -q 'Reached target.*System Shutdown' "$DROIDSPACES_HOME/Logs/$SD_NAME/console"
    after=$(host_options)
    [ "$after" = "$before" ]
    assert_host_writable
    rm -rf "$HOSTFS/sd"
}

@test "an image rootfs is the container's own filesystem: its remount,ro / is made as asked" {
    local image=$SUITE_TMP/own.img mnt
    mkfs.ext4 -q -F -d "$ROOTFS" "$image" 64M
    run ds --name="$IMG_NAME" --rootfs-img="$image" --net=none start
    [ "$status" -eq 0 ]
    wait_until 10 booted "$IMG_NAME"
    mnt=$(cat "$DROIDSPACES_HOME/Pids/$IMG_NAME.mount")
    [[ $(findmnt -n -o OPTIONS --mountpoint "$mnt") == rw,* ]]
    GUEST=$IMG_NAME run guest_sh 'mount -o remount,ro,commit=7 / && grep " / " /proc/mounts'
    echo "$output"
    [ "$status" -eq 0 ]
    # The superblock itself: the ext4 option arrived, and the runtime's mount of it is
    # read-only as well (one filesystem, the container's).
    [[ $output == *"commit=7"* ]]
    [[ $(findmnt -n -o OPTIONS --mountpoint "$mnt") == ro,* ]]
    run ds --name="$IMG_NAME" stop
    [ "$status" -eq 0 ]
    [ -z "$(losetup -j "$image")" ]
    [ ! -e "$mnt" ]
    assert_host_writable
    rm -f "$image"
}

@test "the host is as it was before the suite (apart from the test's own ext4 mount)" {
    stop_suite_containers
    host_snapshot >"$SUITE_TMP/host.now"
    run diff "$SUITE_TMP/host.before" "$SUITE_TMP/host.now"
    echo "$output"
    # Only the suite's own ext4 mount and its loop device may differ.
    run bash -c "diff '$SUITE_TMP/host.before' '$SUITE_TMP/host.now' | grep '^[<>]' | grep -v -e '$HOSTFS' -e '$IMAGE'"
    [ "$status" -ne 0 ]
}
