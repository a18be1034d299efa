#!/usr/bin/env bats
# The shipped binaries of `./build.sh dist` (build/dist-bin/<arch>/droidspaces): each is static
# and for its machine, and each foreign one runs under qemu-user (Debian's qemu-user-static,
# called explicitly: binfmt_misc is not needed) through `version`, `help`, `check --json` and the
# whole config/bad-input suite (20-config.bats, which needs no namespaces). Namespaces and
# seccomp stay native-only tests. A missing binary or emulator fails; nothing is skipped.
#
# DROIDSPACES_DIST_BINS: the dist-bin directory (default: build/dist-bin); DROIDSPACES_BIN: the
# native binary the foreign ones are compared with.

# `run --separate-stderr` sets $stderr.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    DIST_BINS=${DROIDSPACES_DIST_BINS:-$REPO_ROOT/build/dist-bin}
    DROIDSPACES_HOME=$(mktemp -d /tmp/ds-cross.XXXXXX)
    export DROIDSPACES_HOME
}

teardown() {
    rm -rf -- "$DROIDSPACES_HOME"
}

# "<ELF class>:<readelf machine>:<qemu-user emulator>" of a shipped architecture.
arch_spec() {
    case $1 in
    aarch64) echo "ELF64:AArch64:qemu-aarch64-static" ;;
    armhf) echo "ELF32:ARM:qemu-arm-static" ;;
    x86_64) echo "ELF64:Advanced Micro Devices X86-64:qemu-x86_64-static" ;;
    x86) echo "ELF32:Intel 80386:qemu-i386-static" ;;
    esac
}

# The binary of ARCH; fails (never skips) when the dist build did not make it.
dist_bin() {
    local bin=$DIST_BINS/$1/droidspaces
    if [ ! -x "$bin" ]; then
        echo "no $1 binary at $bin (./build.sh dist builds it)" >&2
        return 1
    fi
    printf '%s\n' "$bin"
}

# A one-line executable that runs ARCH's binary under its emulator, for suites that take a
# DROIDSPACES_BIN. Prints its path.
qemu_wrapper() {
    local arch=$1 bin emulator wrapper
    bin=$(dist_bin "$arch") || return 1
    emulator=$(arch_spec "$arch")
    emulator=${emulator##*:}
    if ! command -v "$emulator" >/dev/null; then
        echo "$emulator not found (./build.sh deps installs qemu-user-static)" >&2
        return 1
    fi
    wrapper=$DROIDSPACES_HOME/.ds-$arch
    printf '#!/bin/sh\nexec %s %s "$@"\n' "$(command -v "$emulator")" "$bin" >"$wrapper"
    chmod 0755 "$wrapper"
    printf '%s\n' "$wrapper"
}

assert_static_for_machine() {
    local arch=$1 bin spec class machine header
    bin=$(dist_bin "$arch")
    spec=$(arch_spec "$arch")
    class=${spec%%:*}
    machine=${spec#*:}
    machine=${machine%%:*}
    header=$(readelf -hW "$bin")
    grep -qE "^ *Class: +$class\$" <<<"$header" || {
        echo "$bin: $(grep Class: <<<"$header"), expected $class"
        return 1
    }
    grep -qE "^ *Machine: +$machine\$" <<<"$header" || {
        echo "$bin: $(grep Machine: <<<"$header"), expected $machine"
        return 1
    }
    if readelf -lW "$bin" | grep -q INTERP; then
        echo "$bin has a program interpreter (dynamically linked)"
        return 1
    fi
    readelf -dW "$bin" | grep -q 'no dynamic section' || {
        echo "$bin has a dynamic section"
        return 1
    }
    run file "$bin"
    [[ $output == *"statically linked"* && $output == *", stripped"* ]] || {
        echo "file: $output"
        return 1
    }
}

# version and help under the emulator print what the native binary prints.
assert_version_help() {
    local ds
    ds=$(qemu_wrapper "$1")
    run -0 "$ds" version
    [ "$output" = "$("$DROIDSPACES_BIN" version)" ] || {
        echo "version: '$output', native: '$("$DROIDSPACES_BIN" version)'"
        return 1
    }
    run -0 "$ds" help
    [ "$output" = "$("$DROIDSPACES_BIN" help)" ] || {
        echo "help differs from the native binary's"
        diff <(echo "$output") <("$DROIDSPACES_BIN" help) || true
        return 1
    }
    run -0 "$ds" help start
    [[ $output == *"--rootfs"* ]]
}

# check --json under the emulator: one JSON document with the native binary's top-level keys
# and checks, this kernel's release and the same version.
assert_check_json() {
    local ds keys native_keys
    ds=$(qemu_wrapper "$1")
    run --separate-stderr "$ds" check --json
    [ "$status" -le 1 ] || {
        echo "status $status: $output $stderr"
        return 1
    }
    keys=$(jq -ce 'keys' <<<"$output") || {
        echo "not JSON: $output"
        return 1
    }
    native_keys=$("$DROIDSPACES_BIN" check --json | jq -c 'keys')
    [ "$keys" = "$native_keys" ] || {
        echo "keys $keys, native $native_keys"
        return 1
    }
    # The same checks by name (their results may differ: qemu-user emulates no seccomp).
    local names='.sections | map_values(map(.name))'
    [ "$(jq -c "$names" <<<"$output")" = "$("$DROIDSPACES_BIN" check --json | jq -c "$names")" ] || {
        echo "sections differ from the native binary's: $(jq -c "$names" <<<"$output")"
        return 1
    }
    [ "$(jq -r .kernel <<<"$output")" = "$(uname -r)" ]
    [ "$(jq -r .version <<<"$output")" = "$("$DROIDSPACES_BIN" version --json | jq -r .version)" ]
    jq -e '(.ok | type == "boolean") and (.missing_required | type == "number")' \
        <<<"$output" >/dev/null
}

# The whole config/bad-input suite with DROIDSPACES_BIN running the foreign binary.
assert_config_suite() {
    local ds
    ds=$(qemu_wrapper "$1")
    run env DROIDSPACES_BIN="$ds" bats --tap "$REPO_ROOT/tests/20-config.bats"
    if [ "$status" -ne 0 ] || ! grep -q '^ok ' <<<"$output" || grep -q '^not ok ' <<<"$output"; then
        echo "20-config.bats under $1 (status $status):"
        echo "$output"
        return 1
    fi
}

@test "aarch64: static, stripped, AArch64" {
    assert_static_for_machine aarch64
}

@test "armhf: static, stripped, 32-bit ARM" {
    assert_static_for_machine armhf
}

@test "x86_64: static, stripped, x86-64" {
    assert_static_for_machine x86_64
}

@test "x86: static, stripped, i386" {
    assert_static_for_machine x86
}

@test "aarch64 under qemu: version and help" {
    assert_version_help aarch64
}

@test "armhf under qemu: version and help" {
    assert_version_help armhf
}

@test "x86 under qemu: version and help" {
    assert_version_help x86
}

@test "aarch64 under qemu: check --json" {
    assert_check_json aarch64
}

@test "armhf under qemu: check --json" {
    assert_check_json armhf
}

@test "x86 under qemu: check --json" {
    assert_check_json x86
}

@test "aarch64 under qemu: the config and bad-input suite passes" {
    assert_config_suite aarch64
}

@test "armhf under qemu: the config and bad-input suite passes" {
    assert_config_suite armhf
}

@test "x86 under qemu: the config and bad-input suite passes" {
    assert_config_suite x86
}

# build.sh's own gate (check_binary, run by ./build.sh dist on every binary it ships).
build_sh_check() {
    run bash -c 'source "$1"; shift; check_binary "$@"' _ "$REPO_ROOT/build.sh" "$@"
}

@test "dist's check refuses a dynamic binary and one for another machine, naming them" {
    local dynamic
    dynamic=$(type -P true)
    build_sh_check "$dynamic" x86_64 ELF64 "Advanced Micro Devices X86-64"
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ]
    [[ $output == *"$dynamic (x86_64) is not static"* || $output == *"$dynamic is ELF"* ]]

    build_sh_check "$(dist_bin aarch64)" armhf ELF32 ARM
    [ "$status" -eq 1 ]
    [[ $output == *"is ELF64 AArch64, expected ELF32 ARM for armhf"* ]]

    build_sh_check "$REPO_ROOT/build.sh" x86 ELF32 "Intel 80386"
    [ "$status" -eq 1 ]
    [[ $output == *"build.sh (x86) is not an ELF file"* ]]
}

@test "dist's check passes each shipped binary" {
    local arch spec
    for arch in aarch64 armhf x86_64 x86; do
        spec=$(arch_spec "$arch")
        IFS=: read -r class machine _ <<<"$spec"
        build_sh_check "$(dist_bin "$arch")" "$arch" "$class" "$machine"
        [ "$status" -eq 0 ] || {
            echo "$arch: $output"
            return 1
        }
    done
}
