#!/usr/bin/env bats
# The embedded server's security layers (docs/server.md "Security"), each attacked from outside
# against a real `droidspaces serve`: the token, DNS rebinding (Host), CSRF (Origin), CORS,
# response headers, body and head limits, slow and idle clients, the token's secrecy and the
# default listen addresses. Each test says which guard it proves: without that guard it fails.
# Raw-socket clients (half requests, header floods, idle floods) are small python3 scripts.

# $output and $status come from bats' `run`.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/server
    suite_setup
    server_start
}

teardown_file() {
    load helpers
    load helpers/server
    server_stop
    suite_teardown
}

setup() {
    load helpers
    load helpers/server
}

# The HTTP status of a curl request: status ARGS... (prints the code only).
status() {
    curl -sS -o /dev/null -w '%{http_code}' --max-time 20 "$@"
}

# Response headers of a request (the body discarded), lower-cased names.
headers() {
    curl -sS -o /dev/null -D - --max-time 20 "$@" | tr -d '\r' | sed 's/^\([^:]*\):/\L\1:/'
}

# Succeeds when the command fails (bats ignores a failing `! cmd` that is not last).
not() {
    if "$@"; then return 1; fi
}

# The headers security_headers() puts on every response, in $output (from `headers`).
has_security_headers() {
    grep -q "^content-security-policy: default-src 'self'" <<<"$output"
    grep -q "script-src 'self';" <<<"$output"
    grep -q "frame-ancestors 'self' https://mui.kernelsu.org" <<<"$output"
    not grep -q 'unsafe-inline' <<<"$output"
    grep -qx 'x-content-type-options: nosniff' <<<"$output"
    grep -qx 'referrer-policy: no-referrer' <<<"$output"
}

server_alive() {
    [ "$(status -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/system")" = 200 ]
}

# Guard: the token check (guards layer 4). Without it the API answers 200.
@test "no token: 401 unauthorized" {
    run curl -sS --max-time 20 -w '\n%{http_code}' "$BASE/api/v1/system"
    [ "$status" -eq 0 ]
    [ "$(tail -n1 <<<"$output")" = 401 ]
    [ "$(sed '$d' <<<"$output" | jq -r .error)" = unauthorized ]
    [ "$(status -X POST "$BASE/api/v1/containers/x/start")" = 401 ]
}

# Guard: the token comparison. Without it any Bearer value passes.
@test "wrong token: 401, also a prefix of the right one and another scheme" {
    [ "$(status -H "Authorization: Bearer $(printf '%064d' 0)" "$BASE/api/v1/system")" = 401 ]
    [ "$(status -H "Authorization: Bearer ${TOKEN:0:63}" "$BASE/api/v1/system")" = 401 ]
    [ "$(status -H "Authorization: Bearer ${TOKEN}0" "$BASE/api/v1/system")" = 401 ]
    [ "$(status -H "Authorization: Basic $TOKEN" "$BASE/api/v1/system")" = 401 ]
    [ "$(status -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/system")" = 200 ]
}

# Guard: the token is read from the Authorization header only. A server that also took it from
# the query string answers 200 here (and leaks it into logs and history).
@test "a token in the query string is not accepted" {
    [ "$(status "$BASE/api/v1/system?token=$TOKEN")" = 401 ]
    [ "$(status "$BASE/api/v1/system?access_token=$TOKEN")" = 401 ]
    [ "$(status "$BASE/api/v1/system?authorization=Bearer%20$TOKEN")" = 401 ]
}

# Guard: the Host allowlist (layer 1, DNS rebinding). Without it a page on evil.example that
# rebinds its name to 127.0.0.1 reaches the server (200 on /, 401 on the API, never 421).
@test "a foreign or missing Host is 421, with or without the token" {
    [ "$(status -H "Host: evil.example:$PORT" "$BASE/")" = 421 ]
    [ "$(status -H "Host: evil.example:$PORT" -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v1/system")" = 421 ]
    [ "$(status -H "Host: localhost.evil.com:$PORT" "$BASE/")" = 421 ]
    [ "$(status -H "Host: 127.0.0.1:1" "$BASE/")" = 421 ]
    # curl sends no Host header at all with an empty -H 'Host:'.
    [ "$(status -H 'Host:' "$BASE/")" = 421 ]
    run status -H 'Host:' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/system"
    [ "$output" = 421 ]
    # Our own names pass.
    [ "$(status -H "Host: localhost:$PORT" -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v1/system")" = 200 ]
}

# Guard: Origin on state-changing methods (layer 3, CSRF). Without it the POST reaches the API
# (the token alone would let it through: 2xx/4xx from the route, not 403).
@test "POST with a foreign Origin is 403 even with the token" {
    for origin in http://evil.example null "http://127.0.0.1:$((PORT + 1))" "https://127.0.0.1:$PORT"; do
        run curl -sS --max-time 20 -w '\n%{http_code}' -X POST -H "Origin: $origin" \
            -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
            --data-binary '{"name":"csrf-probe","options":{}}' "$BASE/api/v1/containers"
        [ "$(tail -n1 <<<"$output")" = 403 ] || {
            echo "origin $origin: $output" >&2
            false
        }
        [ "$(sed '$d' <<<"$output" | jq -r .error)" = forbidden_origin ]
    done
    run api GET /api/v1/containers/csrf-probe
    [ "$(api_status)" = 404 ]
    [ "$(status -X DELETE -H 'Origin: http://evil.example' -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v1/containers/x")" = 403 ]
}

# Guard: CORS preflight (layer 2). Without it a foreign preflight gets 2xx and the allow
# headers, and the browser sends the real request.
@test "a preflight from a foreign origin is 403 without Access-Control-Allow-Origin" {
    run headers -X OPTIONS -H 'Origin: http://evil.example' \
        -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: authorization, content-type' \
        "$BASE/api/v1/containers"
    [[ "$output" == "HTTP/1.1 403"* ]]
    not grep -qi '^access-control-allow' <<<"$output"
}

# Guard: CORS preflight for the WebUI origin. Without it KernelSU/MMRL module pages could not
# call the API; with "*" any page could read the answers.
@test "a preflight from https://mui.kernelsu.org is 204 echoing the origin, never *" {
    run headers -X OPTIONS -H 'Origin: https://mui.kernelsu.org' \
        -H 'Access-Control-Request-Method: POST' \
        -H 'Access-Control-Request-Headers: authorization, content-type' \
        -H 'Access-Control-Request-Private-Network: true' \
        "$BASE/api/v1/containers"
    [[ "$output" == "HTTP/1.1 204"* ]]
    grep -qx 'access-control-allow-origin: https://mui.kernelsu.org' <<<"$output"
    grep -qx 'access-control-allow-private-network: true' <<<"$output"
    grep -qi '^access-control-allow-headers:.*authorization' <<<"$output"
    not grep -q 'access-control-allow-origin: \*' <<<"$output"
    # Not asked, not given.
    run headers -X OPTIONS -H 'Origin: https://mui.kernelsu.org' \
        -H 'Access-Control-Request-Method: GET' "$BASE/api/v1/system"
    [[ "$output" == "HTTP/1.1 204"* ]]
    not grep -qi '^access-control-allow-private-network' <<<"$output"
    # The real request from that origin carries the CORS header too.
    run headers -H 'Origin: https://mui.kernelsu.org' -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v1/system"
    grep -qx 'access-control-allow-origin: https://mui.kernelsu.org' <<<"$output"
}

# Guard: the response headers (security_headers). Without them a page is frameable by anyone and
# inline script runs.
@test "CSP, nosniff and no-referrer on / and on /api; the API is not cached" {
    run headers "$BASE/"
    has_security_headers
    run headers -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/system"
    has_security_headers
    run headers "$BASE/api/v1/system"  # a 401 carries them too
    has_security_headers
    run headers -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/system"
    grep -qx 'cache-control: no-store' <<<"$output"
    # An exception's text never becomes a header (httplib's EXCEPTION_WHAT).
    not grep -qi '^exception_what' <<<"$output"
}

# Guard: the JSON body cap (layer 5). Without it the server reads 2 MiB into memory and the
# route answers (400 invalid or 201), not 413.
@test "a body over 1 MiB on a JSON route is 413, and the server stays up" {
    head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$SUITE_TMP/big.json"
    run curl -sS --max-time 20 -w '\n%{http_code}' -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' --data-binary @"$SUITE_TMP/big.json" \
        "$BASE/api/v1/containers"
    [ "$(tail -n1 <<<"$output")" = 413 ]
    [ "$(sed '$d' <<<"$output" | jq -r .error)" = too_large ]
    # A chunked body on a JSON route: 411 (its size is not known from the head).
    [ "$(status -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -H 'Transfer-Encoding: chunked' --data-binary '{}' "$BASE/api/v1/containers")" = 411 ]
    server_alive
}

# Guard: the head byte cap (HttpLimits::max_head_bytes). Without it httplib reads all 2000
# headers and answers 200.
@test "2000 headers are rejected and the server stays up" {
    run python3 - "$PORT" <<'EOF'
import socket, sys
port = int(sys.argv[1])
head = "GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
head += "".join("X-Flood-%d: %s\r\n" % (i, "y" * 20) for i in range(2000)) + "\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(head.encode())
except OSError:
    pass
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print((data.split(b"\r\n", 1)[0] or b"closed").decode())
EOF
    [ "$status" -eq 0 ]
    [[ "$output" != *" 200"* ]]
    server_alive
}

# Guard: the head deadline (HttpLimits::head_timeout). Without it the stalled client below holds
# its thread forever; the disconnecting one must not crash or wedge the server either.
@test "half requests: one that disconnects and one that stalls; the server keeps answering" {
    run python3 - "$PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
half = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Half: " % port
a = socket.create_connection(("127.0.0.1", port), timeout=10)
a.sendall(half)
a.close()
b = socket.create_connection(("127.0.0.1", port), timeout=20)
b.sendall(half)
# While b stalls, a normal request is answered at once.
c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % port)
print(c.recv(64).split(b"\r\n", 1)[0].decode())
# The stalled one is dropped at the head deadline (10 s by default), well before 20 s.
start = time.monotonic()
try:
    dropped = b.recv(65536) is not None
except socket.timeout:
    dropped = False
except OSError:
    dropped = True
print("dropped" if dropped else "held", round(time.monotonic() - start))
EOF
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "HTTP/1.1 200 OK" ]
    [[ "${lines[1]}" == dropped* ]]
    server_alive
}

# Guard: the connection cap with idle eviction (HttpLimits::max_connections). Without a cap the
# server makes 300 threads; without the eviction the real request waits behind the idle sockets
# for more than the head deadline (10 s).
@test "300 idle connections: a normal request is still answered within the head deadline" {
    run python3 - "$PORT" "$TOKEN" <<'EOF'
import socket, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(300)]
start = time.monotonic()
c = socket.create_connection(("127.0.0.1", port), timeout=30)
c.sendall(("GET /api/v1/system HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Authorization: Bearer %s\r\nConnection: close\r\n\r\n" % (port, token)).encode())
line = c.recv(64).split(b"\r\n", 1)[0].decode()
print(line)
print(round(time.monotonic() - start, 1))
for s in idle:
    s.close()
EOF
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "HTTP/1.1 200 OK" ]
    awk -v t="${lines[1]}" 'BEGIN { exit !(t < 10) }'
    server_alive
}

# Guard: the log never carries the token (log lines are "METHOD /path STATUS ms": no query, no
# header). Runs after the query-string and wrong-token tests above, and makes its own requests.
@test "the token never appears in the server's log" {
    curl -sS -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/system"
    curl -sS -o /dev/null -H "Authorization: Bearer ${TOKEN%?}x" "$BASE/api/v1/system"
    curl -sS -o /dev/null "$BASE/api/v1/system?token=$TOKEN"
    wait_until 5 grep -q '/api/v1/system' "$SUITE_TMP/server.out"
    # stdout's one "Dashboard: ...#token=" line is for the user; nothing else may hold it.
    run grep -v '^Dashboard: ' "$SUITE_TMP/server.out"
    [[ "$output" != *"$TOKEN"* ]]
    [[ "$output" != *"${TOKEN%?}x"* ]]
    [[ "$output" != *"token="* ]]
    grep -c '^Dashboard: ' "$SUITE_TMP/server.out" | grep -qx 1
}

# Guard: the token file's mode. 0644 would hand the API (root) to every local app.
@test "the token file is 0600 root and holds 64 hex digits" {
    [ "$(stat -c '%a %U %G' "$DROIDSPACES_HOME/droidspacesd.token")" = "600 root root" ]
    grep -qxE '[0-9a-f]{64}' "$DROIDSPACES_HOME/droidspacesd.token"
    [ "$(stat -c '%a' "$DROIDSPACES_HOME/droidspacesd.json")" = 600 ]
}

# Guard: the default listen addresses. Listening on 0.0.0.0 or :: by default exposes the API to
# the network.
@test "by default the server listens on loopback only" {
    run ss -ltnpH
    [ "$status" -eq 0 ]
    local mine
    mine=$(grep "pid=$SERVER_PID," <<<"$output" | awk '{ print $4 }')
    [ -n "$mine" ]
    echo "$mine" >&2
    while read -r addr; do
        [ "$addr" = "127.0.0.1:$PORT" ] || [ "$addr" = "[::1]:$PORT" ]
    done <<<"$mine"
    grep -qx "127.0.0.1:$PORT" <<<"$mine"
}

# Guard: the warning for a non-loopback --listen. Without it the user is not told that the API
# is reachable from the network.
@test "--listen 0.0.0.0 prints a warning" {
    local home=$SUITE_TMP/home-wildcard out=$SUITE_TMP/wildcard.out pid
    mkdir -p "$home"
    DROIDSPACES_HOME=$home "$DROIDSPACES_BIN" serve --port 0 --listen 0.0.0.0 >"$out" 2>&1 &
    pid=$!
    wait_until 15 test -s "$home/droidspacesd.json" || {
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" || true
        cat "$out" >&2
        false
    }
    kill -TERM "$pid"
    wait "$pid" || true
    cat "$out" >&2
    grep -q '^\[!\] listening on 0\.0\.0\.0: every device that can reach this address' "$out"
    # The URL still points at loopback: the wildcard covers it.
    grep -q '^Dashboard: http://127\.0\.0\.1:' "$out"
}
