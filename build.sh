#!/usr/bin/env bash
# The one entry point for building and testing Droidspaces.
#
#   ./build.sh            build the static binary into build/droidspaces
#   ./build.sh deps       install build and test dependencies (idempotent, quiet when present)
#   ./build.sh test       deps + build + dist + unit tests + integration tests; ends with
#                         "N passed, N failed, N skipped"
#   ./build.sh dist       static binaries for aarch64, armhf, x86_64 and x86 (Debian's cross
#                         toolchains, cmake/*.cmake) into build/dist-bin/<arch>/, each checked
#                         static and for its machine; then module/pack.sh makes dist/*.zip and
#                         dist/*-linux.tar.gz
#   ./build.sh size       each binary's size and what takes the space (bench/size.sh)
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
# tests/66-crash.bats only; never installed. Built in $BUILD_DIR (target droidspaces-crash, it
# shares every object but the monitor's) and copied here, where the suite looks by default.
DEBUG_DIR=${DEBUG_DIR:-$ROOT/build-debug}
# The release version, one source of truth: project(... VERSION x.y.z) in CMakeLists.txt.
VERSION=$(sed -n 's/^project(droidspaces VERSION \([0-9][0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
# ./build.sh dist: the architectures shipped, as <arch>:<GNU triplet>:<Debian arch>:<readelf
# class>:<readelf machine>. The host's own architecture comes from the native build.
DIST_ARCHES=(
    "aarch64:aarch64-linux-gnu:arm64:ELF64:AArch64"
    "armhf:arm-linux-gnueabihf:armhf:ELF32:ARM"
    "x86_64:x86_64-linux-gnu:amd64:ELF64:Advanced Micro Devices X86-64"
    "x86:i686-linux-gnu:i386:ELF32:Intel 80386"
)
HOST_DEB_ARCH=$(dpkg --print-architecture 2>/dev/null || echo unknown)
# Third-party sources fetched at build time live outside the repository.
DS_CACHE=${DS_CACHE:-/var/cache/droidspaces-build}
FUZZ_DIR=${FUZZ_DIR:-$ROOT/build-fuzz}

APT_PACKAGES=(
    g++ cmake make pkg-config
    libseccomp-dev nlohmann-json3-dev googletest libgtest-dev
    bats util-linux mount procps iproute2 e2fsprogs file python3  # python3: the pty harness
    curl jq                         # server suites
    iptables nftables iperf3        # --net=nat (tests/76-net-nat.bats, bench/net.sh)
    strace                          # tests/78-net-android.bats: a kernel without bridges
    tar gzip xz-utils zstd bzip2 libcap2-bin  # installer tests
    toybox                          # installer attack tests: Android's tar
    clang libclang-rt-14-dev        # libFuzzer targets
    busybox-static debootstrap      # rootfs fixtures
    hyperfine systemd-container     # benchmarks against peers
    chromium                        # the dashboard's browser tests (tests/95-webui.bats)
    binutils zip unzip shellcheck   # dist: readelf checks, the module zip, its scripts
    qemu-user-static                # the foreign binaries' tests (tests/96-cross.bats)
)
# The cross toolchains and the target's static libseccomp (multiarch) for every shipped
# architecture but the host's own.
for spec in "${DIST_ARCHES[@]}"; do
    IFS=: read -r _ triplet deb_arch _ <<<"$spec"
    [ "$deb_arch" = "$HOST_DEB_ARCH" ] && continue
    APT_PACKAGES+=("g++-${triplet//_/-}" "libseccomp-dev:$deb_arch")
done
unset spec triplet deb_arch
# No gcc-multilib: Debian makes it conflict with every cross gcc, and installing it removes the
# dist toolchains. The 32-bit x86 probe of tests/81-attack-guards.bats can be built with
# i686-linux-gnu-gcc -static (g++-i686-linux-gnu, below) instead of gcc -m32.

log() { printf '[build] %s\n' "$*" >&2; }

missing_packages() {
    local p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            printf '%s\n' "$p"
    done
}

# dpkg learns the foreign architectures of the libseccomp-dev:<arch> packages (idempotent).
add_foreign_architectures() {
    local p arch
    for p in "$@"; do
        [[ $p == *:* ]] || continue
        arch=${p##*:}
        dpkg --print-foreign-architectures | grep -qxF "$arch" && continue
        log "adding dpkg architecture $arch"
        dpkg --add-architecture "$arch"
    done
}

install_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    add_foreign_architectures "${missing[@]}"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" -- --no-print-directory
    log "built $BUILD_DIR/droidspaces ($(stat -c %s "$BUILD_DIR/droidspaces") bytes)"
    build_webui
}

build_debug() {
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target droidspaces-crash -- --no-print-directory
    mkdir -p "$DEBUG_DIR"
    install -m 0755 "$BUILD_DIR/droidspaces-crash" "$DEBUG_DIR/droidspaces"
    log "built $DEBUG_DIR/droidspaces (crash injection points)"
}

# The binary of one shipped architecture: the native build's for the host's own, else a cross
# build's in $ROOT/build-<arch>.
dist_binary() {
    local arch=$1 deb_arch=$2
    if [ "$deb_arch" = "$HOST_DEB_ARCH" ]; then
        printf '%s\n' "$BUILD_DIR/droidspaces"
    else
        printf '%s\n' "$ROOT/build-$arch/droidspaces"
    fi
}

# The cross build of one architecture with cmake/<triplet>.cmake (nothing for the host's own).
build_cross() {
    local arch=$1 triplet=$2 deb_arch=$3 dir=$ROOT/build-$1
    [ "$deb_arch" = "$HOST_DEB_ARCH" ] && return 0
    cmake -S "$ROOT" -B "$dir" --toolchain "$ROOT/cmake/$triplet.cmake" \
        -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$dir" -j"$(nproc)" --target droidspaces -- --no-print-directory
}

# Fails with one line unless BIN is a static ELF (no program interpreter, no dynamic section)
# of the expected class and machine.
check_binary() {
    local bin=$1 arch=$2 class=$3 machine=$4 header
    if ! header=$(readelf -hW "$bin" 2>&1); then
        echo "[build] dist: $bin ($arch) is not an ELF file: ${header%%$'\n'*}" >&2
        return 1
    fi
    local got_class got_machine
    got_class=$(sed -n 's/^ *Class: *//p' <<<"$header")
    got_machine=$(sed -n 's/^ *Machine: *//p' <<<"$header")
    if [ "$got_class" != "$class" ] || [ "$got_machine" != "$machine" ]; then
        echo "[build] dist: $bin is $got_class $got_machine, expected $class $machine for $arch" >&2
        return 1
    fi
    if readelf -lW "$bin" | grep -q 'INTERP' || ! readelf -dW "$bin" | grep -q 'no dynamic section'; then
        echo "[build] dist: $bin ($arch) is not static: it has a program interpreter or a dynamic section" >&2
        return 1
    fi
}

# The four static binaries into $BUILD_DIR/dist-bin/<arch>/droidspaces, then the module zip and
# the desktop tarball (module/pack.sh) into $ROOT/dist. Expects the native build done.
dist() {
    local spec arch triplet deb_arch class machine bin out=$BUILD_DIR/dist-bin
    rm -rf "$out"
    for spec in "${DIST_ARCHES[@]}"; do
        IFS=: read -r arch triplet deb_arch class machine <<<"$spec"
        timed "dist $arch" build_cross "$arch" "$triplet" "$deb_arch"
        bin=$(dist_binary "$arch" "$deb_arch")
        check_binary "$bin" "$arch" "$class" "$machine"
        install -D -m 0755 "$bin" "$out/$arch/droidspaces"
        log "dist: $arch $(stat -c %s "$bin") bytes, static $class $machine"
    done
    if [ -x "$ROOT/module/pack.sh" ]; then
        "$ROOT/module/pack.sh" --version "$VERSION" --bins "$out" --webroot "$BUILD_DIR/webroot" \
            --out "$ROOT/dist"
    else
        log "dist: no module/pack.sh yet: binaries only ($out)"
    fi
}

# Runs "$@" and logs how long it took, as "[build] time: NAME Ns".
timed() {
    local name=$1 start=$SECONDS rc=0
    shift
    "$@" || rc=$?
    log "time: $name $((SECONDS - start))s"
    return "$rc"
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
    local start=$SECONDS
    out=$(cd "$BUILD_DIR" && ctest --output-on-failure 2>&1) && rc=0 || rc=$?
    log "time: ctest $((SECONDS - start))s"
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
    start=$SECONDS
    out=$(DROIDSPACES_BIN="$BUILD_DIR/droidspaces" DROIDSPACES_DEBUG_BIN="$DEBUG_DIR/droidspaces" \
        DROIDSPACES_DIST_BINS="$BUILD_DIR/dist-bin" bats --tap "$ROOT/tests" 2>&1) && rc=0 || rc=$?
    log "time: bats $((SECONDS - start))s"
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

# Sourced (tests/96-cross.bats checks check_binary): the functions only.
if [[ ${BASH_SOURCE[0]} != "$0" ]]; then return 0; fi

case "${1:-build}" in
demo)
    shift
    if [ "${1:-}" = stop ]; then demo_stop; else demo_start "$@"; fi
    ;;
build) build ;;
deps) deps ;;
dist)
    deps
    build
    dist
    ;;
size)
    shift
    exec "$ROOT/bench/size.sh" "$@"
    ;;
test)
    start=$SECONDS
    timed deps deps
    timed build build
    timed build-crash build_debug
    timed dist dist
    timed tests run_tests && rc=0 || rc=$?
    log "time: total $((SECONDS - start))s"
    exit "$rc"
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
    echo "usage: $0 [build|deps|test|dist|size|bench|soak|demo [debian|stop]|fuzz [SECONDS [TARGET...]]]" >&2
    exit 1
    ;;
esac
