#!/usr/bin/env bats
# The server's life: `serve` in the foreground and `daemon` detached, one per workspace, their
# files (token, state, pidfile, log) and their removal, `daemon --status` and `--stop`; the exec
# transport `droidspaces api` (exit status from the HTTP status); `./build.sh demo` and
# `./build.sh demo stop`.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    suite_setup
}

teardown_file() {
    load helpers
    load helpers/server
    "$DROIDSPACES_BIN" daemon --stop >/dev/null 2>&1 || true
    server_stop || true
    suite_teardown
}

setup() {
    load helpers
    load helpers/server
}

teardown() {
    "$DROIDSPACES_BIN" daemon --stop >/dev/null 2>&1 || true
    server_stop || true
}

@test "serve: prints the URL with the token in the fragment; token and state files are root-only" {
    server_start
    grep -qx "Dashboard: http://127.0.0.1:$PORT/#token=$TOKEN" "$SUITE_TMP/server.out"
    [[ $TOKEN =~ ^[0-9a-f]{64}$ ]]
    [ "$(stat -c %a "$DROIDSPACES_HOME/droidspacesd.token")" = 600 ]
    [ "$(stat -c %a "$DROIDSPACES_HOME/droidspacesd.json")" = 600 ]
    [ "$(jq -r .pid "$DROIDSPACES_HOME/droidspacesd.json")" = "$SERVER_PID" ]
    # The state file names no secret.
    ! grep -q "$TOKEN" "$DROIDSPACES_HOME/droidspacesd.json"
}

@test "serve: a new start makes a new token; SIGTERM removes token and state" {
    server_start
    local first=$TOKEN
    server_stop
    [ ! -e "$DROIDSPACES_HOME/droidspacesd.token" ]
    [ ! -e "$DROIDSPACES_HOME/droidspacesd.json" ]
    server_start
    [ "$TOKEN" != "$first" ]
    # The old token no longer opens anything.
    run curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $first" "$BASE/api/v1/system"
    [ "$output" = 401 ]
}

@test "serve: a second server for the same workspace refuses, naming the first" {
    server_start
    run -1 "$DROIDSPACES_BIN" serve --port 0
    [[ $output == *"already runs for this workspace (PID $SERVER_PID"* ]]
    run -1 "$DROIDSPACES_BIN" daemon --port 0
    [[ $output == *"already runs"* ]]
    # The first one still answers.
    run api GET /api/v1/system
    [ "$(api_status)" = 200 ]
}

@test "serve: a port in use is one clear error naming the address" {
    server_start
    local used=$PORT
    local home2=$SUITE_TMP/home2
    mkdir -p "$home2"
    run -2 env DROIDSPACES_HOME="$home2" "$DROIDSPACES_BIN" serve --port "$used"
    [[ $output == *"127.0.0.1:$used"* ]]
    [[ $output == *"in use"* ]]
    [ ! -e "$home2/droidspacesd.token" ]
}

@test "serve: --port must be a port number" {
    run -1 "$DROIDSPACES_BIN" serve --port 70000
    [[ $output == *"--port '70000': expected a port number 0..65535"* ]]
    run -1 "$DROIDSPACES_BIN" serve --port web
    [[ $output == *"--port 'web'"* ]]
    run -1 "$DROIDSPACES_BIN" serve --memory 1G
    [[ $output == *"'--memory' does not apply to 'serve'"* ]]
}

@test "daemon: detaches, logs to the workspace, --status and --stop" {
    run -0 "$DROIDSPACES_BIN" daemon --port 0
    [[ $output =~ Dashboard:\ http://127\.0\.0\.1:([0-9]+)/#token=([0-9a-f]{64}) ]]
    local port=${BASH_REMATCH[1]} token=${BASH_REMATCH[2]}
    local pid
    pid=$(jq -r .pid "$DROIDSPACES_HOME/droidspacesd.json")
    # Detached: another session than this shell's, and no terminal.
    [ "$(ps -o sid= -p "$pid" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
    [ "$(ps -o tty= -p "$pid" | tr -d ' ')" = "?" ]
    run -0 curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/system"
    [ "$(jq -r .version <<<"$output")" != null ]
    run -0 "$DROIDSPACES_BIN" daemon --status --json
    [ "$(jq -r .running <<<"$output")" = true ]
    [ "$(jq -r .pid <<<"$output")" = "$pid" ]
    [ "$(jq -r .url <<<"$output")" = "http://127.0.0.1:$port/#token=$token" ]
    # Its requests are in its log, without the token.
    grep -q "GET /api/v1/system 200" "$DROIDSPACES_HOME/Logs/droidspacesd.log"
    ! grep -q "$token" "$DROIDSPACES_HOME/Logs/droidspacesd.log"
    run -0 "$DROIDSPACES_BIN" daemon --stop
    ! kill -0 "$pid" 2>/dev/null
    [ ! -e "$DROIDSPACES_HOME/droidspacesd.token" ]
    run -1 "$DROIDSPACES_BIN" daemon --status
    [ "$output" = "not running" ]
    run -1 "$DROIDSPACES_BIN" daemon --stop
    [[ $output == *"no server runs"* ]]
}

@test "daemon: a failure to listen is reported by the command that asked" {
    server_start
    local home2=$SUITE_TMP/home3
    mkdir -p "$home2"
    run -2 env DROIDSPACES_HOME="$home2" "$DROIDSPACES_BIN" daemon --port "$PORT"
    [[ $output == *"127.0.0.1:$PORT"* ]]
    run -1 env DROIDSPACES_HOME="$home2" "$DROIDSPACES_BIN" daemon --status
}

@test "api: the router in-process, exit status from the HTTP status" {
    run -0 "$DROIDSPACES_BIN" api GET /api/v1/system
    [ "$(jq -r .version <<<"$output")" != null ]
    run -1 "$DROIDSPACES_BIN" api GET /api/v1/containers/nosuch
    [ "$(jq -r .error <<<"$output")" = not_found ]
    [[ $(jq -r .detail <<<"$output") == *nosuch* ]]
    run -1 "$DROIDSPACES_BIN" api GET /api/v1/nosuch
    run -1 "$DROIDSPACES_BIN" api POST /api/v1/containers '{"name": 5'
    [ "$(jq -r .error <<<"$output")" = invalid ]
    run -1 "$DROIDSPACES_BIN" api FETCH /api/v1/system
    [[ $output == *"method 'FETCH'"* ]]
    run -1 "$DROIDSPACES_BIN" api GET api/v1/system
    [[ $output == *"expected an absolute path"* ]]
}

@test "api: the same bytes as the server for GETs" {
    server_start
    local path
    for path in /api/v1/containers /api/v1/check /api/v1/autostart /api/v1/containers/nosuch; do
        local http exec
        http=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE$path")
        exec=$("$DROIDSPACES_BIN" api GET "$path") || true
        [ "$http" = "$exec" ] || {
            echo "differs for $path: $http vs $exec"
            return 1
        }
    done
}

@test "demo: ./build.sh demo boots, serves and prints the URL; demo stop removes it all" {
    local home=$SUITE_TMP/demo-home port
    suite_track_dir "$home"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    run -0 env DEMO_HOME="$home" DEMO_PORT="$port" BUILD_DIR="$(dirname "$DROIDSPACES_BIN")" \
        "$REPO_ROOT/build.sh" demo
    [[ $output == *"demo 5/5"* ]]
    [[ $output == *"Dashboard: http://127.0.0.1:$port/#token="* ]]
    local token
    token=$(cat "$home/droidspacesd.token")
    run -0 curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/containers"
    [ "$(jq -r '.[] | select(.name == "demo") | .state' <<<"$output")" = RUNNING ]
    run -0 env DEMO_HOME="$home" BUILD_DIR="$(dirname "$DROIDSPACES_BIN")" "$REPO_ROOT/build.sh" demo stop
    [ ! -e "$home" ]
    ! grep -qF "$home" /proc/self/mountinfo
    run curl -s -o /dev/null "http://127.0.0.1:$port/"
    [ "$status" -ne 0 ]
}

@test "serve: a POST without a body (no Content-Length) is answered at once, not after a stall" {
    server_start
    # httplib alone would read such a body until the connection closes (30 s here).
    run -0 curl -sS --max-time 5 -X POST -H "Authorization: Bearer $TOKEN" \
        -w '\n%{http_code}' "$BASE/api/v1/containers/nosuch/start"
    [ "$(tail -n1 <<<"$output")" = 404 ]
    [ "$(head -n1 <<<"$output" | jq -r .error)" = not_found ]
}
