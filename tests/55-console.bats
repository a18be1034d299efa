#!/usr/bin/env bats
# `start -f`: the terminal attached to the container's console, driven through a real pty.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="con-$$"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
    HARNESS=(python3 "$REPO_ROOT/tests/helpers/pty_harness.py" --timeout 20)
}

@test "boot lines stream to the terminal and detaching leaves the container running" {
    run "${HARNESS[@]}" -e 'expect busybox-rcS: boot complete' -e 'send \x1b\x04' \
        -e 'expect Detached' -e wait-exit -- \
        "$DROIDSPACES_BIN" --name="$NAME" --rootfs="$ROOTFS" --net=none -f start
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"Ctrl+Alt+Q stops it, Ctrl+Alt+D detaches"* ]]
    [ "$(ds --name="$NAME" pid)" != "NONE" ]
    # From now on the monitor captures the console again.
    ds --name="$NAME" run sh -c 'echo after-detach > /dev/console'
    wait_until 10 grep -q after-detach "$DROIDSPACES_HOME/Logs/$NAME/console"
    ds --name="$NAME" stop
}

@test "the window size is synced at once and on every resize" {
    # A shell as PID 1 on the console; its own rootfs copy, as the saved config keeps --init.
    mkdir -p "$SUITE_TMP/sh"
    cp -a "$ROOTFS" "$SUITE_TMP/sh/rootfs"
    run "${HARNESS[@]}" --rows 30 --cols 100 -e 'expect Ctrl\+Alt\+D detaches' \
        -e 'sendline stty size' -e 'expect 30 100' -e 'resize 40 120' \
        -e 'sendline stty size' -e 'expect 40 120' -e 'send \x1b\x04' -e wait-exit -- \
        "$DROIDSPACES_BIN" --name="$NAME-sh" --rootfs="$SUITE_TMP/sh/rootfs" --net=none --init=/bin/sh \
        -f start
    echo "$output"
    [ "$status" -eq 0 ]
    ds --name="$NAME-sh" stop --timeout=1
}

@test "Ctrl+Alt+Q stops the container and the output shows the shutdown" {
    run "${HARNESS[@]}" -e 'expect busybox-rcS: boot complete' -e 'send \x1b\x11' \
        -e 'expect busybox-shutdown' -e 'expect stopped' -e wait-exit -- \
        "$DROIDSPACES_BIN" --name="$NAME-q" --rootfs="$ROOTFS" --net=none -f start
    echo "$output"
    [ "$status" -eq 0 ]
    [ "$(ds --name="$NAME-q" pid)" = "NONE" ]
}

@test "the terminal is restored exactly after the console ends" {
    local script="stty -g; $DROIDSPACES_BIN --name=$NAME-t --rootfs=$ROOTFS --net=none -f start; stty -g"
    run "${HARNESS[@]}" -e 'expect busybox-rcS: boot complete' -e 'send \x1b\x04' -e wait-exit -- \
        sh -c "$script"
    [ "$status" -eq 0 ]
    local modes
    modes=$(grep -E '^[0-9a-f]+(:[0-9a-f]+){10,}' <<<"${output//$'\r'/}")
    [ "$(wc -l <<<"$modes")" -eq 2 ]
    [ "$(head -1 <<<"$modes")" = "$(tail -1 <<<"$modes")" ]
    ds --name="$NAME-t" stop
}

@test "-f without a terminal falls back to the background with a warning" {
    run --separate-stderr ds --name="$NAME-bg" --rootfs="$ROOTFS" --net=none -f start </dev/null
    [ "$status" -eq 0 ]
    [[ $stderr == *"needs a terminal"* ]]
    [ "$(ds --name="$NAME-bg" pid)" != "NONE" ]
    ds --name="$NAME-bg" stop
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    assert_host_clean
}
