#!/usr/bin/env bats
# The server's live routes (server/streams.hpp) against a real `droidspaces serve`: web terminals
# (input, output, resize, end when the client goes away), install from a path and from an
# upload streamed to disk (progress events, small server memory, cancel), console follow, the
# stream cap and the end of every stream when the server stops.

bats_require_minimum_version 1.5.0

setup_file() {
    load helpers
    load helpers/server
    suite_setup
    ROOTFS=$(fixture_copy busybox "$SUITE_TMP/bb")
    export ROOTFS
    export NAME="str-$$"
    ds --name="$NAME" --rootfs="$ROOTFS" --net=none start
    # The fixture as a tarball, for the installs.
    tar -C "$ROOTFS" -cf "$SUITE_TMP/bb.tar" .
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
    SSE=(timeout -k 5 90 python3 "$REPO_ROOT/tests/helpers/sse_client.py" --timeout 60)
    STARTED=()
}

teardown() {
    local pid
    for pid in "${STARTED[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

# A background command whose PID teardown ends.
spawn() {
    "$@" &
    STARTED+=($!)
}

# PID $1 ended: no such process, or a zombie not reaped yet (our own background children).
gone() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [ "${stat%% *}" = Z ]
}

uploads_empty() {
    [ -z "$(ls -A "$DROIDSPACES_HOME/.uploads" 2>/dev/null)" ]
}

# No container directory and no install staging dir for name $1.
nothing_installed() {
    ! ls -A "$DROIDSPACES_HOME/Containers" | grep -q -- "$1"
}

@test "terminal: typed input runs in the container and its output comes back" {
    run "${SSE[@]}" terminal "$NAME" -e 'send echo h""i-$((6*7))\r' -e 'expect \nhi-42\r?\n' \
        -e 'send exit\r' -e wait-exit
    echo "$output"
    [ "$status" -eq 0 ]
    [[ $output == *"exit 0"* ]]
}

@test "terminal: a resize is seen inside (stty size)" {
    run "${SSE[@]}" terminal "$NAME" -e 'send stty size\r' -e 'expect 24 80' \
        -e 'resize 40 120' -e 'send stty size\r' -e 'expect 40 120' -e delete
    echo "$output"
    [ "$status" -eq 0 ]
}

@test "terminal: a window size outside 1..1000 is refused (400)" {
    run api POST "/api/v1/containers/$NAME/terminal" '{}'
    [ "$(api_status)" = 201 ]
    local id
    id=$(api_body | jq -r .id)
    run api POST "/api/v1/containers/$NAME/terminal/$id/resize" '{"rows":0,"cols":80}'
    [ "$(api_status)" = 400 ]
    run api POST "/api/v1/containers/$NAME/terminal/$id/resize" '{"rows":24,"cols":1001}'
    [ "$(api_status)" = 400 ]
    run api DELETE "/api/v1/containers/$NAME/terminal/$id"
    [ "$(api_status)" = 200 ]
}

@test "terminal: one reader at a time (409 for a second), and closing the stream kills the shell" {
    # Guard proved: a session ends when its output stream's client goes away, so no shell is
    # left behind by a closed browser tab (without it the PID would live on).
    run api POST "/api/v1/containers/$NAME/terminal" '{}'
    [ "$(api_status)" = 201 ]
    local id pid
    id=$(api_body | jq -r .id)
    pid=$(api_body | jq -r .pid)
    kill -0 "$pid"
    spawn curl -sS -N -H "Authorization: Bearer $TOKEN" -o "$BATS_TEST_TMPDIR/out" \
        "$BASE/api/v1/containers/$NAME/terminal/$id"
    local reader=${STARTED[-1]}
    wait_until 10 grep -q '^event: output' "$BATS_TEST_TMPDIR/out"
    run api GET "/api/v1/containers/$NAME/terminal/$id"
    [ "$(api_status)" = 409 ]
    kill "$reader"
    # The next write to the closed stream fails: at the latest at the 15 s keep-alive.
    wait_until 40 gone "$pid"
    run api POST "/api/v1/containers/$NAME/terminal/$id/input" '{"data":"x"}'
    [ "$(api_status)" = 404 ]
}

@test "terminal: a session nobody attaches to ends after 30 s" {
    # Guard proved: an opened but never read terminal does not keep a shell alive forever.
    run api POST "/api/v1/containers/$NAME/terminal" '{}'
    [ "$(api_status)" = 201 ]
    local pid
    pid=$(api_body | jq -r .pid)
    kill -0 "$pid"
    # Not before the attach window (30 s) has passed.
    run wait_until 25 gone "$pid"
    [ "$status" -ne 0 ]
    wait_until 15 gone "$pid"
}

@test "install from a path: job, step and progress events, then done" {
    run "${SSE[@]}" stream /api/v1/install --method POST --content-type application/json \
        --data "{\"name\":\"$NAME-path\",\"source\":\"$SUITE_TMP/bb.tar\"}" --until done
    echo "$output"
    [ "$status" -eq 0 ]
    [[ ${lines[0]} =~ ^job\ \{\"id\":\"[0-9a-f]{32}\"\}$ ]]
    grep -q '^step .*"step":"extract"' <<<"$output"
    grep -q '^progress .*"percent":100' <<<"$output"
    [ "$(tail -n1 <<<"$output" | cut -d' ' -f2- | jq -r .name)" = "$NAME-path" ]
    [ -f "$DROIDSPACES_HOME/Containers/$NAME-path/container.config" ]
}

@test "install: a name that exists is busy (409) before any stream starts" {
    run api POST /api/v1/install "{\"name\":\"$NAME-path\",\"source\":\"$SUITE_TMP/bb.tar\"}"
    [ "$(api_status)" = 409 ]
}

@test "upload: the busybox tarball streams to disk, installs, and the container starts" {
    run curl -sS -N -X POST -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/x-tar' --data-binary "@$SUITE_TMP/bb.tar" \
        "$BASE/api/v1/install?name=$NAME-up&filename=bb.tar"
    echo "$output"
    [ "$status" -eq 0 ]
    grep -q '^event: job' <<<"$output"
    grep -q '^event: progress' <<<"$output"
    grep -q '^event: done' <<<"$output"
    uploads_empty
    ds --name="$NAME-up" --net=none start
    [ "$(ds --name="$NAME-up" run echo booted)" = booted ]
    ds --name="$NAME-up" stop
}

@test "upload: a bad name is refused (400) before the body is read" {
    run curl -sS -X POST -H "Authorization: Bearer $TOKEN" -w '\nHTTP %{http_code}\n' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$SUITE_TMP/bb.tar" \
        "$BASE/api/v1/install?name=.evil"
    [ "$(api_status)" = 400 ]
    uploads_empty
}

@test "upload: a Content-Length over the limit is refused (413) without reading the body" {
    # Guard proved: the size check runs on the header, before the body. Without it the server
    # would wait for 64 GiB that never come and curl would time out instead of seeing 413.
    run curl -sS -X POST -H "Authorization: Bearer $TOKEN" -w '\nHTTP %{http_code}\n' \
        --max-time 10 -H 'Content-Type: application/octet-stream' -H 'Expect:' \
        -H "Content-Length: $((64 * 1024 * 1024 * 1024 + 1))" --data-binary 'x' \
        "$BASE/api/v1/install?name=$NAME-huge"
    echo "$output"
    [ "$(api_status)" = 413 ]
    [ "$(api_body | jq -r .error)" = too_large ]
    uploads_empty
}

@test "upload of ~300 MB keeps the server small; DELETE cancels mid-way and leaves nothing" {
    # A 300 MB file of zeros in the busybox rootfs; the tarball itself is kept sparse on disk.
    local big=$SUITE_TMP/big
    mkdir -p "$big"
    cp -a "$ROOTFS" "$big/rootfs"
    truncate -s 300M "$big/rootfs/zeros"
    tar -C "$big/rootfs" -cf - . | cp --sparse=always /dev/stdin "$big.tar"
    rm -rf "$big"
    local out=$BATS_TEST_TMPDIR/big.out
    spawn curl -sS -N -X POST -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$big.tar" \
        "$BASE/api/v1/install?name=$NAME-big" -o "$out"
    local client=${STARTED[-1]}
    wait_until 60 grep -q '"id"' "$out"
    # The body went to disk as it arrived: the server never held it.
    local hwm
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
    echo "VmHWM ${hwm} kB"
    [ "$hwm" -lt $((100 * 1024)) ]
    local id
    id=$(grep -o '"id":"[0-9a-f]*"' "$out" | head -n1 | cut -d'"' -f4)
    run api DELETE "/api/v1/install/$id"
    [ "$(api_status)" = 202 ]
    wait "$client" || true
    cat "$out"
    grep -q '^event: error' "$out"
    run grep -c '^event: done' "$out"
    [ "$output" = 0 ]
    wait_until 10 uploads_empty
    nothing_installed "$NAME-big"
    rm -f "$big.tar"
}

@test "install: a client that goes away cancels the install and nothing is left" {
    local big=$SUITE_TMP/big2
    mkdir -p "$big"
    cp -a "$ROOTFS" "$big/rootfs"
    truncate -s 300M "$big/rootfs/zeros"
    tar -C "$big/rootfs" -cf - . | cp --sparse=always /dev/stdin "$big.tar"
    rm -rf "$big"
    local out=$BATS_TEST_TMPDIR/gone.out
    spawn curl -sS -N -X POST -H "Authorization: Bearer $TOKEN" \
        -H 'Content-Type: application/json' \
        --data "{\"name\":\"$NAME-gone\",\"source\":\"$big.tar\"}" "$BASE/api/v1/install" -o "$out"
    wait_until 30 grep -q '^event: step' "$out"
    kill "${STARTED[-1]}"
    # Noticed at the next event or keep-alive; the installer then cleans up.
    wait_until 40 nothing_installed "$NAME-gone"
    rm -f "$big.tar"
}

@test "console follow: the tail, then a line written to /dev/console, then end at stop" {
    local name=$NAME-con
    mkdir -p "$SUITE_TMP/con"
    cp -a "$ROOTFS" "$SUITE_TMP/con/rootfs"
    ds --name="$name" --rootfs="$SUITE_TMP/con/rootfs" --net=none start
    wait_until 10 grep -q 'boot complete' "$DROIDSPACES_HOME/Logs/$name/console"
    local out=$BATS_TEST_TMPDIR/follow.out client
    "${SSE[@]}" stream "/api/v1/containers/$name/console?follow=1&lines=5" --until end >"$out" &
    client=$!
    STARTED+=("$client")
    wait_until 10 grep -q 'boot complete' "$out"
    ds --name="$name" run sh -c 'echo followed-line > /dev/console'
    wait_until 10 grep -q 'followed-line' "$out"
    ds --name="$name" stop
    wait "$client"
    cat "$out"
    [ "$(tail -n1 "$out")" = "end {}" ]
    # Without follow=1 the JSON tail answers.
    run api GET "/api/v1/containers/$name/console?lines=5"
    [ "$(api_status)" = 200 ]
}

@test "33 streams: the 33rd gets 503; server stop ends all of them and the terminal's shell" {
    # Last test: it stops the server.
    local i
    for i in $(seq 32); do
        spawn curl -sS -N -H "Authorization: Bearer $TOKEN" -o "$BATS_TEST_TMPDIR/s$i" \
            "$BASE/api/v1/containers/$NAME/console?follow=1&lines=1"
    done
    local -a followers=("${STARTED[@]}")
    for i in $(seq 32); do
        wait_until 20 grep -q '^event: console' "$BATS_TEST_TMPDIR/s$i"
    done
    run api GET "/api/v1/containers/$NAME/console?follow=1&lines=1"
    [ "$(api_status)" = 503 ]
    [ "$(api_body | jq -r .error)" = unavailable ]
    # A terminal nobody reads: stopping the server ends it too.
    run api POST "/api/v1/containers/$NAME/terminal" '{}'
    [ "$(api_status)" = 201 ]
    local pid
    pid=$(api_body | jq -r .pid)
    kill -0 "$pid"
    server_stop
    local p
    for p in "${followers[@]}"; do
        wait_until 10 gone "$p"
    done
    wait_until 10 gone "$pid"
}
