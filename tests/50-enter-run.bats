#!/usr/bin/env bats
# `run` and `enter`: a process inside a running container, in all of its init's namespaces and in
# its cgroup; run's stdio, exit status and PATH search; users from the container's own
# /etc/passwd; enter's login shell on a pty of the container's devpts, window size, job-control
# terminal and exit status; the caller's terminal restored. Interactive tests drive enter through
# tests/helpers/pty_harness.py.

# `run --separate-stderr` sets $stderr; single quotes are for the container's shell.
# shellcheck disable=SC2154,SC2016

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="er-$$"
    # Only in the container's files: proves the lookups never use the host's.
    echo "ctonly:x:4321:4321::/:/bin/sh" >>"$ROOTFS/etc/passwd"
    echo "ctgrp:x:777:ctonly,tester" >>"$ROOTFS/etc/group"
    mkdir -p "$ROOTFS/usr/local/bin"
    printf '#!/bin/sh\necho inside-only\n' >"$ROOTFS/usr/local/bin/ds-inside-only"
    chmod 755 "$ROOTFS/usr/local/bin/ds-inside-only"
    printf 'DS_FROM_ENV_FILE="yes it is"\nHOME=/not-the-home\n' >"$SUITE_TMP/env"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none --env="$SUITE_TMP/env" start >/dev/null
    wait_until 10 ds --name="$NAME" run true

    SD_ROOTFS=$(fixture_copy systemd "$SUITE_TMP/sd")
    export SD_ROOTFS
    export SD_NAME="ers-$$"
    ds --name="$SD_NAME" --rootfs="$SD_ROOTFS" --net=none start >/dev/null
    wait_until 20 ds --name="$SD_NAME" run true
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
    HARNESS="$BATS_TEST_DIRNAME/helpers/pty_harness.py"
}

# The host path of a running container's cgroup, from its state record.
container_cgroup() {
    sed -n 's/.*"cgroup_path":"\([^"]*\)".*/\1/p' "$DROIDSPACES_HOME/Pids/$1.state"
}

# The host PID of a process named COMM in the cgroup at CG (a run command's, seen from the host).
pid_in_cgroup() {
    local cg=$1 comm=$2 p
    while read -r p; do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$comm" ] && { echo "$p"; return 0; }
    done <"$cg/cgroup.procs"
    return 1
}

# A path inside the running busybox container, seen from the host (its /tmp is its own tmpfs).
guest_path() {
    echo "/proc/$(ds --name="$NAME" pid)/root$1"
}

# harness ARGS... -- COMMAND: the pty harness with a 20 s per-step deadline.
harness() {
    timeout -k 5 120 python3 "$HARNESS" --timeout 20 "$@"
}

# --- run ------------------------------------------------------------------------------------

@test "run propagates the exit status, 128+N for a signal" {
    run ds --name="$NAME" run /bin/true
    [ "$status" -eq 0 ]
    run ds --name="$NAME" run /bin/false
    [ "$status" -eq 1 ]
    run ds --name="$NAME" run sh -c 'exit 3'
    [ "$status" -eq 3 ]
    run ds --name="$NAME" run sh -c 'kill -TERM $$'
    [ "$status" -eq 143 ]
    run ds --name="$NAME" run sh -c 'kill -KILL $$'
    [ "$status" -eq 137 ]
}

@test "run passes stdin, stdout and stderr through unchanged" {
    run bash -c 'echo hi | "$DROIDSPACES_BIN" --name="$NAME" run cat'
    [ "$status" -eq 0 ]
    [ "$output" = "hi" ]
    run --separate-stderr ds --name="$NAME" run sh -c 'echo out; echo err >&2; exit 4'
    [ "$status" -eq 4 ]
    [ "$output" = "out" ]
    [ "$stderr" = "err" ]
    # Binary data, both ways, byte for byte.
    head -c 300000 /dev/urandom >"$BATS_TEST_TMPDIR/blob"
    ds --name="$NAME" run cat <"$BATS_TEST_TMPDIR/blob" >"$BATS_TEST_TMPDIR/back"
    cmp "$BATS_TEST_TMPDIR/blob" "$BATS_TEST_TMPDIR/back"
}

@test "run keeps arguments as given and runs one argument with a space through /bin/sh -c" {
    run ds --name="$NAME" run echo 'a   b' '$HOME' '*'
    [ "$output" = 'a   b $HOME *' ]
    run ds --name="$NAME" run 'echo a   b; echo "$0" $HOME'
    [ "$status" -eq 0 ]
    [ "$output" = $'a b\n/bin/sh /root' ]
    # Options after the command belong to it.
    run ds --name="$NAME" run echo --name=other -u x
    [ "$status" -eq 0 ]
    [ "$output" = "--name=other -u x" ]
}

@test "run searches the container's PATH and starts in / with a clean environment" {
    [ ! -e /usr/local/bin/ds-inside-only ]
    run ds --name="$NAME" run ds-inside-only
    [ "$status" -eq 0 ]
    [ "$output" = "inside-only" ]
    run env -i FOO=leak TERM=vt100 PATH=/nonexistent DROIDSPACES_HOME="$DROIDSPACES_HOME" \
        "$DROIDSPACES_BIN" --name="$NAME" run env
    [ "$status" -eq 0 ]
    [[ $output == *"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"* ]]
    [[ $output == *"container=droidspaces"* ]]
    [[ $output == *"TERM=vt100"* ]]
    [[ $output == *"HOME=/root"* ]]
    [[ $output != *"FOO=leak"* ]]
    run ds --name="$NAME" run pwd
    [ "$output" = "/" ]
}

@test "the --env file is applied, the user's identity wins over it" {
    run ds --name="$NAME" run sh -c 'echo "$DS_FROM_ENV_FILE|$HOME"'
    [ "$output" = "yes it is|/root" ]
    run ds --name="$NAME" run -u tester sh -c 'echo "$DS_FROM_ENV_FILE|$HOME"'
    [ "$output" = "yes it is|/home/tester" ]
}

@test "run processes get init's capability bounding set and seccomp filter" {
    local pid field
    pid=$(ds --name="$NAME" pid)
    for field in CapBnd NoNewPrivs Seccomp; do
        [ "$(ds --name="$NAME" run grep "^$field:" /proc/self/status)" = \
            "$(grep "^$field:" "/proc/$pid/status")" ] || { echo "$field differs"; return 1; }
    done
    # The filter is there: a host-wide syscall is refused even to the container's root.
    run ds --name="$NAME" run grep "^Seccomp:" /proc/self/status
    [[ $output == *2 ]]
    [ "$(grep "^CapBnd:" /proc/self/status)" != "$(ds --name="$NAME" run grep "^CapBnd:" /proc/self/status)" ]
}

@test "/etc/environment of the container is applied" {
    printf '# comment\nDS_GREETING="hello there"\nexport DS_OTHER=x\nnot a line\n' \
        >"$ROOTFS/etc/environment"
    run ds --name="$NAME" run sh -c 'echo "$DS_GREETING|$DS_OTHER"'
    rm -f "$ROOTFS/etc/environment"
    [ "$status" -eq 0 ]
    [ "$output" = "hello there|x" ]
}

@test "an unknown command exits 127 and names it" {
    run -127 --separate-stderr ds --name="$NAME" run no-such-command-here arg
    [ "$status" -eq 127 ]
    [ -z "$output" ]
    [[ $stderr == *"no-such-command-here"* ]]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    run -127 --separate-stderr ds --name="$NAME" run /no/such/file
    [ "$status" -eq 127 ]
    [[ $stderr == *"/no/such/file"* ]]
    # A file without execute permission is 126, as in a shell.
    run --separate-stderr ds --name="$NAME" run /etc/passwd
    [ "$status" -eq 126 ]
    [[ $stderr == *"/etc/passwd"* ]]
}

@test "run without a command is a usage error" {
    run --separate-stderr ds --name="$NAME" run
    [ "$status" -eq 1 ]
    [[ $stderr == *"command"* ]]
}

@test "run -u drops to the user, groups and home of the container's /etc/passwd" {
    run ds --name="$NAME" run -u tester id -u
    [ "$status" -eq 0 ]
    [ "$output" = "1000" ]
    run ds --name="$NAME" run -u tester sh -c 'echo "$(id -g) $HOME $USER $(pwd)"'
    [ "$output" = "1000 /home/tester tester /home/tester" ]
    # A user only the container knows, with a group only the container knows.
    run ! getent passwd ctonly
    run ds --name="$NAME" run -u ctonly id -u
    [ "$output" = "4321" ]
    run ds --name="$NAME" run -u tester id -G
    [ "$output" = "1000 777" ]
    run ds --name="$NAME" run -u tester 'id -un; echo $0'
    [ "$output" = $'tester\n/bin/sh' ]
    # Without -u: root, without the host's supplementary groups.
    run ds --name="$NAME" run id -G
    [ "$output" = "0" ]
}

@test "an unknown user is refused with exit 1, naming the user" {
    run --separate-stderr ds --name="$NAME" run -u nobody-here-$$ true
    [ "$status" -eq 1 ]
    [[ $stderr == *"nobody-here-$$"* ]]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    run --separate-stderr ds --name="$NAME" enter nobody-here-$$
    [ "$status" -eq 1 ]
    [[ $stderr == *"nobody-here-$$"* ]]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
}

@test "run and enter on a container that is not running exit 1" {
    run --separate-stderr ds --name="ghost-$$" run true
    [ "$status" -eq 1 ]
    [[ $stderr == *"not running"* ]]
    run --separate-stderr ds --name="ghost-$$" enter
    [ "$status" -eq 1 ]
    [[ $stderr == *"not running"* ]]
}

@test "a run process is in every namespace of init, none of the host's" {
    local pid ns inside host
    pid=$(ds --name="$NAME" pid)
    for ns in cgroup ipc mnt net pid uts; do
        inside=$(ds --name="$NAME" run readlink "/proc/self/ns/$ns")
        host=$(readlink "/proc/$pid/ns/$ns")
        [ "$inside" = "$host" ] || { echo "$ns: run $inside, init $host"; return 1; }
        [ "$inside" != "$(readlink "/proc/self/ns/$ns")" ] || { echo "$ns is the host's"; return 1; }
    done
    # In the PID namespace for real: init is PID 1 and the host's processes are not visible.
    run ds --name="$NAME" run cat /proc/1/cmdline
    [ "$output" = "init" ]
    run ds --name="$NAME" run sh -c 'echo $$'
    [ "$output" -gt 1 ]
    [ "$output" -lt 1000 ]
}

@test "the droidspaces process itself never joins the container (a helper does)" {
    local cg pid host_pid ns
    cg=$(container_cgroup "$NAME")
    [ -n "$cg" ]
    "$DROIDSPACES_BIN" --name="$NAME" run sleep 301 &
    pid=$!
    wait_until 10 pid_in_cgroup "$cg" sleep
    host_pid=$(pid_in_cgroup "$cg" sleep)
    [ "$(readlink "/proc/$host_pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]
    # The CLI is the command's parent, and is still where it started in every namespace.
    [ "$(awk '{print $4}' "/proc/$host_pid/stat")" = "$pid" ]
    for ns in mnt net uts ipc pid pid_for_children cgroup; do
        if [ "$(readlink "/proc/$pid/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")" ]; then
            echo "the CLI is in another $ns namespace"
            kill -KILL "$pid" "$host_pid"
            return 1
        fi
    done
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 143 ]
}

@test "a run process is in init's cgroup and signals sent to run reach it" {
    local cg pid init host_pid=""
    cg=$(container_cgroup "$NAME")
    [ -n "$cg" ]
    init=$(ds --name="$NAME" pid)
    run ds --name="$NAME" run cat /proc/self/cgroup
    [[ $output == *"0::/"* ]]
    "$DROIDSPACES_BIN" --name="$NAME" run sleep 300 &
    pid=$!
    # The sleeper's host PID, from the container cgroup's member list.
    wait_until 10 pid_in_cgroup "$cg" sleep
    host_pid=$(pid_in_cgroup "$cg" sleep)
    [ "$(grep '^0::' "/proc/$host_pid/cgroup")" = "$(grep '^0::' "/proc/$init/cgroup")" ]
    # SIGTERM to the droidspaces process is passed on; the status says so.
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 143 ]
    run ! kill -0 "$host_pid"
}

@test "run passes USR1, USR2 and HUP on to the command" {
    local pid sig tmp
    tmp=$(guest_path /tmp)
    for sig in USR1 USR2 HUP; do
        rm -f "$tmp/ready-$sig"
        "$DROIDSPACES_BIN" --name="$NAME" run sh -c \
            "trap 'echo got-$sig; exit 7' $sig; touch /tmp/ready-$sig; while :; do sleep 0.1; done" \
            >"$BATS_TEST_TMPDIR/out-$sig" &
        pid=$!
        wait_until 10 test -e "$tmp/ready-$sig"
        kill "-$sig" "$pid"
        local rc=0
        wait "$pid" || rc=$?
        [ "$rc" -eq 7 ]
        [ "$(cat "$BATS_TEST_TMPDIR/out-$sig")" = "got-$sig" ]
    done
    rm -f "$tmp"/ready-*
}

@test "setgroups: the guest's memberships, never the caller's supplementary groups" {
    run setpriv --groups 4242,4343 "$DROIDSPACES_BIN" --name="$NAME" run id -G
    [ "$status" -eq 0 ]
    [ "$output" = "0" ]
    run setpriv --groups 4242,4343 "$DROIDSPACES_BIN" --name="$NAME" run -u tester id -G
    [ "$status" -eq 0 ]
    [ "$output" = "1000 777" ]
    run setpriv --groups 4242 "$DROIDSPACES_BIN" --name="$NAME" run -u root id -G
    [ "$status" -eq 0 ]
    [[ $output != *4242* ]]
}

@test "run in a terminal: Ctrl+Z, fg and Ctrl+C act on the command" {
    local job="$DROIDSPACES_BIN --name=$NAME run sh -c 'while :; do echo ti\"\"ck; sleep 0.1; done'"
    run harness \
        -e 'expect [#$] ' \
        -e "sendline $job" \
        -e 'expect tick' \
        -e 'send \x1a' \
        -e 'expect Stopped' \
        -e 'sendline fg' \
        -e 'expect tick' \
        -e 'send \x03' \
        -e 'expect [#$] ' \
        -e 'sendline echo "st""atus=$?"' \
        -e 'expect status=130' \
        -e 'sendline exit' \
        -e 'wait-exit' \
        -- env PS1='$ ' bash --norc --noprofile -i
    echo "$output"
    [ "$status" -eq 0 ]
}

# --- enter ----------------------------------------------------------------------------------

@test "enter: root login shell on a pty of the container's devpts, sized like the terminal" {
    run harness --rows 33 --cols 101 \
        -e 'expect # ' \
        -e 'sendline echo "ui""d=$(id -u) log""in=$0 ho""me=$HOME"' \
        -e 'expect uid=0 login=-sh home=/root' \
        -e 'sendline stty size' \
        -e 'expect 33 101' \
        -e 'sendline tty' \
        -e 'expect /dev/pts/[0-9]+' \
        -e 'sendline echo "pts""dev=$(stat -c %d "$(tty)") ptmx""dev=$(stat -c %d /dev/pts/ptmx)"' \
        -e 'expect ptsdev=[0-9]+ ptmxdev=[0-9]+' \
        -e 'sendline echo "ctty=$(cat /proc/self/stat | cut -d" " -f7)"' \
        -e 'expect ctty=[0-9]+' \
        -e 'resize 40 120' \
        -e 'sendline stty size' \
        -e 'expect 40 120' \
        -e 'sendline exit 5' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$NAME" enter
    echo "$output"
    [ "$status" -eq 5 ]
    local pts ptmx
    pts=$(grep -o 'ptsdev=[0-9]*' <<<"$output" | tail -1 | cut -d= -f2)
    ptmx=$(grep -o 'ptmxdev=[0-9]*' <<<"$output" | tail -1 | cut -d= -f2)
    # The slave is a node of the container's devpts instance, not of the host's /dev/pts.
    [ "$pts" = "$ptmx" ]
    [ "$pts" != "$(stat -c %d /dev/pts/ptmx)" ]
    # A controlling terminal (tty_nr != 0): job control works.
    [[ $output != *"ctty=0"* ]]
}

@test "enter: job control works (Ctrl+Z, fg, Ctrl+C reach the foreground job)" {
    # A job that prints while it runs: a tick seen means it is the terminal's foreground job.
    local job='sh -c "while :; do echo ti""ck; sleep 0.1; done"'
    run harness \
        -e 'expect # ' \
        -e "sendline $job" \
        -e 'expect tick' \
        -e 'send \x1a' \
        -e 'expect Stopped' \
        -e 'sendline fg' \
        -e 'expect tick' \
        -e 'send \x03' \
        -e 'expect # ' \
        -e 'sendline echo "jo""bs=$(jobs | wc -l)"' \
        -e 'expect jobs=0' \
        -e 'sendline exit' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$NAME" enter
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "enter USER: the user's login shell and home from the container's passwd" {
    run harness \
        -e 'expect [$] ' \
        -e 'sendline echo "wh""o=$(id -un) ho""me=$HOME pw""d=$(pwd) gr""oups=$(id -G)"' \
        -e 'expect who=tester home=/home/tester pwd=/home/tester groups=1000 777' \
        -e 'sendline echo "tt""y=$(stat -c %U "$(tty)")"' \
        -e 'expect tty=tester' \
        -e 'sendline echo "cap""bnd=$(grep CapBnd /proc/self/status | cut -f2)"' \
        -e 'expect capbnd=[0-9a-f]+' \
        -e 'sendline exit' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$NAME" enter tester
    echo "$output"
    [ "$status" -eq 0 ]
    # The shell has init's bounding set, not the host's.
    local pid
    pid=$(ds --name="$NAME" pid)
    [[ $output == *"capbnd=$(grep CapBnd "/proc/$pid/status" | cut -f2)"* ]]
}

@test "enter: a missing passwd shell falls back to /bin/sh" {
    echo "noshell:x:4400:4400::/nonexistent:/bin/no-such-shell" >>"$ROOTFS/etc/passwd"
    run harness \
        -e 'expect [$] ' \
        -e 'sendline echo "sh""ell=$0 pw""d=$(pwd)"' \
        -e 'expect shell=-sh pwd=/' \
        -e 'sendline exit 2' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$NAME" enter noshell
    sed -i '/^noshell:/d' "$ROOTFS/etc/passwd"
    echo "$output"
    [ "$status" -eq 2 ]
}

@test "enter restores the caller's terminal exactly, also when killed by a signal" {
    local dir=$BATS_TEST_TMPDIR
    # bash traps TERM itself (the harness signals the whole foreground job), enter gets it too.
    local script='trap "echo wrapper-got-term" TERM
stty -g >"$0/before1"; "$1" --name="$2" enter; echo "enter-status=$?"; stty -g >"$0/after1"
stty -g >"$0/before2"; "$1" --name="$2" enter; echo "enter-status=$?"; stty -g >"$0/after2"'
    run harness \
        -e 'expect # ' \
        -e 'sendline exit 3' \
        -e 'expect enter-status=3' \
        -e 'expect # ' \
        -e 'signal TERM' \
        -e 'expect enter-status=129' \
        -e 'wait-exit' \
        -- bash -c "$script" "$dir" "$DROIDSPACES_BIN" "$NAME"
    echo "$output"
    [ "$status" -eq 0 ]
    [ -s "$dir/before1" ]
    [ -s "$dir/before2" ]
    diff "$dir/before1" "$dir/after1"
    diff "$dir/before2" "$dir/after2"
    # The hung-up shell's status: 128 + SIGHUP.
    [[ $output == *"enter-status=129"* ]]
}

@test "enter with piped input runs it and ends at its end" {
    run bash -c 'printf "id -un\necho \"pi\"\"ped=\$HOME\"\n" | timeout 20 "$DROIDSPACES_BIN" --name="$NAME" enter tester'
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"piped=/home/tester"* ]]
}

@test "enter refuses a guest /dev/ptmx that is not the pty multiplexer, without opening it" {
    # A FIFO in its place: opening it for writing would release the guest's blocked reader.
    ds --name="$NAME" run sh -c 'rm -f /dev/ptmx /tmp/ptmx-opened && mkfifo /dev/ptmx'
    "$DROIDSPACES_BIN" --name="$NAME" run sh -c 'cat /dev/ptmx >/dev/null; touch /tmp/ptmx-opened' &
    local reader=$! cg
    cg=$(container_cgroup "$NAME")
    # The guest's reader is blocked opening the FIFO before enter runs.
    reader_waits() {
        local p
        p=$(pid_in_cgroup "$cg" cat) || return 1
        [ "$(cat "/proc/$p/wchan" 2>/dev/null)" = wait_for_partner ]
    }
    wait_until 10 reader_waits
    run --separate-stderr ds --name="$NAME" enter
    # Release the reader ourselves; only then may the marker appear.
    local marker_before=no marker
    marker=$(guest_path /tmp/ptmx-opened)
    [ -e "$marker" ] && marker_before=yes
    # (Opening a FIFO read-write never blocks, reader or not.)
    ds --name="$NAME" run sh -c 'exec 3<>/dev/ptmx; exec 3>&-; rm -f /dev/ptmx; ln -s pts/ptmx /dev/ptmx'
    wait "$reader" || true
    # The reader did get released by our write: the marker mechanism works.
    local marker_after=no
    [ -e "$marker" ] && marker_after=yes
    rm -f "$marker"
    [ "$status" -eq 2 ]
    [[ $stderr == *"/dev/ptmx is not the pty multiplexer"* ]]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    [ "$marker_before" = no ]
    [ "$marker_after" = yes ]
}

@test "enter on systemd (bash): root and a user through su -l (PAM), exit status propagated" {
    run harness \
        -e 'expect # ' \
        -e 'sendline echo "ui""d=$(id -u) sh""ell=$0"' \
        -e 'expect uid=0 shell=-bash' \
        -e 'sendline exit 7' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$SD_NAME" enter
    echo "$output"
    [ "$status" -eq 7 ]
    run harness --rows 30 --cols 90 \
        -e 'expect [$] ' \
        -e 'sendline echo "wh""o=$(id -un) ho""me=$HOME sh""ell=$0 si""ze=$(stty size)"' \
        -e 'expect who=tester home=/home/tester shell=-bash size=30 90' \
        -e 'sendline echo "pa""rent=$(cat /proc/$PPID/comm)"' \
        -e 'expect parent=su' \
        -e 'sendline exit' \
        -e 'wait-exit' \
        -- "$DROIDSPACES_BIN" --name="$SD_NAME" enter tester
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "host is as before the suite" {
    ds --name="$NAME" stop
    ds --name="$SD_NAME" stop
    assert_host_clean
}
