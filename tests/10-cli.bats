#!/usr/bin/env bats
# The command line surface: help, version, option forms, unknown options, exit codes.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    DROIDSPACES_HOME=$(mktemp -d /tmp/ds-cli.XXXXXX)
    export DROIDSPACES_HOME
}

teardown() {
    rm -rf "$DROIDSPACES_HOME"
}

@test "the binary is static and stripped" {
    run file -L "$DROIDSPACES_BIN"
    [[ $output == *"statically linked"* ]]
    [[ $output == *"stripped"* ]]
    [[ $output != *"not stripped"* ]]
}

@test "the binary runs in an empty chroot" {
    local root
    root=$(mktemp -d)
    cp "$DROIDSPACES_BIN" "$root/droidspaces"
    run chroot "$root" /droidspaces version
    rm -rf "$root"
    [ "$status" -eq 0 ]
    [[ $output =~ ^v[0-9]+\.[0-9]+\.[0-9]+\  ]]
}

@test "help lists every command and every long option within 100 columns" {
    run ds help
    [ "$status" -eq 0 ]
    for cmd in start stop restart enter run info show scan check pid help version config serve \
        daemon api autoboot usage; do
        [[ $output == *"  $cmd "* ]] || { echo "missing command $cmd"; return 1; }
    done
    for opt in --name --rootfs --rootfs-img --conf --hostname --dns --foreground --hw-access \
        --volatile --bind --env --net --port --privileged --memory --cpus --pids-limit --init \
        --reset --json --format --timeout --disable-ipv6 --force-cgroupv1 --all --purge --listen \
        --webroot --stop --status --run-at-boot; do
        [[ $output == *"$opt"* ]] || { echo "missing option $opt"; return 1; }
    done
    local longest
    longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m }' <<<"$output")
    [ "$longest" -le 100 ]
}

@test "help COMMAND shows that command's own options" {
    run ds help stop
    [ "$status" -eq 0 ]
    [[ $output == *"Usage: droidspaces [OPTIONS] stop"* ]]
    [[ $output == *"--timeout"* ]]
    [[ $output != *"--volatile"* ]]
    run ds help start
    [[ $output == *"--volatile"* ]]
}

@test "--help and -v show help; -h is the hostname option as upstream" {
    run ds --help
    [ "$status" -eq 0 ]
    [[ $output == *"Commands:"* ]]
    run ds -v
    [ "$status" -eq 0 ]
    [[ $output == *"Commands:"* ]]
    run ds start --help
    [[ $output == *"Usage: droidspaces [OPTIONS] start"* ]]
    run --separate-stderr ds -h
    [ "$status" -eq 1 ]
    [[ $stderr == *"'-h' requires a value"* ]]
}

@test "version, and version --json" {
    run ds version
    [ "$status" -eq 0 ]
    [[ $output =~ ^v[0-9]+\.[0-9]+\.[0-9]+\ \(compatible\ with\ upstream\ Droidspaces\ v6\.5\.0\)$ ]]
    run ds version --json
    [ "$status" -eq 0 ]
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["upstream_compatible"]=="6.5.0"' <<<"$output"
}

@test "an unknown option fails naming it" {
    run --separate-stderr ds --bogus
    [ "$status" -eq 1 ]
    [[ $stderr == *"'--bogus'"* ]]
    [ "${#stderr_lines[@]}" -eq 1 ]
    run --separate-stderr ds --bogus=1 show
    [ "$status" -eq 1 ]
    [[ $stderr == *"'--bogus'"* ]]
    run --separate-stderr ds -Z show
    [ "$status" -eq 1 ]
    [[ $stderr == *"'-Z'"* ]]
}

@test "an unknown or missing command fails with exit 1" {
    run --separate-stderr ds frobnicate
    [ "$status" -eq 1 ]
    [[ $stderr == *"'frobnicate'"* ]]
    run --separate-stderr ds
    [ "$status" -eq 1 ]
    [[ $stderr == *"missing command"* ]]
}

@test "root-only commands refuse other users with exit 1" {
    run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$DROIDSPACES_BIN" show
    [ "$status" -eq 1 ]
    [[ $stderr == *"requires root"* ]]
}

@test "pid of an unknown container prints NONE and exits 1" {
    run ds --name=nothing-here pid
    [ "$status" -eq 1 ]
    [ "$output" = "NONE" ]
    run ds --name=nothing-here pid --json
    [ "$status" -eq 1 ]
    python3 -c 'import json,sys; assert json.load(sys.stdin)["pid"] is None' <<<"$output"
}

@test "stop of a container that is not running exits 1 naming it" {
    run --separate-stderr ds --name=idle stop
    [ "$status" -eq 1 ]
    [[ $stderr == *"'idle' is not running"* ]]
}

# The JSON schema of docs/json.md: with --json a failure is one error document on stdout whose
# kind a server maps to a status; stderr keeps its one human line.
@test "--json failures print one error document with the kind on stdout" {
    run --separate-stderr ds --name=nothing-here info --json
    [ "$status" -eq 1 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; assert e["kind"]=="not_found", e; assert "nothing-here" in e["message"], e' <<<"$output"
    run --separate-stderr ds --name=nothing-here stop --json
    [ "$status" -eq 1 ]
    python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; assert e["kind"]=="not_found", e' <<<"$output"
    run --separate-stderr ds --bogus --json show
    [ "$status" -eq 1 ]
    python3 -c 'import json,sys; e=json.load(sys.stdin)["error"]; assert e["kind"]=="invalid" and "--bogus" in e["message"], e' <<<"$output"
    # Without --json stdout stays empty.
    run --separate-stderr ds --name=nothing-here info
    [ "$status" -eq 1 ]
    [ -z "$output" ]
}

@test "show --all of an empty workspace; config needs an action and a name" {
    run -0 ds show --all --json
    [ "$output" = "[]" ]
    run -0 ds show --all
    [[ $output == *"(No containers)"* ]]
    run -1 --separate-stderr ds --name=x config
    [[ $stderr == *"needs an action"* ]]
    run -1 --separate-stderr ds --name=x config frob
    [[ $stderr == *"'frob'"* ]]
    run -1 --separate-stderr ds config show
    [[ $stderr == *"needs one container name"* ]]
    run -1 --separate-stderr ds --name=x --purge config edit
    [[ $stderr == *"--purge"* ]]
    run -1 --separate-stderr ds --name=x --memory=8M config show
    [[ $stderr == *"takes no config options"* ]]
    run -1 --separate-stderr ds show --all --format
    [[ $stderr == *"--json"* ]]
}
