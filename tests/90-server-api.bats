#!/usr/bin/env bats
# The JSON API (docs/api.md) against a real `droidspaces serve`, with a busybox container
# (--net=none): every route and every error kind; the documents equal to the CLI's --json ones;
# the exec transport (`droidspaces api METHOD PATH [BODY]`) printing the HTTP body byte for
# byte; configs created, edited, deleted and autostart set through the API as container.config
# on disk; run's output, exit status, cap and timeout; 409 at once for a held container lock;
# 200 concurrent lists while a container starts and stops, without an error or an fd leak.

# Single quotes hold JSON and the container's shell lines.
# shellcheck disable=SC2154,SC2016

bats_require_minimum_version 1.5.0

setup_file() {
	load helpers
	load helpers/server
	suite_setup
	ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
	export ROOTFS
	export NAME="api-$$"
	suite_track_name "$NAME"
	ds --name="$NAME" --rootfs="$ROOTFS" --net=none config create >/dev/null
	server_start
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
}

# The raw HTTP body of METHOD PATH [BODY] into FILE; prints the status.
http_to() {
	local file=$1 method=$2 path=$3 body=${4-}
	local -a args=(-sS -X "$method" -H "Authorization: Bearer $TOKEN" --max-time 60
		-o "$file" -w '%{http_code}')
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	curl "${args[@]}" "$BASE$path"
}

# The exec transport's output for METHOD PATH [BODY] into FILE; prints its exit status.
exec_to() {
	local file=$1 status=0
	shift
	timeout -k 5 120 "$DROIDSPACES_BIN" api "$@" >"$file" || status=$?
	echo "$status"
}

# `api` (tests/helpers/server.bash) into $output, then checks the status: expect STATUS METHOD
# PATH [BODY]. The body is then in $body.
expect() {
	local want=$1
	shift
	run api "$@"
	body=$(api_body)
	if [ "$(api_status)" != "$want" ]; then
		echo "expected HTTP $want for $*, got: $output" >&2
		return 1
	fi
}

# expect_error STATUS KIND METHOD PATH [BODY]: an error document {"error": KIND, "detail": one
# line}, nothing else.
expect_error() {
	local status=$1 kind=$2
	shift 2
	expect "$status" "$@"
	[ "$(jq -r .error <<<"$body")" = "$kind" ] || {
		echo "expected error $kind: $body" >&2
		return 1
	}
	[ "$(jq -r '.detail | type' <<<"$body")" = string ]
	[ "$(jq -r 'keys | join(",")' <<<"$body")" = detail,error ]
	[ "$(wc -l <<<"$body")" -eq 1 ]
}

# Drops the keys that change from one moment to the next in a running container's documents.
stable() {
	jq -S 'def strip: del(.usage, .uptime_seconds, .uptime);
	       if type == "array" then map(strip) else strip end'
}

running() {
	"$DROIDSPACES_BIN" --name="$1" pid >/dev/null 2>&1
}

ensure_started() {
	running "$NAME" && return 0
	expect 200 POST "/api/v1/containers/$NAME/start" '{}'
	wait_until 20 ds --name="$NAME" run true
}

@test "GET /api/v1/containers is show --all --json; GET {name} is info --json; config is config show --json" {
	ensure_stopped "$NAME"
	expect 200 GET /api/v1/containers
	diff <(jq -S . <<<"$body") <(ds show --all --json | jq -S .)
	expect 200 GET "/api/v1/containers/$NAME"
	[ "$(jq -r .state <<<"$body")" = STOPPED ]
	run -1 ds --name="$NAME" info --json
	diff <(jq -S . <<<"$body") <(jq -S . <<<"$output")
	expect 200 GET "/api/v1/containers/$NAME/config"
	diff <(jq -S . <<<"$body") <(ds --name="$NAME" config show --json | jq -S .)
	[ "$(jq -r .features.run_at_boot <<<"$body")" = false ]
	[ "$(jq -r .features.run_at_boot_priority <<<"$body")" = null ]
}

@test "GET /api/v1/check is check --json (200 even when a requirement is missing)" {
	expect 200 GET /api/v1/check
	run ds check --json
	diff <(jq -S . <<<"$body") <(jq -S . <<<"$output")
}

@test "GET /api/v1/system: version, kernel, arch, platform, cgroup layout, workspace, server" {
	expect 200 GET /api/v1/system
	[ "$(jq -r .version <<<"$body")" = "$(ds version --json | jq -r .version)" ]
	[ "$(jq -r .upstream_compatible <<<"$body")" = "$(ds version --json | jq -r .upstream_compatible)" ]
	[ "$(jq -r .kernel <<<"$body")" = "$(uname -r)" ]
	[ "$(jq -r .platform <<<"$body")" = Linux ]
	[ "$(jq -r .workspace <<<"$body")" = "$DROIDSPACES_HOME" ]
	[ "$(jq -r .cgroup.layout <<<"$body")" = "$(ds check --json | jq -r .cgroup.layout)" ]
	[ "$(jq -r .server.pid <<<"$body")" = "$SERVER_PID" ]
	[ "$(jq -r .server.port <<<"$body")" = "$PORT" ]
	# The exec transport has no server.
	run -0 "$DROIDSPACES_BIN" api GET /api/v1/system
	[ "$(jq -r .server <<<"$output")" = null ]
}

@test "exec transport: every GET prints the HTTP body byte for byte (stopped container)" {
	ensure_stopped "$NAME"
	local path
	for path in /api/v1/containers "/api/v1/containers/$NAME" "/api/v1/containers/$NAME/config" \
		"/api/v1/containers/$NAME/console?lines=5" /api/v1/autostart /api/v1/check; do
		[ "$(http_to "$SUITE_TMP/http" GET "$path")" = 200 ]
		[ "$(exec_to "$SUITE_TMP/exec" GET "$path")" = 0 ]
		cmp "$SUITE_TMP/http" "$SUITE_TMP/exec" || {
			echo "differs: $path" >&2
			return 1
		}
	done
	# /system differs only in "server" (null without one).
	[ "$(http_to "$SUITE_TMP/http" GET /api/v1/system)" = 200 ]
	exec_to "$SUITE_TMP/exec" GET /api/v1/system >/dev/null
	diff <(jq -S 'del(.server)' "$SUITE_TMP/http") <(jq -S 'del(.server)' "$SUITE_TMP/exec")
	# Errors too, with the exit status of their class.
	[ "$(http_to "$SUITE_TMP/http" GET /api/v1/containers/nope-$$)" = 404 ]
	[ "$(exec_to "$SUITE_TMP/exec" GET /api/v1/containers/nope-$$)" = 1 ]
	cmp "$SUITE_TMP/http" "$SUITE_TMP/exec"
}

@test "exec transport: the same bodies for a running container (volatile keys aside)" {
	ensure_started
	local path
	for path in /api/v1/containers "/api/v1/containers/$NAME"; do
		[ "$(http_to "$SUITE_TMP/http" GET "$path")" = 200 ]
		[ "$(exec_to "$SUITE_TMP/exec" GET "$path")" = 0 ]
		diff <(stable <"$SUITE_TMP/http") <(stable <"$SUITE_TMP/exec")
	done
	expect 200 GET /api/v1/containers
	diff <(stable <<<"$body") <(ds show --all --json | stable)
	expect 200 GET "/api/v1/containers/$NAME"
	[ "$(jq -r .state <<<"$body")" = RUNNING ]
	diff <(stable <<<"$body") <(ds --name="$NAME" info --json | stable)
}

@test "errors: 404 no_route, 405 method_not_allowed, 400 invalid, 404 not_found, 409 busy, 500 system" {
	expect_error 404 no_route GET /api/v1/nothing
	expect_error 404 no_route GET /api/v1/containers/a/b/c
	expect_error 405 method_not_allowed DELETE /api/v1/containers
	[[ $(jq -r .detail <<<"$body") == *"allowed GET, POST"* ]]
	expect_error 405 method_not_allowed GET "/api/v1/containers/$NAME/start"
	expect_error 400 invalid POST /api/v1/containers '{"name": '
	expect_error 400 invalid POST /api/v1/containers '["x"]'
	expect_error 400 invalid POST /api/v1/containers '{"name":"x","options":{"memory":"lots"}}'
	[[ $(jq -r .detail <<<"$body") == *"field 'options.memory'"* ]]
	expect_error 400 invalid POST /api/v1/containers '{"name":"../x"}'
	expect_error 404 not_found GET /api/v1/containers/ghost-$$
	expect_error 404 not_found POST /api/v1/containers/ghost-$$/start '{}'
	expect_error 404 not_found POST /api/v1/containers/ghost-$$/run '{"command":["true"]}'
	expect_error 409 busy POST /api/v1/containers "{\"name\":\"$NAME\"}"
	[[ $(jq -r .detail <<<"$body") == *"already has a config"* ]]
	# A log that is not a regular file (planted symlink) is refused, not followed: 500.
	local other="api-sys-$$"
	ds --name="$other" --rootfs="$ROOTFS" --net=none config create >/dev/null
	mkdir -p "$DROIDSPACES_HOME/Logs/$other"
	ln -s /etc/shadow "$DROIDSPACES_HOME/Logs/$other/console"
	expect_error 500 system GET "/api/v1/containers/$other/console"
	[[ $body != *root:* ]]
	rm -rf "$DROIDSPACES_HOME/Logs/$other"
	ds --name="$other" config delete >/dev/null
	# The exec transport's exit status: 1 for 4xx, 2 for 5xx.
	[ "$(exec_to "$SUITE_TMP/exec" GET /api/v1/nothing)" = 1 ]
	[ "$(exec_to "$SUITE_TMP/exec" POST /api/v1/containers '{')" = 1 ]
}

@test "create and edit a config through the API: container.config on disk" {
	local name="api-new-$$" file
	file=$DROIDSPACES_HOME/Containers/$name/container.config
	expect 201 POST /api/v1/containers \
		"{\"name\":\"$name\",\"options\":{\"rootfs\":\"$ROOTFS\",\"net\":\"none\",\"memory\":\"64M\",\"volatile\":true}}"
	diff <(jq -S . <<<"$body") <(ds --name="$name" config show --json | jq -S .)
	grep -qx "rootfs_path=$ROOTFS" "$file"
	grep -qx "net_mode=none" "$file"
	grep -qx "memory_limit=$((64 << 20))" "$file"
	grep -qx "volatile_mode=1" "$file"
	echo "# kept" >>"$file"
	expect 200 PUT "/api/v1/containers/$name" \
		'{"options":{"pids-limit":32,"volatile":false,"bind":["/tmp:/mnt/tmp:ro"]}}'
	[ "$(jq -r .features.pids_limit <<<"$body")" = 32 ]
	grep -qx "pids_limit=32" "$file"
	grep -qx "volatile_mode=0" "$file"
	grep -qx "bind_mounts=/tmp:/mnt/tmp:ro" "$file"
	grep -qx "# kept" "$file"
	# null lifts a limit (the dashboard sends it for an emptied field).
	expect 200 PUT "/api/v1/containers/$name" '{"options":{"memory":null,"pids-limit":null}}'
	[ "$(jq -r .features.memory_limit <<<"$body")" = null ]
	run ! grep -q "^memory_limit=[1-9]" "$file"
	run ! grep -q "^pids_limit=[1-9]" "$file"
	expect 200 PUT "/api/v1/containers/$name" '{"reset":true}'
	run ! grep -q "^memory_limit=" "$file"
	grep -qx "rootfs_path=$ROOTFS" "$file"
	expect_error 400 invalid PUT "/api/v1/containers/$name" '{"options":{"net":"wifi"}}'
	[[ $(jq -r .detail <<<"$body") == *"field 'options.net'"* ]]
	expect_error 400 invalid PUT "/api/v1/containers/$name" '{"colour":"red"}'
	expect 200 DELETE "/api/v1/containers/$name"
	[ ! -e "$file" ]
}

@test "delete keeps the rootfs unless remove_rootfs and confirm are both given" {
	local name="api-del-$$" dir
	dir=$DROIDSPACES_HOME/Containers/$name
	mkdir -p "$dir/rootfs/etc"
	expect 201 POST /api/v1/containers "{\"name\":\"$name\",\"options\":{\"rootfs\":\"$dir/rootfs\"}}"
	expect_error 400 invalid DELETE "/api/v1/containers/$name" '{"remove_rootfs":true}'
	expect_error 400 invalid DELETE "/api/v1/containers/$name" '{"remove_rootfs":true,"confirm":"other"}'
	[ -f "$dir/container.config" ]
	expect 200 DELETE "/api/v1/containers/$name"
	[ "$(jq -r .name <<<"$body")" = "$name" ]
	[ ! -e "$dir/container.config" ]
	[ -d "$dir/rootfs/etc" ]

	expect 201 POST /api/v1/containers "{\"name\":\"$name\",\"options\":{\"rootfs\":\"$dir/rootfs\"}}"
	expect 200 DELETE "/api/v1/containers/$name" "{\"remove_rootfs\":true,\"confirm\":\"$name\"}"
	[ ! -e "$dir/rootfs" ]
	# The running container's config is not deleted.
	ensure_started
	expect_error 409 busy DELETE "/api/v1/containers/$NAME"
	[ -f "$DROIDSPACES_HOME/Containers/$NAME/container.config" ]
}

@test "autostart: PUT persists run_at_boot and run_at_boot_priority as upstream's app writes them" {
	local a="api-boot-a-$$" b="api-boot-b-$$" fa fb
	fa=$DROIDSPACES_HOME/Containers/$a/container.config
	fb=$DROIDSPACES_HOME/Containers/$b/container.config
	expect 201 POST /api/v1/containers "{\"name\":\"$a\",\"options\":{\"net\":\"none\"}}"
	expect 201 POST /api/v1/containers "{\"name\":\"$b\",\"options\":{\"net\":\"none\"}}"
	expect 200 PUT /api/v1/autostart \
		"{\"containers\":[{\"name\":\"$a\",\"run_at_boot\":true,\"priority\":5},
		                  {\"name\":\"$b\",\"run_at_boot\":true,\"priority\":2}]}"
	grep -qx run_at_boot=1 "$fa"
	grep -qx run_at_boot_priority=5 "$fa"
	grep -qx run_at_boot_priority=2 "$fb"
	# Boot order: priority, then name; the others after, by name.
	[ "$(jq -r '[.containers[].name] | join(" ")' <<<"$body")" = "$b $a $NAME" ]
	[ "$(jq -c '.containers[0]' <<<"$body")" = "{\"name\":\"$b\",\"priority\":2,\"run_at_boot\":true}" ]
	expect 200 GET /api/v1/autostart
	[ "$(jq -r '[.containers[].name] | join(" ")' <<<"$body")" = "$b $a $NAME" ]
	[ "$(ds --name="$a" config show --json | jq -r .features.run_at_boot_priority)" = 5 ]
	# A bad entry changes nothing, even after good ones.
	cp "$fa" "$SUITE_TMP/fa.before"
	expect_error 400 invalid PUT /api/v1/autostart \
		"{\"containers\":[{\"name\":\"$a\",\"priority\":1},{\"name\":\"$b\",\"priority\":10000}]}"
	expect_error 404 not_found PUT /api/v1/autostart \
		"{\"containers\":[{\"name\":\"$a\",\"priority\":1},{\"name\":\"ghost-$$\"}]}"
	cmp "$fa" "$SUITE_TMP/fa.before"
	# Off, priority cleared.
	expect 200 PUT /api/v1/autostart "{\"containers\":[{\"name\":\"$a\",\"run_at_boot\":false,\"priority\":null}]}"
	grep -qx run_at_boot=0 "$fa"
	run ! grep -q run_at_boot_priority "$fa"
	ds --name="$a" config delete >/dev/null
	ds --name="$b" config delete >/dev/null
}

@test "start, restart, stop: the show entry plus warnings; stop's name, forced, took_ms" {
	ensure_stopped "$NAME"
	expect 200 POST "/api/v1/containers/$NAME/start" '{}'
	[ "$(jq -r .name <<<"$body")" = "$NAME" ]
	[ "$(jq -r .pid <<<"$body")" = "$(ds --name="$NAME" pid)" ]
	[ "$(jq -r '.monitor_pid | type' <<<"$body")" = number ]
	[ "$(jq -r .net <<<"$body")" = none ]
	[ "$(jq -r '.warnings | type' <<<"$body")" = array ]
	expect_error 409 busy POST "/api/v1/containers/$NAME/start" '{}'
	wait_until 20 ds --name="$NAME" run true
	local old
	old=$(ds --name="$NAME" pid)
	expect 200 POST "/api/v1/containers/$NAME/restart" '{"timeout_seconds":10}'
	[ "$(jq -r .pid <<<"$body")" != "$old" ]
	wait_until 20 ds --name="$NAME" run true
	expect_error 400 invalid POST "/api/v1/containers/$NAME/stop" '{"timeout_seconds":0}'
	expect 200 POST "/api/v1/containers/$NAME/stop" '{"timeout_seconds":10}'
	[ "$(jq -r .name <<<"$body")" = "$NAME" ]
	[ "$(jq -r .forced <<<"$body")" = false ]
	[ "$(jq -r '.took_ms | type' <<<"$body")" = number ]
	[ "$(jq -r '.warnings | type' <<<"$body")" = array ]
	run ! running "$NAME"
	expect_error 404 not_found POST "/api/v1/containers/$NAME/stop" '{}'
}

@test "run: stdout, stderr, exit code; a string is a shell line; output capped; timeout kills" {
	ensure_started
	expect 200 POST "/api/v1/containers/$NAME/run" '{"command":["sh","-c","echo out; echo err >&2; exit 3"]}'
	[ "$(jq -r .exit_code <<<"$body")" = 3 ]
	[ "$(jq -r .stdout <<<"$body")" = out ]
	[ "$(jq -r .stderr <<<"$body")" = err ]
	[ "$(jq -r .truncated <<<"$body")" = false ]
	[ "$(jq -r .error <<<"$body")" = null ]
	expect 200 POST "/api/v1/containers/$NAME/run" '{"command":"echo $((6 * 7)) | cat"}'
	[ "$(jq -r .stdout <<<"$body")" = 42 ]
	[ "$(jq -r .exit_code <<<"$body")" = 0 ]
	expect 200 POST "/api/v1/containers/$NAME/run" '{"command":["no-such-command-here"]}'
	[ "$(jq -r .exit_code <<<"$body")" = 127 ]
	[ "$(jq -r .error <<<"$body")" != null ]
	# 3 MiB on stdout: 1 MiB kept, the rest drained (the command finishes).
	expect 200 POST "/api/v1/containers/$NAME/run" \
		'{"command":["sh","-c","yes | head -c 3145728; echo done >&2"]}'
	[ "$(jq -r .truncated <<<"$body")" = true ]
	[ "$(jq -r '.stdout | length' <<<"$body")" = 1048576 ]
	[ "$(jq -r .stderr <<<"$body")" = "done" ]
	[ "$(jq -r .exit_code <<<"$body")" = 0 ]
	local began=$SECONDS
	expect 200 POST "/api/v1/containers/$NAME/run" '{"command":["sleep","60"],"timeout_seconds":1}'
	((SECONDS - began < 20))
	[ "$(jq -r .exit_code <<<"$body")" = 137 ]
	[[ $(jq -r .error <<<"$body") == *"timed out"* ]]
	# Output closed early, still running: the deadline holds.
	began=$SECONDS
	expect 200 POST "/api/v1/containers/$NAME/run" \
		'{"command":"exec >/dev/null 2>&1; sleep 60","timeout_seconds":1}'
	((SECONDS - began < 20))
	[[ $(jq -r .error <<<"$body") == *"timed out"* ]]
	# A background child holding the pipes does not keep the answer waiting.
	began=$SECONDS
	expect 200 POST "/api/v1/containers/$NAME/run" '{"command":"sleep 30 & echo bg"}'
	((SECONDS - began < 20))
	[ "$(jq -r .stdout <<<"$body")" = bg ]
	[ "$(jq -r .exit_code <<<"$body")" = 0 ]
	expect_error 400 invalid POST "/api/v1/containers/$NAME/run" '{"command":[]}'
	expect_error 400 invalid POST "/api/v1/containers/$NAME/run" '{"command":["true"],"shell":1}'
}

@test "console: the last N lines of the console log" {
	ensure_started
	ds --name="$NAME" run sh -c 'echo api-console-marker >/dev/console'
	wait_until 10 bash -c "grep -q api-console-marker '$DROIDSPACES_HOME/Logs/$NAME/console'"
	expect 200 GET "/api/v1/containers/$NAME/console?lines=5000"
	[ "$(jq -r .name <<<"$body")" = "$NAME" ]
	jq -e '.lines | any(. == "api-console-marker")' <<<"$body"
	expect 200 GET "/api/v1/containers/$NAME/console?lines=1"
	[ "$(jq -r '.lines | length' <<<"$body")" = 1 ]
	expect_error 400 invalid GET "/api/v1/containers/$NAME/console?lines=0"
	expect_error 400 invalid GET "/api/v1/containers/$NAME/console?lines=5001"
	expect_error 400 invalid GET "/api/v1/containers/$NAME/console?lines=many"
}

@test "a held container lock answers 409 at once" {
	ensure_stopped "$NAME"
	local lockfd began
	exec {lockfd}>"$DROIDSPACES_HOME/Pids/$NAME.lock"
	flock -x "$lockfd"
	began=$SECONDS
	expect_error 409 busy POST "/api/v1/containers/$NAME/start" '{}' || { exec {lockfd}>&-; return 1; }
	expect_error 409 busy PUT "/api/v1/containers/$NAME" '{"options":{"pids-limit":10}}' ||
		{ exec {lockfd}>&-; return 1; }
	expect_error 409 busy DELETE "/api/v1/containers/$NAME" || { exec {lockfd}>&-; return 1; }
	exec {lockfd}>&-
	((SECONDS - began < 10))
	# Released: the same edit works.
	expect 200 PUT "/api/v1/containers/$NAME" '{"options":{"pids-limit":10}}'
	expect 200 PUT "/api/v1/containers/$NAME" '{"options":{"pids-limit":4096}}'
}

@test "install (exec transport): synchronous, the done event" {
	local name="api-inst-$$"
	tar -C "$ROOTFS" -cf "$SUITE_TMP/bb.tar" .
	run -0 "$DROIDSPACES_BIN" api POST /api/v1/install \
		"{\"name\":\"$name\",\"source\":\"$SUITE_TMP/bb.tar\"}"
	[ "$(jq -r .event <<<"$output")" = "done" ]
	[ "$(jq -r .name <<<"$output")" = "$name" ]
	[ -f "$DROIDSPACES_HOME/Containers/$name/container.config" ]
	run -1 "$DROIDSPACES_BIN" api POST /api/v1/install \
		"{\"name\":\"$name\",\"source\":\"$SUITE_TMP/bb.tar\"}"
	[ "$(jq -r .error <<<"$output")" = busy ]
	run -1 "$DROIDSPACES_BIN" api POST /api/v1/install '{"name":"x","source":"relative.tar"}'
	[ "$(jq -r .error <<<"$output")" = invalid ]
	ds --name="$name" --purge config delete >/dev/null
}

@test "200 concurrent lists while a container starts and stops: all 200, no fd leak" {
	ensure_stopped "$NAME"
	local before after
	# Warm up (lazily opened files), then count.
	api GET /api/v1/containers >/dev/null
	before=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	seq 200 | xargs -P 50 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 60 \
		-H "Authorization: Bearer $TOKEN" "$BASE/api/v1/containers" >"$SUITE_TMP/codes" &
	local clients=$!
	expect 200 POST "/api/v1/containers/$NAME/start" '{}'
	wait_until 20 ds --name="$NAME" run true
	expect 200 POST "/api/v1/containers/$NAME/stop" '{"timeout_seconds":10}'
	wait "$clients"
	[ "$(wc -l <"$SUITE_TMP/codes")" -eq 200 ]
	[ "$(sort -u "$SUITE_TMP/codes")" = 200 ]
	# Connections the clients closed may take a moment to be closed on the server's side too.
	wait_until 10 bash -c "[ \$(find /proc/$SERVER_PID/fd -mindepth 1 -maxdepth 1 | wc -l) -le $before ]"
	after=$(find "/proc/$SERVER_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	[ "$after" -eq "$before" ]
}
