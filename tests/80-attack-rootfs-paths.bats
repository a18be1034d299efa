#!/usr/bin/env bats
# Attacks from an untrusted rootfs on the paths the runtime resolves before pivot_root (issue 7,
# hole 1), on the /etc files it rewrites after it, and the kernel files it masks. Every symlink
# here aims at a throwaway host directory made by the test ($ATK), never at a real system path,
# so a guard that fails cannot damage the machine. $ATK is under /var/tmp, not /tmp: the guest's
# /tmp is a tmpfs, and the tests that follow a link inside the rootfs need the same path there.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    export NAME="atk-bind-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
    ATK=$(mktemp -d /var/tmp/ds-atk.XXXXXX)
    suite_track_dir "$ATK"
    HOSTDIR="$ATK/target"
    mkdir -p "$HOSTDIR" "$ATK/src"
    echo from-host-src >"$ATK/src/file"
    echo single-file >"$ATK/one"
    ROOTFS=$(fixture_copy busybox "$ATK/bb")
}

teardown() {
    # A reader still blocked on a FIFO (the guard failed) is released so its boot can end.
    [ -p "$ROOTFS/etc/hosts" ] && timeout 2 sh -c ": >'$ROOTFS/etc/hosts'" 2>/dev/null
    stop_suite_containers
    rm -rf "$ATK"
}

start_ok() {
    ds --name="$1" --rootfs="$ROOTFS" --net=none --reset "${@:2}" start
    wait_until 20 booted "$1"
}

@test "a bind destination under a rootfs symlink to a host dir stays inside the rootfs" {
    local name="$NAME-b"
    ln -s "$HOSTDIR" "$ROOTFS/mnt"
    mkdir -p "$ROOTFS$HOSTDIR" # where the guest's own /mnt leads
    run --separate-stderr ds --name="$name" --rootfs="$ROOTFS" --net=none \
        -B "$ATK/src:/mnt/x" -B "$ATK/one:/mnt/y" start
    [ "$status" -eq 0 ]
    wait_until 20 booted "$name"
    # Nothing appeared on the host: neither the directory nor the empty file.
    [ ! -e "$HOSTDIR/x" ]
    [ ! -e "$HOSTDIR/y" ]
    [ -z "$(ls -A "$HOSTDIR")" ]
    # The guest follows its own /mnt symlink, inside its root, to the binds.
    run ds --name="$name" run cat /mnt/x/file /mnt/y
    [ "$status" -eq 0 ]
    [ "$output" = $'from-host-src\nsingle-file' ]
    run ds --name="$name" run readlink /mnt
    [ "$output" = "$HOSTDIR" ]
    ds --name="$name" stop
    [ ! -e "$HOSTDIR/x" ]
    run grep -q "$ATK" /proc/self/mountinfo
    [ "$status" -eq 1 ]
}

@test "a relative symlink climbing out of the rootfs is resolved inside it" {
    local name="$NAME-r"
    # From <rootfs>/mnt, enough ../ to reach the host's $ATK, as a naive resolver would.
    ln -s "../../../../../../../../..$HOSTDIR" "$ROOTFS/mnt"
    mkdir -p "$ROOTFS$HOSTDIR"
    start_ok "$name" -B "$ATK/src:/mnt/x"
    [ -z "$(ls -A "$HOSTDIR")" ]
    run ds --name="$name" run cat /mnt/x/file
    [ "$output" = "from-host-src" ]
    ds --name="$name" stop
}

@test "a bind destination that cannot be resolved inside is skipped with a warning" {
    local name="$NAME-s"
    mkdir -p "$ROOTFS/data"
    ln -s /nowhere/at/all "$ROOTFS/data/dangling"
    run --separate-stderr ds --name="$name" --rootfs="$ROOTFS" --net=none \
        -B "$ATK/src:/etc/passwd/x" -B "$ATK/src:/data/dangling/x" -B "$ATK/src:/mnt/ok" start
    [ "$status" -eq 0 ]
    [[ $stderr == *"$ATK/src:/etc/passwd/x will be skipped"* ]]
    [[ $stderr == *"/etc/passwd inside the rootfs is not a directory"* ]]
    [[ $stderr == *"$ATK/src:/data/dangling/x will be skipped"* ]]
    [[ $stderr == *"/data/dangling inside the rootfs is a symlink"* ]]
    [[ $stderr != *"/mnt/ok"* ]]
    wait_until 20 booted "$name"
    # The boot itself skipped them (and said so in the runtime log); the good one is there.
    grep -q "warning: bind mount $ATK/src:/etc/passwd/x skipped" \
        "$DROIDSPACES_HOME/Logs/$name/log"
    grep -q "warning: bind mount $ATK/src:/data/dangling/x skipped" \
        "$DROIDSPACES_HOME/Logs/$name/log"
    run ds --name="$name" run cat /mnt/ok/file
    [ "$output" = "from-host-src" ]
    [ ! -e /nowhere ]
    ds --name="$name" stop
}

@test "a rootfs whose /tmp is a symlink gets the tmpfs where the link leads inside it" {
    local name="$NAME-t"
    rm -rf "$ROOTFS/tmp"
    ln -s "$HOSTDIR" "$ROOTFS/tmp"
    mkdir -p "$ROOTFS$HOSTDIR"  # the same path inside the rootfs: what the guest's /tmp names
    start_ok "$name"
    # The host directory got no mount, from the host's view or the container's.
    run grep -q "$ATK" /proc/self/mountinfo
    [ "$status" -eq 1 ]
    [ -z "$(ls -A "$HOSTDIR")" ]
    # Inside, /tmp leads to a fresh tmpfs: the runtime's mount is where the guest looks.
    run ds --name="$name" run stat -f -c %T /tmp/
    [ "$output" = "tmpfs" ]
    ds --name="$name" run sh -c 'echo guest > /tmp/probe'
    [ ! -e "$HOSTDIR/probe" ]
    [ ! -e "$ROOTFS$HOSTDIR/probe" ] # in the tmpfs above it
    ds --name="$name" stop
    run grep -q "$ATK" /proc/self/mountinfo
    [ "$status" -eq 1 ]
}

@test "a rootfs whose /run leads nowhere inside is refused with one clear line" {
    local name="$NAME-u"
    rm -rf "$ROOTFS/run"
    ln -s "$HOSTDIR" "$ROOTFS/run"  # $HOSTDIR's path does not exist inside the rootfs
    run --separate-stderr ds --name="$name" --rootfs="$ROOTFS" --net=none start
    [ "$status" -ne 0 ]
    [[ $stderr == *"/run inside the rootfs"* ]]
    [ "$(ds --name="$name" pid)" = "NONE" ]
    [ -z "$(ls -A "$HOSTDIR")" ]
    run grep -q "$ATK" /proc/self/mountinfo
    [ "$status" -eq 1 ]
}

@test "a FIFO at /etc/hosts and /dev/zero at /etc/hostname neither hang nor exhaust the boot" {
    local name="$NAME-f"
    rm -f "$ROOTFS/etc/hosts" "$ROOTFS/etc/hostname"
    mkfifo "$ROOTFS/etc/hosts"
    ln -s /dev/zero "$ROOTFS/etc/hostname"
    DS_TIMEOUT=30 start_ok "$name"
    [ -p "$ROOTFS/etc/hosts" ]
    [ -L "$ROOTFS/etc/hostname" ]
    [ "$(readlink "$ROOTFS/etc/hostname")" = /dev/zero ]
    run ds --name="$name" run hostname
    [ "$output" = "$name" ]
    ds --name="$name" stop
}

@test "/etc/hosts as a symlink to /dev/zero is left alone, not read" {
    local name="$NAME-z"
    rm -f "$ROOTFS/etc/hosts"
    ln -s /dev/zero "$ROOTFS/etc/hosts"
    # Bounded address space: a runtime that read /dev/zero would fail, not take the machine.
    (
        ulimit -v 4000000
        DS_TIMEOUT=30 start_ok "$name"
    )
    [ "$(readlink "$ROOTFS/etc/hosts")" = /dev/zero ]
    ds --name="$name" stop
}

@test "a regular /etc/hosts gets the container's entries; its other lines stay" {
    local name="$NAME-h"
    printf '10.0.0.1\tgateway\n' >"$ROOTFS/etc/hosts"
    start_ok "$name"
    run cat "$ROOTFS/etc/hosts"
    [[ $output == *$'10.0.0.1\tgateway'* ]]
    [[ $output == *$'127.0.0.1\tlocalhost'* ]]
    [[ $output == *$'127.0.1.1\t'"$name"* ]]
    [ "$(cat "$ROOTFS/etc/hostname")" = "$name" ]
    ds --name="$name" stop
}

# The paths of the mask table that hide contents, where this kernel has them.
HIDDEN_DIRS="/proc/scsi /sys/devices/virtual/powercap /sys/firmware"
HIDDEN_FILES="/proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/latency_stats /proc/timer_stats"

# Prints "PATH empty" or "PATH has-content" for each path present in the container.
probe_hidden() {
    ds --name="$1" run sh -c '
        for d in '"$HIDDEN_DIRS"'; do
            [ -d "$d" ] || continue
            if [ -z "$(ls -A "$d")" ]; then echo "$d empty"; else echo "$d has-content"; fi
        done
        for f in '"$HIDDEN_FILES"'; do
            [ -e "$f" ] || continue
            if [ "$(head -c 1 "$f" 2>/dev/null | wc -c)" -eq 0 ]; then echo "$f empty"
            else echo "$f has-content"; fi
        done'
}

@test "masked kernel files are hidden and read-only inside" {
    local name="$NAME-m" checked=0 path
    start_ok "$name"
    run probe_hidden "$name"
    [ "$status" -eq 0 ]
    echo "$output"
    [[ $output != *has-content* ]]
    for path in $HIDDEN_DIRS; do
        [ -n "$(ls -A "$path" 2>/dev/null)" ] || continue
        [[ $output == *"$path empty"* ]]
        checked=$((checked + 1))
    done
    [ "$checked" -ge 1 ] # /sys/firmware at least, on any machine with ACPI or a device tree
    # The masks are read-only: nothing can be mounted or written through them.
    run ds --name="$name" run sh -c 'touch /sys/firmware/x'
    [ "$status" -ne 0 ]
    ds --name="$name" stop
}

@test "--privileged=nomask leaves the kernel files unmasked" {
    local name="$NAME-n"
    start_ok "$name" --privileged=nomask
    run probe_hidden "$name"
    [ "$status" -eq 0 ]
    echo "$output"
    [[ $output == *"/sys/firmware has-content"* ]]
    [[ $output == *"/proc/timer_list has-content"* ]]
    ds --name="$name" stop
}

# The v1 layout mounts the host's named systemd hierarchy; a release_agent there is run by the
# kernel as host root (CVE-2022-0492). The container's cgroup namespace already roots the mount
# at its own cgroup, where the kernel shows no release_agent; the mask is the second line.
has_named_v1() {
    findmnt -n -o OPTIONS -t cgroup | grep -q 'name=systemd'
}

@test "on the cgroup v1 layout, no release_agent is writable inside" {
    has_named_v1 || skip "this host has no named systemd v1 hierarchy"
    local name="$NAME-v"
    start_ok "$name" --force-cgroupv1
    run ds --name="$name" run grep -c ' /sys/fs/cgroup/systemd .* - cgroup ' /proc/self/mountinfo
    [ "$output" = "1" ]
    # Each one found is written back with its own value: harmless even if a mask is missing.
    run ds --name="$name" run sh -c 'for f in $(find /sys/fs/cgroup -name release_agent); do
        v=$(cat "$f"); if printf "%s" "$v" 2>/dev/null >"$f"; then echo "writable: $f"; fi
        done; echo checked'
    [ "$output" = "checked" ]
    ds --name="$name" stop
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
