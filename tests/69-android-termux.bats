#!/usr/bin/env bats
# Termux:X11 (-X), VirGL (--virgl) and PulseAudio (--pulse-audio) inside the simulated Android
# host: a stand-in Termux prefix whose "servers" (small python3 scripts) record who they run as
# and serve a Unix socket, a stand-in /system/bin/app_process, and a packages.list naming the
# Termux uid. The real binary starts them as that uid, binds their sockets into a busybox
# guest, sets DISPLAY / GALLIUM_DRIVER / PULSE_SERVER, shares them and stops them after the last
# container that needs them.

# shellcheck disable=SC2154,SC2016
bats_require_minimum_version 1.5.0

TERMUX_UID=10123

setup_file() {
    load helpers
    load helpers/android
    suite_setup
    android_sim_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="tx-$$"
    export PREFIX_HOST="$ANDROID_DATA/data/com.termux/files/usr"
    local bin=$PREFIX_HOST/bin
    mkdir -p "$bin" "$PREFIX_HOST/tmp" "$PREFIX_HOST/libexec/termux-x11" \
        "$ANDROID_DATA/data/com.termux/files/home"
    : >"$PREFIX_HOST/libexec/termux-x11/loader.apk"
    cat >"$bin/serve.py" <<'EOF'
import os, signal, socket, sys
path, name = sys.argv[1], sys.argv[2]
tmp = os.environ.get("TMPDIR", "/tmp")
with open(os.path.join(tmp, name + ".record"), "w") as f:
    f.write("uid=%d gid=%d groups=%s\n" % (os.getuid(), os.getgid(),
            ",".join(str(g) for g in sorted(os.getgroups()))))
    f.write("args=%s\n" % " ".join(sys.argv[3:]))
    for key in ("CLASSPATH", "HOME", "TMPDIR"):
        f.write("%s=%s\n" % (key, os.environ.get(key, "")))
attack = os.path.join(tmp, "attack")
if os.path.exists(attack):  # a hostile app: a symlink where the socket belongs
    os.symlink(open(attack).read().strip(), path)
    signal.pause()
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(8)
while True:
    conn, _ = server.accept()
    conn.sendall(("hello from %s\n" % name).encode())
    conn.close()
EOF
    local serve='exec /usr/bin/python3 /data/data/com.termux/files/usr/bin/serve.py'
    printf '#!/bin/sh\n%s "$TMPDIR/.virgl_test" virgl "$@"\n' "$serve" \
        >"$bin/virgl_test_server_android"
    # PulseAudio takes its socket path from --load=...socket=PATH ...
    printf '#!/bin/sh\nfor a; do case $a in --load=*) s=${a#*socket=}; s=${s%%%% *};; esac; done\n%s "$s" pulse "$@"\n' \
        "$serve" >"$bin/pulseaudio"
    printf '#!/bin/sh\n%s "$TMPDIR/.X11-unix/X5" x11 "$@"\n' "$serve" \
        >"$ANDROID_SYSTEM/bin/app_process"
    chmod 755 "$bin"/* "$ANDROID_SYSTEM/bin/app_process"
    chown -R "$TERMUX_UID:$TERMUX_UID" "$ANDROID_DATA/data/com.termux"
    # The app's label, as on a phone: the helpers then try the dyntransition into
    # untrusted_app_27 with these categories, which this host (no SELinux) refuses: tolerated.
    python3 -c 'import os, sys; os.setxattr(sys.argv[1], "security.selinux",
        b"u:object_r:app_data_file:s0:c123,c256,c512,c768")' "$ANDROID_DATA/data/com.termux"
    printf '%s\n' \
        "com.termux $TERMUX_UID 0 /data/user/0/com.termux default:targetSdkVersion=28 3003,9997" \
        "com.termux.x11 10124 0 /data/user/0/com.termux.x11 default:targetSdkVersion=28 3003" \
        >"$ANDROID_DATA/system/packages.list"
}

teardown_file() {
    load helpers
    load helpers/android
    android_stop_all
    kill_helpers
    suite_teardown
    android_sim_teardown
}

setup() {
    load helpers
    load helpers/android
}

# Stand-in servers the runtime left (a failed test): only processes of the Termux uid that the
# workspace's pidfiles name.
kill_helpers() {
    local f pid
    for f in "$DROIDSPACES_HOME"/Pids/x11.xpid "$DROIDSPACES_HOME"/Pids/virgl.vpid \
        "$DROIDSPACES_HOME"/Pids/pulse.ppid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        [ "$(stat -c %u "/proc/$pid" 2>/dev/null)" = "$TERMUX_UID" ] && kill -9 "$pid"
        rm -f "$f"
    done
    return 0
}

# Ended: no such process, or a zombie (this machine's PID 1 does not reap the orphans it gets).
process_gone() {
    ! kill -0 "$1" 2>/dev/null || grep -q '^State:[[:space:]]*Z' "/proc/$1/status"
}

helper_pid() {
    cat "$DROIDSPACES_HOME/Pids/$1"
}

# Connects to a socket through the container's root: the guest's path leads to the server.
guest_connect() {
    local pid
    pid=$(dsa --name="$1" pid)
    socat -T 5 - "UNIX-CONNECT:/proc/$pid/root$2" </dev/null
}

init_env() {
    dsa --name="$1" run cat /proc/1/environ | tr '\0' '\n'
}

@test "-X: Termux:X11 runs as the Termux uid, X5 is bound into the guest and DISPLAY=:5" {
    dsa --name="$NAME-x" --rootfs="$ROOTFS" --net=none -X --tx11-flags="-legacy-drawing -dpi '120'" start
    local pid
    pid=$(helper_pid x11.xpid)
    [ "$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$pid/status")" = "$TERMUX_UID$TERMUX_UID$TERMUX_UID$TERMUX_UID" ]
    run cat "$PREFIX_HOST/tmp/x11.record"
    [ "${lines[0]}" = "uid=$TERMUX_UID gid=$TERMUX_UID groups=3003,9997" ]
    [ "${lines[1]}" = "args=-Xnoimage-dex2oat / --nice-name=termux-x11 :5 com.termux.x11.Loader :5 -legacy-drawing -dpi 120" ]
    [ "${lines[2]}" = "CLASSPATH=/data/data/com.termux/files/usr/libexec/termux-x11/loader.apk" ]
    run dsa --name="$NAME-x" run sh -c 'test -S /tmp/.X11-unix/X5 && stat -c %a /tmp/.X11-unix'
    [ "$output" = 1777 ]
    run guest_connect "$NAME-x" /tmp/.X11-unix/X5
    [ "$output" = "hello from x11" ]
    run init_env "$NAME-x"
    [[ $output == *"DISPLAY=:5"* ]]
    run dsa --name="$NAME-x" run sh -c '. /run/droidspaces.env; echo "$DISPLAY"'
    [ "$output" = ":5" ]
    # `run` (and `enter`) get it straight away, without sourcing anything.
    run dsa --name="$NAME-x" run sh -c 'echo "$DISPLAY"'
    [ "$output" = ":5" ]
    dsa --name="$NAME-x" stop
    process_gone "$pid"
    [ ! -e "$DROIDSPACES_HOME/Pids/x11.xpid" ]
    [ ! -e "$PREFIX_HOST/tmp/.X11-unix/X5" ]
}

@test "--tx11-flags and --virgl-flags with shell metacharacters are refused before anything starts" {
    run --separate-stderr dsa --name="$NAME-x" --rootfs="$ROOTFS" --net=none -X \
        --tx11-flags='-dpi 120; reboot' start
    [ "$status" -ne 0 ]
    [[ $stderr == *"--tx11-flags '-dpi 120; reboot'"*"';'"* ]]
    [ "$(dsa --name="$NAME-x" pid)" = NONE ]
    [ ! -e "$DROIDSPACES_HOME/Pids/x11.xpid" ]
    run --separate-stderr dsa --name="$NAME-x" --rootfs="$ROOTFS" --net=none --virgl \
        --virgl-flags='$(id)' start
    [ "$status" -ne 0 ]
    [[ $stderr == *"--virgl-flags"*"'\$'"* ]]
    [ ! -e "$DROIDSPACES_HOME/Pids/virgl.vpid" ]
}

@test "VirGL and PulseAudio are shared by containers and stopped after the last that needs them" {
    dsa --name="$NAME-a" --rootfs="$ROOTFS" --net=none --virgl --pulse-audio start
    local virgl pulse
    virgl=$(helper_pid virgl.vpid)
    pulse=$(helper_pid pulse.ppid)
    grep -q "^uid=$TERMUX_UID " "$PREFIX_HOST/tmp/virgl.record"
    grep -q "^uid=$TERMUX_UID " "$PREFIX_HOST/tmp/pulse.record"
    run init_env "$NAME-a"
    [[ $output == *"GALLIUM_DRIVER=virpipe"* ]]
    [[ $output == *"PULSE_SERVER=unix:/tmp/.pulse-socket"* ]]
    run guest_connect "$NAME-a" /tmp/.virgl_test
    [ "$output" = "hello from virgl" ]
    run guest_connect "$NAME-a" /tmp/.pulse-socket
    [ "$output" = "hello from pulse" ]
    mkdir -p "$SUITE_TMP/b"
    cp -a "$ROOTFS" "$SUITE_TMP/b/rootfs"
    dsa --name="$NAME-b" --rootfs="$SUITE_TMP/b/rootfs" --net=none --virgl start
    [ "$(helper_pid virgl.vpid)" = "$virgl" ]  # reused, not a second server
    run guest_connect "$NAME-b" /tmp/.virgl_test
    [ "$output" = "hello from virgl" ]
    dsa --name="$NAME-a" stop
    process_gone "$pulse"
    [ ! -e "$PREFIX_HOST/tmp/.pulse-socket" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/pulse.ppid" ]
    run process_gone "$virgl"
    [ "$status" -ne 0 ]
    run guest_connect "$NAME-b" /tmp/.virgl_test
    [ "$output" = "hello from virgl" ]
    dsa --name="$NAME-b" stop
    process_gone "$virgl"
    [ ! -e "$PREFIX_HOST/tmp/.virgl_test" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/.android" ]
}

@test "a helper that puts a symlink to a host file where its socket belongs gets nothing bound" {
    echo /data/system/packages.list >"$PREFIX_HOST/tmp/attack"
    run --separate-stderr dsa --name="$NAME-p" --rootfs="$ROOTFS" --net=none --pulse-audio start
    rm -f "$PREFIX_HOST/tmp/attack" "$PREFIX_HOST/tmp/.pulse-socket"
    [ "$status" -eq 0 ]
    [[ $stderr == *"PulseAudio: it created no socket at"* ]]
    [ ! -e "$DROIDSPACES_HOME/Pids/pulse.ppid" ]
    run dsa --name="$NAME-p" run cat /tmp/.pulse-socket
    [ "$status" -ne 0 ]
    [[ $output != *com.termux* ]]
    run init_env "$NAME-p"
    [[ $output != *PULSE_SERVER* ]]
    dsa --name="$NAME-p" stop
}

@test "after the last stop root removes no socket through a tmp the app made a symlink" {
    dsa --name="$NAME-v" --rootfs="$ROOTFS" --net=none --pulse-audio start
    local pulse
    pulse=$(helper_pid pulse.ppid)
    # The app swaps its tmp for a symlink to a directory that is not its own, holding a socket
    # of the helper's name (of the app's uid: only the path tells it apart).
    local victim=$SUITE_TMP/victim
    mkdir -p "$victim"
    python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
        "$victim/.pulse-socket"
    chown "$TERMUX_UID:$TERMUX_UID" "$victim/.pulse-socket"
    mv "$PREFIX_HOST/tmp" "$PREFIX_HOST/tmp.real"
    ln -s "$victim" "$PREFIX_HOST/tmp"
    run dsa --name="$NAME-v" stop
    rm "$PREFIX_HOST/tmp"
    mv "$PREFIX_HOST/tmp.real" "$PREFIX_HOST/tmp"
    [ "$status" -eq 0 ]
    process_gone "$pulse"
    [ -S "$victim/.pulse-socket" ]
    rm -rf "$victim" "$PREFIX_HOST/tmp/.pulse-socket"
    [ ! -e "$DROIDSPACES_HOME/Pids/pulse.ppid" ]
}

@test "a reboot inside the guest keeps GALLIUM_DRIVER for the new init" {
    dsa --name="$NAME-rb" --rootfs="$ROOTFS" --net=none --virgl start
    local before
    before=$(dsa --name="$NAME-rb" pid)
    wait_until 10 bash -c "[ -e /proc/$before/root/run/booted ]"
    dsa --name="$NAME-rb" run reboot || true
    wait_until 20 bash -c "p=\$(nsenter -t $ANDROID_SIM_HOLDER -m -r -w -- $DROIDSPACES_BIN --name=$NAME-rb pid) && [ \"\$p\" != NONE ] && [ \"\$p\" != $before ]"
    run init_env "$NAME-rb"
    dsa --name="$NAME-rb" stop
    [[ $output == *"GALLIUM_DRIVER=virpipe"* ]]
}

@test "a helper program the app made non-executable is skipped with a warning" {
    chmod 644 "$PREFIX_HOST/bin/virgl_test_server_android"
    run --separate-stderr dsa --name="$NAME-nx" --rootfs="$ROOTFS" --net=none --virgl start
    chmod 755 "$PREFIX_HOST/bin/virgl_test_server_android"
    [ "$status" -eq 0 ]
    [[ $stderr == *"VirGL: "*"skipping it"* ]]
    [ ! -e "$DROIDSPACES_HOME/Pids/virgl.vpid" ]
    run init_env "$NAME-nx"
    [[ $output != *GALLIUM_DRIVER* ]]
    dsa --name="$NAME-nx" stop
}

@test "without Termux each helper is skipped with one warning and the container boots" {
    mv "$ANDROID_DATA/system/packages.list" "$SUITE_TMP/packages.list"
    run --separate-stderr dsa --name="$NAME-n" --rootfs="$ROOTFS" --net=none -X --virgl \
        --pulse-audio start
    mv "$SUITE_TMP/packages.list" "$ANDROID_DATA/system/packages.list"
    [ "$status" -eq 0 ]
    [ "$(grep -c 'Termux (com.termux) is not installed: skipping it' <<<"$stderr")" -eq 3 ]
    run init_env "$NAME-n"
    [[ $output != *DISPLAY=* ]]
    dsa --name="$NAME-n" stop
}

@test "the host is as it was before the suite" {
    android_stop_all
    [ -z "$(ls "$DROIDSPACES_HOME"/Pids/*.?pid 2>/dev/null)" ]
    [ ! -e "$DROIDSPACES_HOME/Pids/.android" ]
    stop_suite_containers
    android_sim_teardown
    assert_host_clean
}
