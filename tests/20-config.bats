#!/usr/bin/env bats
# Bad input through the built CLI: every case exits 1, prints exactly one line on stderr that
# names the offending value, and leaves no trace: nothing created or changed in the workspace
# ($DROIDSPACES_HOME) or next to the rootfs, and a config given with -C is not rewritten.
#
# DROIDSPACES_BIN: the runtime binary (default: /work/main/build/droidspaces).
# Run as root (start is root-only, and the checks must get past the root gate).

# `run --separate-stderr` sets $stderr and $stderr_lines.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

setup() {
	DROIDSPACES_BIN=${DROIDSPACES_BIN:-/work/main/build/droidspaces}
	if [[ ! -x $DROIDSPACES_BIN ]]; then
		echo "DROIDSPACES_BIN=$DROIDSPACES_BIN is not an executable (build first)" >&2
		return 1
	fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "these tests must run as root" >&2
		return 1
	fi
	DROIDSPACES_HOME=$(mktemp -d)
	export DROIDSPACES_HOME
	# A rootfs without an init: should bad input ever get through, start fails before booting.
	tmp=$(mktemp -d)
	mkdir "$tmp/rootfs" "$tmp/src"
}

teardown() {
	rm -rf -- "$DROIDSPACES_HOME" "$tmp"
}

# Everything under the workspace and the directory holding the rootfs: path, size, mtime.
snapshot() {
	find "$DROIDSPACES_HOME" "$tmp" -printf '%p %s %T@\n' | sort
}

show_run() {
	echo "command: droidspaces $*"
	echo "status: $status"
	echo "stdout: $output"
	echo "stderr (${#stderr_lines[@]} lines):"
	printf '  |%s\n' "${stderr_lines[@]}"
}

# expect_rejected VALUE ARGS...: `droidspaces ARGS...` exits 1 with exactly one stderr line that
# contains VALUE, and the snapshot is unchanged.
expect_rejected() {
	local value=$1
	shift
	local before after
	before=$(snapshot)
	run --separate-stderr "$DROIDSPACES_BIN" "$@"
	after=$(snapshot)
	show_run "$@"
	[[ $status -eq 1 ]] || {
		echo "FAIL: expected exit status 1"
		return 1
	}
	[[ ${#stderr_lines[@]} -eq 1 ]] || {
		echo "FAIL: expected exactly one line on stderr"
		return 1
	}
	[[ $stderr == *"$value"* ]] || {
		echo "FAIL: stderr does not name '$value'"
		return 1
	}
	[[ $before == "$after" ]] || {
		echo "FAIL: files changed:"
		diff <(echo "$before") <(echo "$after") || true
		return 1
	}
}

@test "name with a path component is rejected" {
	expect_rejected "'../x'" -n ../x -r "$tmp/rootfs" start
	expect_rejected "'a/b'" --name=a/b -r "$tmp/rootfs" start
}

@test "empty name is rejected" {
	expect_rejected "''" --name= -r "$tmp/rootfs" start
	expect_rejected "''" -n "" -r "$tmp/rootfs" start
}

@test "dot names are rejected" {
	expect_rejected "'..'" -n .. -r "$tmp/rootfs" start
	expect_rejected "'.'" -n . -r "$tmp/rootfs" start
}

@test "300-character name is rejected" {
	local name
	name=$(printf 'n%.0s' {1..300})
	expect_rejected "${name:0:40}" -n "$name" -r "$tmp/rootfs" start
	[[ $stderr == *"longer than 64"* ]]
}

@test "a 255-character name gets one clear error before anything is created" {
	local name
	name=$(printf 'n%.0s' {1..255})
	expect_rejected "${name:0:40}" -n "$name" -r "$tmp/rootfs" start
	[[ $stderr == *"longer than 64"* ]]
	[ ! -e "$DROIDSPACES_HOME/Containers" ]
	[ ! -e "$DROIDSPACES_HOME/Pids" ]
}

@test "a 65-character name is rejected, 64 characters is the limit" {
	local name
	name=$(printf 'n%.0s' {1..65})
	expect_rejected "${name:0:40}" -n "$name" -r "$tmp/rootfs" start
}

@test "a name starting with '.' is rejected (install's staging names)" {
	expect_rejected "'.install-keep.abcdef'" -n .install-keep.abcdef -r "$tmp/rootfs" start
	[[ $stderr == *"must not start with '.'"* ]]
}

# "my box" is stored as Containers/my-box (upstream's mapping): the other spelling must not take
# over its directory, config, lock and records.
@test "'my-box' cannot take over the stored 'my box', nor the other way round" {
	local spelling other dir
	for spelling in "my box" "my-box"; do
		other=${spelling/ /-}
		[ "$other" != "$spelling" ] || other=${spelling/-/ }
		dir="$DROIDSPACES_HOME/Containers/my-box"
		mkdir -p "$dir"
		printf 'name=%s\nrootfs_path=%s\n' "$spelling" "$tmp/rootfs" >"$dir/container.config"
		expect_rejected "'$other' is taken" -n "$other" -r "$tmp/rootfs" start
		[[ $stderr == *"belongs to container '$spelling'"* ]]
		grep -qx "name=$spelling" "$dir/container.config"
		rm -rf "$DROIDSPACES_HOME/Containers"
	done
}

@test "names with control characters are rejected on one escaped line" {
	expect_rejected 'a\x01b' -n $'a\x01b' -r "$tmp/rootfs" start
	expect_rejected 'a\x0ab' -n $'a\nb' -r "$tmp/rootfs" start
	expect_rejected 'a\x09b' -n $'a\tb' -r "$tmp/rootfs" start
}

@test "a malformed config line is a warning naming file:line; the file is untouched" {
	local conf=$tmp/box.config sum
	printf 'name=box\nrootfs_path=%s\ngarbage\n' "$tmp/rootfs" >"$conf"
	sum=$(sha256sum <"$conf")
	# The start goes past the bad line and stops at the rootfs without an init.
	run --separate-stderr "$DROIDSPACES_BIN" -C "$conf" start
	show_run -C "$conf" start
	[ "$status" -eq 1 ]
	[[ $stderr == *"$conf:3: malformed line 'garbage'"* ]]
	[[ $stderr == *init* ]]
	[[ $(sha256sum <"$conf") == "$sum" ]]
}

@test "bad value in a config file is a warning naming the key and value; the file is untouched" {
	local conf=$tmp/box.config sum
	printf 'name=box\nrootfs_path=%s\nvolatile_mode=maybe\n' "$tmp/rootfs" >"$conf"
	sum=$(sha256sum <"$conf")
	run --separate-stderr "$DROIDSPACES_BIN" -C "$conf" start
	show_run -C "$conf" start
	[ "$status" -eq 1 ]
	[[ $stderr == *"$conf:3: "*"'maybe'"*volatile_mode* ]]
	[[ $(sha256sum <"$conf") == "$sum" ]]
}

@test "bind destination with .. is rejected" {
	expect_rejected "/mnt/../etc" -n box -r "$tmp/rootfs" -B "$tmp/src:/mnt/../etc" start
	expect_rejected "/.." -n box -r "$tmp/rootfs" --bind="$tmp/src:/.." start
}

@test "relative bind destination is rejected" {
	expect_rejected "'mnt/data'" -n box -r "$tmp/rootfs" -B "$tmp/src:mnt/data" start
}

@test "bind destination / is rejected" {
	expect_rejected "'/'" -n box -r "$tmp/rootfs" -B "$tmp/src:/" start
}

@test "17 binds are rejected naming the limit of 16" {
	local -a args=(-n box -r "$tmp/rootfs")
	local i
	for i in $(seq 1 17); do
		mkdir "$tmp/s$i"
		args+=(-B "$tmp/s$i:/mnt/d$i")
	done
	expect_rejected "/mnt/d17" "${args[@]}" start
	[[ $stderr == *16* ]]
}

@test "missing rootfs is rejected naming the path" {
	[[ ! -e /nonexistent ]]
	local had_root_config=0
	[[ -e /container.config ]] && had_root_config=1
	expect_rejected "/nonexistent" -n box -r /nonexistent start
	# Upstream's auto config path for /nonexistent is /container.config: it must not appear.
	[[ $had_root_config -eq 1 || ! -e /container.config ]]
}

@test "missing rootfs next to the workspace is rejected and nothing is written beside it" {
	expect_rejected "$tmp/missing" -n box -r "$tmp/missing" start
}

@test "unknown option is rejected naming it" {
	expect_rejected "'--bogus'" -n box -r "$tmp/rootfs" --bogus start
	expect_rejected "'--bogus'" -n box -r "$tmp/rootfs" --bogus=1 start
	expect_rejected "'-Z'" -n box -r "$tmp/rootfs" -Z start
}

@test "unknown network mode is rejected naming it" {
	expect_rejected "'bogus'" -n box -r "$tmp/rootfs" --net=bogus start
	[[ $stderr == *nat* ]]
}

@test "droidspaces --bogus: one error line, nothing on stdout" {
	expect_rejected "'--bogus'" --bogus
	[[ -z $output ]]
	[[ ${stderr_lines[0]} == "[-] "* ]]
	[[ $stderr == *"droidspaces help"* ]]
}

@test "option missing its value is rejected naming it" {
	expect_rejected "'--name'" -r "$tmp/rootfs" start --name
}

@test "value given to a switch is rejected naming it" {
	expect_rejected "'--volatile'" -n box -r "$tmp/rootfs" --volatile=1 start
}

# --- `config create|edit|show|delete`: the request layer's config records -----------------------

# A key of `config show --json`: json_of NAME PYTHON-EXPRESSION-ON-d
config_json() {
	"$DROIDSPACES_BIN" --name="$1" config show --json |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$2"
}

@test "config create/edit/show use start's flags and keep what the user wrote" {
	run -0 "$DROIDSPACES_BIN" --name=cf-box --rootfs="$tmp/rootfs" --net=none --memory=64M config create
	local file=$DROIDSPACES_HOME/Containers/cf-box/container.config
	[ -f "$file" ]
	[ "$(config_json cf-box 'd["features"]["memory_limit"]')" = $((64 << 20)) ]
	[ "$(config_json cf-box 'd["features"]["net"]')" = none ]
	[ "$(config_json cf-box 'd["rootfs"]')" = "$tmp/rootfs" ]
	# Hand-written lines survive an edit.
	sed -i '1i # my notes' "$file"
	echo "run_at_boot=1" >>"$file"
	run -0 "$DROIDSPACES_BIN" --name=cf-box --cpus=0.5 --bind="$tmp/src:/mnt/src" config edit
	grep -qx '# my notes' "$file"
	grep -qx 'run_at_boot=1' "$file"
	[ "$(config_json cf-box 'd["features"]["cpus"]')" = 0.5 ]
	[ "$(config_json cf-box 'd["features"]["bind_mounts"][0]')" = "$tmp/src:/mnt/src" ]
	[ "$(config_json cf-box 'd["features"]["memory_limit"]')" = $((64 << 20)) ]
	# --reset, then the flags.
	run -0 "$DROIDSPACES_BIN" --name=cf-box --reset --net=none config edit
	[ "$(config_json cf-box 'd["features"]["memory_limit"]')" = None ]
	grep -qx 'run_at_boot=1' "$file"
	# Plain `config show` prints the file.
	run -0 "$DROIDSPACES_BIN" --name=cf-box config show
	[[ $output == *"name=cf-box"* ]]
}

@test "config edit with a bad value names it and changes nothing" {
	"$DROIDSPACES_BIN" --name=cf-box --rootfs="$tmp/rootfs" config create >/dev/null
	expect_rejected "'1M'" --name=cf-box --memory=1M config edit
	expect_rejected "--cpus" --name=cf-box --cpus=0 config edit
	expect_rejected "'bogus'" --name=cf-box --net=bogus config edit
	expect_rejected "'/..'" --name=cf-box --bind="$tmp/src:/.." config edit
	expect_rejected "'maybe'" --name=cf-new --pids-limit=maybe config create
	[ ! -e "$DROIDSPACES_HOME/Containers/cf-new" ]
}

@test "config create refuses an existing name (busy); edit and delete of a missing one are not found" {
	"$DROIDSPACES_BIN" --name="cf box" config create >/dev/null
	expect_rejected "already has a config" --name="cf box" config create
	# The other spelling is the same directory.
	expect_rejected "'cf box'" --name=cf-box config create
	run -1 --separate-stderr "$DROIDSPACES_BIN" --name=cf-box config create --json
	python3 -c 'import json,sys; assert json.load(sys.stdin)["error"]["kind"]=="busy"' <<<"$output"
	expect_rejected "'cf-none'" --name=cf-none --memory=8M config edit
	run -1 --separate-stderr "$DROIDSPACES_BIN" --name=cf-none config delete --json
	python3 -c 'import json,sys; assert json.load(sys.stdin)["error"]["kind"]=="not_found"' <<<"$output"
}

@test "config delete keeps the rootfs; --purge removes only Containers/NAME's own" {
	local dir=$DROIDSPACES_HOME/Containers/cf-in
	mkdir -p "$dir/rootfs/etc"
	echo ID=test >"$dir/rootfs/etc/os-release"
	"$DROIDSPACES_BIN" --name=cf-in --rootfs="$dir/rootfs" config create >/dev/null
	run -0 "$DROIDSPACES_BIN" --name=cf-in config delete
	[ ! -e "$dir/container.config" ]
	[ -f "$dir/rootfs/etc/os-release" ]
	"$DROIDSPACES_BIN" --name=cf-in --rootfs="$dir/rootfs" config create >/dev/null
	run -0 --separate-stderr "$DROIDSPACES_BIN" --name=cf-in --purge config delete --json
	[ ! -e "$dir" ]
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["kept"]==[], d' <<<"$output"

	# A rootfs outside the workspace is never deleted, --purge or not.
	echo keep >"$tmp/rootfs/precious"
	"$DROIDSPACES_BIN" --name=cf-out --rootfs="$tmp/rootfs" config create >/dev/null
	run -0 --separate-stderr "$DROIDSPACES_BIN" --name=cf-out --purge config delete
	[ "$(cat "$tmp/rootfs/precious")" = keep ]
	[[ $stderr == *"Kept $tmp/rootfs"*"never removed"* ]]
	[ ! -e "$DROIDSPACES_HOME/Containers/cf-out" ]
}

# Attack: the config names Containers/NAME/rootfs, but that is a symlink to a host directory, or
# the rootfs holds links to host paths. --purge removes links as links and never follows one.
# The host paths are throwaway ones made here.
@test "config delete --purge never follows a symlink out of the workspace" {
	local target=$tmp/target dir=$DROIDSPACES_HOME/Containers/cf-link
	mkdir -p "$target/sub" "$dir"
	echo keep >"$target/precious"
	echo keep >"$target/sub/file"
	ln -s "$target" "$dir/rootfs"
	printf 'name=cf-link\nrootfs_path=%s\n' "$dir/rootfs" >"$dir/container.config"
	run -0 "$DROIDSPACES_BIN" --name=cf-link --purge config delete
	[ "$(cat "$target/precious")" = keep ]
	[ "$(cat "$target/sub/file")" = keep ]

	dir=$DROIDSPACES_HOME/Containers/cf-links
	mkdir -p "$dir/rootfs/etc"
	ln -s "$target" "$dir/rootfs/escape"
	ln -s "$target/sub" "$dir/rootfs/etc/sub"
	ln -s "$target/precious" "$dir/rootfs/etc/precious"
	printf 'name=cf-links\nrootfs_path=%s\n' "$dir/rootfs" >"$dir/container.config"
	run -0 "$DROIDSPACES_BIN" --name=cf-links --purge config delete
	[ ! -e "$dir" ]
	[ "$(cat "$target/precious")" = keep ]
	[ "$(cat "$target/sub/file")" = keep ]
}
