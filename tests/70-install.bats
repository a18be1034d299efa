#!/usr/bin/env bats
# `install`: the busybox and Debian fixtures packed as tarballs (and a fixture directory) are
# installed into a directory and into a sparse ext4 image, keep owners, modes and device nodes
# (the Debian fixture has both; the busybox one has no device nodes),
# boot, and stop; every failure (not an archive, truncated, image too small, existing name, bad
# name, interrupted) leaves nothing behind; --json and plain output; the host left as it was.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    local line
    line=$("$REPO_ROOT/tests/fixtures/build.sh" busybox) || return 1
    export BB_ROOTFS=${line#*=}
    line=$("$REPO_ROOT/tests/fixtures/build.sh" systemd) || return 1
    export SD_ROOTFS=${line#*=}

    # Tarballs as rootfs vendors ship them: numeric owners, xattrs, compressed.
    tar --numeric-owner --xattrs -C "$BB_ROOTFS" -czf "$SUITE_TMP/bb.tar.gz" .
    if command -v zstd >/dev/null; then
        export BB_TAR2=$SUITE_TMP/bb.tar.zst
        tar --numeric-owner --xattrs -C "$BB_ROOTFS" -c . | zstd -q -o "$BB_TAR2"
    else
        export BB_TAR2=$SUITE_TMP/bb.tar.xz
        tar --numeric-owner --xattrs -C "$BB_ROOTFS" -c . | xz -T0 -1 >"$BB_TAR2"
    fi
    if command -v xz >/dev/null; then
        export SD_TAR=$SUITE_TMP/sd.tar.xz
        tar --numeric-owner --xattrs -C "$SD_ROOTFS" -c . | xz -T0 -1 >"$SD_TAR"
    else
        export SD_TAR=$SUITE_TMP/sd.tar.gz
        tar --numeric-owner --xattrs -C "$SD_ROOTFS" -czf "$SD_TAR" .
    fi
    head -c 200000 /dev/urandom >"$SUITE_TMP/garbage.tar.gz"
    local size
    size=$(stat -c %s "$SUITE_TMP/bb.tar.gz")
    head -c $((size / 2)) "$SUITE_TMP/bb.tar.gz" >"$SUITE_TMP/truncated.tar.gz"

    export BB="bbi-$$" BBIMG="bbimg-$$" SD="sdi-$$" SDIMG="sdimg-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
    CONTAINERS=$DROIDSPACES_HOME/Containers
}

# Owners, modes and types of everything in a tree, and the numbers of its device nodes.
listing() {
    (
        cd "$1" || exit 1
        find . -path ./lost+found -prune -o -printf '%p %U %G %m %y %l\n' | sort
        find . \( -type c -o -type b \) -exec stat -c '%n %t:%T' {} + | sort
    )
}

# (A bare `! cmd` never fails a bats test: these return the negation as their status.)
no_temp_dirs() { ! compgen -G "$CONTAINERS/.install[@-]*" >/dev/null; }
not_mounted() { ! grep -qF "$DROIDSPACES_HOME" /proc/self/mountinfo; }
no_loop_device() { ! losetup -a | grep -qF "$DROIDSPACES_HOME"; }

# Container $1 installed with the install options that follow, unless an earlier test did it:
# the tests that boot or re-install it do not depend on that test having run.
ensure_installed() {
    local name=$1
    shift
    [ ! -e "$CONTAINERS/$name/container.config" ] || return 0
    ds --name="$name" install "$@" >/dev/null
}

# Nothing of container $1 exists: no directory, no temp dir, no mount, no loop device, no lock.
nothing_left() {
    local name=$1
    [ ! -e "$CONTAINERS/$name" ] || { echo "left: $CONTAINERS/$name"; return 1; }
    no_temp_dirs || { echo "left: temp dir"; ls -a "$CONTAINERS"; return 1; }
    not_mounted || { echo "left: a mount"; return 1; }
    no_loop_device || { echo "left: a loop device"; return 1; }
    [ ! -e "$DROIDSPACES_HOME/Pids/$name.lock" ] || { echo "left: lock"; return 1; }
}

# Each line of $1 is one JSON object.
json_lines_ok() {
    local line
    while IFS= read -r line; do
        if command -v jq >/dev/null; then
            jq -e 'type == "object" and has("event")' >/dev/null <<<"$line" || return 1
        elif command -v python3 >/dev/null; then
            python3 -c 'import json,sys; o=json.loads(sys.argv[1]); assert "event" in o' "$line" ||
                return 1
        else
            [[ $line =~ ^\{\"event\":\"[a-z]+\".*\}$ ]] || return 1
        fi
    done <<<"$1"
}

@test "a busybox tar.gz installs into a directory with owners, modes and device nodes kept" {
    run --separate-stderr ds --name="$BB" install --from="$SUITE_TMP/bb.tar.gz"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [[ $output == *"Installed '$BB'"* ]]
    [[ $stderr != *"init"* ]]  # busybox's /sbin/init -> /bin/busybox resolves in the rootfs
    [ -d "$CONTAINERS/$BB/rootfs" ]
    diff <(listing "$BB_ROOTFS") <(listing "$CONTAINERS/$BB/rootfs")
    grep -qx "name=$BB" "$CONTAINERS/$BB/container.config"
    grep -qx "rootfs_path=$CONTAINERS/$BB/rootfs" "$CONTAINERS/$BB/container.config"
    no_temp_dirs
}

@test "the installed busybox boots by name and stops" {
    ensure_installed "$BB" --from="$SUITE_TMP/bb.tar.gz"
    run ds --name="$BB" --net=none start
    [ "$status" -eq 0 ]
    wait_until 10 booted "$BB"
    run ds --name="$BB" run cat /etc/hostname
    [ "$status" -eq 0 ]
    run ds --name="$BB" stop
    [ "$status" -eq 0 ]
}

@test "a busybox tarball installs into a sparse ext4 image, unmounted afterwards" {
    run --separate-stderr ds --name="$BBIMG" install --from="$BB_TAR2" --img=64M
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    local img=$CONTAINERS/$BBIMG/rootfs.img
    [ -f "$img" ]
    [ ! -e "$CONTAINERS/$BBIMG/rootfs" ]
    [ "$(stat -c %s "$img")" -eq $((64 * 1024 * 1024)) ]
    (($(stat -c '%b * %B' "$img") < $(stat -c %s "$img")))  # sparse
    grep -qx "rootfs_path=$img" "$CONTAINERS/$BBIMG/container.config"
    not_mounted
    no_loop_device
    # Its content, seen through a read-only mount of our own.
    local mnt=$SUITE_TMP/imgcheck
    mkdir -p "$mnt"
    mount -o loop,ro "$img" "$mnt"
    listing "$mnt" >"$SUITE_TMP/img.listing" || true
    umount "$mnt"
    diff <(listing "$BB_ROOTFS") "$SUITE_TMP/img.listing"
    [ "$(e2label "$img")" = "${BBIMG:0:16}" ]
}

@test "the installed busybox image boots from its loop mount and stops" {
    ensure_installed "$BBIMG" --from="$BB_TAR2" --img=64M
    run ds --name="$BBIMG" --net=none start
    echo "$output"
    [ "$status" -eq 0 ]
    wait_until 10 booted "$BBIMG"
    run ds --name="$BBIMG" run grep ' / ' /proc/mounts
    [[ $output == *" / ext4 "* ]]
    run ds --name="$BBIMG" stop
    [ "$status" -eq 0 ]
    not_mounted
}

@test "the Debian tarball installs into a directory and boots systemd" {
    run --separate-stderr ds --name="$SD" install --from="$SD_TAR"
    [ "$status" -eq 0 ]
    [[ $output == *"(Debian GNU/Linux 12 (bookworm))"* ]]
    diff <(listing "$SD_ROOTFS") <(listing "$CONTAINERS/$SD/rootfs")
    [ -c "$CONTAINERS/$SD/rootfs/dev/null" ]
    [ "$(stat -c %t:%T "$CONTAINERS/$SD/rootfs/dev/null")" = "1:3" ]
    [ "$(stat -c %u:%g:%a "$CONTAINERS/$SD/rootfs/home/tester")" = "1000:1000:755" ]
    run ds --name="$SD" --net=none start
    [ "$status" -eq 0 ]
    wait_for_systemd "$SD"
    run ds --name="$SD" stop
    [ "$status" -eq 0 ]
}

@test "the Debian tarball installs into a 1G image and boots systemd" {
    run --separate-stderr ds --name="$SDIMG" install --from="$SD_TAR" --img=1G
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    (($(stat -c '%b * %B' "$CONTAINERS/$SDIMG/rootfs.img") < 1024 * 1024 * 1024))
    run ds --name="$SDIMG" --net=none start
    [ "$status" -eq 0 ]
    wait_for_systemd "$SDIMG"
    run ds --name="$SDIMG" run stat -c %U:%G /var/log/journal
    [ "$output" = "root:systemd-journal" ]
    run ds --name="$SDIMG" stop
    [ "$status" -eq 0 ]
}

@test "extended attributes (a file capability) survive a tarball and a directory install" {
    command -v setcap >/dev/null && command -v getcap >/dev/null || skip "no setcap/getcap"
    local tree
    tree=$(fixture_copy busybox "$SUITE_TMP/caps")
    setcap cap_net_raw+ep "$tree/bin/busybox"
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$tree" -czf "$SUITE_TMP/caps.tar.gz" .
    run ds --name="caps-$$" install --from="$SUITE_TMP/caps.tar.gz"
    [ "$status" -eq 0 ]
    run getcap "$CONTAINERS/caps-$$/rootfs/bin/busybox"
    [[ $output == *"cap_net_raw"*"ep"* ]]
    run ds --name="capsdir-$$" install --from="$tree"
    [ "$status" -eq 0 ]
    run getcap "$CONTAINERS/capsdir-$$/rootfs/bin/busybox"
    [[ $output == *"cap_net_raw"*"ep"* ]]
}

@test "a bare rootfs gets its mount points, hostname and hosts, and a clear word about init" {
    local tree=$SUITE_TMP/bare
    mkdir -p "$tree/etc" "$tree/bin"
    echo 'root:x:0:0:root:/root:/bin/sh' >"$tree/etc/passwd"
    printf '::1 localhost\n' >"$tree/etc/hosts"
    ln -s /bin/missing-init "$tree/bin/init"
    mkdir -p "$tree/sbin" && ln -s ../bin/init "$tree/sbin/init"
    tar --numeric-owner -C "$tree" -cf "$SUITE_TMP/bare.tar" .
    run --separate-stderr ds --name="bare-$$" install --from="$SUITE_TMP/bare.tar"
    echo "$output $stderr"
    [ "$status" -eq 0 ]
    [[ $stderr == *"/sbin/init"*"/bin/missing-init, which is missing"*"--init=PATH"* ]]
    [[ $output == *"Post-install fixes: "*"wrote /etc/hostname"* ]]
    local root=$CONTAINERS/bare-$$/rootfs
    [ "$(cat "$root/etc/hostname")" = "bare-$$" ]
    [ "$(cat "$root/etc/hosts")" = $'::1 localhost\n127.0.0.1\tlocalhost' ]
    for d in proc sys dev run; do [ "$(stat -c %a "$root/$d")" = 755 ]; done
    [ "$(stat -c %a "$root/tmp")" = 1777 ]
    # Symlinks are resolved inside the rootfs: nothing was written through them to the host.
    [ ! -e /bin/missing-init ]

    # A tarball packed from the parent directory: the warning says so.
    tar --numeric-owner -C "$SUITE_TMP" -cf "$SUITE_TMP/wrapped.tar" bare
    run --separate-stderr ds --name="wrapped-$$" install --from="$SUITE_TMP/wrapped.tar"
    [ "$status" -eq 0 ]
    [[ $stderr == *"no /sbin/init"*"under 'bare/'"* ]]
}

@test "a directory installs as a copy with owners, modes and device nodes kept" {
    run ds --name="dir-$$" install --from="$BB_ROOTFS"
    [ "$status" -eq 0 ]
    diff <(listing "$BB_ROOTFS") <(listing "$CONTAINERS/dir-$$/rootfs")
}

@test "a file that is not an archive is refused and leaves nothing" {
    run --separate-stderr ds --name="bad-$$" install --from="$SUITE_TMP/garbage.tar.gz"
    [ "$status" -eq 1 ]
    [[ $stderr == *"not a rootfs archive"* ]]
    nothing_left "bad-$$"
}

@test "a truncated tarball fails with tar's reason and leaves nothing" {
    run --separate-stderr ds --name="trunc-$$" install --from="$SUITE_TMP/truncated.tar.gz"
    [ "$status" -eq 2 ]
    [[ $stderr == *"truncated"* ]]
    nothing_left "trunc-$$"
    run --separate-stderr ds --name="trunc-$$" install --from="$SUITE_TMP/truncated.tar.gz" \
        --img=32M
    [ "$status" -eq 2 ]
    nothing_left "trunc-$$"
}

@test "an image too small for the rootfs fails, says so and leaves nothing" {
    run --separate-stderr ds --name="small-$$" install --from="$SD_TAR" --img=16M
    echo "$stderr"
    [ "$status" -eq 2 ]
    [[ $stderr == *"image is too small"* ]]
    [[ $stderr == *"--img"* ]]
    nothing_left "small-$$"
}

@test "a full disk fails with 'disk full' and leaves nothing" {
    local small=$SUITE_TMP/smallfs
    mkdir -p "$small"
    mount -t tmpfs -o size=24m tmpfs "$small"
    DROIDSPACES_HOME=$small run --separate-stderr ds --name="full-$$" install --from="$SD_TAR"
    local tarball_status=$status tarball_err=$stderr left_tarball
    left_tarball=$(ls -A "$small/Containers")
    DROIDSPACES_HOME=$small run --separate-stderr ds --name="full-$$" install --from="$SD_ROOTFS"
    local dir_status=$status dir_err=$stderr left_dir
    left_dir=$(ls -A "$small/Containers")
    umount "$small"
    echo "$tarball_err / $dir_err"
    [ "$tarball_status" -eq 2 ]
    [[ $tarball_err == *"disk full"*"No space left on device"* ]]
    [ -z "$left_tarball" ]
    # A directory's size is known: refused before copying anything.
    [ "$dir_status" -eq 2 ]
    [[ $dir_err == *"not enough space"* ]]
    [ -z "$left_dir" ]
}

@test "an existing container is refused and left untouched" {
    local before
    # (a missing tree would hash as empty on both sides and prove nothing)
    ensure_installed "$BB" --from="$SUITE_TMP/bb.tar.gz"
    [ -d "$CONTAINERS/$BB/rootfs/etc" ]
    before=$(cd "$CONTAINERS/$BB" && find . -printf '%p %s %T@\n' | sort | md5sum)
    run --separate-stderr ds --name="$BB" install --from="$BB_TAR2"
    [ "$status" -eq 1 ]
    [[ $stderr == *"container '$BB' already exists"* ]]
    [ "$(cd "$CONTAINERS/$BB" && find . -printf '%p %s %T@\n' | sort | md5sum)" = "$before" ]
    no_temp_dirs
}

@test "bad input is refused before anything is made" {
    local entries
    entries=$(ls -A "$CONTAINERS")
    run --separate-stderr ds --name='bad/name' install --from="$SUITE_TMP/bb.tar.gz"
    [ "$status" -eq 1 ]
    [[ $stderr == *"invalid container name"* ]]
    run --separate-stderr ds --name="x-$$" install --from="$SUITE_TMP/missing.tar.gz"
    [ "$status" -eq 1 ]
    [[ $stderr == *"No such file"* ]]
    run --separate-stderr ds --name="x-$$" install --from="$SUITE_TMP/bb.tar.gz" --img=1M
    [ "$status" -eq 1 ]
    [[ $stderr == *"--img"* ]]
    run --separate-stderr ds --name="x-$$" install --from="$SUITE_TMP/bb.tar.gz" --img=64M \
        --fs=xfs
    [ "$status" -eq 1 ]
    [[ $stderr == *"only ext4"* ]]
    run --separate-stderr ds install --from="$SUITE_TMP/bb.tar.gz"
    [ "$status" -eq 1 ]
    [ "$(ls -A "$CONTAINERS")" = "$entries" ]
}

@test "--json prints one event object per line, ending with done" {
    run --separate-stderr ds --name="json-$$" install --from="$SUITE_TMP/bb.tar.gz" --img=32M --json
    [ "$status" -eq 0 ]
    json_lines_ok "$output"
    [[ ${lines[0]} == '{"event":"step","step":"check"'* ]]
    [[ ${lines[1]} == '{"event":"step","step":"mkfs"'* ]]
    [[ $output == *'{"event":"step","step":"extract"'* ]]
    [[ $output == *'{"event":"progress","bytes":0,'* ]]
    [[ $output =~ \"percent\":100 ]]
    [[ ${lines[-1]} == '{"event":"done","name":"json-'$$'"'* ]]
    [[ ${lines[-1]} == *'"image":true'* ]]
    [ -z "$stderr" ]
}

@test "--json failures end with an error event and the usual line on stderr" {
    run --separate-stderr ds --name="jsonbad-$$" install --from="$SUITE_TMP/truncated.tar.gz" --json
    [ "$status" -eq 2 ]
    json_lines_ok "$output"
    [[ ${lines[-1]} == '{"event":"error","message":"extracting '*'truncated'* ]]
    [[ $stderr == *"[-] extracting"* ]]
    nothing_left "jsonbad-$$"
}

@test "without a terminal progress comes as plain percentage lines" {
    run --separate-stderr ds --name="plain-$$" install --from="$SD_TAR"
    [ "$status" -eq 0 ]
    [[ $output == *"[+] Extracting: 100% ("*" MiB / "*" MiB)"* ]]
    local count
    count=$(grep -c '^\[+\] Extracting: [0-9]*% (' <<<"$output")
    ((count >= 2 && count <= 11))
    [[ $output != *$'\r'* ]]
}

@test "an interrupted install (SIGTERM) cleans up and leaves nothing" {
    local out=$SUITE_TMP/interrupted.json pid status=0
    "$DROIDSPACES_BIN" --name="int-$$" install --from="$SD_TAR" --img=1G --json >"$out" 2>&1 &
    pid=$!
    wait_until 30 grep -q '"event":"progress","bytes":[1-9]' "$out"
    kill -TERM "$pid"
    wait_until 30 bash -c "! kill -0 $pid"
    wait "$pid" || status=$?
    cat "$out"
    [ "$status" -eq 2 ]
    grep -q '"event":"error","message":"install of .* interrupted' "$out"
    nothing_left "int-$$"
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    no_temp_dirs
    assert_host_clean
}
