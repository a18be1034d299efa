# Helpers for the server suites (tests/9*-server-*.bats). Load after helpers:
#   load helpers
#   load helpers/server
#
# server_start [ARGS...]   runs `droidspaces serve --port 0 ARGS...` in the background with the
#                          suite's DROIDSPACES_HOME; sets SERVER_PID, PORT, TOKEN, BASE
#                          (http://127.0.0.1:PORT) once the server listens.
# server_stop              SIGTERM, waits for it to exit (deadline), fails if it did not.
# api METHOD PATH [BODY]   curl with the token and Host; prints the body, then a last line
#                          "HTTP <status>"; extra curl arguments in API_CURL_ARGS (array).

server_start() {
    local out=$SUITE_TMP/server.out
    rm -f "$DROIDSPACES_HOME/droidspacesd.json"
    "$DROIDSPACES_BIN" serve --port 0 "$@" >"$out" 2>&1 &
    SERVER_PID=$!
    wait_until 15 test -s "$DROIDSPACES_HOME/droidspacesd.json" || {
        cat "$out" >&2
        return 1
    }
    PORT=$(jq -r .port "$DROIDSPACES_HOME/droidspacesd.json")
    TOKEN=$(cat "$DROIDSPACES_HOME/droidspacesd.token")
    BASE=http://127.0.0.1:$PORT
    export SERVER_PID PORT TOKEN BASE
}

server_stop() {
    [ -n "${SERVER_PID:-}" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            kill -KILL "$SERVER_PID" 2>/dev/null || true
            echo "server $SERVER_PID did not stop on SIGTERM" >&2
            SERVER_PID=
            return 1
        fi
        sleep 0.05
    done
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}

api() {
    local method=$1 path=$2 body=${3-}
    local -a args=(-sS -X "$method" -H "Authorization: Bearer $TOKEN" --max-time 60
        -w '\nHTTP %{http_code}\n' "${API_CURL_ARGS[@]}")
    [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
    curl "${args[@]}" "$BASE$path"
}

# The status of the last `api` output in $output ("HTTP 200" line).
api_status() {
    tail -n1 <<<"$output" | sed 's/^HTTP //'
}

# The body of the last `api` output in $output.
api_body() {
    sed '$d' <<<"$output"
}
