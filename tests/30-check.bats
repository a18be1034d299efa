#!/usr/bin/env bats
# `droidspaces check`: live requirement probes, text and --json output, exit code (0 only when
# every required feature is present), and no trace left on the host.
#
# DROIDSPACES_BIN: the runtime binary (default: build/droidspaces of this checkout).
# Most tests need root (the probes unshare namespaces); they are skipped otherwise.

setup() {
	DROIDSPACES_BIN=${DROIDSPACES_BIN:-$BATS_TEST_DIRNAME/../build/droidspaces}
	: "${DROIDSPACES_BIN:?}"
	if [[ ! -x $DROIDSPACES_BIN ]]; then
		echo "DROIDSPACES_BIN=$DROIDSPACES_BIN is not an executable (build first)" >&2
		return 1
	fi
}

require_root() {
	[[ $(id -u) -eq 0 ]] || skip "needs root"
}

# Line number of the first line of $output equal to $1 (fails when absent).
line_of() {
	local n
	n=$(grep -nxF -- "$1" <<<"$output" | head -n1 | cut -d: -f1)
	[[ -n $n ]] || {
		echo "no line '$1' in output:" >&2
		echo "$output" >&2
		return 1
	}
	echo "$n"
}

# What the host looks like from the outside: interfaces, mounts, cgroup directories.
host_snapshot() {
	echo "== links"
	ip -o link show | awk -F': ' '{print $1 ": " $2}'
	echo "== mounts"
	cat /proc/self/mountinfo
	echo "== cgroups"
	find /sys/fs/cgroup -maxdepth 4 -type d 2>/dev/null | sort
}

# Expected cgroup v2 root and layout, found independently of the runtime (statfs + findmnt).
expected_cgroup() {
	local v2="" layout
	if [[ $(stat -f -c %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]]; then
		v2=/sys/fs/cgroup
	elif [[ $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]]; then
		v2=/sys/fs/cgroup/unified
	else
		v2=$(findmnt -t cgroup2 -no TARGET | head -n1)
	fi
	local v1
	v1=$(findmnt -t cgroup -no TARGET | head -n1)
	if [[ -n $v2 && -n $v1 ]]; then
		layout=hybrid
	elif [[ -n $v2 ]]; then
		layout=unified
	elif [[ -n $v1 ]]; then
		layout=legacy
	else
		layout=none
	fi
	echo "${v2:-null} $layout"
}

@test "check as root: exits 0, three sections in order, verdict, no colours when piped" {
	require_root
	run "$DROIDSPACES_BIN" check
	echo "$output"
	[ "$status" -eq 0 ]
	[[ ${lines[0]} == "Droidspaces v"*" - checking system requirements" ]]
	local req rec opt verdict
	req=$(line_of "Required:")
	rec=$(line_of "Recommended:")
	opt=$(line_of "Optional:")
	verdict=$(line_of "  [✓] All required features found")
	((req < rec && rec < opt && opt < verdict))
	line_of "  [✓] Root privileges" >/dev/null
	line_of "  [✓] PID namespace" >/dev/null
	line_of "  [✓] pivot_root" >/dev/null
	# The cgroup v2 line names the mount.
	local v2
	read -r v2 _ <<<"$(expected_cgroup)"
	if [[ $v2 != null ]]; then
		grep -qF -- "[✓] Cgroup v2 ($v2" <<<"$output"
	fi
	# Required probes all passed, so no "[✗]" appears in the required section.
	[[ $(sed -n "${req},${rec}p" <<<"$output") != *"[✗]"* ]]
	[[ $output != *$'\e['* ]]
	[[ $output != *"required feature(s) missing"* ]]
}

@test "check --json: parses, exit 0, correct cgroup v2 root and layout" {
	require_root
	local json expected_v2 expected_layout
	json=$("$DROIDSPACES_BIN" check --json)
	read -r expected_v2 expected_layout <<<"$(expected_cgroup)"
	run python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert set(d) == {"version", "root", "kernel", "sections", "cgroup", "missing_required", "ok"}, d.keys()
assert set(d["sections"]) == {"required", "recommended", "optional"}, d["sections"].keys()
for lines in d["sections"].values():
    for line in lines:
        assert set(line) == {"name", "ok", "detail"}, line
        assert isinstance(line["ok"], bool), line
assert d["ok"] is True and d["missing_required"] == 0 and d["root"] is True, d
assert all(l["ok"] for l in d["sections"]["required"]), d["sections"]["required"]
names = [l["name"] for l in d["sections"]["required"]]
assert "Root privileges" in names and "pivot_root" in names, names
print(d["version"], d["kernel"], d["cgroup"]["v2_root"] or "null", d["cgroup"]["layout"])
' "$json"
	echo "$output"
	[ "$status" -eq 0 ]
	local version
	version=$("$DROIDSPACES_BIN" version --json | jq -r .version)
	[ "$output" = "$version $(uname -r) $expected_v2 $expected_layout" ]
}

@test "check --json exits 0 like the text form" {
	require_root
	run "$DROIDSPACES_BIN" check --json
	[ "$status" -eq 0 ]
	python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$output"
}

@test "check leaves no trace: links, mounts, cgroups, processes" {
	require_root
	local before after
	before=$(host_snapshot)
	# A child subreaper runs the check: any probe process that outlived it would be
	# reparented to this python process and show up here, running or as a zombie.
	run python3 -c '
import ctypes, os, subprocess, sys
PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER): errno %d" % ctypes.get_errno())
rc = subprocess.run([sys.argv[1], "check"], stdout=subprocess.DEVNULL).returncode
me = os.getpid()
live = open("/proc/%d/task/%d/children" % (me, me)).read().split()
for pid in live:
    comm = open("/proc/%s/comm" % pid).read().strip()
    print("left running: pid %s (%s)" % (pid, comm))
    os.kill(int(pid), 9)
reaped = []
while True:
    try:
        pid, _ = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    reaped.append(pid)
for pid in reaped:
    print("left behind: pid %d" % pid)
print("rc=%d" % rc)
sys.exit(1 if reaped or live else 0)
' "$DROIDSPACES_BIN"
	after=$(host_snapshot)
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "rc=0" ]
	if [[ $before != "$after" ]]; then
		diff <(echo "$before") <(echo "$after") || true
		return 1
	fi
	[[ $after != *ds-probe* ]]
}

@test "check as non-root: exits 1, root and namespace probes missing, says why" {
	command -v setpriv >/dev/null || skip "setpriv not installed"
	local as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	if ! "${as_nobody[@]}" test -x "$DROIDSPACES_BIN"; then
		echo "uid 65534 cannot execute $DROIDSPACES_BIN" >&2
		return 1
	fi
	run "${as_nobody[@]}" "$DROIDSPACES_BIN" check
	echo "$output"
	[ "$status" -eq 1 ]
	line_of "  [✗] Root privileges (running as uid 65534)" >/dev/null
	line_of "  [✗] PID namespace (not checked without root)" >/dev/null
	grep -q "^  \[✗\] [0-9]* required feature(s) missing - Droidspaces will not work$" <<<"$output"
	grep -qF "namespace checks require root privileges" <<<"$output"
	grep -qF "You are not root" <<<"$output"
}

@test "check --json as non-root: root false, ok false, exit 1" {
	command -v setpriv >/dev/null || skip "setpriv not installed"
	local json rc=0
	json=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$DROIDSPACES_BIN" check --json) ||
		rc=$?
	[ "$rc" -eq 1 ]
	run python3 -c '
import json, sys
d = json.loads(sys.argv[1])
root = [l for l in d["sections"]["required"] if l["name"] == "Root privileges"][0]
print(d["root"], d["ok"], d["missing_required"] > 0, root["ok"])
' "$json"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "False False True False" ]
}
