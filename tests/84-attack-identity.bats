#!/usr/bin/env bats
# Issue 7, holes 3, 4, 6 (host-side readers), 7, 9 and 10: attacks on who a container is and on
# what the host reads from it, each performed for real against busybox containers.
#   3  other host users reach a rootfs (setuid binaries, 0666 device nodes) through the
#      workspace (directory rootfs) or the image mount point;
#   4  an unprivileged user's fake container (unshare --user --map-root-user --pid) is shown,
#      adopted, imported by scan or entered as host root;
#   6  guest files the host reads (os-release, group, environment, sysvinit's initctl FIFO) are
#      FIFOs, /dev/zero links, huge files or absolute links to a host file;
#   7  the guest rewrites its /run/droidspaces/container.config and powers off while a start is
#      on its way: the next boot must not take privileged=full or a bind from it;
#   9  the guest deletes /run/droidspaces: it stays listed and stoppable.
# Host paths an attack aims at are test-made under /tmp/ds-atk-*, never real system files.
#
# DROIDSPACES_BIN: the runtime binary (default: build/droidspaces of this checkout). Run as root.

# `run --separate-stderr` sets $stderr.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
	suite_setup
	local suffix
	suffix=$(tr -dc a-z0-9 </dev/urandom | head -c 6)
	export SFX="aid-$suffix"
	# A host directory the attacks point at; removed in teardown_file.
	ATK=$(mktemp -d /tmp/ds-atk-XXXXXX)
	export ATK
	suite_track_dir "$ATK"
	# Other host users must be able to walk up to the workspace, as they can to
	# /var/lib/Droidspaces or /data/local/Droidspaces (mktemp made it 0700).
	chmod 0755 "$DROIDSPACES_HOME"
}

teardown_file() {
	[[ $(id -u) -eq 0 ]] || return 0
	local pid
	# Fakes this suite started, by PID (never by name), while the PID is still the fake's:
	# the init (sleep) first, then its unshare parent.
	for pid in $(cat "$SUITE_TMP"/fake-init.pid 2>/dev/null); do
		grep -qa '^sleep' "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid"
	done
	for pid in $(cat "$SUITE_TMP"/helper.pid 2>/dev/null); do
		grep -qa '^ds-monitor:' "/proc/$pid/cmdline" 2>/dev/null && kill -9 "$pid"
		wait_until 10 bash -c "! kill -0 $pid" || true
	done
	suite_teardown
	local status=$?
	rm -rf "$ATK"
	return "$status"
}

setup() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
}

# Runs a command as the unprivileged host user nobody, through sh: setpriv itself resolves
# its command before it drops privileges, which would hide the very EACCES this suite expects.
as_nobody() {
	# shellcheck disable=SC2016
	setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c '"$@"' sh "$@"
}

# Caps the address space of a runtime command, so that an unguarded read of /dev/zero ends in
# an allocation failure instead of taking the machine's memory.
ds_capped() {
	prlimit --as=$((1 << 30)) -- timeout --foreground -k 5 "${DS_TIMEOUT:-20}" "$DROIDSPACES_BIN" "$@"
}

start_busybox() {
	local name=$1 rootfs=$2
	shift 2
	ds --name="$name" --rootfs="$rootfs" --net=none "$@" start >"$SUITE_TMP/start-$name.log" 2>&1 || {
		cat "$SUITE_TMP/start-$name.log" >&2
		return 1
	}
	wait_until 20 booted "$name"
}

# The first child of `pid` (the PID 1 an `unshare --fork` made).
first_child() {
	local children
	children=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
	[ -n "$children" ] || return 1
	echo "${children%% *}"
}

# A fake container called $1: PID 1 of its own PID namespace, with /run/droidspaces/name and a
# config asking for privileged=full, under a parent titled "ds-monitor:$1". Made by the
# unprivileged user nobody in a user namespace of its own, or, with $2 = root, by host root
# outside the runtime's cgroup. Prints the fake init's host PID.
start_fake() {
	local name=$1 owner=${2:-nobody} helper init
	local -a runner=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	local -a userns=(--user --map-root-user)
	if [ "$owner" = root ]; then
		runner=(env)
		userns=()
	fi
	# The runner itself in the background (not a function: $! must be the process that
	# becomes unshare).
	# shellcheck disable=SC2016
	"${runner[@]}" bash -c '
		name=$1
		shift
		exec -a "ds-monitor:$name" unshare "$@" --mount --propagation=private --pid --fork \
			--mount-proc sh -c "mount -t tmpfs none /run && mkdir /run/droidspaces &&
				echo $name >/run/droidspaces/name &&
				printf \"name=$name\nrootfs_path=/\nnet_mode=none\nprivileged=full\n\" \
					>/run/droidspaces/container.config && exec sleep 1000"' bash "$name" \
		"${userns[@]}" </dev/null >/dev/null 2>&1 3>&- &
	helper=$!
	echo "$helper" >>"$SUITE_TMP/helper.pid"
	wait_until 10 first_child "$helper" || return 1
	init=$(first_child "$helper")
	echo "$init" >>"$SUITE_TMP/fake-init.pid"
	wait_until 10 test -s "/proc/$init/root/run/droidspaces/name" || return 1
	echo "$init"
}

# --- hole 3: rootfs paths unreachable for other host users --------------------------------------

# A setuid root copy of busybox and a 0666 character device (1:3, like /dev/null) in a rootfs.
plant_privileged_files() {
	local rootfs=$1
	cp "$rootfs/bin/busybox" "$rootfs/suid-busybox"
	chmod 4755 "$rootfs/suid-busybox"
	mknod -m 0666 "$rootfs/atk-null" c 1 3
}

# The attacks as nobody: exec the setuid copy, open the device. Both must be refused.
assert_unreachable_for_nobody() {
	local rootfs=$1
	run as_nobody "$rootfs/suid-busybox" true
	echo "exec: status $status: $output"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
	# shellcheck disable=SC2016
	run as_nobody sh -c 'exec 3<>"$1"' sh "$rootfs/atk-null"
	echo "open: status $status: $output"
	[ "$status" -ne 0 ]
	[[ $output == *"Permission denied"* ]]
}

@test "hole 3: a workspace rootfs's setuid binary and device node are out of other users' reach" {
	local name="$SFX-dir" rootfs
	# An older workspace: Containers/ 0755, as mkdir -p leaves it.
	rootfs=$(fixture_copy busybox "$DROIDSPACES_HOME/Containers/$name")
	chmod 0755 "$DROIDSPACES_HOME/Containers" "$DROIDSPACES_HOME/Containers/$name"
	plant_privileged_files "$rootfs"
	local mode_before
	mode_before=$(stat -c %a "$rootfs")
	start_busybox "$name" "$rootfs"
	assert_unreachable_for_nobody "$rootfs"
	[ "$(stat -c %a "$DROIDSPACES_HOME/Containers")" = 700 ]
	# The guest's / keeps the mode its distro gave it; the planted files are intact.
	[ "$(stat -c %a "$rootfs")" = "$mode_before" ]
	[ "$(stat -c %a "$rootfs/suid-busybox")" = 4755 ]
	run -0 ds --name="$name" stop
}

@test "hole 3: an image rootfs's mount point is out of other users' reach" {
	local name="$SFX-img" staging
	staging="$SUITE_TMP/img-rootfs"
	fixture_copy busybox "$staging" >/dev/null
	plant_privileged_files "$staging/rootfs"
	mkfs.ext4 -q -F -d "$staging/rootfs" "$SUITE_TMP/atk.img" 64M
	rm -rf "$staging"
	# An older workspace's mount base, 0755.
	mkdir -p "$DROIDSPACES_HOME/mnt"
	chmod 0755 "$DROIDSPACES_HOME/mnt"
	run -0 ds --name="$name" --rootfs-img="$SUITE_TMP/atk.img" --net=none start
	wait_until 20 booted "$name"
	local mount_point="$DROIDSPACES_HOME/mnt/$name"
	mountpoint -q "$mount_point"
	assert_unreachable_for_nobody "$mount_point"
	[ "$(stat -c %a "$DROIDSPACES_HOME/mnt")" = 700 ]
	[ "$(stat -c %a "$mount_point/suid-busybox")" = 4755 ]
	run -0 ds --name="$name" stop
	rm -f "$SUITE_TMP/atk.img"
}

@test "hole 3: install puts a tarball's setuid binary and device node out of other users' reach" {
	local name="$SFX-inst" staging
	staging="$SUITE_TMP/inst-rootfs"
	fixture_copy busybox "$staging" >/dev/null
	plant_privileged_files "$staging/rootfs"
	tar -C "$staging/rootfs" -czf "$SUITE_TMP/inst.tar.gz" .
	rm -rf "$staging"
	# A fresh workspace whose Containers/ an older runtime made 0755.
	mkdir -p "$DROIDSPACES_HOME/Containers"
	chmod 0755 "$DROIDSPACES_HOME/Containers"
	run -0 ds --name="$name" install --from="$SUITE_TMP/inst.tar.gz"
	local rootfs="$DROIDSPACES_HOME/Containers/$name/rootfs"
	[ "$(stat -c %a "$rootfs/suid-busybox")" = 4755 ]
	assert_unreachable_for_nobody "$rootfs"
	[ "$(stat -c %a "$DROIDSPACES_HOME/Containers")" = 700 ]
	rm -rf "$DROIDSPACES_HOME/Containers/$name" "$SUITE_TMP/inst.tar.gz"
}

# --- hole 4: fake containers ---------------------------------------------------------------------

@test "hole 4: an unprivileged user's fake container is neither shown, adopted, imported nor entered" {
	local fake="$SFX-fake" init
	init=$(start_fake "$fake")
	[ -n "$init" ]
	# It looks like a container to the old rules: PID 1 of a PID namespace, with the marker.
	grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$init/status"
	[ "$(cat "/proc/$init/root/run/droidspaces/name")" = "$fake" ]

	# scan must not adopt it nor import its config.
	run -0 ds scan --json
	echo "$output"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert sys.argv[2] not in r["synchronized"] + r["missing_configs"] + r["foreign"], r' \
		"$output" "$fake"
	[ ! -e "$DROIDSPACES_HOME/Pids/$fake.pid" ]
	[ ! -e "$DROIDSPACES_HOME/Pids/$fake.state" ]
	[ ! -e "$DROIDSPACES_HOME/Containers/$fake" ]

	# A pidfile that names it (a reused PID of a dead upstream container): still not adopted.
	mkdir -p "$DROIDSPACES_HOME/Pids"
	echo "$init" >"$DROIDSPACES_HOME/Pids/$fake.pid"
	run -0 ds show --json
	echo "$output"
	python3 -c 'import json,sys; rows=json.loads(sys.argv[1]); assert all(r["name"]!=sys.argv[2] and r["pid"]!=int(sys.argv[3]) for r in rows), rows' \
		"$output" "$fake" "$init"
	run -0 ds show
	[[ $output != *"$fake"* ]]
	[ ! -e "$DROIDSPACES_HOME/Pids/$fake.state" ]
	run -1 ds --name="$fake" pid
	[ "$output" = NONE ]

	# Neither enter nor run reaches it as host root.
	run ds --name="$fake" enter </dev/null
	echo "enter: $status $output"
	[ "$status" -ne 0 ]
	[[ $output == *"not running"* ]]
	run ds --name="$fake" run /bin/true
	[ "$status" -ne 0 ]
	[[ $output == *"not running"* ]]
	[ ! -e "$DROIDSPACES_HOME/Containers/$fake" ]
	rm -f "$DROIDSPACES_HOME/Pids/$fake.pid"
	kill -0 "$init"  # untouched by the runtime
	kill -9 "$init"
	wait_until 10 bash -c "! kill -0 $init"
}

@test "hole 4: a PID namespace of host root outside droidspaces/<name> is not adopted either" {
	local fake="$SFX-rootfake" init
	init=$(start_fake "$fake" root)
	[ -n "$init" ]
	grep -qE '^Uid:\s+0\s+0\s+0\s+0$' "/proc/$init/status"
	run -0 ds scan --json
	echo "$output"
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert sys.argv[2] not in r["synchronized"] + r["missing_configs"], r' \
		"$output" "$fake"
	[ ! -e "$DROIDSPACES_HOME/Pids/$fake.state" ]
	[ ! -e "$DROIDSPACES_HOME/Containers/$fake" ]
	mkdir -p "$DROIDSPACES_HOME/Pids"
	echo "$init" >"$DROIDSPACES_HOME/Pids/$fake.pid"
	run -0 ds show
	[[ $output != *"$fake"* ]]
	run -1 ds --name="$fake" pid
	[ "$output" = NONE ]
	rm -f "$DROIDSPACES_HOME/Pids/$fake.pid"
	kill -9 "$init"
	wait_until 10 bash -c "! kill -0 $init"
}

# --- hole 9: liveness from host-side facts -------------------------------------------------------

@test "hole 9: a guest that deletes /run/droidspaces stays listed and stoppable" {
	local name="$SFX-rm" rootfs pid monitor
	rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
	start_busybox "$name" "$rootfs"
	pid=$(ds --name="$name" pid)
	monitor=$(monitor_pid "$name")
	run -0 ds --name="$name" run rm -rf /run/droidspaces
	[ ! -e "/proc/$pid/root/run/droidspaces" ]
	run -0 ds show
	echo "$output"
	[[ $output =~ (^|$'\n')"$name"\ +"$pid"\  ]]
	run -0 ds --name="$name" pid
	[ "$output" = "$pid" ]
	run -0 ds --name="$name" stop
	wait_until 10 bash -c "! kill -0 $monitor"
	run -1 ds --name="$name" pid
	[ "$output" = NONE ]
	run -0 ds show
	[[ $output != *"$name"* ]]
	[ -z "$(find /sys/fs/cgroup -path "*droidspaces/$name" 2>/dev/null)" ]
}

# --- hole 7: the guest's copy of the config is never trusted -------------------------------------

@test "hole 7: a rewritten /run/droidspaces/container.config never reaches the next boot" {
	local name="$SFX-cfg" rootfs pid new lockfd starter
	rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
	mkdir -p "$ATK/src"
	echo host-secret >"$ATK/src/marker"
	start_busybox "$name" "$rootfs"
	pid=$(ds --name="$name" pid)
	# The guest asks for everything in its copy of the config.
	run -0 ds --name="$name" run sh -c \
		"printf 'privileged=full\nbind_mounts=$ATK/src:/mnt/atk\n' >>/run/droidspaces/container.config"
	# A start is on its way while the container runs: it waits for the lock we hold...
	exec {lockfd}>"$DROIDSPACES_HOME/Pids/$name.lock"
	flock -x "$lockfd"
	ds --name="$name" start >"$SUITE_TMP/restart-$name.log" 2>&1 3>&- &
	starter=$!
	wait_until 20 bash -c "ls -l /proc/$starter/fd 2>/dev/null | grep -q '$name.lock'"
	# ...and the guest powers off at that moment.
	ds_power_request --name="$name" run /bin/busybox kill -USR2 1
	wait_until 20 bash -c "! kill -0 $pid"
	flock -u "$lockfd"
	exec {lockfd}>&-
	local status=0
	wait "$starter" || status=$?
	cat "$SUITE_TMP/restart-$name.log"
	[ "$status" -eq 0 ]
	wait_until 20 booted "$name"
	new=$(ds --name="$name" pid)
	[ "$new" != "$pid" ]
	# None of the guest's settings: no bind, the seccomp filter on, nothing saved.
	[ ! -e "/proc/$new/root/mnt/atk/marker" ]
	grep -qE '^Seccomp:\s+2$' "/proc/$new/status"
	run ! grep -q '^privileged=' "$DROIDSPACES_HOME/Containers/$name/container.config"
	run ! grep -q "$ATK" "$DROIDSPACES_HOME/Containers/$name/container.config"
	run -0 ds --name="$name" info --json
	python3 -c 'import json,sys; i=json.loads(sys.argv[1]); f=i["features"]; assert i["config_source"]=="workspace" and f["privileged"] is None and f["bind_mounts"]==[], i' "$output"
	run -0 ds --name="$name" stop
}

# --- hole 6: guest files read on the host ---------------------------------------------------------

@test "hole 6: info never follows a guest's os-release to the host, nor hangs or swells on it" {
	local name="$SFX-os" rootfs
	rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
	echo 'PRETTY_NAME="HOST FILE"' >"$ATK/os-release"
	start_busybox "$name" "$rootfs"

	# An absolute link to a host file: resolved inside the guest, where it does not exist.
	run -0 ds --name="$name" run sh -c "rm -f /etc/os-release && ln -s $ATK/os-release /etc/os-release"
	run -0 ds_capped --name="$name" info --json
	python3 -c 'import json,sys; i=json.loads(sys.argv[1]); assert i["os"] != "HOST FILE", i["os"]' "$output"

	# A FIFO: info returns at once (no writer will ever come).
	run -0 ds --name="$name" run sh -c 'rm -f /etc/os-release && mkfifo /etc/os-release'
	run -0 ds_capped --name="$name" info --json
	run -0 ds_capped show

	# A huge file: refused, not read into memory.
	run -0 ds --name="$name" run sh -c \
		'rm -f /etc/os-release && head -c 8388608 /dev/zero | tr "\0" "#" >/etc/os-release &&
		 echo "PRETTY_NAME=\"Huge\"" >>/etc/os-release'
	run -0 ds_capped --name="$name" info --json
	python3 -c 'import json,sys; i=json.loads(sys.argv[1]); assert i["os"] != "Huge", i["os"]' "$output"

	# /dev/zero: endless, never read.
	run -0 ds --name="$name" run sh -c 'rm -f /etc/os-release && ln -s /dev/zero /etc/os-release'
	run -0 ds_capped --name="$name" info --json
	run -0 ds --name="$name" stop
}

@test "hole 6: enter reads the guest's group and environment safely (FIFO, /dev/zero)" {
	local name="$SFX-ent" rootfs
	rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
	start_busybox "$name" "$rootfs"
	run -0 ds --name="$name" run sh -c \
		'rm -f /etc/group && mkfifo /etc/group && ln -sf /dev/zero /etc/environment'
	run ds_capped --name="$name" enter <<<'echo entered-ok; exit 0'
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	[[ $output == *entered-ok* ]]
	# --user reads passwd and group the same way.
	run ds_capped --name="$name" --user=tester run id -u
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	[[ $output == *1000* ]]
	run -0 ds --name="$name" stop
}

@test "hole 6: stop never writes a runlevel request into a host FIFO the guest's /run/initctl names" {
	local name="$SFX-ictl" rootfs
	rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
	# An init that reads as sysvinit (the probe sees "/run/initctl"), run by busybox.
	rm -f "$rootfs/sbin/init"
	printf '#!/bin/sh\n# speaks /run/initctl\nexec /bin/busybox init\n' >"$rootfs/sbin/init"
	chmod 755 "$rootfs/sbin/init"
	start_busybox "$name" "$rootfs"
	[ "$(cat "$DROIDSPACES_HOME/Pids/$name.init")" = sysvinit ]
	# The host FIFO the attack aims at, held open so a write would not block or fail.
	mkfifo "$ATK/initctl"
	local fifo_fd
	exec {fifo_fd}<>"$ATK/initctl"
	run -0 ds --name="$name" run sh -c "rm -f /run/initctl && ln -s $ATK/initctl /run/initctl"
	run -0 ds --name="$name" stop --timeout=2
	# Nothing arrived in the host FIFO.
	run -0 python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
try:
    data = os.read(fd, 4096)
except BlockingIOError:
    data = b""
print(len(data))' "$ATK/initctl"
	exec {fifo_fd}>&-
	[ "$output" = 0 ]
}

@test "hole 6: init detection never blocks on a FIFO the rootfs's /sbin/init leads to" {
	local name="$SFX-ififo" rootfs
	rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
	rm -f "$rootfs/sbin/init"
	mkfifo "$rootfs/hang"
	ln -s /hang "$rootfs/sbin/init"
	DS_TIMEOUT=30 run --separate-stderr ds --name="$name" --rootfs="$rootfs" --net=none start
	echo "status $status: $stderr"
	[ "$status" -eq 2 ]  # the boot's exec of a FIFO fails; 124 would be a hang
	[[ $stderr == *"exec /sbin/init"* ]]
	run -1 ds --name="$name" pid
	[ "$output" = NONE ]
}

@test "the host is clean after the attacks" {
	run -0 ds show --json
	[ "$output" = "[]" ]
	assert_host_clean
}
