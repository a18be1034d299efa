#!/usr/bin/env bash
# The server's figures (issue 9): request latency p50/p99 of list and info over HTTP with COUNT
# (10) running busybox containers, against the same documents through the exec transport
# (`droidspaces api`, what the KernelSU WebUI's ksu.exec runs) and the CLI (`show --all
# --json`); the server's idle RSS, and its peak RSS while a 1 GB upload streams to disk.
#
# Environment: DROIDSPACES_BIN (default build/droidspaces), COUNT, SAMPLES, UPLOAD_MB. Root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${DROIDSPACES_BIN:-$ROOT/build/droidspaces}
COUNT=${COUNT:-10}
SAMPLES=${SAMPLES:-300}
UPLOAD_MB=${UPLOAD_MB:-1024}
TAG="srv-$$"
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"

WORK=$(mktemp -d /tmp/ds-server-bench.XXXXXX)
export DROIDSPACES_HOME="$WORK/home"
mkdir -p "$DROIDSPACES_HOME"
ds() { timeout --foreground -k 5 120 "$B" "$@"; }
SERVER_PID=

names() {
    local i
    for i in $(seq 1 "$COUNT"); do printf '%s-%02d\n' "$TAG" "$i"; done
}

cleanup() {
    [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    ds --name="$(names | paste -sd,)" stop --timeout=10 >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

line=$("$ROOT/tests/fixtures/build.sh" busybox)
FIXTURE=${line#*=}
for n in $(names); do
    mkdir -p "$WORK/$n"
    cp -a --reflink=auto "$FIXTURE" "$WORK/$n/rootfs"
    ds --name="$n" --rootfs="$WORK/$n/rootfs" --net=none start >/dev/null
done
log "$COUNT containers running"

"$B" serve --port 0 >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do [ -s "$DROIDSPACES_HOME/droidspacesd.json" ] && break; sleep 0.05; done
PORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["port"])' "$DROIDSPACES_HOME/droidspacesd.json")
TOKEN=$(cat "$DROIDSPACES_HOME/droidspacesd.token")
first=$(names | head -1)
start_rss=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status")

# Latency over one keep-alive connection, as the dashboard's fetch does: p50 and p99 in ms.
http_latency() {
    python3 - "$PORT" "$TOKEN" "$1" "$SAMPLES" <<'PY'
import http.client, sys, time
port, token, path, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"Authorization": "Bearer " + token}
t = []
for i in range(n + 10):
    s = time.perf_counter()
    c.request("GET", path, headers=h)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
    if i >= 10: t.append((time.perf_counter() - s) * 1000)
t.sort()
print("%.2f %.2f" % (t[len(t) // 2], t[int(len(t) * 0.99) - 1]))
PY
}

# The same through a fresh process per call (exec transport, CLI): p50 and p99 in ms.
exec_latency() {
    local f=$WORK/exec.txt i a b
    : >"$f"
    for i in $(seq 1 $((SAMPLES / 3))); do
        stamp a
        "$@" >/dev/null
        stamp b
        echo $((b - a)) >>"$f"
    done
    sort -n "$f" | awk '{a[NR]=$1} END {printf "%.2f %.2f\n", a[int((NR+1)/2)]/1000, a[int(NR*0.99)]/1000}'
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

read -r list50 list99 < <(http_latency /api/v1/containers)
read -r info50 info99 < <(http_latency "/api/v1/containers/$first")
read -r xlist50 xlist99 < <(exec_latency "$B" api GET /api/v1/containers)
read -r xinfo50 xinfo99 < <(exec_latency "$B" api GET "/api/v1/containers/$first")
read -r cli50 cli99 < <(exec_latency "$B" show --all --json)
idle=$(rss_kb)

# 1 GB upload of zeros named .tar: the server streams it to disk; the installer then refuses it
# (not a tarball), which is fine: the figure is the server's peak RSS while it arrived.
before_hwm=$(hwm_kb)
head -c $((UPLOAD_MB * 1024 * 1024)) /dev/zero |
    curl -sS -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/x-tar' \
        -T - -X POST "http://127.0.0.1:$PORT/api/v1/install?name=upload-bench&filename=big.tar" || true
upload_hwm=$(hwm_kb)

echo "| figure | value | peer | ratio |"
echo "|---|---|---|---|"
echo "| list p50 / p99, HTTP, $COUNT running | $list50 / $list99 ms | exec transport $xlist50 / $xlist99 ms | $(ratio "$list50" "$xlist50") |"
echo "| list p50, HTTP vs CLI show --all --json | $list50 ms | $cli50 ms | $(ratio "$list50" "$cli50") |"
echo "| info p50 / p99, HTTP | $info50 / $info99 ms | exec transport $xinfo50 / $xinfo99 ms | $(ratio "$info50" "$xinfo50") |"
echo "| server idle RSS: fresh / after the latency runs | $start_rss / $idle kB | | |"
echo "| server peak RSS during a $UPLOAD_MB MB upload | $upload_hwm kB (before: $before_hwm kB) | | |"
