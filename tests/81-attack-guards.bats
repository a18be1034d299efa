#!/usr/bin/env bats
# The guard set, proven from inside (issue 7, holes 5 and 8 and the seccomp table): a static probe
# (tests/helpers/probe.c, built here) tries every refused operation inside a busybox container
# and prints "NAME RESULT" per probe. Each seccomp row is checked from inside, each --privileged
# tag and namespace option must lift exactly its guard, the inheritable and ambient capability
# sets a manager hands the runtime must not reach the guest, and `run` must not give the guest a
# way to type into the caller's terminal (TIOCSTI), driven through tests/helpers/pty_harness.py.

# $output and $status come from bats' `run`; single quotes are for the container's shell.
# shellcheck disable=SC2154,SC2016

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="atk-guard-$$"
    gcc -static -O2 -o "$ROOTFS/probe" "$BATS_TEST_DIRNAME/helpers/probe.c"
    # The host's 32-bit compat ABI, probed with Debian's i686 cross gcc (./build.sh deps installs
    # it; gcc-multilib conflicts with the cross toolchains). Missing on x86_64 is a failure below.
    if [ "$(uname -m)" = x86_64 ] &&
        i686-linux-gnu-gcc -static -O2 -o "$ROOTFS/probe32" "$BATS_TEST_DIRNAME/helpers/probe.c" 2>"$SUITE_TMP/m32.log"; then
        export PROBE32=1
    fi
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none start >/dev/null
    wait_until 10 ds --name="$NAME" run true
    # The reference: every probe in a container started with the defaults.
    ds --name="$NAME" run /probe </dev/null >"$SUITE_TMP/default.probes"
}

teardown_file() {
    load helpers
    suite_teardown
}

setup() {
    load helpers
    HARNESS="$BATS_TEST_DIRNAME/helpers/pty_harness.py"
}

teardown() {
    # Containers a single test started (the suite's own stays up until the last test).
    local name
    for name in "$NAME-opt" "$NAME-caps" "$NAME-sd"; do
        [ "$(ds --name="$name" pid 2>/dev/null)" = NONE ] || ds --name="$name" stop >/dev/null 2>&1 || true
    done
}

# --- helpers --------------------------------------------------------------------------------

# probe_in CONTAINER [PROBE...]: the probe's lines from inside (stdin is never a terminal).
probe_in() {
    local name=$1
    shift
    ds --name="$name" run /probe "$@" </dev/null
}

# expect_results FILE NAME=RESULT...: fails naming every probe whose result differs.
expect_results() {
    local file=$1 pair name want got bad=0
    shift
    for pair in "$@"; do
        name=${pair%%=*}
        want=${pair#*=}
        got=$(awk -v n="$name" '$1 == n {print $2}' "$file")
        if [ "$got" != "$want" ]; then
            echo "probe $name: expected $want, got ${got:-nothing}" >&2
            bad=1
        fi
    done
    return "$bad"
}

# changed_probes A B: the names of the probes whose results differ, sorted, on one line.
changed_probes() {
    join -j 1 <(sort "$1") <(sort "$2") | awk '$2 != $3 {print $1}' | sort | paste -sd' '
}

# fresh_start NAME OPTIONS...: starts a container on the suite's rootfs with these options and
# defaults for the rest (the rootfs's sibling container.config keeps the last start's options,
# some even through --reset: it goes first).
fresh_start() {
    local name=$1
    shift
    rm -f "$(dirname "$ROOTFS")/container.config"
    ds --name="$name" --rootfs="$ROOTFS" --net=none "$@" start >/dev/null
    wait_until 10 ds --name="$name" run true
}

# start_opt OPTIONS...: a second container with these options, probed into $SUITE_TMP/opt.probes.
start_opt() {
    fresh_start "$NAME-opt" "$@"
    probe_in "$NAME-opt" >"$SUITE_TMP/opt.probes"
    cat "$SUITE_TMP/opt.probes"
}

status_field() {
    awk -v f="$2:" '$1 == f {print $2}' "$1"
}

# harness ARGS... -- COMMAND: the pty harness with a 20 s per-step deadline.
harness() {
    timeout -k 5 120 python3 "$HARNESS" --timeout 20 "$@"
}

# The seccomp rows the kernel would answer differently without the filter (the module calls are
# refused by the bounding set too, and open_by_handle_at by CAP_DAC_READ_SEARCH's absence).
SECCOMP_ONLY_ROWS=(kexec_load kexec_file_load bpf perf_event_open fanotify_init syslog
    settimeofday clock_settime adjtimex clock_adjtime swapon swapoff unshare_user clone_user
    clone3 af_alg af_alg_hi ksu_reboot tiocsti tiocsti_hi tioclinux x32)

# --- the table, from inside -------------------------------------------------------------------

@test "the seccomp table refuses every host-wide operation to the container's root" {
    cat "$SUITE_TMP/default.probes"
    expect_results "$SUITE_TMP/default.probes" \
        init_module=EPERM finit_module=EPERM delete_module=EPERM \
        kexec_load=EPERM kexec_file_load=EPERM open_by_handle_at=EPERM \
        bpf=EPERM perf_event_open=EPERM fanotify_init=EPERM syslog=EPERM \
        settimeofday=EPERM clock_settime=EPERM adjtimex=EPERM clock_adjtime=EPERM \
        swapon=EPERM swapoff=EPERM ksu_reboot=EPERM \
        af_alg=EPERM tiocsti=EPERM tioclinux=EPERM
    # What the container may still do.
    expect_results "$SUITE_TMP/default.probes" af_inet=OK af_unix=OK
}

@test "int arguments: garbage in the upper half does not get past a rule" {
    [ "$(uname -m)" = x86_64 ] || [ "$(uname -m)" = aarch64 ] || skip "64-bit hosts only"
    # The kernel reads socket's family and ioctl's request as 32-bit values: AF_ALG | 1 << 32
    # is AF_ALG to it, and the filter must say so too.
    expect_results "$SUITE_TMP/default.probes" af_alg_hi=EPERM tiocsti_hi=EPERM
}

@test "keyctl answers ENOSYS on kernels before 5.0 only (the adaptive shield)" {
    local major
    major=$(uname -r | cut -d. -f1)
    if [ "$major" -lt 5 ]; then
        expect_results "$SUITE_TMP/default.probes" keyctl=ENOSYS add_key=ENOSYS request_key=ENOSYS
    else
        expect_results "$SUITE_TMP/default.probes" keyctl=OK add_key=ENODEV request_key=ENOKEY
    fi
}

@test "on a kernel reporting a release before 5.0 the keyctl family answers ENOSYS" {
    # UNAME26 makes uname report 2.6.x: the runtime takes its decision from that string when it
    # builds the filter of this run process.
    setarch "$(uname -m)" --uname-2.6 "$DROIDSPACES_BIN" --name="$NAME" run \
        /probe keyctl add_key request_key </dev/null >"$SUITE_TMP/old-kernel.probes"
    cat "$SUITE_TMP/old-kernel.probes"
    expect_results "$SUITE_TMP/old-kernel.probes" keyctl=ENOSYS add_key=ENOSYS request_key=ENOSYS
}

@test "user namespaces are refused, clone3 answers ENOSYS, other namespaces are allowed" {
    expect_results "$SUITE_TMP/default.probes" unshare_user=EPERM clone_user=EPERM clone3=ENOSYS \
        nest_mnt=OK nest_uts=OK nest_ipc=OK nest_net=OK nest_pid=OK nest_cgroup=OK clone_net=OK
}

@test "x32 syscalls kill the caller" {
    [ "$(uname -m)" = x86_64 ] || skip "x32 exists on x86_64 only"
    expect_results "$SUITE_TMP/default.probes" x32=SIGSYS
}

@test "32-bit x86 programs run under the same rules and can open sockets" {
    [ "$(uname -m)" = x86_64 ] || skip "the 32-bit x86 compat ABI exists on x86_64 only"
    [ -n "${PROBE32:-}" ] || {
        echo "no 32-bit probe (i686-linux-gnu-gcc): $(head -1 "$SUITE_TMP/m32.log" 2>/dev/null)"
        return 1
    }
    ds --name="$NAME" run /probe32 </dev/null >"$SUITE_TMP/32.probes"
    cat "$SUITE_TMP/32.probes"
    # 32-bit glibc opens sockets through socketcall: it must not be refused wholesale.
    expect_results "$SUITE_TMP/32.probes" af_inet=OK af_unix=OK
    # The 32-bit ABI's own calls for the same things (stime, clock_settime64, clock_adjtime64).
    expect_results "$SUITE_TMP/32.probes" \
        init_module=EPERM kexec_load=EPERM open_by_handle_at=EPERM bpf=EPERM \
        perf_event_open=EPERM fanotify_init=EPERM syslog=EPERM \
        settimeofday=EPERM stime=EPERM clock_settime=EPERM adjtimex=EPERM clock_adjtime=EPERM \
        swapon=EPERM unshare_user=EPERM clone_user=EPERM clone3=ENOSYS \
        af_alg_direct=EPERM ksu_reboot=EPERM tiocsti=EPERM tioclinux=EPERM nest_mnt=OK
}

# --- each option lifts exactly its guard ------------------------------------------------------

@test "--allow-userns lifts the user-namespace rules and nothing else" {
    start_opt --allow-userns
    expect_results "$SUITE_TMP/opt.probes" unshare_user=OK clone_user=OK clone3=EINVAL
    [ "$(changed_probes "$SUITE_TMP/default.probes" "$SUITE_TMP/opt.probes")" = \
        "clone3 clone_user unshare_user" ]
}

@test "--block-nested-namespaces refuses every namespace type and nothing else" {
    start_opt --block-nested-namespaces
    expect_results "$SUITE_TMP/opt.probes" nest_mnt=EPERM nest_uts=EPERM nest_ipc=EPERM \
        nest_net=EPERM nest_pid=EPERM nest_cgroup=EPERM clone_net=EPERM \
        unshare_user=EPERM clone_user=EPERM clone3=ENOSYS
    [ "$(changed_probes "$SUITE_TMP/default.probes" "$SUITE_TMP/opt.probes")" = \
        "clone_net nest_cgroup nest_ipc nest_mnt nest_net nest_pid nest_uts" ]
}

@test "--block-nested-namespaces wins over --allow-userns" {
    start_opt --allow-userns --block-nested-namespaces
    expect_results "$SUITE_TMP/opt.probes" unshare_user=EPERM clone_user=EPERM clone3=ENOSYS \
        nest_mnt=EPERM
}

@test "--privileged=nocaps keeps the whole seccomp table, only the bounding set is full" {
    start_opt --privileged=nocaps
    [ -z "$(changed_probes "$SUITE_TMP/default.probes" "$SUITE_TMP/opt.probes")" ]
    local pid
    pid=$(ds --name="$NAME-opt" pid)
    [ "$(status_field "/proc/$pid/status" CapBnd)" = "$(status_field /proc/self/status CapBnd)" ]
    [ "$(status_field "/proc/$pid/status" Seccomp)" = 2 ]
}

@test "--privileged=noseccomp lifts every seccomp row and keeps the capability limits" {
    start_opt --privileged=noseccomp
    local row got bad=0 pid init_pid
    for row in "${SECCOMP_ONLY_ROWS[@]}"; do
        grep -q "^$row " "$SUITE_TMP/default.probes" || continue # not on this architecture
        got=$(awk -v n="$row" '$1 == n {print $2}' "$SUITE_TMP/opt.probes")
        if [ "$got" = "$(awk -v n="$row" '$1 == n {print $2}' "$SUITE_TMP/default.probes")" ]; then
            echo "$row is still refused ($got) without the filter" >&2
            bad=1
        fi
    done
    [ "$bad" -eq 0 ]
    # The bounding set still refuses what it refused: modules, handles (CAP_DAC_READ_SEARCH).
    expect_results "$SUITE_TMP/opt.probes" open_by_handle_at=EPERM
    run awk '$1 ~ /module$/ {print $2}' "$SUITE_TMP/opt.probes"
    [[ $output != *OK* ]]
    pid=$(ds --name="$NAME-opt" pid)
    init_pid=$(ds --name="$NAME" pid)
    [ "$(status_field "/proc/$pid/status" Seccomp)" = 0 ]
    [ "$(status_field "/proc/$pid/status" CapBnd)" = "$(status_field "/proc/$init_pid/status" CapBnd)" ]
}

@test "--privileged=full lifts the bounding set too (the handle call reaches the kernel)" {
    start_opt --privileged=full
    run awk '$1 == "open_by_handle_at" {print $2}' "$SUITE_TMP/opt.probes"
    [ -n "$output" ]
    [ "$output" != EPERM ]
}

# --- hole 5: inheritable and ambient capabilities --------------------------------------------

# The capabilities this shell holds, as setpriv's list ("+chown,+dac_override,...").
own_caps() {
    local prm caps
    prm=$(status_field /proc/self/status CapPrm)
    caps=$(capsh --decode="0x$prm" | cut -d= -f2)
    caps=${caps//cap_/}
    echo "+${caps//,/,+}"
}

# with_inherited_caps CMD...: CMD started by a "manager" that hands it full inheritable and
# ambient sets.
with_inherited_caps() {
    local caps
    caps=$(own_caps)
    setpriv --inh-caps="$caps" --ambient-caps="$caps" -- "$@"
}

@test "a manager's inheritable and ambient capabilities reach neither init nor run/enter" {
    # The attack's premise: the runtime really starts with both sets holding every capability.
    with_inherited_caps cat /proc/self/status >"$SUITE_TMP/manager.status"
    [ "$(status_field "$SUITE_TMP/manager.status" CapInh)" = "$(status_field /proc/self/status CapPrm)" ]
    [ "$(status_field "$SUITE_TMP/manager.status" CapAmb)" = "$(status_field /proc/self/status CapPrm)" ]
    rm -f "$(dirname "$ROOTFS")/container.config"
    with_inherited_caps "$DROIDSPACES_BIN" --name="$NAME-caps" --rootfs="$ROOTFS" --net=none start >/dev/null
    wait_until 10 ds --name="$NAME-caps" run true
    local pid bnd
    pid=$(ds --name="$NAME-caps" pid)
    bnd=$(status_field "/proc/$pid/status" CapBnd)
    grep '^Cap' "/proc/$pid/status"
    [ "$(status_field "/proc/$pid/status" CapInh)" = 0000000000000000 ]
    [ "$(status_field "/proc/$pid/status" CapAmb)" = 0000000000000000 ]
    # Init holds nothing beyond its bounding set (CAP_SYS_MODULE, bit 16, is not in it).
    [ "$(status_field "/proc/$pid/status" CapEff)" = "$bnd" ]
    [ $((0x$bnd & (1 << 16))) -eq 0 ]

    # run, as root and as a user, started the same way.
    with_inherited_caps "$DROIDSPACES_BIN" --name="$NAME-caps" run cat /proc/self/status \
        </dev/null >"$SUITE_TMP/run.status"
    grep '^Cap' "$SUITE_TMP/run.status"
    [ "$(status_field "$SUITE_TMP/run.status" CapInh)" = 0000000000000000 ]
    [ "$(status_field "$SUITE_TMP/run.status" CapAmb)" = 0000000000000000 ]
    [ "$(status_field "$SUITE_TMP/run.status" CapEff)" = "$bnd" ]
    with_inherited_caps "$DROIDSPACES_BIN" --name="$NAME-caps" run -u tester cat /proc/self/status \
        </dev/null >"$SUITE_TMP/user.status"
    grep '^Cap' "$SUITE_TMP/user.status"
    [ "$(status_field "$SUITE_TMP/user.status" CapInh)" = 0000000000000000 ]
    [ "$(status_field "$SUITE_TMP/user.status" CapAmb)" = 0000000000000000 ]
    [ "$(status_field "$SUITE_TMP/user.status" CapEff)" = 0000000000000000 ]

    # enter (piped input: its shell runs the lines and ends).
    CAPS=$(own_caps)
    export CAPS
    run bash -c 'echo "grep -E \"^Cap(Inh|Amb|Eff):\" /proc/self/status" |
        setpriv --inh-caps="$CAPS" --ambient-caps="$CAPS" -- \
        timeout 20 "$DROIDSPACES_BIN" --name="$NAME-caps" enter'
    echo "$output"
    [[ $output == *"CapInh:	0000000000000000"* ]]
    [[ $output == *"CapAmb:	0000000000000000"* ]]
    [[ $output == *"CapEff:	$bnd"* ]]
}

# --- hole 8: the caller's terminal ------------------------------------------------------------

# The attack: `run` in an interactive shell on a (throwaway) terminal, the guest pushes a
# command into that terminal's input; once `run` returns, the shell would execute it.
inject_in_terminal() {
    run harness \
        -e 'expect [$] ' \
        -e "sendline $DROIDSPACES_BIN --name=$1 run $2 /probe inject 'echo INJ\$((6*7))ECTED'; echo \"run-st\"\"atus=\$?\"" \
        -e 'expect run-status=[0-9]+' \
        -e 'sendline echo "fin""ished"' \
        -e 'expect finished' \
        -e 'sendline exit' \
        -e 'wait-exit' \
        -- env PS1='$ ' bash --norc --noprofile -i
    echo "$output"
}

@test "run: the guest's root cannot type into the caller's terminal (TIOCSTI)" {
    inject_in_terminal "$NAME" ""
    [ "$status" -eq 0 ]
    [[ $output == *"inject EPERM"* ]]
    # Had the keystrokes landed, the shell would have run them and printed INJ42ECTED.
    [[ $output != *INJ42ECTED* ]]
}

@test "run: the caller's terminal is not the command's controlling terminal (new session)" {
    run harness \
        -e 'expect [$] ' \
        -e "sendline $DROIDSPACES_BIN --name=$NAME run /probe ctty; echo \"run-st\"\"atus=\$?\"" \
        -e 'expect run-status=[0-9]+' \
        -e 'sendline exit' \
        -e 'wait-exit' \
        -- env PS1='$ ' bash --norc --noprofile -i
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"ctty ENXIO"* ]]
}

@test "run -u, without the filter: a guest user cannot type into the caller's terminal either" {
    # The kernel allows TIOCSTI without CAP_SYS_ADMIN only on one's own controlling terminal,
    # which the caller's terminal no longer is (the new session).
    fresh_start "$NAME-opt" --privileged=noseccomp
    inject_in_terminal "$NAME-opt" "-u tester"
    [ "$status" -eq 0 ]
    [[ $output == *"inject E"* ]]
    [[ $output != *INJ42ECTED* ]]
}

@test "run: Ctrl+Z and Ctrl+C still reach a command in its own session" {
    # Ctrl+Z must stop the command, not only the caller: a second `run` sees it stopped (T).
    local ds="$DROIDSPACES_BIN --name=$NAME"
    cat >"$SUITE_TMP/jobs.script" <<SCRIPT
expect [\$] 
sendline $ds run sh -c 'trap "echo go""t-int; exit 3" INT; while :; do echo ti""ck; sleep 0.1; done'
expect tick
send \\x1a
expect Stopped
sendline $ds run sh -c 'echo sto""pped=\$(grep -l "^State:.T" /proc/[0-9]*/status | wc -l)'
expect stopped=[1-9]
sendline fg
expect tick
send \\x03
expect got-int
expect [\$] 
sendline echo "st""atus=\$?"
expect status=3
sendline exit
wait-exit
SCRIPT
    cat "$SUITE_TMP/jobs.script"
    run harness --script "$SUITE_TMP/jobs.script" -- env PS1='$ ' bash --norc --noprofile -i
    echo "$output"
    [ "$status" -eq 0 ]
}

# --- real guests under the table -----------------------------------------------------------------

# failed_units NAME OPTIONS...: boots the systemd fixture with these options, prints its state
# and its failed units (one per line, sorted) once it has booted, and stops it.
failed_units() {
    local name=$1 state
    shift
    rm -f "$SUITE_TMP/sd/container.config"
    ds --name="$name" --rootfs="$SUITE_TMP/sd/rootfs" --net=none "$@" start >/dev/null
    state=$(wait_for_systemd "$name") || return 1
    echo "state=$state"
    ds --name="$name" run systemctl --failed --no-legend --plain | awk '{print $1}' | sort
    ds --name="$name" stop >/dev/null
}

@test "systemd boots under the table: no unit fails because of it" {
    fixture_copy systemd "$SUITE_TMP/sd" >/dev/null
    failed_units "$NAME-sd" >"$SUITE_TMP/sd.guarded"
    failed_units "$NAME-sd" --privileged=noseccomp >"$SUITE_TMP/sd.open"
    cat "$SUITE_TMP/sd.guarded"
    grep -Eq '^state=(running|degraded)$' "$SUITE_TMP/sd.guarded"
    # Units failing with the filter and not without it.
    run comm -23 <(sort "$SUITE_TMP/sd.guarded") <(sort "$SUITE_TMP/sd.open")
    [ -z "$output" ]
}

@test "host is as before the suite" {
    ds --name="$NAME" stop
    assert_host_clean
}
