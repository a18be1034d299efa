#!/usr/bin/env bats
# The dashboard (webui/) in a real browser against a real `droidspaces serve --webroot`: each
# @test runs one flow of webui/tests/flow.mjs (playwright-core driving /usr/bin/chromium,
# headless, a fresh profile) with a busybox container running --net=none. The printed URL opens
# it and the token leaves the address bar; stop/start from a card; install from a tarball path
# with a moving progress bar; a config field and the boot autostart order written to
# container.config; `echo hi` through the xterm terminal; HTML/script payloads in os-release and
# the hostname shown as text; the same list/stop-start/config flows through a window.ksu
# stand-in (the KernelSU WebUI's exec transport). Every screen is photographed at 360 and 1280 px
# wide (into $WEBUI_ARTIFACTS, default build/webui-artifacts/) and scanned with axe-core (no
# serious or critical violation).
#
# Needs (./build.sh deps and build make them): the built webroot, webui/node_modules and
# /usr/bin/chromium; WEBROOT overrides "$(dirname "$DROIDSPACES_BIN")/webroot".

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/server
    WEBROOT=${WEBROOT:-$(dirname "$DROIDSPACES_BIN")/webroot}
    export WEBROOT
    export WEBUI_ARTIFACTS=${WEBUI_ARTIFACTS:-$REPO_ROOT/build/webui-artifacts}
    suite_setup
    export RUN_NAME="ui-$$" SECOND_NAME="ui2-$$" NEW_NAME="uinew-$$" UP_NAME="uiup-$$" CANCEL_NAME="uicancel-$$" XSS_NAME="uixss-$$" XSSCFG_NAME="uixsscfg-$$"
    suite_track_name "$RUN_NAME"
    suite_track_name "$SECOND_NAME"
    suite_track_name "$NEW_NAME"
    suite_track_name "$UP_NAME"
    suite_track_name "$CANCEL_NAME"
    suite_track_name "$XSS_NAME"
    suite_track_name "$XSSCFG_NAME"
    [ -f "$WEBROOT/index.html" ] && [ -d "$REPO_ROOT/webui/node_modules/playwright-core" ] &&
        [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || return 0
    local rootfs
    rootfs=$(fixture_copy busybox "$SUITE_TMP/bb")
    ds --name="$RUN_NAME" --rootfs="$rootfs" --net=none start
    rootfs=$(fixture_copy busybox "$SUITE_TMP/bb2")
    ds --name="$SECOND_NAME" --rootfs="$rootfs" --net=none config create >/dev/null
    # The payload containers. XSS_NAME runs with a PRETTY_NAME that is markup (shown as its OS);
    # XSSCFG_NAME's container.config carries a hostname that is markup, written by hand: the
    # runtime refuses it (config create), so it reaches the dashboard in the config error.
    rootfs=$(fixture_copy busybox "$SUITE_TMP/xss")
    rm -f "$rootfs/etc/os-release"
    printf '%s\n' 'NAME=x' 'ID=x' 'PRETTY_NAME="<img src=x onerror=window.__pwned=1>"' \
        >"$rootfs/etc/os-release"
    ds --name="$XSS_NAME" --rootfs="$rootfs" --net=none start
    rootfs=$(fixture_copy busybox "$SUITE_TMP/xsscfg")
    ds --name="$XSSCFG_NAME" --rootfs="$rootfs" --net=none config create >/dev/null
    local cfg=$DROIDSPACES_HOME/Containers/$XSSCFG_NAME/container.config
    sed -i '/^hostname=/d' "$cfg"
    echo 'hostname=<script>window.__pwned=1</script>' >>"$cfg"
    # The install flow's tarball: busybox and 150 MB of zeros (sparse on disk), so that the
    # installer reports progress more than once.
    mkdir -p "$SUITE_TMP/big"
    cp -a "$SUITE_TMP/bb2/rootfs" "$SUITE_TMP/big/rootfs"
    truncate -s 150M "$SUITE_TMP/big/rootfs/zeros"
    tar -C "$SUITE_TMP/big/rootfs" -cf - . | cp --sparse=always /dev/stdin "$SUITE_TMP/big.tar"
    rm -rf "$SUITE_TMP/big"
    export TARBALL=$SUITE_TMP/big.tar
    tar -C "$SUITE_TMP/bb2/rootfs" -cf "$SUITE_TMP/bb.tar" .
    export SMALL_TARBALL=$SUITE_TMP/bb.tar
    server_start --webroot "$WEBROOT"
    DS_URL=$(grep -o 'http://[^ ]*#token=[0-9a-f]*' "$SUITE_TMP/server.out" | head -n1)
    export DS_URL
}

teardown_file() {
    load helpers
    load helpers/server
    server_stop || true
    suite_teardown
}

setup() {
    load helpers
    load helpers/server
    # ./build.sh deps installs all three: a missing one is a failure, never a silent skip.
    [ -f "$WEBROOT/index.html" ] || { echo "no built dashboard in $WEBROOT (./build.sh)" >&2; return 1; }
    [ -d "$REPO_ROOT/webui/node_modules/playwright-core" ] || { echo "webui/node_modules missing (./build.sh deps)" >&2; return 1; }
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "no chromium at ${CHROMIUM:-/usr/bin/chromium} (./build.sh deps)" >&2; return 1; }
    [ -n "${DS_URL:-}" ]
}

flow() {
    run timeout -k 5 180 node "$REPO_ROOT/webui/tests/flow.mjs" "$1"
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "webui: the printed URL opens the dashboard, the token leaves the address bar, the card shows" {
    flow token
}

@test "webui: stop and start the running container from its card" {
    flow stop-start
    [ "$(ds --name="$RUN_NAME" run echo alive)" = alive ]
}

@test "webui: install from a tarball path; the progress bar moves; the container appears" {
    flow install
    [ -f "$DROIDSPACES_HOME/Containers/$NEW_NAME/container.config" ]
}

@test "webui: upload a tarball from the browser; upload progress, then the install; it appears" {
    flow upload
    [ -f "$DROIDSPACES_HOME/Containers/$UP_NAME/container.config" ]
    [ -z "$(ls -A "$DROIDSPACES_HOME/.uploads" 2>/dev/null)" ]
}

@test "webui: cancel stops an install from a path and nothing is left" {
    flow cancel
    wait_until 30 test ! -e "$DROIDSPACES_HOME/Containers/$CANCEL_NAME"
}

@test "webui: editing the hostname writes container.config" {
    flow config
    grep -q "^hostname=ui-host-" "$DROIDSPACES_HOME/Containers/$RUN_NAME/container.config"
}

@test "webui: echo hi typed into the terminal comes back in the xterm rows" {
    flow terminal
}

@test "webui: boot autostart order set from the UI lands in the config files" {
    flow autostart
    grep -qx 'run_at_boot=1' "$DROIDSPACES_HOME/Containers/$RUN_NAME/container.config"
    grep -qx 'run_at_boot_priority=20' "$DROIDSPACES_HOME/Containers/$RUN_NAME/container.config"
    grep -qx 'run_at_boot_priority=10' "$DROIDSPACES_HOME/Containers/$SECOND_NAME/container.config"
}

@test "webui: the system screen renders (screenshots, axe)" {
    flow system
}

@test "webui: HTML and script payloads in os-release and hostname are shown as text, never run" {
    flow xss
}

@test "webui (ksu stand-in): the list comes through ksu.exec" {
    flow ksu-list
}

@test "webui (ksu stand-in): stop and start through ksu.exec" {
    flow ksu-stop-start
    [ "$(ds --name="$RUN_NAME" run echo alive)" = alive ]
}

@test "webui (ksu stand-in): a config edit through ksu.exec lands in container.config" {
    flow ksu-config
    grep -q "^hostname=ksu-host-" "$DROIDSPACES_HOME/Containers/$SECOND_NAME/container.config"
}

@test "webui: nothing of the suite's leaked (mounts, loops, cgroups, processes)" {
    server_stop
    stop_suite_containers
    assert_host_clean
}
