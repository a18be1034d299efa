#!/usr/bin/env bats
# The device allowlist (issue 7): container root keeps CAP_MKNOD, so without a policy it could
# make (or find in a hostile rootfs) a block node of the host's disk and read or write it. A
# cgroup v2 BPF device program lets the guest open and create only the nodes a container needs.
# The block device used here is an unbound loop device of the host: opening it is harmless.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    export NAME="atk-dev-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
    HARNESS="$BATS_TEST_DIRNAME/helpers/pty_harness.py"
    ATK=$(mktemp -d /var/tmp/ds-atk-dev.XXXXXX)
    suite_track_dir "$ATK"
    ROOTFS=$(fixture_copy busybox "$ATK/bb")
    # A free loop device's minor (any loop node is a block device of major 7).
    local loop
    loop=$(losetup -f)
    MINOR=$((16#$(stat -c %T "$loop")))
    # The hostile rootfs ships a block node.
    mknod "$ROOTFS/root/blk" b 7 "$MINOR"
}

teardown() {
    stop_suite_containers
    rm -rf "$ATK"
}

start_ok() {
    ds --name="$1" --rootfs="$ROOTFS" --net=none "${@:2}" start
    wait_until 20 booted "$1"
}

@test "the guest can neither create nor open a block device" {
    local name="$NAME-b"
    start_ok "$name"
    run ds --name="$name" run mknod /tmp/b b 7 "$MINOR"
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Operation not permitted"* ]]
    run ds --name="$name" run sh -c 'head -c0 </root/blk'
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Operation not permitted"* ]]
    # Nor through dd, which opens the node itself.
    run ds --name="$name" run dd if=/root/blk of=/dev/null count=0
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Operation not permitted"* ]]
    ds --name="$name" stop
}

@test "a reboot inside does not shed the policy (the monitor makes a new cgroup)" {
    local name="$NAME-r" before
    start_ok "$name"
    before=$(ds --name="$name" pid)
    in_container "$name" reboot
    wait_until 20 bash -c "p=\$($DROIDSPACES_BIN --name=$name pid) && [ \"\$p\" != $before ]"
    wait_until 20 booted "$name"
    grep -q 'reboot requested' "$DROIDSPACES_HOME/Logs/$name/log"
    run ds --name="$name" run sh -c 'head -c0 </root/blk'
    echo "$output"
    [ "$status" -ne 0 ]
    [[ $output == *"Operation not permitted"* ]]
    run ds --name="$name" run mknod /tmp/b b 7 "$MINOR"
    [ "$status" -ne 0 ]
    ds --name="$name" stop
}

@test "the nodes a container needs still open and can be made" {
    local name="$NAME-c"
    start_ok "$name"
    run ds --name="$name" run sh -c \
        'for d in null zero full random urandom net/tun fuse ptmx; do : <>"/dev/$d" || exit 1; done'
    echo "$output"
    [ "$status" -eq 0 ]
    run ds --name="$name" run sh -c 'head -c4 /dev/urandom | wc -c'
    [ "$output" = "4" ]
    # The console is a host pts bound in.
    run ds --name="$name" run sh -c 'echo device-probe >/dev/console'
    echo "$output"
    [ "$status" -eq 0 ]
    # Without a controlling terminal /dev/tty is the driver's "no such device", not the policy's
    # "not permitted".
    run ds --name="$name" run sh -c ': </dev/tty'
    echo "$output"
    [[ $output != *"Operation not permitted"* ]]
    run ds --name="$name" run sh -c 'mknod /dev/n c 1 3 && echo x >/dev/n && echo made'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "made" ]
    ds --name="$name" stop
}

@test "enter: a pts login shell with /dev/tty works under the policy" {
    local name="$NAME-e"
    start_ok "$name"
    run timeout -k 5 120 python3 "$HARNESS" --timeout 20 \
        -e 'expect # ' \
        -e 'sendline tty' \
        -e 'expect /dev/pts/[0-9]+' \
        -e 'sendline echo probe >/dev/tty && echo "tt""y-ok"' \
        -e 'expect tty-ok' \
        -e 'sendline head -c0 </root/blk; echo "bl""k=$?"' \
        -e 'expect blk=[0-9]+' \
        -e 'sendline exit 3' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$name" enter
    echo "$output"
    [ "$status" -eq 3 ]
    [[ $output != *"blk=0"* ]]
    [[ $output == *"Operation not permitted"* ]]
    ds --name="$name" stop
}

@test "--privileged=unfiltered-dev lifts the policy: the block node opens" {
    local name="$NAME-u"
    run --separate-stderr ds --name="$name" --rootfs="$ROOTFS" --net=none \
        --privileged=unfiltered-dev start
    [ "$status" -eq 0 ]
    wait_until 20 booted "$name"
    run ds --name="$name" run sh -c 'head -c0 </root/blk && echo opened'
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$output" = "opened" ]
    run ds --name="$name" run sh -c "mknod /tmp/b b 7 $MINOR && echo made"
    [ "$status" -eq 0 ]
    [ "$output" = "made" ]
    ds --name="$name" stop
}

@test "--force-cgroupv1: one warning that devices are not filtered, the container starts" {
    local name="$NAME-v1"
    run --separate-stderr ds --name="$name" --rootfs="$ROOTFS" --net=none --force-cgroupv1 start
    echo "$stderr"
    [ "$status" -eq 0 ]
    [ "$(grep -c 'device allowlist' <<<"$stderr")" -eq 1 ]
    wait_until 20 booted "$name"
    ds --name="$name" stop
}

failed_units() {
    ds --name="$1" run systemctl --failed --no-legend --plain | awk '{print $1}' | sort
}

@test "systemd boots under the policy with no more failed units than unfiltered" {
    local sd name="$NAME-sd"
    sd=$(fixture_copy systemd "$ATK/sd")
    ds --name="$name" --rootfs="$sd" --net=none start
    run wait_for_systemd "$name"
    [ "$status" -eq 0 ]
    echo "with the policy: $output"
    failed_units "$name" >"$ATK/failed.policy"
    ds --name="$name" stop
    ds --name="$name" --rootfs="$sd" --net=none --privileged=unfiltered-dev start
    run wait_for_systemd "$name"
    [ "$status" -eq 0 ]
    echo "unfiltered: $output"
    failed_units "$name" >"$ATK/failed.unfiltered"
    ds --name="$name" stop
    echo "failed with the policy:" $(cat "$ATK/failed.policy")
    diff -u "$ATK/failed.unfiltered" "$ATK/failed.policy"
}

@test "the host is as it was before the suite" {
    assert_host_clean
}
