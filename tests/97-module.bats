#!/usr/bin/env bats
# The flashable module: the zip pack.sh builds from the four built binaries (layout, module.prop
# rules, reproducible bytes), customize.sh sourced by busybox ash as Magisk, KernelSU and APatch
# do for each ARCH (fresh install, upgrade over a workspace with containers, refusals),
# service.sh, uninstall.sh and action.sh with real busybox containers, and `autoboot`.
#
# The foreign binaries (aarch64, armhf) run customize.sh's `check --json` through qemu-user,
# registered in binfmt_misc for this suite only (helpers/module.bash: binfmt_setup/restore).
# Needs ./build.sh dist first: missing binaries fail the suite, they are never skipped.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/module
    suite_setup
    module_require_artifacts
    mkdir -p "$SUITE_TMP/dist"
    module_pack "$SUITE_TMP/dist" >/dev/null
    MODULE_ZIP=$SUITE_TMP/dist/droidspaces-$(project_version).zip
    export MODULE_ZIP
    binfmt_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
}

teardown_file() {
    load helpers
    load helpers/module
    "$DROIDSPACES_BIN" daemon --stop >/dev/null 2>&1 || true
    binfmt_restore
    suite_teardown
}

setup() {
    load helpers
    load helpers/module
    T=$(mktemp -d "$SUITE_TMP/t.XXXXXX")
}

teardown() {
    # A service.sh test that failed early leaves its detached boot script waiting: end it by
    # PID (found by its unique path under $T).
    local pid
    for pid in $(pgrep -f -- "$T/adb/modules/droidspaces/service.sh --detached"); do
        kill "$pid" 2>/dev/null || true
    done
    # Whatever a test started: its containers, the server (by the runtime, by name/PID file).
    stop_suite_containers
    "$DROIDSPACES_BIN" daemon --stop >/dev/null 2>&1 || true
    # Its configs too: autoboot looks at every config of the workspace.
    rm -rf "$DROIDSPACES_HOME"/Containers/*
    rm -rf "$T"
}

# --- the zip -----------------------------------------------------------------------------------

@test "the zip holds the module layout, the four binaries and the dashboard" {
    run -0 unzip -Z1 "$MODULE_ZIP"
    local f
    for f in META-INF/com/google/android/update-binary META-INF/com/google/android/updater-script \
        module.prop customize.sh service.sh uninstall.sh action.sh webroot/index.html \
        bin/aarch64/droidspaces bin/armhf/droidspaces bin/x86_64/droidspaces bin/x86/droidspaces; do
        grep -qx "$f" <<<"$output" || { echo "missing $f"; return 1; }
    done
    # Never a legacy install.sh, nothing for system/ (KernelSU mounts it only with a metamodule).
    ! grep -qx -e install.sh -e 'system/.*' <<<"$output"
    [ "$(unzip -p "$MODULE_ZIP" META-INF/com/google/android/updater-script)" = "#MAGISK" ]
    # The binaries are the built ones, byte for byte.
    for f in $MODULE_ARCHES; do
        [ "$(unzip -p "$MODULE_ZIP" "bin/$f/droidspaces" | sha256sum)" = \
            "$(sha256sum <"$BUILD_DIR/dist-bin/$f/droidspaces")" ] || { echo "$f differs"; return 1; }
    done
}

@test "module.prop: fixed id, the project's version, integer versionCode, LF only, single lines" {
    unzip -p "$MODULE_ZIP" module.prop >"$T/module.prop"
    ! grep -q $'\r' "$T/module.prop"
    [ "$(tail -c 1 "$T/module.prop" | od -An -c | tr -d ' ')" = '\n' ]
    local key
    for key in id name version versionCode author description updateJson; do
        [ "$(grep -c "^$key=" "$T/module.prop")" -eq 1 ] || { echo "key $key"; return 1; }
        grep -Eq "^$key=.+" "$T/module.prop" || { echo "empty $key"; return 1; }
    done
    # Only key=value lines: a value cannot continue on a second line.
    ! grep -Ev '^[A-Za-z]+=' "$T/module.prop"
    grep -qx 'id=droidspaces' "$T/module.prop"
    grep -Eq '^id=[a-zA-Z][a-zA-Z0-9._-]+$' "$T/module.prop"
    grep -qx "version=v$(project_version)" "$T/module.prop"
    grep -Eq '^versionCode=[0-9]+$' "$T/module.prop"
    grep -Eq '^updateJson=https://[^ ]+$' "$T/module.prop"
    # Above upstream's module (v6.5.0 = 6500): the same id, so ours must read as the newer.
    local code
    code=$(sed -n 's/^versionCode=//p' "$T/module.prop")
    [ "$code" -gt 6500 ]
    # update.json names the same version and code.
    grep -q "\"versionCode\":$code," "$SUITE_TMP/dist/update.json"
}

@test "pack.sh is reproducible: same inputs give the same bytes, whatever the inputs' mtimes" {
    mkdir -p "$T/a" "$T/b" "$T/bins"
    cp -a "$BUILD_DIR/dist-bin/." "$T/bins/"
    cp -a "$BUILD_DIR/webroot" "$T/webroot"
    "$MODULE_SRC/pack.sh" --version 1.2.3 --bins "$T/bins" --webroot "$T/webroot" --out "$T/a" >/dev/null
    find "$T/bins" "$T/webroot" -exec touch -d '2001-02-03 04:05:06' {} +
    chmod 0700 "$T/bins/x86/droidspaces"
    TZ=Asia/Tokyo "$MODULE_SRC/pack.sh" --version 1.2.3 --bins "$T/bins" --webroot "$T/webroot" \
        --out "$T/b" >/dev/null
    local f
    for f in droidspaces-1.2.3.zip droidspaces-1.2.3-linux.tar.gz update.json; do
        [ "$(sha256sum <"$T/a/$f")" = "$(sha256sum <"$T/b/$f")" ] || { echo "$f differs"; return 1; }
    done
    # No owner names in the tarball, no uid/gid extra fields in the zip.
    run -0 tar -tvzf "$T/a/droidspaces-1.2.3-linux.tar.gz"
    ! grep -v ' 0/0 ' <<<"$output"
    run -0 zipinfo -v "$T/a/droidspaces-1.2.3.zip"
    ! grep -q 'Unix UID/GID' <<<"$output"
}

@test "pack.sh refuses a missing architecture, a bad version, a missing dashboard; writes nothing" {
    mkdir -p "$T/bins" "$T/out"
    cp -a "$BUILD_DIR/dist-bin/." "$T/bins/"
    rm "$T/bins/armhf/droidspaces"
    run -1 "$MODULE_SRC/pack.sh" --version 1.0.0 --bins "$T/bins" --webroot "$BUILD_DIR/webroot" --out "$T/out"
    [[ $output == *"no executable armhf/droidspaces"* ]]
    cp -a "$BUILD_DIR/dist-bin/armhf/droidspaces" "$T/bins/armhf/"
    run -1 "$MODULE_SRC/pack.sh" --version 1.0 --bins "$T/bins" --webroot "$BUILD_DIR/webroot" --out "$T/out"
    [[ $output == *"--version '1.0': expected MAJOR.MINOR.PATCH"* ]]
    run -1 "$MODULE_SRC/pack.sh" --version '1.0.0;x' --bins "$T/bins" --webroot "$BUILD_DIR/webroot" --out "$T/out"
    [[ $output == *"expected MAJOR.MINOR.PATCH"* ]]
    run -1 "$MODULE_SRC/pack.sh" --version 1.0.0 --bins "$T/bins" --webroot "$T" --out "$T/out"
    [[ $output == *"no index.html"* ]]
    [ -z "$(ls -A "$T/out")" ]
}

@test "every script is shellcheck -s sh clean" {
    run -0 shellcheck -s sh "$MODULE_SRC"/customize.sh "$MODULE_SRC"/service.sh \
        "$MODULE_SRC"/uninstall.sh "$MODULE_SRC"/action.sh "$MODULE_SRC"/pack.sh \
        "$MODULE_SRC"/META-INF/com/google/android/update-binary "$MODULE_SRC"/desktop/install.sh
}

# --- customize.sh ------------------------------------------------------------------------------

# A foreign binary (aarch64, armhf) runs its kernel check under qemu-user, which implements
# everything the check probes except seccomp (qemu refuses PR_SET_SECCOMP: a filter would apply
# to qemu itself). So there the install must get as far as the check, run the right binary
# (qemu for that machine answered), and abort naming exactly "Seccomp filters"; the steps after
# the check do not depend on the architecture and are covered by x64 and x86.
foreign_install() {
    local manager=$1 arch=$2 root=$3 dir
    dir=$(arch_dir_of "$arch")
    ! DROIDSPACES_HOME=$DROIDSPACES_HOME.fresh run_customize "$manager" "$arch" "$root" ||
        { echo "$arch: installed under qemu-user, which cannot probe seccomp?"; return 1; }
    local modpath=$root/adb/modules_update/droidspaces
    grep -qx "extracted $(sha256sum <"$BUILD_DIR/dist-bin/$dir/droidspaces")" "$root/calls" ||
        { echo "$arch: not the $dir binary"; cat "$root/calls"; return 1; }
    grep -qx "set_perm $modpath/droidspaces 0 0 0755" "$root/calls"
    grep -qx "abort ! This kernel lacks features Droidspaces requires: Seccomp filters" \
        "$root/calls" || { echo "$arch:"; cat "$root/calls"; return 1; }
    grep -q "Droidspaces for $dir ($manager)" "$root/ui"
    [ ! -e "$DROIDSPACES_HOME.fresh" ]
}

# A fresh install for MANAGER, every ARCH: only that binary, permissions through the installer's
# helpers, the workspace made, the command reachable the manager's way.
fresh_install_all_arches() {
    local manager=$1 arch dir root modpath
    for arch in arm64 arm x64 x86; do
        dir=$(arch_dir_of "$arch")
        root=$T/$manager-$arch
        rm -rf "$DROIDSPACES_HOME.fresh"
        if foreign_elf "$BUILD_DIR/dist-bin/$dir/droidspaces"; then
            foreign_install "$manager" "$arch" "$root" || return 1
            continue
        fi
        DROIDSPACES_HOME=$DROIDSPACES_HOME.fresh run_customize "$manager" "$arch" "$root" ||
            { echo "$manager $arch failed:"; cat "$root/ui" "$root/calls"; return 1; }
        modpath=$root/adb/modules_update/droidspaces
        cmp "$modpath/droidspaces" "$BUILD_DIR/dist-bin/$dir/droidspaces" ||
            { echo "$arch: not the $dir binary"; return 1; }
        [ ! -e "$modpath/bin" ] && [ ! -e "$modpath/customize.sh" ]
        local f
        for f in module.prop service.sh uninstall.sh action.sh webroot/index.html; do
            [ -f "$modpath/$f" ] || { echo "$arch: no $f"; return 1; }
        done
        [ "$(stat -c %a "$modpath/droidspaces")" = 755 ]
        [ "$(stat -c %a "$modpath/module.prop")" = 644 ]
        grep -qx "set_perm_recursive $modpath 0 0 0755 0644" "$root/calls"
        grep -qx "set_perm $modpath/droidspaces 0 0 0755" "$root/calls"
        grep -qx "set_perm $modpath/service.sh 0 0 0755" "$root/calls"
        ! grep -q '^abort' "$root/calls"
        grep -q "Kernel check passed" "$root/ui"
        grep -q "Droidspaces for $dir ($manager)" "$root/ui"
        [ "$(stat -c %a "$DROIDSPACES_HOME.fresh")" = 700 ]
        local live=$root/adb/modules/droidspaces/droidspaces
        case $manager in
        KernelSU)
            [ "$(readlink "$root/adb/ksu/bin/droidspaces")" = "$live" ]
            [ ! -e "$modpath/system" ] && [ ! -e "$root/adb/ap" ]
            ;;
        APatch)
            [ "$(readlink "$root/adb/ap/bin/droidspaces")" = "$live" ]
            [ ! -e "$modpath/system" ] && [ ! -e "$root/adb/ksu" ]
            ;;
        Magisk)
            [ "$(readlink "$modpath/system/bin/droidspaces")" = "$live" ]
            [ ! -e "$root/adb/ksu" ] && [ ! -e "$root/adb/ap" ]
            ;;
        esac
    done
    rm -rf "$DROIDSPACES_HOME.fresh"
}

@test "customize.sh, Magisk: each ARCH installs its own binary, system/bin link, workspace" {
    fresh_install_all_arches Magisk
}

@test "customize.sh, KernelSU: each ARCH installs its own binary, link in /data/adb/ksu/bin" {
    fresh_install_all_arches KernelSU
}

@test "customize.sh, APatch: each ARCH installs its own binary, link in /data/adb/ap/bin" {
    fresh_install_all_arches APatch
}

@test "customize.sh upgrade: a workspace with containers, images and logs is kept byte for byte" {
    local ws=$T/ws
    mkdir -p "$ws"
    DROIDSPACES_HOME=$ws "$DROIDSPACES_BIN" --name=kept --rootfs="$ROOTFS" --net=none \
        --run-at-boot config create >/dev/null
    mkdir -p "$ws/Containers/img/" "$ws/Logs" "$ws/bin"
    head -c 65536 /dev/urandom >"$ws/Containers/img/rootfs.img"
    printf 'name=img\nrootfs_path=%s\n' "$ws/Containers/img/rootfs.img" >"$ws/Containers/img/container.config"
    echo "old boot" >"$ws/Logs/boot-module.log"
    echo "upstream app binary" >"$ws/bin/droidspaces"
    local before manager arch
    before=$(tree_fingerprint "$ws")
    for manager in Magisk KernelSU APatch; do
        for arch in x64 x86; do
            DROIDSPACES_HOME=$ws run_customize "$manager" "$arch" "$T/$manager" ||
                { cat "$T/$manager/ui"; return 1; }
            grep -q "Keeping the workspace $ws (2 container(s))" "$T/$manager/ui"
            [ "$(tree_fingerprint "$ws")" = "$before" ] || { echo "$manager $arch changed it"; return 1; }
        done
    done
    # A second install over the first (the manager's link exists already) keeps working.
    DROIDSPACES_HOME=$ws run_customize KernelSU x64 "$T/KernelSU"
    [ -L "$T/KernelSU/adb/ksu/bin/droidspaces" ]
}

@test "customize.sh leaves a file of someone else's at the manager's bin/droidspaces alone" {
    mkdir -p "$T/r/adb/ksu/bin"
    echo "mine" >"$T/r/adb/ksu/bin/droidspaces"
    run -0 run_customize KernelSU x64 "$T/r"
    [ "$(cat "$T/r/adb/ksu/bin/droidspaces")" = mine ]
    grep -q "exists and is not our link: left alone" "$T/r/ui"
}

@test "customize.sh aborts on an unsupported ARCH, naming it, and installs nothing" {
    local arch
    for arch in mips riscv64 ''; do
        run -1 run_customize Magisk "$arch" "$T/r"
        grep -qx "abort ! Unsupported architecture '$arch': Droidspaces ships arm64, arm, x64 and x86" \
            "$T/r/calls"
        [ ! -e "$T/r/adb/modules_update/droidspaces" ]
    done
}

@test "customize.sh aborts naming the required features the kernel check reports missing" {
    # A real check that fails: the installer running without root lacks "Root privileges".
    mkdir -p "$T/r"
    chmod 0755 "$T" "$SUITE_TMP"
    chown -R nobody "$T/r"
    cp "$MODULE_ZIP" "$T/m.zip"
    chmod 0644 "$T/m.zip"
    local bb
    bb=$(busybox_path)
    chmod 0755 "$SUITE_TMP/busybox-bin"
    DS_T_HOME=$T/r/ws
    run -1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
        bash -c "source '$REPO_ROOT/tests/helpers.bash'; source '$REPO_ROOT/tests/helpers/module.bash';
                 SUITE_TMP='$SUITE_TMP' DROIDSPACES_HOME='$DS_T_HOME' run_customize Magisk x64 '$T/r' '$T/m.zip'"
    # Exactly the required features the binary itself reports missing for this user.
    local expected
    expected=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$BUILD_DIR/dist-bin/x86_64/droidspaces" check --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(", ".join(
            e["name"] for e in d["sections"]["required"] if not e["ok"]))') || true
    [[ $expected == "Root privileges"* ]]
    grep -qxF "abort ! This kernel lacks features Droidspaces requires: $expected" "$T/r/calls" ||
        { cat "$T/r/calls"; return 1; }
    [ ! -e "$DS_T_HOME" ]
}

@test "customize.sh aborts when the extracted binary does not run on the device" {
    mkdir -p "$T/bins" "$T/out"
    cp -a "$BUILD_DIR/dist-bin/." "$T/bins/"
    head -c 4096 /dev/urandom >"$T/bins/x86_64/droidspaces"
    "$MODULE_SRC/pack.sh" --version 1.0.0 --bins "$T/bins" --webroot "$BUILD_DIR/webroot" \
        --out "$T/out" >/dev/null
    run -1 run_customize KernelSU x64 "$T/r" "$T/out/droidspaces-1.0.0.zip"
    # (busybox ash runs a file the kernel refuses as a script: the exit status varies)
    grep -q "^abort ! The x86_64 binary does not run on this device (exit [0-9]*)" "$T/r/calls" ||
        { cat "$T/r/calls"; return 1; }
    [ ! -e "$T/r/adb/ksu" ]
}

# --- the installed module's scripts ------------------------------------------------------------

# Installs for this machine (x64) the way the manager does and "reboots": the live module dir.
live_module() {
    run_customize KernelSU x64 "$T/inst" >/dev/null || return 1
    mkdir -p "$T/adb/modules"
    cp -a "$T/inst/adb/modules_update/droidspaces" "$T/adb/modules/droidspaces"
    echo "$T/adb/modules/droidspaces"
}

# Stand-ins on PATH: getprop answers sys.boot_completed from $T/boot_completed.
prop_shims() {
    mkdir -p "$T/shims"
    cat >"$T/shims/getprop" <<EOF
#!/bin/sh
[ "\$1" = sys.boot_completed ] && cat "$T/boot_completed" 2>/dev/null
exit 0
EOF
    printf '#!/bin/sh\nexit 0\n' >"$T/shims/resetprop"
    chmod 0755 "$T/shims/getprop" "$T/shims/resetprop"
}

boot_container() {
    local name=$1
    shift
    ds --name="$name" --rootfs="$(fixture_copy busybox "$T/$name")" --net=none "$@" config create >/dev/null
}

@test "service.sh returns at once, then after boot starts the server and marked containers by priority" {
    local mod
    mod=$(live_module)
    prop_shims
    echo 0 >"$T/boot_completed"
    boot_container sv-late --run-at-boot --run-at-boot-priority=20
    boot_container sv-first --run-at-boot --run-at-boot-priority=1
    boot_container sv-none --run-at-boot
    boot_container sv-off
    # One that fails: its rootfs has no init.
    mkdir -p "$T/noinit"
    ds --name=sv-broken --rootfs="$T/noinit" --net=none --run-at-boot --run-at-boot-priority=5 \
        config create >/dev/null
    # Returns while sys.boot_completed is still 0: the work is detached.
    PATH="$T/shims:$(busybox_path)" timeout 10 /bin/busybox sh "$mod/service.sh"
    local log=$DROIDSPACES_HOME/Logs/boot-module.log
    wait_until 10 grep -q "Droidspaces module service" "$log"
    ! grep -q "boot completed" "$log"
    ! "$DROIDSPACES_BIN" daemon --status >/dev/null
    echo 1 >"$T/boot_completed"
    wait_until 180 grep -q '\[service\] done' "$log" || { cat "$log"; return 1; }
    cat "$log"
    run -0 "$DROIDSPACES_BIN" daemon --status
    local n
    for n in sv-first sv-late sv-none; do
        ds --name="$n" pid >/dev/null || { echo "$n not running"; return 1; }
    done
    [ "$(ds --name=sv-off pid)" = NONE ] || ! ds --name=sv-off pid >/dev/null
    grep -q 'sv-broken: failed: ' "$log"
    grep -q 'done: 3 started, 1 failed, 0 skipped' "$log"
    # By priority (1, 5, 20, none), each once.
    [ "$(grep -oE '(sv-[a-z]+): (ok|failed)' "$log" | cut -d: -f1 | tr '\n' ' ')" = \
        "sv-first sv-broken sv-late sv-none " ]
}

@test "uninstall.sh stops the running containers and the server, keeps the containers" {
    local mod
    mod=$(live_module)
    boot_container un-a
    boot_container un-b
    ds --name=un-a start >/dev/null
    ds --name=un-b start >/dev/null
    "$DROIDSPACES_BIN" daemon --port=0 >/dev/null
    mkdir -p "$T/adb/ksu/bin" "$T/adb/ap/bin"
    ln -s "$T/adb/modules/droidspaces/droidspaces" "$T/adb/ksu/bin/droidspaces"
    ln -s /somewhere/else "$T/adb/ap/bin/droidspaces"
    NVBASE=$T/adb PATH="$(busybox_path)" run -0 /bin/busybox sh "$mod/uninstall.sh"
    [[ $output == *"Stopping containers: un-a,un-b"* ]]
    [ "$(ds --name=un-a pid)" = NONE ] || ! ds --name=un-a pid >/dev/null
    [ "$(ds --name=un-b pid)" = NONE ] || ! ds --name=un-b pid >/dev/null
    ! "$DROIDSPACES_BIN" daemon --status >/dev/null
    [ -f "$DROIDSPACES_HOME/Containers/un-a/container.config" ]
    [ -d "$T/un-a/rootfs/bin" ]
    [ ! -e "$T/adb/ksu/bin/droidspaces" ]
    [ "$(readlink "$T/adb/ap/bin/droidspaces")" = /somewhere/else ]
}

@test "action.sh starts the server if needed and shows each container's state and the dashboard URL" {
    local mod
    mod=$(live_module)
    boot_container ac-up
    boot_container ac-down
    ds --name=ac-up start >/dev/null
    ! "$DROIDSPACES_BIN" daemon --status >/dev/null
    PATH="$(busybox_path)" run -0 /bin/busybox sh "$mod/action.sh"
    [[ $output == *"Starting the server"* ]]
    grep -Eq '^ac-up +running ' <<<"$output"
    grep -Eq '^ac-down +stopped ' <<<"$output"
    [[ $output == *"Dashboard: http://127.0.0.1:"* ]]
    "$DROIDSPACES_BIN" daemon --status >/dev/null
    # A second press finds it running.
    PATH="$(busybox_path)" run -0 /bin/busybox sh "$mod/action.sh"
    [[ $output != *"Starting the server"* ]]
}

# --- autoboot ----------------------------------------------------------------------------------

@test "autoboot with nothing marked starts nothing and exits 0" {
    boot_container ab-off
    run -0 ds autoboot
    [[ $output == *"0 container(s) marked run_at_boot"* ]]
    [[ $output == *"done: 0 started, 0 failed, 0 skipped"* ]]
    [ "$(ds --name=ab-off pid)" = NONE ] || ! ds --name=ab-off pid >/dev/null
}

@test "autoboot exits 1 when one fails, starts the rest, and counts a running one as started" {
    boot_container ab-run --run-at-boot --run-at-boot-priority=2
    mkdir -p "$T/noinit"
    ds --name=ab-bad --rootfs="$T/noinit" --net=none --run-at-boot --run-at-boot-priority=1 \
        config create >/dev/null
    boot_container ab-up --run-at-boot --run-at-boot-priority=3
    ds --name=ab-up start >/dev/null
    run -1 ds autoboot --timeout=60
    echo "$output"
    grep -Eq '^\[autoboot\] ab-bad: failed: .+ \([0-9]+ ms\)$' <<<"$output"
    grep -Eq '^\[autoboot\] ab-run: ok \([0-9]+ ms\)$' <<<"$output"
    grep -Eq '^\[autoboot\] ab-up: ok: already running \([0-9]+ ms\)$' <<<"$output"
    [[ $output == *"done: 2 started, 1 failed, 0 skipped"* ]]
    ds --name=ab-run pid >/dev/null
}

@test "autoboot gives up on a start that outlives --timeout and goes on with the next" {
    boot_container ab-locked --run-at-boot --run-at-boot-priority=1
    boot_container ab-next --run-at-boot --run-at-boot-priority=2
    # Another command holds ab-locked's lock: its start waits (up to 30 s) for it.
    mkdir -p "$DROIDSPACES_HOME/Pids"
    # One process holds the lock (exec: no child keeps the fd once it is killed).
    bash -c 'exec 9>"$1" && flock 9 && exec sleep 120' _ "$DROIDSPACES_HOME/Pids/ab-locked.lock" &
    local holder=$!
    wait_until 10 bash -c "! flock -n '$DROIDSPACES_HOME/Pids/ab-locked.lock' true"
    run -1 ds autoboot --timeout=2
    kill "$holder"
    wait "$holder" || true
    echo "$output"
    grep -Eq '^\[autoboot\] ab-locked: failed: timed out after 2 s \([0-9]+ ms\)$' <<<"$output"
    grep -Eq '^\[autoboot\] ab-next: ok \([0-9]+ ms\)$' <<<"$output"
    # The timed-out start was ended, not left waiting for the lock.
    ! pgrep -f -- '--name=ab-locked start' >/dev/null
    [ "$(ds --name=ab-locked pid)" = NONE ] || ! ds --name=ab-locked pid >/dev/null
}

@test "autoboot refuses names and config options, and a bad --timeout" {
    run -1 --separate-stderr ds --name=x autoboot
    [[ $stderr == *"autoboot takes no container names"* ]]
    run -1 --separate-stderr ds --net=none autoboot
    [[ $stderr == *"autoboot takes no container names or config options"* ]]
    run -1 --separate-stderr ds autoboot --timeout=0
    [[ $stderr == *"--timeout"* ]]
}

@test "the suite left nothing behind on the host so far" {
    stop_suite_containers
    assert_host_clean
}
