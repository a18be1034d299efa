#!/usr/bin/env bats
# The desktop tarball: install.sh into a temporary prefix (binary for this machine, dashboard
# next to it, PATH link, systemd unit), a real busybox container started with the installed
# binary, the dashboard served from the installed webroot, the unit verified, --uninstall
# removing what it installed and nothing of the user's. Needs ./build.sh dist first.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/module
    suite_setup
    module_require_artifacts
    mkdir -p "$SUITE_TMP/dist" "$SUITE_TMP/x"
    module_pack "$SUITE_TMP/dist" >/dev/null
    tar -xzf "$SUITE_TMP/dist/droidspaces-$(project_version)-linux.tar.gz" -C "$SUITE_TMP/x"
    PKG=$SUITE_TMP/x/droidspaces-$(project_version)-linux
    export PKG
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
}

teardown_file() {
    load helpers
    load helpers/module
    suite_teardown
}

setup() {
    load helpers
    load helpers/module
    T=$(mktemp -d "$SUITE_TMP/t.XXXXXX")
    P=$T/prefix
}

teardown() {
    stop_suite_containers
    [ -x "$P/bin/droidspaces" ] && "$P/bin/droidspaces" daemon --stop >/dev/null 2>&1
    rm -rf "$T"
}

@test "the tarball holds the four binaries, the dashboard, install.sh and the unit" {
    local f
    for f in install.sh droidspaces.service README VERSION webroot/index.html \
        bin/aarch64/droidspaces bin/armhf/droidspaces bin/x86_64/droidspaces bin/x86/droidspaces; do
        [ -f "$PKG/$f" ] || { echo "missing $f"; return 1; }
    done
    [ -x "$PKG/install.sh" ] && [ -x "$PKG/bin/x86/droidspaces" ]
    [ "$(cat "$PKG/VERSION")" = "$(project_version)" ]
}

@test "install.sh installs this machine's binary, the dashboard, the link and the unit" {
    run -0 "$PKG/install.sh" --prefix="$P"
    [[ $output == *"Installed v$(project_version) (x86_64) to $P/lib/droidspaces/droidspaces"* ]]
    cmp "$P/lib/droidspaces/droidspaces" "$PKG/bin/x86_64/droidspaces"
    [ "$(stat -c %a "$P/lib/droidspaces/droidspaces")" = 755 ]
    [ "$(readlink "$P/bin/droidspaces")" = "$P/lib/droidspaces/droidspaces" ]
    cmp "$P/lib/droidspaces/webroot/index.html" "$PKG/webroot/index.html"
    local unit=$P/lib/systemd/system/droidspaces.service
    grep -qx "ExecStart=$P/lib/droidspaces/droidspaces serve" "$unit"
    grep -qx "ExecStartPost=-$P/lib/droidspaces/droidspaces autoboot" "$unit"
    ! grep -q @BIN@ "$unit"
    # Installing again (an upgrade) works over the first.
    run -0 "$PKG/install.sh" --prefix "$P"
}

@test "the systemd unit passes systemd-analyze verify" {
    command -v systemd-analyze >/dev/null || { echo "systemd-analyze is not installed"; return 1; }
    "$PKG/install.sh" --prefix="$P" >/dev/null
    run systemd-analyze verify "$P/lib/systemd/system/droidspaces.service"
    echo "$output"
    [ "$status" -eq 0 ]
    ! grep -i droidspaces.service <<<"$output"
}

@test "the installed binary starts and stops a busybox container" {
    "$PKG/install.sh" --prefix="$P" >/dev/null
    local bin=$P/bin/droidspaces name=desk-$$
    suite_track_name "$name"
    run -0 "$bin" --name="$name" --rootfs="$ROOTFS" --net=none start
    wait_until 10 booted "$name"
    run -0 "$bin" --name="$name" run cat /proc/1/cmdline
    [ "$output" = init ]
    run -0 "$bin" --name="$name" stop
    [ "$(ds --name="$name" pid)" = NONE ] || ! ds --name="$name" pid >/dev/null
}

@test "the installed server serves the installed dashboard" {
    "$PKG/install.sh" --prefix="$P" >/dev/null
    run -0 "$P/bin/droidspaces" daemon --port=0
    local url
    url=$(sed -n 's/^Dashboard: \(http:[^ ]*\)/\1/p' <<<"$output")
    [ -n "$url" ]
    local base=${url%%/\?*}
    base=${base%%\#*}
    base=${base%/}
    run -0 curl -sf --max-time 10 "$base/"
    [ "$output" = "$(cat "$P/lib/droidspaces/webroot/index.html")" ]
    "$P/bin/droidspaces" daemon --stop >/dev/null
}

@test "install.sh --uninstall removes what it installed and keeps the containers" {
    "$PKG/install.sh" --prefix="$P" >/dev/null
    "$P/bin/droidspaces" --name=desk-kept --rootfs="$ROOTFS" --net=none config create >/dev/null
    run -0 "$PKG/install.sh" --prefix="$P" --uninstall
    [ ! -e "$P/bin/droidspaces" ] && [ ! -e "$P/lib/droidspaces" ]
    [ ! -e "$P/lib/systemd/system/droidspaces.service" ]
    [ -f "$DROIDSPACES_HOME/Containers/desk-kept/container.config" ]
}

@test "install.sh refuses a relative prefix, an unknown machine, and a foreign droidspaces on PATH" {
    run -1 "$PKG/install.sh" --prefix=relative/dir
    [[ $output == *"--prefix 'relative/dir': expected an absolute path"* ]]
    mkdir -p "$T/shims"
    printf '#!/bin/sh\necho mips64\n' >"$T/shims/uname"
    chmod 0755 "$T/shims/uname"
    PATH="$T/shims:$PATH" run -1 "$PKG/install.sh" --prefix="$P"
    [[ $output == *"machine 'mips64': no binary for it"* ]]
    [ ! -e "$P" ]
    mkdir -p "$P/bin"
    echo "someone else's" >"$P/bin/droidspaces"
    run -1 "$PKG/install.sh" --prefix="$P"
    [[ $output == *"$P/bin/droidspaces exists and is not ours"* ]]
    [ "$(cat "$P/bin/droidspaces")" = "someone else's" ]
    [ ! -e "$P/lib/droidspaces" ]
    # --uninstall leaves it alone too.
    run -0 "$PKG/install.sh" --prefix="$P" --uninstall
    [ "$(cat "$P/bin/droidspaces")" = "someone else's" ]
}

@test "the suite left nothing behind on the host so far" {
    stop_suite_containers
    assert_host_clean
}
