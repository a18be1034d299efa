#!/usr/bin/env bats
# Rootfs images on loop devices, volatile sessions, restart that keeps the image mounted, and
# the command lock: the host keeps no loop device, mount or scratch directory afterwards.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="st-$$"
    # mke2fs -d fills the image from the directory: no mount needed to build it.
    export IMAGE="$SUITE_TMP/bb.img"
    mkfs.ext4 -q -F -d "$ROOTFS" "$IMAGE" 64M
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
}

loops_of() {
    losetup -j "$1" 2>/dev/null
}

# The image container the first tests look at, started as the first test starts it.
image_running() {
    ensure_running "$NAME" --rootfs-img="$IMAGE" --net=none
    wait_until 10 booted "$NAME"
}

mount_point() {
    echo "$DROIDSPACES_HOME/mnt/$1"
}

# The tree's names, sizes, modes, owners and contents.
tree_hash() {
    # pipefail: a tree that cannot be read must fail, not hash as empty on both sides.
    local -
    set -o pipefail
    (cd "$1" && find . -printf '%p %s %m %U %G %y\n' | sort && find . -type f -exec sha256sum {} + | sort) |
        sha256sum
}

@test "an ext4 image boots on a loop device mounted at the workspace mount point" {
    ensure_stopped "$NAME"
    run ds --name="$NAME" --rootfs-img="$IMAGE" --net=none start
    [ "$status" -eq 0 ]
    wait_until 10 booted "$NAME"
    [ -n "$(loops_of "$IMAGE")" ]
    mountpoint -q "$(mount_point "$NAME")"
    [ "$(cat "$DROIDSPACES_HOME/Pids/$NAME.mount")" = "$(mount_point "$NAME")" ]
    grep -q '^rootfs_path=.*bb.img$' "$DROIDSPACES_HOME/Containers/$NAME/container.config"
    run ds --name="$NAME" run sh -c 'echo persisted > /root/mark'
}

@test "restart keeps the image mounted and re-clones init" {
    image_running
    local mount_id before
    mount_id=$(awk -v m="$(mount_point "$NAME")" '$5 == m {print $1}' /proc/self/mountinfo)
    before=$(ds --name="$NAME" pid)
    run ds --name="$NAME" restart
    [ "$status" -eq 0 ]
    [ "$(ds --name="$NAME" pid)" != "$before" ]
    [ "$(awk -v m="$(mount_point "$NAME")" '$5 == m {print $1}' /proc/self/mountinfo)" = "$mount_id" ]
    wait_until 10 booted "$NAME"
    run ds --name="$NAME" run cat /root/mark
    [ "$output" = "persisted" ]
}

@test "stop unmounts the image, frees the loop device and removes the mount point" {
    image_running
    ds --name="$NAME" stop
    [ -z "$(loops_of "$IMAGE")" ]
    [ ! -e "$(mount_point "$NAME")" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME.mount" ]
    e2fsck -fn "$IMAGE"
}

@test "poweroff inside also releases the image" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs-img="$IMAGE" --net=none start
    wait_until 10 booted "$NAME"
    ds_power_request --name="$NAME" run poweroff
    wait_until 20 bash -c "[ ! -e '$DROIDSPACES_HOME/Pids/$NAME.pid' ] && [ -z \"\$(losetup -j '$IMAGE')\" ]"
    [ ! -e "$(mount_point "$NAME")" ]
}

@test "after kill -9 of the monitor, stop still cleans everything" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs-img="$IMAGE" --net=none start
    local monitor
    monitor=$(monitor_pid "$NAME")
    kill -9 "$monitor"
    run ds --name="$NAME" stop --timeout=10
    [ "$status" -eq 0 ]
    [ -z "$(loops_of "$IMAGE")" ]
    [ ! -e "$(mount_point "$NAME")" ]
    [ ! -d "/sys/fs/cgroup/unified/droidspaces/$NAME" ]
    [ ! -d "/sys/fs/cgroup/droidspaces/$NAME" ]
    [ "$(ds --name="$NAME" pid)" = "NONE" ]
}

@test "after kill -9 of the monitor and init, scan cleans the orphaned mount" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs-img="$IMAGE" --net=none start
    local monitor init
    monitor=$(monitor_pid "$NAME")
    init=$(ds --name="$NAME" pid)
    kill -9 "$monitor"
    kill -9 "$init"
    wait_until 10 bash -c "! kill -0 $init 2>/dev/null"
    run ds scan
    echo "$output"
    [ "$status" -eq 0 ]
    [ -z "$(loops_of "$IMAGE")" ]
    [ ! -e "$(mount_point "$NAME")" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME.pid" ]
}

@test "e2fsck preens an unclean image before mounting and says so" {
    ensure_stopped "$NAME"
    debugfs -w -R 'ssv state 0' "$IMAGE" >/dev/null 2>&1
    run --separate-stderr ds --name="$NAME" --rootfs-img="$IMAGE" --net=none start
    [ "$status" -eq 0 ]
    [[ $stderr == *"e2fsck repaired"* ]]
    ds --name="$NAME" stop
}

@test "an image that needs a manual repair is refused with the command to run" {
    cp --sparse=always "$IMAGE" "$SUITE_TMP/broken.img"
    # The root inode cleared, and the superblock saying errors were seen: the preen checks it.
    debugfs -w -R 'clri <2>' "$SUITE_TMP/broken.img" >/dev/null 2>&1
    debugfs -w -R 'ssv state 2' "$SUITE_TMP/broken.img" >/dev/null 2>&1
    run --separate-stderr ds --name="$NAME-broken" --rootfs-img="$SUITE_TMP/broken.img" --net=none start
    [ "$status" -eq 1 ]
    [[ $stderr == *"needs a manual repair"*"e2fsck -f"* ]]
    [ -z "$(loops_of "$SUITE_TMP/broken.img")" ]
}

@test "damage a preen does not look for is refused at mount time with the command to run" {
    cp --sparse=always "$IMAGE" "$SUITE_TMP/broken.img"
    debugfs -w -R 'clri <2>' "$SUITE_TMP/broken.img" >/dev/null 2>&1
    run --separate-stderr ds --name="$NAME-broken" --rootfs-img="$SUITE_TMP/broken.img" --net=none start
    [ "$status" -eq 1 ]
    [[ $stderr == *"e2fsck -f"* ]]
    [ -z "$(loops_of "$SUITE_TMP/broken.img")" ]
    [ ! -e "$(mount_point "$NAME-broken")" ]
    [ "$(ds --name="$NAME-broken" pid)" = "NONE" ]
}

@test "an image without a known filesystem is refused naming it" {
    truncate -s 8M "$SUITE_TMP/zeros.img"
    run --separate-stderr ds --name="$NAME-z" --rootfs-img="$SUITE_TMP/zeros.img" --net=none start
    [ "$status" -eq 1 ]
    [[ $stderr == *"zeros.img"* ]]
    [ -z "$(loops_of "$SUITE_TMP/zeros.img")" ]
}

@test "a volatile session leaves a directory rootfs byte-for-byte unchanged" {
    local before
    before=$(tree_hash "$ROOTFS")
    ds --name="$NAME-v" --rootfs="$ROOTFS" --net=none -V start
    ds --name="$NAME-v" run sh -c 'echo new > /etc/newfile; rm /bin/vi; mv /etc/passwd /etc/passwd.moved; echo x >> /etc/group'
    run ds --name="$NAME-v" run cat /etc/newfile
    [ "$output" = "new" ]
    # Nothing of the overlay is visible on the host (ours: other runs may have their own).
    run bash -c "grep overlay /proc/self/mountinfo | grep -F -e '$DROIDSPACES_HOME' -e '$SUITE_TMP'"
    [ "$status" -eq 1 ]
    ds --name="$NAME-v" stop
    [ "$(tree_hash "$ROOTFS")" = "$before" ]
    [ ! -e "$DROIDSPACES_HOME/Volatile/$NAME-v" ]
    ds --name="$NAME-v" --rootfs="$ROOTFS" --reset start >/dev/null
    ds --name="$NAME-v" stop
}

@test "a volatile session leaves an image's content unchanged" {
    local mnt="$SUITE_TMP/check" before after
    mkdir -p "$mnt"
    mount -o loop,ro "$IMAGE" "$mnt"
    before=$(tree_hash "$mnt")
    umount "$mnt"
    ds --name="$NAME-vi" --rootfs-img="$IMAGE" --net=none -V start
    ds --name="$NAME-vi" run sh -c 'echo new > /etc/newfile; rm /bin/vi; mv /etc/passwd /etc/passwd.moved'
    ds --name="$NAME-vi" stop
    [ -z "$(loops_of "$IMAGE")" ]
    mount -o loop,ro "$IMAGE" "$mnt"
    after=$(tree_hash "$mnt")
    umount "$mnt"
    rmdir "$mnt"
    [ "$after" = "$before" ]
}

@test "a start waits for a restart in progress instead of racing it" {
    ensure_stopped "$NAME"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none --reset start
    wait_until 10 booted "$NAME"
    ds --name="$NAME" restart &
    local restart=$!
    # Whichever gets the lock second sees the container running and is refused cleanly.
    run --separate-stderr ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    wait "$restart"
    [ "$status" -eq 1 ]
    [[ $stderr == *"already running"* ]]
    [ "$(ds --name="$NAME" pid)" != "NONE" ]
    [ "$(pgrep -cf "^ds-monitor:$NAME\$")" -eq 1 ]
    ds --name="$NAME" stop
}

@test "a stop racing a restart of an image container leaves one consistent state" {
    ds --name="$NAME-r" --rootfs-img="$IMAGE" --net=none start
    wait_until 10 booted "$NAME-r"
    ds --name="$NAME-r" restart >/dev/null 2>&1 &
    local restart=$!
    ds --name="$NAME-r" stop >/dev/null 2>&1 || true
    wait "$restart" || true
    if [ "$(ds --name="$NAME-r" pid)" = "NONE" ]; then
        # The stop came last: nothing of the container is left.
        [ -z "$(loops_of "$IMAGE")" ]
        [ ! -e "$(mount_point "$NAME-r")" ]
    else
        # The restart came last: one monitor, its image mounted once.
        [ "$(pgrep -cxf "ds-monitor:$NAME-r")" -eq 1 ]
        [ "$(loops_of "$IMAGE" | wc -l)" -eq 1 ]
        mountpoint -q "$(mount_point "$NAME-r")"
        ds --name="$NAME-r" stop
    fi
    [ -z "$(loops_of "$IMAGE")" ]
}

@test "a leftover lock file without a holder blocks nothing" {
    ensure_stopped "$NAME"
    mkdir -p "$DROIDSPACES_HOME/Pids"
    echo "12345 old-boot-id" >"$DROIDSPACES_HOME/Pids/$NAME.lock"
    run ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    [ "$status" -eq 0 ]
    ds --name="$NAME" stop
    [ ! -e "$DROIDSPACES_HOME/Pids/$NAME.lock" ]
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
