#!/usr/bin/env bash
# The one entry point for building and testing Droidspaces.
#
#   ./build.sh            build the static binary into build/droidspaces
#   ./build.sh deps       install build and test dependencies (idempotent, quiet when present)
#   ./build.sh test       deps + build + unit tests + integration tests; ends with "N passed, N failed"
#   ./build.sh bench      run the side-by-side benchmarks in bench/
#   ./build.sh soak       the long loops: 50 systemd start+stop pairs with zero kills, 100
#                         start/stop cycles and 50 restarts with the host checked unchanged
#                         (bench/soak.sh; minutes, not part of `test`)
#   ./build.sh demo [debian]
#                         build, boot a small container (busybox; a Debian systemd one with
#                         `debian`) in its own workspace, start the server and print the
#                         dashboard URL; `./build.sh demo stop` undoes all of it
#   ./build.sh fuzz [SECONDS [TARGET...]]
#                         build the libFuzzer targets with clang into build-fuzz/ and run each
#                         for SECONDS (default 60); see docs/fuzzing.md
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
# The same runtime with the monitor's crash injection points (DS_CRASH_AT, DS_FAULT), for
# tests/66-crash.bats only; never installed.
DEBUG_DIR=${DEBUG_DIR:-$ROOT/build-debug}
# Third-party sources fetched at build time live outside the repository.
DS_CACHE=${DS_CACHE:-/var/cache/droidspaces-build}
HTTPLIB_DIR=$DS_CACHE/cpp-httplib
FUZZ_DIR=${FUZZ_DIR:-$ROOT/build-fuzz}

APT_PACKAGES=(
    g++ cmake make pkg-config
    libseccomp-dev nlohmann-json3-dev googletest libgtest-dev
    dpkg-dev                        # dpkg-source, to unpack cpp-httplib's source package
    bats util-linux mount procps iproute2 e2fsprogs file python3  # python3: the pty harness
    curl jq                         # server suites
    tar gzip xz-utils zstd bzip2 libcap2-bin  # installer tests
    toybox                          # installer attack tests: Android's tar
    clang libclang-rt-14-dev        # libFuzzer targets
    busybox-static debootstrap      # rootfs fixtures
    hyperfine systemd-container     # benchmarks against peers
    chromium                        # the dashboard's browser tests (tests/95-webui.bats)
)
# The 32-bit x86 probe of tests/81-attack-guards.bats (the host's compat ABI under seccomp).
if [ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ]; then APT_PACKAGES+=(gcc-multilib); fi

log() { printf '[build] %s\n' "$*" >&2; }

missing_packages() {
    local p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            printf '%s\n' "$p"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Debian's binary cpp-httplib package is split (header + .so) and has no static library, so
# the single-header httplib.h is taken from Debian's *source* package, through a private apt
# configuration that leaves the system's sources untouched.
fetch_httplib() {
    [ -s "$HTTPLIB_DIR/httplib.h" ] && return 0
    log "fetching cpp-httplib single header from Debian's source package"
    local work
    work=$(mktemp -d "$DS_CACHE/httplib.XXXXXX")
    chmod 755 "$work" # apt drops privileges to _apt for downloads
    mkdir -p "$work/parts" "$work/lists/partial"
    echo 'deb-src http://deb.debian.org/debian bookworm main' >"$work/parts/src.list"
    local -a opts=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
    # apt verifies the index signatures and the files' hashes; dpkg-source only unpacks.
    if ! (
        cd "$work"
        apt-get "${opts[@]}" -qq update &&
            apt-get "${opts[@]}" -qq source --download-only cpp-httplib &&
            dpkg-source --no-check -x ./cpp-httplib_*.dsc src
    ) >"$work/log" 2>&1; then
        cat "$work/log" >&2
        echo "[build] could not fetch cpp-httplib's source package" >&2
        return 1
    fi
    mkdir -p "$HTTPLIB_DIR"
    install -m 0644 "$work/src/httplib.h" "$HTTPLIB_DIR/httplib.h.new"
    mv "$HTTPLIB_DIR/httplib.h.new" "$HTTPLIB_DIR/httplib.h"
    rm -rf "$work"
}

# The dashboard's JavaScript dependencies (webui/package-lock.json), installed again when the
# lock file changed since the last install.
webui_deps() {
    local dir=$ROOT/webui
    [ -f "$dir/package-lock.json" ] || return 0
    if ! command -v npm >/dev/null; then
        log "npm not found: the dashboard (webui/) is not built; install Node.js 18 or later"
        return 0
    fi
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        log "installing the dashboard's packages (npm ci in webui/)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}

deps() {
    mkdir -p "$DS_CACHE"
    install_packages
    fetch_httplib
    webui_deps
}

# The dashboard into $BUILD_DIR/webroot, where the server finds it next to the binary.
build_webui() {
    webui_deps
    if [ ! -d "$ROOT/webui/node_modules" ]; then
        log "the dashboard is not built (no webui/node_modules)"
        return 0
    fi
    log "building the dashboard into $BUILD_DIR/webroot"
    node "$ROOT/webui/build.mjs" "$BUILD_DIR/webroot" | tail -n 1
}

build() {
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
        -DHTTPLIB_INCLUDE_DIR="$HTTPLIB_DIR" >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" -- --no-print-directory
    log "built $BUILD_DIR/droidspaces ($(stat -c %s "$BUILD_DIR/droidspaces") bytes)"
    build_webui
}

build_debug() {
    cmake -S "$ROOT" -B "$DEBUG_DIR" -DCMAKE_BUILD_TYPE=Release -DDS_CRASH_POINTS=ON \
        -DHTTPLIB_INCLUDE_DIR="$HTTPLIB_DIR" >/dev/null
    cmake --build "$DEBUG_DIR" -j"$(nproc)" --target droidspaces -- --no-print-directory
    log "built $DEBUG_DIR/droidspaces (crash injection points)"
}

# The clang build of the fuzz targets; the normal build (gcc) only replays their corpora.
build_fuzz() {
    cmake -S "$ROOT" -B "$FUZZ_DIR" -DDS_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
    cmake --build "$FUZZ_DIR" -j"$(nproc)" -- --no-print-directory
}

# "execs exec/s cov" of a libFuzzer log (-print_final_stats=1 and its last status line).
fuzz_figures() {
    local log=$1 execs rate cov
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    printf 'execs=%s exec/s=%s %s' "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}"
}

# The targets built (runtime/fuzz/CMakeLists.txt decides: `tar` once core/archive.hpp has it).
fuzz_targets() {
    local bin
    for bin in "$FUZZ_DIR"/runtime/fuzz/fuzz_*; do
        [ -x "$bin" ] && printf '%s\n' "${bin##*/fuzz_}"
    done
}

# Each target runs SECONDS over its seed corpus. New interesting inputs go to a scratch corpus
# (build-fuzz/scratch/TARGET, the first corpus dir libFuzzer writes to), never into the
# repository; crashes go to build-fuzz/artifacts/TARGET/.
fuzz() {
    local seconds=${1:-60}
    [ $# -gt 0 ] && shift
    if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
        echo "[build] invalid fuzz time '$seconds': expected a whole number of seconds > 0" >&2
        return 1
    fi
    build_fuzz
    local -a known targets=("$@")
    mapfile -t known < <(fuzz_targets)
    [ ${#targets[@]} -eq 0 ] && targets=("${known[@]}")
    local t
    for t in "${targets[@]}"; do
        if ! printf '%s\n' "${known[@]}" | grep -qxF -- "$t"; then
            echo "[build] unknown fuzz target '$t': expected one of ${known[*]}" >&2
            return 1
        fi
    done
    local failed=0 bin scratch artifacts log
    for t in "${targets[@]}"; do
        bin=$FUZZ_DIR/runtime/fuzz/fuzz_$t
        scratch=$FUZZ_DIR/scratch/$t
        artifacts=$FUZZ_DIR/artifacts/$t
        log=$FUZZ_DIR/fuzz-$t.log
        mkdir -p "$scratch" "$artifacts"
        log "fuzzing $t for ${seconds}s (log: $log)"
        if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" "$scratch" "$ROOT/runtime/fuzz/corpus/$t" >"$log" 2>&1; then
            log "$t: clean, $(fuzz_figures "$log")"
        else
            failed=$((failed + 1))
            grep -E '^==[0-9]+==ERROR|runtime error|invariant failed|Test unit written' "$log" |
                head -5 >&2 || true
            log "$t: FAILED, $(fuzz_figures "$log"); reproduce: $bin $artifacts/<file>"
        fi
    done
    [ "$failed" -eq 0 ]
}

# Runs every suite, prints each one's own output, and ends with one summary line.
run_tests() {
    local passed=0 failed=0 skipped=0 out rc
    log "unit tests (ctest)"
    out=$(cd "$BUILD_DIR" && ctest --output-on-failure 2>&1) && rc=0 || rc=$?
    printf '%s\n' "$out"
    local line
    line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' <<<"$out" | tail -1 || true)
    if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
        failed=$((failed + BASH_REMATCH[1]))
        passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1]))
    else
        failed=$((failed + 1)) # ctest itself broke
    fi

    log "integration tests (bats)"
    out=$(DROIDSPACES_BIN="$BUILD_DIR/droidspaces" DROIDSPACES_DEBUG_BIN="$DEBUG_DIR/droidspaces" \
        bats --tap "$ROOT/tests" 2>&1) && rc=0 || rc=$?
    printf '%s\n' "$out"
    local ok notok skips
    ok=$(grep -cE '^ok ' <<<"$out" || true)
    skips=$(grep -cE '^ok .* # skip' <<<"$out" || true)
    notok=$(grep -cE '^not ok ' <<<"$out" || true)
    passed=$((passed + ok - skips))
    skipped=$((skipped + skips))
    failed=$((failed + notok))
    if [ "$rc" -ne 0 ] && [ "$notok" -eq 0 ]; then
        failed=$((failed + 1)) # bats failed outside any test (setup_file, syntax error)
    fi

    printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
    [ "$failed" -eq 0 ]
}

# The demo lives in its own workspace, so it never touches the user's containers.
DEMO_HOME=${DEMO_HOME:-/var/lib/droidspaces-demo}
# DEMO_PORT: the server's port (default 8420, the documented one).
DEMO_NAME=demo

demo_ds() {
    DROIDSPACES_HOME=$DEMO_HOME "$BUILD_DIR/droidspaces" "$@"
}

demo_start() {
    local flavour=${1:-busybox} fixture line rootfs
    case $flavour in
    busybox) fixture=busybox ;;
    debian) fixture=systemd ;;
    *)
        echo "[build] demo: unknown flavour '$flavour': expected busybox or debian" >&2
        return 1
        ;;
    esac
    log "demo 1/5: dependencies"
    deps
    log "demo 2/5: building the runtime"
    build
    log "demo 3/5: preparing the $flavour rootfs (first time: downloads Debian packages)"
    line=$("$ROOT/tests/fixtures/build.sh" "$fixture")
    rootfs=${line#*=}
    if ! demo_ds config show --name "$DEMO_NAME" >/dev/null 2>&1; then
        demo_ds install --name "$DEMO_NAME" --from "$rootfs" >/dev/null
    fi
    log "demo 4/5: starting container '$DEMO_NAME' (workspace $DEMO_HOME, no network)"
    demo_ds pid --name "$DEMO_NAME" >/dev/null 2>&1 ||
        demo_ds start --name "$DEMO_NAME" --net=none
    log "demo 5/5: starting the server"
    demo_ds daemon --status >/dev/null 2>&1 || demo_ds daemon --port "${DEMO_PORT:-8420}" >/dev/null
    demo_ds daemon --status
    log "the CLI for this workspace: DROIDSPACES_HOME=$DEMO_HOME $BUILD_DIR/droidspaces show --all"
    log "undo all of it: ./build.sh demo stop"
}

demo_stop() {
    if [ ! -x "$BUILD_DIR/droidspaces" ]; then
        log "demo: nothing to stop (no build)"
        return 0
    fi
    log "demo: stopping the server"
    demo_ds daemon --stop 2>/dev/null || true
    log "demo: stopping and deleting container '$DEMO_NAME'"
    demo_ds stop --name "$DEMO_NAME" 2>/dev/null || true
    demo_ds config delete --name "$DEMO_NAME" --purge >/dev/null 2>&1 || true
    if [ -d "$DEMO_HOME" ] && ! grep -qF " $DEMO_HOME" /proc/self/mountinfo; then
        rm -rf "$DEMO_HOME"
    fi
    log "demo: removed"
}

case "${1:-build}" in
demo)
    shift
    if [ "${1:-}" = stop ]; then demo_stop; else demo_start "$@"; fi
    ;;
build) build ;;
deps) deps ;;
test)
    deps
    build
    build_debug
    run_tests
    ;;
fuzz)
    install_packages
    shift
    fuzz "$@"
    ;;
soak)
    deps
    build
    DROIDSPACES_BIN="$BUILD_DIR/droidspaces" exec "$ROOT/bench/soak.sh"
    ;;
bench)
    deps
    build
    exec "$ROOT/bench/run.sh"
    ;;
*)
    echo "usage: $0 [build|deps|test|bench|soak|demo [debian|stop]|fuzz [SECONDS [TARGET...]]]" >&2
    exit 1
    ;;
esac
