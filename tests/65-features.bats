#!/usr/bin/env bats
# Start options beyond the basics: env files, bind mounts, custom init, seccomp and
# capabilities, resource limits, and the options this build skips.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="ft-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
}

init_env() {
    tr '\0' '\n' <"/proc/$(ds --name="$NAME" pid)/environ"
}

@test "--env adds variables to init's environment and to /run/droidspaces.env" {
    mkdir -p "$ROOTFS/etc/profile.d"
    printf '# comment\nexport GREETING="hello world"\nQUOTE=it'\''s\n' >"$SUITE_TMP/vars.env"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none --env="$SUITE_TMP/vars.env" start
    run init_env
    [[ $output == *"GREETING=hello world"* ]]
    [[ $output == *"container=droidspaces"* ]]
    run ds --name="$NAME" run sh -c '. /etc/profile.d/droidspaces_env.sh; echo "$GREETING/$QUOTE"'
    [ "$output" = "hello world/it's" ]
    ds --name="$NAME" stop
}

@test "a bad --env file is refused naming the line" {
    printf 'GOOD=1\n1BAD=2\n' >"$SUITE_TMP/bad.env"
    run --separate-stderr ds --name="$NAME-env" --rootfs="$ROOTFS" --net=none --env="$SUITE_TMP/bad.env" start
    [ "$status" -eq 1 ]
    [[ $stderr == *"bad.env:2"* ]]
    [ "$(ds --name="$NAME-env" pid)" = "NONE" ]
}

@test "bind mounts, read-write and read-only" {
    mkdir -p "$SUITE_TMP/share" "$SUITE_TMP/ro"
    echo shared >"$SUITE_TMP/share/file"
    echo fixed >"$SUITE_TMP/ro/file"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none --reset \
        -B "$SUITE_TMP/share:/mnt/share" --bind="$SUITE_TMP/ro:/mnt/ro:ro" start
    run ds --name="$NAME" run cat /mnt/share/file /mnt/ro/file
    [ "$output" = $'shared\nfixed' ]
    ds --name="$NAME" run sh -c 'echo from-inside > /mnt/share/new'
    [ "$(cat "$SUITE_TMP/share/new")" = "from-inside" ]
    run ds --name="$NAME" run sh -c 'echo x > /mnt/ro/new'
    [ "$status" -ne 0 ]
    [ ! -e "$SUITE_TMP/ro/new" ]
    ds --name="$NAME" stop
    # Nothing of the container's mounts shows on the host.
    run grep -q "$ROOTFS/mnt" /proc/self/mountinfo
    [ "$status" -eq 1 ]
}

@test "a missing bind source is skipped with a warning; the rest boots and the config keeps it" {
    mkdir -p "$SUITE_TMP/present"
    echo here >"$SUITE_TMP/present/file"
    run --separate-stderr ds --name="$NAME-b" --rootfs="$ROOTFS" --net=none \
        -B /nonexistent/x:/mnt/x -B "$SUITE_TMP/present:/mnt/present" start
    [ "$status" -eq 0 ]
    [[ $stderr == *"bind source '/nonexistent/x' does not exist"* ]]
    run ds --name="$NAME-b" run cat /mnt/present/file
    [ "$output" = here ]
    run ds --name="$NAME-b" run test -e /mnt/x
    [ "$status" -ne 0 ]
    grep -q '/nonexistent/x:/mnt/x' "$DROIDSPACES_HOME/Containers/$NAME-b/container.config"
    ds --name="$NAME-b" stop
}

@test "a config file's bad lines are warnings naming file:line; those keys keep their defaults" {
    local conf=$SUITE_TMP/lenient.config
    printf 'name=%s\nrootfs_path=%s\ngarbage line\nvolatile_mode=maybe\nhostname=from-file\nnet_mode=none\n' \
        "$NAME-l" "$ROOTFS" >"$conf"
    run --separate-stderr ds -C "$conf" start
    [ "$status" -eq 0 ]
    [[ $stderr == *"$conf:3: malformed line"* ]]
    [[ $stderr == *"$conf:4: "*"'maybe'"* ]]
    [ "$(ds --name="$NAME-l" run hostname)" = from-file ]
    # Not volatile: a file written inside stays in the rootfs.
    ds --name="$NAME-l" run sh -c 'echo kept > /lenient-mark'
    [ "$(ds --name="$NAME-l" info --json | jq -r .config.volatile_mode)" != true ]
    ds --name="$NAME-l" stop
    [ "$(cat "$ROOTFS/lenient-mark")" = kept ]
    rm -f "$ROOTFS/lenient-mark"
}

@test "two rootfs folders side by side do not share the container.config beside them" {
    local parent=$SUITE_TMP/side
    mkdir -p "$parent"
    cp -a "$ROOTFS" "$parent/one"
    cp -a "$ROOTFS" "$parent/two"
    ds --name="$NAME-one" --rootfs="$parent/one" --net=none --hostname=first-host --memory=64M start
    ds --name="$NAME-one" stop
    grep -qx "rootfs_path=$parent/one" "$parent/container.config"
    local before
    before=$(sha256sum <"$parent/container.config")
    # The second rootfs in the same folder takes nothing from the first one's file...
    ds --name="$NAME-two" --rootfs="$parent/two" --net=none start
    [ "$(ds --name="$NAME-two" run hostname)" = "$NAME-two" ]
    ! grep -q '^memory' "$DROIDSPACES_HOME/Containers/$NAME-two/container.config"
    ds --name="$NAME-two" stop
    # ...and never writes over it.
    [ "$(sha256sum <"$parent/container.config")" = "$before" ]
    grep -qx "rootfs_path=$parent/two" "$DROIDSPACES_HOME/Containers/$NAME-two/container.config"
    # The first one still reads its own file.
    ds --name="$NAME-one" --rootfs="$parent/one" --net=none start
    [ "$(ds --name="$NAME-one" run hostname)" = first-host ]
    ds --name="$NAME-one" stop
    ds --name="$NAME-one" config delete >/dev/null
    ds --name="$NAME-two" config delete >/dev/null
}

@test "init runs under the seccomp filter with a trimmed bounding set" {
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none --reset start
    local pid
    pid=$(ds --name="$NAME" pid)
    [ "$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")" = "2" ]
    local bnd
    bnd=$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status")
    # CAP_SYS_MODULE (16) and CAP_SYS_RAWIO (17) are gone, CAP_SYS_ADMIN (21) stays.
    (( (0x$bnd >> 16 & 1) == 0 && (0x$bnd >> 17 & 1) == 0 && (0x$bnd >> 21 & 1) == 1 ))
    ds --name="$NAME" stop
}

@test "--privileged=noseccomp,nocaps turns the limits off" {
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none --privileged=noseccomp,nocaps start
    local pid
    pid=$(ds --name="$NAME" pid)
    [ "$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")" = "0" ]
    [ "$(awk '/^CapBnd:/ {print $2}' "/proc/$pid/status")" = "$(awk '/^CapBnd:/ {print $2}' /proc/self/status)" ]
    ds --name="$NAME" stop
    ds --name="$NAME" --rootfs="$ROOTFS" --reset start >/dev/null
    ds --name="$NAME" stop
}

@test "a custom --init runs as PID 1 and is stopped with SIGTERM" {
    mkdir -p "$SUITE_TMP/ci"
    cp -a "$ROOTFS" "$SUITE_TMP/ci/rootfs"
    cat >"$SUITE_TMP/ci/rootfs/myinit" <<'SH'
#!/bin/sh
trap 'echo myinit-got-term > /dev/console; exit 0' TERM
echo myinit-ready > /run/ready
while :; do sleep 1; done
SH
    chmod +x "$SUITE_TMP/ci/rootfs/myinit"
    ds --name="$NAME-ci" --rootfs="$SUITE_TMP/ci/rootfs" --net=none --init=/myinit start
    wait_until 10 test -e "/proc/$(ds --name="$NAME-ci" pid)/root/run/ready"
    run ds --name="$NAME-ci" stop --timeout=10
    [ "$status" -eq 0 ]
    [[ $output != *"killed"* ]]
    grep -q myinit-got-term "$DROIDSPACES_HOME/Logs/$NAME-ci/console"
}

@test "an init that ignores the halt request is killed at the deadline" {
    mkdir -p "$SUITE_TMP/stubborn"
    cp -a "$ROOTFS" "$SUITE_TMP/stubborn/rootfs"
    printf '#!/bin/sh\ntrap "" TERM\nwhile :; do sleep 1; done\n' >"$SUITE_TMP/stubborn/rootfs/myinit"
    chmod +x "$SUITE_TMP/stubborn/rootfs/myinit"
    ds --name="$NAME-s" --rootfs="$SUITE_TMP/stubborn/rootfs" --net=none --init=/myinit start
    run ds --name="$NAME-s" stop --timeout=1
    [ "$status" -eq 0 ]
    [[ $output == *"killed"* ]]
    [ "$(ds --name="$NAME-s" pid)" = "NONE" ]
}

@test "resource limits are applied in cgroup v2 or v1, or reported when the controller is missing" {
    run --separate-stderr ds --name="$NAME" --rootfs="$ROOTFS" --net=none --reset --pids-limit=64 start
    [ "$status" -eq 0 ]
    local v2 v1
    v2=$(findmnt -n -o TARGET -t cgroup2 | grep -E '^/sys/fs/cgroup(/unified)?$' | head -1)
    v1=$(findmnt -rn -t cgroup -o TARGET,FS-OPTIONS | awk '$2 ~ /(^|,)pids(,|$)/ { print $1; exit }')
    if [ -n "$v2" ] && grep -qw pids "$v2/cgroup.controllers"; then
        [ "$(cat "$v2/droidspaces/$NAME/pids.max")" = "64" ]
    elif [ -n "$v1" ]; then
        [ "$(cat "$v1/droidspaces/$NAME/pids.max")" = "64" ]
        [[ $stderr != *"not available"* ]]
    else
        [[ $stderr == *"pids controller is not available"* ]]
    fi
    ds --name="$NAME" stop
    [ ! -e "$v1/droidspaces/$NAME" ]
}

@test "--disable-ipv6 turns IPv6 off inside the container's own network namespace only" {
    [ -e /proc/sys/net/ipv6/conf/all/disable_ipv6 ] || skip "this kernel has no IPv6"
    local host_before
    host_before=$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6)
    ds --name="$NAME-v6" --rootfs="$ROOTFS" --net=none --disable-ipv6 start
    run ds --name="$NAME-v6" run cat /proc/sys/net/ipv6/conf/all/disable_ipv6 \
        /proc/sys/net/ipv6/conf/default/disable_ipv6
    [ "$output" = $'1\n1' ]
    [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6)" = "$host_before" ]
    ds --name="$NAME-v6" stop
}

@test "Android-only options are skipped off Android (-H and --gpu: 67-hw.bats)" {
    mkdir -p "$SUITE_TMP/x11"
    cp -a "$ROOTFS" "$SUITE_TMP/x11/rootfs"
    run --separate-stderr ds --name="$NAME-x" --rootfs="$SUITE_TMP/x11/rootfs" --net=none -X start
    [ "$status" -eq 0 ]
    [[ $stderr == *"--termux-x11 is only applicable on Android"* ]]
    ds --name="$NAME-x" stop
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
