#!/usr/bin/env bats
# show / info / scan against two running busybox containers: listings match `pid`, the JSON and
# KEY=VALUE outputs carry their fields, stale records (dead PIDs, PIDs reused by unrelated
# processes) are never listed and get pruned, and scan recovers the records deleted from the
# workspace of a running container (a deleted config is reported, never imported from the guest).
#
# DROIDSPACES_BIN: the runtime binary (default: build/droidspaces of this checkout).
# Run as root. Container names carry a per-run suffix: cgroups are host-wide, so suites that
# run at the same time must not share names.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
	suite_setup
	local suffix
	suffix=$(tr -dc a-z0-9 </dev/urandom | head -c 6)
	export CA="si-a-$suffix" CB="si-b-$suffix"
	local name rootfs
	for name in "$CA" "$CB"; do
		rootfs=$(fixture_copy busybox "$SUITE_TMP/$name")
		ds --name="$name" --rootfs="$rootfs" --net=none start >"$SUITE_TMP/start-$name.log" 2>&1 || {
			cat "$SUITE_TMP/start-$name.log" >&2
			return 1
		}
	done
}

teardown_file() {
	[[ $(id -u) -eq 0 ]] || return 0
	# Helpers this suite started, by PID (never by name).
	local pid
	for pid in $(cat "$SUITE_TMP"/bystander.pid 2>/dev/null); do
		kill "$pid" 2>/dev/null || true
	done
	local dir
	for dir in $(cat "$SUITE_TMP"/cgroup.made 2>/dev/null); do
		rmdir "$dir" 2>/dev/null || true
	done
	suite_teardown
}

setup() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
}

# A value of the container's .state record.
state_field() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
		"$DROIDSPACES_HOME/Pids/$1.state" "$2"
}

# The PID `ds pid` reports (fails when NONE).
pid_of() {
	ds --name="$1" pid
}

# Starts an unrelated long-running process; prints its PID and remembers it for teardown.
start_bystander() {
	sleep 1000 </dev/null >/dev/null 2>&1 &
	echo $! >>"$SUITE_TMP/bystander.pid"
	echo $!
}

# Field 22 of /proc/PID/stat (start time in clock ticks).
start_ticks() {
	awk '{sub(/^.*\) /, ""); print $20}' "/proc/$1/stat"
}

# Writes a record like the monitor does: NAME INIT_PID INIT_START MONITOR_PID MONITOR_START.
write_fake_state() {
	local name=$1 pid=$2 start=$3 monitor=$4 monitor_start=$5
	cat >"$DROIDSPACES_HOME/Pids/$name.state" <<EOF
{"boot_id":"$(cat /proc/sys/kernel/random/boot_id)","boots":1,"cgroup_path":"","custom_init":false,"family":"busybox","init_pid":$pid,"init_start":$start,"monitor_pid":$monitor,"monitor_start":$monitor_start,"name":"$name","rootfs":"/","started_at":0,"uuid":"00000000000000000000000000000000"}
EOF
	echo "$pid" >"$DROIDSPACES_HOME/Pids/$name.pid"
	echo busybox >"$DROIDSPACES_HOME/Pids/$name.init"
}

@test "show lists both containers with the PIDs pid reports and init busybox" {
	local pa pb
	pa=$(pid_of "$CA")
	pb=$(pid_of "$CB")
	run -0 ds show
	echo "$output"
	[[ ${lines[0]} =~ ^NAME\ +PID\ +INIT\ +UPTIME\ +ROOTFS$ ]]
	[ "${#lines[@]}" -eq 3 ]
	[[ $output =~ (^|$'\n')"$CA"\ +"$pa"\ +busybox\ +[0-9dhms\ ]+s\ +"$SUITE_TMP/$CA/rootfs"($'\n'|$) ]]
	[[ $output =~ (^|$'\n')"$CB"\ +"$pb"\ +busybox\ +[0-9dhms\ ]+s\ +"$SUITE_TMP/$CB/rootfs"($'\n'|$) ]]
}

@test "show --json is an array with every field" {
	run -0 ds show --json
	python3 - "$output" "$CA" "$(pid_of "$CA")" "$(state_field "$CA" monitor_pid)" \
		"$CB" "$(pid_of "$CB")" "$SUITE_TMP" <<'EOF'
import json, sys
rows = json.loads(sys.argv[1])
ca, pa, ma, cb, pb, tmp = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), sys.argv[7]
assert isinstance(rows, list) and len(rows) == 2, rows
by = {r["name"]: r for r in rows}
for row in rows:
    assert set(row) == {"name", "pid", "monitor_pid", "init", "uptime_seconds", "rootfs", "boots", "net"}, row
    assert row["init"] == "busybox" and row["net"] == "none" and row["boots"] == 1, row
    assert isinstance(row["uptime_seconds"], int) and row["uptime_seconds"] >= 0, row
assert by[ca]["pid"] == pa and by[ca]["monitor_pid"] == ma, by[ca]
assert by[cb]["pid"] == pb, by[cb]
assert by[ca]["rootfs"] == f"{tmp}/{ca}/rootfs", by[ca]
EOF
}

@test "show --format prints upstream's keys and a blank line" {
	run -0 ds show --format
	echo "$output"
	local total
	total=$(find "$DROIDSPACES_HOME/Containers" -mindepth 1 -maxdepth 1 -type d | wc -l)
	[ "${lines[0]}" = "TOTAL_CONTAINERS=$total" ]
	[ "${lines[1]}" = "RUN_CONTAINERS=2" ]
	grep -qx "CONT_$CA=$(pid_of "$CA")" <<<"$output"
	grep -qx "CONT_$CB=$(pid_of "$CB")" <<<"$output"
	# The blank line at the end (bats drops empty lines from $lines, so look at the raw bytes).
	ds show --format >"$SUITE_TMP/show.format"
	[ "$(tail -c 2 "$SUITE_TMP/show.format" | od -An -c | tr -d ' ')" = '\n\n' ]
}

@test "info describes the container: OS, init, hostname, mounts, private namespaces" {
	local pid
	pid=$(pid_of "$CA")
	run -0 ds --name="$CA" info
	echo "$output"
	[[ ${lines[0]} =~ ^Host:\ (Linux|Android)\  ]]
	grep -qx "Container: $CA (RUNNING)" <<<"$output"
	grep -qx "  PID: $pid" <<<"$output"
	grep -qx "  Monitor PID: $(state_field "$CA" monitor_pid)" <<<"$output"
	grep -qx "  Init: busybox" <<<"$output"
	grep -qx "  OS: Busybox fixture" <<<"$output"
	grep -qx "  Hostname: $CA" <<<"$output"
	grep -qx "  Rootfs: $SUITE_TMP/$CA/rootfs" <<<"$output"
	grep -qx "  Networking: none" <<<"$output"
	local mounts
	mounts=$(sed -n 's/^  Mounts: //p' <<<"$output")
	[ "$mounts" -eq "$(wc -l <"/proc/$pid/mountinfo")" ]
	local private
	private=$(sed -n 's/^  Namespaces: private: \([^;]*\);.*/\1/p' <<<"$output")
	for ns in ipc mnt net pid uts; do
		[[ " $private " == *" $ns "* ]] || {
			echo "namespace $ns not listed as private: $private"
			return 1
		}
	done
}

@test "info --json has the runtime facts and the features" {
	local pid
	pid=$(pid_of "$CB")
	run -0 ds --name="$CB" info --json
	python3 - "$output" "$CB" "$pid" "$(state_field "$CB" cgroup_path)" <<'EOF'
import json, os, sys
info = json.loads(sys.argv[1])
name, pid, cgroup = sys.argv[2], int(sys.argv[3]), sys.argv[4]
assert info["name"] == name and info["state"] == "RUNNING", info
assert info["pid"] == pid and info["init"] == "busybox", info
assert info["os"] == "Busybox fixture" and info["hostname"] == name, info
assert info["host"]["platform"] in ("Linux", "Android") and info["host"]["arch"], info
assert isinstance(info["uptime_seconds"], int) and info["boots"] == 1, info
assert info["mounts"] > 5, info
for ns in ("ipc", "mnt", "net", "pid", "uts"):
    assert ns in info["private_namespaces"], info["private_namespaces"]
    ours = os.stat(f"/proc/{pid}/ns/{ns}").st_ino
    assert info["namespaces"][ns]["inode"] == ours, (ns, info["namespaces"][ns], ours)
assert info["features"]["net"] == "none" and info["features"]["bind_mounts"] == [], info["features"]
assert info["config_source"] == "workspace", info
assert info["cgroup"]["path"] == (cgroup or None), info["cgroup"]
if cgroup:
    assert info["cgroup"]["processes"] >= 1, info["cgroup"]
assert info["usage"]["processes"] >= 1 and info["usage"]["ram_total_kb"] > 0, info["usage"]
EOF
}

@test "info --format prints upstream's KEY=VALUE lines" {
	run -0 ds --name="$CA" info --format
	echo "$output"
	grep -qx "CONTAINER_NAME=$CA" <<<"$output"
	grep -qx "CONTAINER_PID=$(pid_of "$CA")" <<<"$output"
	grep -qx "CONTAINER_OS=Busybox fixture" <<<"$output"
	grep -qx "CONTAINER_HOSTNAME=$CA" <<<"$output"
	grep -qx "NETWORKING_MODE=none" <<<"$output"
	grep -qx "HW_ACCESS=none" <<<"$output"
	grep -qx "BIND_MOUNT_COUNT=0" <<<"$output"
	grep -qE '^CONTAINER_UPTIME_SEC=[0-9]+$' <<<"$output"
	grep -qE '^RAM_USED_KB=[0-9]+$' <<<"$output"
	grep -qE '^CPU_PERMILL=[0-9]+$' <<<"$output"
	# Every line is KEY=VALUE.
	run grep -vqE '^[A-Z0-9_]+=' <<<"$output"
	[ "$status" -eq 1 ]
}

@test "usage prints upstream's KEY=VALUE lines; --json the same values; a stopped one fails" {
	run --separate-stderr ds --name="$CA" usage
	[ "$status" -eq 0 ]
	[ "$(cut -d= -f1 <<<"$output" | tr '\n' ' ')" = "UPTIME_SEC UPTIME RAM_USED_KB RAM_TOTAL_KB CPU_PERMILL " ]
	local ram total permill
	ram=$(sed -n 's/^RAM_USED_KB=//p' <<<"$output")
	total=$(sed -n 's/^RAM_TOTAL_KB=//p' <<<"$output")
	permill=$(sed -n 's/^CPU_PERMILL=//p' <<<"$output")
	[ "$total" = "$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)" ]
	((ram > 0 && ram < total && permill >= 0 && permill <= 1000))
	run ds --name="$CA" usage --json
	[ "$status" -eq 0 ]
	[ "$(jq -r '.name + " " + (.ram_total_kb|tostring)' <<<"$output")" = "$CA $total" ]
	jq -e '.uptime_sec >= 0 and (.uptime|type) == "string" and .cpu_permill <= 1000' <<<"$output"
	run --separate-stderr ds --name=si-nowhere usage
	[ "$status" -eq 1 ]
	[[ $stderr == *si-nowhere* ]]
}

@test "info on an unknown container fails naming it; a stopped one is described from its config" {
	run -1 --separate-stderr ds --name=si-nothing-here info
	[[ $stderr == *"si-nothing-here"* ]]
	mkdir -p "$DROIDSPACES_HOME/Containers/si-stopped"
	printf 'name=si-stopped\nrootfs_path=/nonexistent\nnet_mode=none\n' \
		>"$DROIDSPACES_HOME/Containers/si-stopped/container.config"
	run -1 --separate-stderr ds --name=si-stopped info --json
	rm -rf "$DROIDSPACES_HOME/Containers/si-stopped"
	[[ $stderr == *"si-stopped"*"not running"* ]]
	python3 -c 'import json,sys; i=json.loads(sys.argv[1]); assert i["state"]=="STOPPED" and i["features"]["net"]=="none", i' "$output"
}

@test "a record whose PID was reused by an unrelated process is never the container" {
	local bystander ticks
	bystander=$(start_bystander)
	wait_until 5 test -e "/proc/$bystander/stat"
	ticks=$(start_ticks "$bystander")
	# Same PID, wrong start time: the PID was reused (for the monitor PID too).
	write_fake_state si-ghost "$bystander" $((ticks + 1)) "$bystander" $((ticks + 1))
	# Right start time but no /run/droidspaces marker: not a container either.
	write_fake_state si-ghost2 "$bystander" "$ticks" 0 0
	run -0 ds show
	echo "$output"
	[[ $output != *si-ghost* ]]
	[[ $output != *"$bystander"* ]]
	for f in si-ghost.pid si-ghost.state si-ghost.init si-ghost2.pid si-ghost2.state; do
		[ ! -e "$DROIDSPACES_HOME/Pids/$f" ] || {
			echo "stale $f was not pruned"
			return 1
		}
	done
	# `pid` on a fresh stale record: NONE, and pruned too.
	write_fake_state si-ghost "$bystander" $((ticks + 1)) 0 0
	run -1 ds --name=si-ghost pid
	[ "$output" = "NONE" ]
	[ ! -e "$DROIDSPACES_HOME/Pids/si-ghost.state" ]
	kill -0 "$bystander"  # only records were touched
	kill "$bystander"
}

@test "an upstream-style pidfile of a live non-container is never listed" {
	local bystander
	bystander=$(start_bystander)
	echo "$bystander" >"$DROIDSPACES_HOME/Pids/si-upstream.pid"
	run -0 ds show --json
	python3 -c 'import json,sys; rows=json.loads(sys.argv[1]); assert all(r["name"]!="si-upstream" and r["pid"]!=int(sys.argv[2]) for r in rows), rows' \
		"$output" "$bystander"
	run -1 ds --name=si-upstream pid
	[ "$output" = "NONE" ]
	kill "$bystander"
	wait_until 10 bash -c "! kill -0 $bystander"
	# Once the process is gone, the pidfile is dead and show prunes it.
	run -0 ds show
	[ ! -e "$DROIDSPACES_HOME/Pids/si-upstream.pid" ]
}

@test "show prunes a pidfile whose PID is dead, with its sidecars" {
	local dead
	true &
	dead=$!
	wait "$dead" || true
	wait_until 5 bash -c "! kill -0 $dead"
	echo "$dead" >"$DROIDSPACES_HOME/Pids/si-dead.pid"
	echo busybox >"$DROIDSPACES_HOME/Pids/si-dead.init"
	echo garbage >"$DROIDSPACES_HOME/Pids/si-junk.pid"
	run -0 ds show
	[[ $output != *si-dead* ]]
	[ ! -e "$DROIDSPACES_HOME/Pids/si-dead.pid" ]
	[ ! -e "$DROIDSPACES_HOME/Pids/si-dead.init" ]
	[ ! -e "$DROIDSPACES_HOME/Pids/si-junk.pid" ]
	# The running containers' records are untouched.
	[ -e "$DROIDSPACES_HOME/Pids/$CA.pid" ]
	[ -e "$DROIDSPACES_HOME/Pids/$CB.pid" ]
}

@test "scan restores the records of a running container deleted from Pids/" {
	local pid monitor
	pid=$(pid_of "$CA")
	monitor=$(state_field "$CA" monitor_pid)
	rm -f "$DROIDSPACES_HOME/Pids/$CA".*
	run -1 ds --name="$CA" pid
	[ "$output" = "NONE" ]
	run -0 ds scan
	echo "$output"
	[[ $output == *"Scan complete: synchronized 1 container(s)"* ]]
	run -0 ds --name="$CA" pid
	[ "$output" = "$pid" ]
	[ "$(state_field "$CA" monitor_pid)" = "$monitor" ]
	[ "$(state_field "$CA" family)" = busybox ]
	[ "$(cat "$DROIDSPACES_HOME/Pids/$CA.init")" = busybox ]
	run -0 ds show
	[[ $output =~ (^|$'\n')"$CA"\ +"$pid"\ +busybox ]]
}

@test "scan reports a deleted container.config and never imports the guest's copy" {
	local config
	config="$DROIDSPACES_HOME/Containers/$CB/container.config"
	mv "$config" "$SUITE_TMP/saved.config"
	run -0 --separate-stderr ds scan
	echo "$output $stderr"
	[[ $stderr == *"'$CB' is running but its config $config is missing"* ]]
	[ ! -e "$config" ]
	run -0 ds scan --json
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["missing_configs"]==[sys.argv[2]], r' "$output" "$CB"
	mv "$SUITE_TMP/saved.config" "$config"
}

@test "scan --json reports what it did; nothing when all is in order" {
	run -0 ds scan --json
	python3 -c '
import json, sys
r = json.loads(sys.argv[1])
assert set(r) == {"synchronized", "missing_configs", "cleaned", "foreign"}, r
assert r["synchronized"] == [] and r["missing_configs"] == [], r
assert sys.argv[2] not in r["foreign"] and sys.argv[3] not in r["foreign"], r
' "$output" "$CA" "$CB"
	rm -f "$DROIDSPACES_HOME/Pids/$CB.pid"
	run -0 ds scan --json
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["synchronized"]==[sys.argv[2]], r' "$output" "$CB"
	[ "$(cat "$DROIDSPACES_HOME/Pids/$CB.pid")" = "$(state_field "$CB" init_pid)" ]
}

@test "scan removes an old empty leftover cgroup and keeps a fresh one" {
	local cgroup base old fresh
	cgroup=$(state_field "$CA" cgroup_path)
	[ -n "$cgroup" ] || skip "no cgroup for containers on this host"
	base=$(dirname "$cgroup")
	old="$base/si-left-old-$$"
	fresh="$base/si-left-new-$$"
	mkdir "$old" "$fresh"
	echo "$old $fresh" >>"$SUITE_TMP/cgroup.made"
	touch -d '1 hour ago' "$old"
	run -0 ds scan
	echo "$output"
	[[ $output == *"cgroup $old"* ]]
	[ ! -d "$old" ]
	[ -d "$fresh" ]  # may be a start in progress
	rmdir "$fresh"
	# The running containers' cgroups are untouched.
	[ -d "$cgroup" ]
	[ -d "$(state_field "$CB" cgroup_path)" ]
}

@test "show --all lists running and stopped containers, with cgroup usage for the running" {
	local stopped="si-cfg-$$"
	run -0 ds --name="$stopped" --rootfs=/nonexistent --net=none config create
	mkdir -p "$DROIDSPACES_HOME/Containers/si-garbage-$$"  # no config: not a container
	run --separate-stderr ds show --all --json
	rm -rf "$DROIDSPACES_HOME/Containers/$stopped" "$DROIDSPACES_HOME/Containers/si-garbage-$$"
	[ "$status" -eq 0 ]
	python3 - "$output" "$CA" "$(pid_of "$CA")" "$CB" "$stopped" <<'EOF'
import json, sys
rows = json.loads(sys.argv[1])
ca, pa, cb, stopped = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
by = {r["name"]: r for r in rows}
assert set(by) == {ca, cb, stopped}, by.keys()
keys = {"name", "state", "init", "uptime_seconds", "net", "rootfs", "pid", "monitor_pid", "boots",
        "config_error", "config_warnings", "usage"}
for row in rows:
    assert set(row) == keys, row
for name in (ca, cb):
    r = by[name]
    assert r["state"] == "RUNNING" and r["init"] == "busybox" and r["net"] == "none", r
    assert isinstance(r["usage"], dict), r
    assert set(r["usage"]) == {"memory_bytes", "memory_limit_bytes", "cpu_usage_usec", "pids",
                               "pids_limit"}, r
assert by[ca]["pid"] == pa, by[ca]
s = by[stopped]
assert s["state"] == "STOPPED" and s["pid"] is None and s["usage"] is None, s
assert s["rootfs"] == "/nonexistent" and s["net"] == "none" and s["config_error"] is None, s
assert s["config_warnings"] == [], s
EOF
	# Plain `show` still lists the running ones only.
	run -0 ds --name="$stopped" --rootfs=/nonexistent config create
	run ds show
	rm -rf "$DROIDSPACES_HOME/Containers/$stopped"
	[ "$status" -eq 0 ]
	[[ $output != *"$stopped"* ]]
	[[ $output == *"$CA"* ]]
}

@test "show --all --json reads a v1 pids controller's droidspaces/NAME cgroup" {
	local root dir made_parent=0
	root=$(awk '$9 == "cgroup" && $NF ~ /(^|,)pids(,|$)/ { print $5; exit }' /proc/self/mountinfo)
	[ -n "$root" ] || skip "no cgroup v1 pids hierarchy on this host"
	[ ! -e "$(state_field "$CA" cgroup_path)/pids.current" ] || skip "pids is on cgroup v2 here"
	dir="$root/droidspaces/$CA"
	[ ! -e "$dir" ] || skip "the runtime already made $dir"
	# Another suite's limits may make the parent at any moment: an existing one is not ours.
	if mkdir "$root/droidspaces" 2>/dev/null; then made_parent=1; fi
	mkdir "$dir"
	echo "$dir" >>"$SUITE_TMP/cgroup.made"
	[ "$made_parent" -eq 0 ] || echo "$root/droidspaces" >>"$SUITE_TMP/cgroup.made"
	echo 1234 >"$dir/pids.max"
	# Removed before anything is asserted, so that a failure leaves no cgroup for the next test.
	run --separate-stderr ds show --all --json
	rmdir "$dir"
	[ "$made_parent" -eq 0 ] || rmdir "$root/droidspaces" 2>/dev/null || true
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
r = {r["name"]: r for r in json.loads(sys.argv[1])}[sys.argv[2]]
assert r["usage"]["pids_limit"] == 1234, r
assert r["usage"]["pids"] == 0, r
' "$output" "$CA"
}

@test "config delete of a running container is busy and keeps its config; edit says when it applies" {
	local file=$DROIDSPACES_HOME/Containers/$CA/container.config
	run -1 --separate-stderr ds --name="$CA" config delete --json
	python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; assert e["kind"]=="busy" and "running" in e["message"], e' <<<"$output"
	[ -f "$file" ]
	run -0 ds --name="$CA" --net=none config edit
	[[ $output == *"next start or restart"* ]]
	[ -n "$(pid_of "$CA")" ]
}

@test "stopping both leaves no container listed and the host clean" {
	run -0 ds --name="$CA,$CB" stop
	run -0 ds show
	[ "$(echo "$output" | grep -v '^$')" = "(No containers running)" ]
	run -0 ds show --json
	[ "$output" = "[]" ]
	run -1 ds --name="$CA" pid
	[ "$output" = "NONE" ]
	assert_host_clean
}
