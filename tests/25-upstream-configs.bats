#!/usr/bin/env bats
# Configs written the way upstream Droidspaces v6.5.0 and its Android app write them
# (tests/fixtures/upstream-configs: every key of upstream's config and every net_mode) boot
# with ours, placed where upstream's app keeps them (<ws>/Containers/<name>/container.config)
# and started by name only, and each key does what it says. Busybox guests; nothing leaves the
# host (helpers/net.bash for the NAT and gateway ones).

# `run --separate-stderr` sets $stderr.
# shellcheck disable=SC2154

bats_require_minimum_version 1.5.0

CONFIGS=$BATS_TEST_DIRNAME/fixtures/upstream-configs

setup_file() {
    load helpers
    export NET_TAG=$$
    load helpers/net
    net_suite_setup desktop every hw gpu android gw gwr v1 bad host
    export NAME="up-$$"
    mkdir -p "$SUITE_TMP/bind"
    echo "from-the-host" >"$SUITE_TMP/bind/file"
    printf 'export GREETING="hello from upstream"\nLANGUAGE=C\n' >"$SUITE_TMP/env"
}

teardown_file() {
    load helpers
    load helpers/net
    net_suite_teardown
}

setup() {
    load helpers
    load helpers/net
}

# Installs fixture $1 as container $2's config in upstream's app layout, on rootfs copy $3.
install_config() {
    local fixture=$1 name=$2 copy=$3 dir="$DROIDSPACES_HOME/Containers/$2"
    mkdir -p "$dir"
    sed -e "s|@NAME@|$name|g" -e "s|@ROOTFS@|$SUITE_TMP/$copy/rootfs|g" \
        -e "s|@ENV@|$SUITE_TMP/env|g" -e "s|@BIND@|$SUITE_TMP/bind|g" \
        -e "s|@UUID@|$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')|g" \
        -e "s|@UPLINK@|$NET_UPLINK|g" -e "s|@DNS@|$NET_OUT_IP|g" \
        "$CONFIGS/$fixture" >"$dir/container.config"
    echo "$dir/container.config"
}

start_by_name() {
    local name=$1
    shift
    ds --name="$name" "$@" start
    wait_until 10 booted "$name"
}

@test "the fixtures use every key of upstream's config and every net_mode" {
    local key used
    used=$(cat "$CONFIGS"/*.config | sed -n 's/^ *\([a-z_0-9]*\) *=.*/\1/p' | sort -u)
    for key in name hostname rootfs_path disable_ipv6 enable_android_storage enable_hw_access \
        enable_gpu_mode enable_termux_x11 tx11_extra_flags enable_virgl virgl_extra_flags \
        enable_pulseaudio selinux_permissive allow_userns volatile_mode force_cgroupv1 \
        block_nested_ns memory_limit cpu_quota cpu_period pids_limit privileged custom_init \
        bind_mounts dns_servers foreground pidfile env_file uuid static_nat_ip net_mode \
        gateway_container gateway_net gateway_bridge gateway_lan_ifname upstream_interfaces \
        port_forwards run_at_boot run_at_boot_priority use_sparse_image sparse_image_size_gb; do
        grep -qx "$key" <<<"$used" || {
            echo "no fixture has $key"
            return 1
        }
    done
    for key in host none nat gateway; do
        grep -qx "net_mode=$key" "$CONFIGS"/*.config || {
            echo "no fixture has net_mode=$key"
            return 1
        }
    done
}

@test "the well-formed fixtures load without a single warning" {
    local fixture name
    for fixture in desktop everything host-net hardware gpu android-app gateway-client cgroupv1; do
        name="$NAME-chk-$fixture"
        install_config "$fixture.config" "$name" desktop >/dev/null
        run -0 ds show --all --json
        [ "$(jq -c --arg n "$name" '.[] | select(.name == $n) | [.config_error, .config_warnings]' \
            <<<"$output")" = '[null,[]]' ] || {
            echo "$fixture: $output"
            return 1
        }
        ds --name="$name" config delete >/dev/null
    done
}

@test "a desktop config boots with its hostname, DNS and uuid" {
    local name="$NAME-desk" config uuid
    config=$(install_config desktop.config "$name" desktop)
    uuid=$(sed -n 's/^uuid=//p' "$config")
    start_by_name "$name"
    [ "$(in_container "$name" hostname)" = deskbox ]
    run in_container "$name" cat /etc/resolv.conf
    [[ $output == *"nameserver 9.9.9.9"* ]]
    [[ $output == *"nameserver 149.112.112.112"* ]]
    [ -e "/proc/$(ds --name="$name" pid)/root/run/droidspaces/$uuid" ]
    assert_private_namespaces "$name"
    ds --name="$name" stop >/dev/null
    [ "$(sed -n 's/^uuid=//p' "$config")" = "$uuid" ]
}

@test "a config using every Linux key boots and each key takes effect" {
    local name="$NAME-every" config
    config=$(install_config everything.config "$name" every)
    start_by_name "$name"
    [ "$(in_container "$name" hostname)" = every-key ]
    # Limits: memory (the /proc view), pids and CPU quota in the container's cgroup.
    run in_container "$name" sed -n 's/^MemTotal: *//p' /proc/meminfo
    [ "$output" = "65536 kB" ]
    [ "$(cat "$(limit_dir pids "$name")/pids.max")" = 64 ]
    local cpu
    cpu=$(limit_dir cpu "$name")
    if [ -f "$cpu/cpu.max" ]; then
        [ "$(cat "$cpu/cpu.max")" = "50000 100000" ]
    else
        [ "$(cat "$cpu/cpu.cfs_quota_us")" = 50000 ]
    fi
    # Binds: the read-only one refuses writes, the other takes them.
    [ "$(in_container "$name" cat /mnt/shared/file)" = from-the-host ]
    run in_container "$name" touch /mnt/shared/new
    [ "$status" -ne 0 ]
    in_container "$name" touch /srv/data/written-inside
    [ -e "$SUITE_TMP/bind/written-inside" ]
    # The env file reaches processes started inside.
    # shellcheck disable=SC2016 # expanded by the guest's shell
    [ "$(in_container "$name" sh -c 'echo "$GREETING"')" = "hello from upstream" ]
    # IPv6 off, resolv.conf from dns_servers, volatile: the rootfs copy is untouched.
    [ "$(in_container "$name" cat /proc/sys/net/ipv6/conf/all/disable_ipv6)" = 1 ]
    run in_container "$name" cat /etc/resolv.conf
    [[ $output == *"nameserver 10.0.0.53"* ]]
    in_container "$name" touch /volatile-marker
    [ ! -e "$SUITE_TMP/every/rootfs/volatile-marker" ]
    # nomask: /proc/kcore is not masked; seccomp off: the guest's status says so.
    run in_container "$name" grep -c '^Seccomp:[[:space:]]*0' /proc/self/status
    [ "$output" = 1 ]
    ds --name="$name" stop >/dev/null
    # The comment, the ignored pidfile line and the app's keys are still in the file.
    grep -qx "# kept as the user wrote it" "$config"
    grep -qx "run_at_boot=0" "$config"
    grep -qx "use_sparse_image=0" "$config"
}

@test "a net_mode=host config is read as host mode" {
    local name="$NAME-host"
    install_config host-net.config "$name" host >/dev/null
    run -0 ds show --all --json
    [ "$(jq -r --arg n "$name" '.[] | select(.name == $n) | .net' <<<"$output")" = host ]
}

@test "an enable_hw_access=1 config boots with the host's devices" {
    local name="$NAME-hw"
    install_config hardware.config "$name" hw >/dev/null
    start_by_name "$name"
    run in_container "$name" sh -c 'grep " /dev " /proc/mounts'
    [[ $output == *devtmpfs* ]]
    ds --name="$name" stop >/dev/null
}

@test "an enable_gpu_mode=1 config boots with the GPU group" {
    local name="$NAME-gpu"
    install_config gpu.config "$name" gpu >/dev/null
    start_by_name "$name"
    run in_container "$name" grep '^droidspaces-gpu:' /etc/group
    [[ $output == "droidspaces-gpu:x:786:"* ]]
    ds --name="$name" stop >/dev/null
}

@test "the Android app's config boots on Linux: Android keys skipped, NAT and forwards work" {
    local name="$NAME-app" config
    config=$(install_config android-app.config "$name" android)
    run --separate-stderr ds --name="$name" start
    [ "$status" -eq 0 ]
    wait_until 10 booted "$name"
    local option
    for option in --termux-x11 --virgl --pulse-audio --enable-android-storage \
        --selinux-permissive; do
        [[ $stderr == *"$option is only applicable on Android"* ]] || {
            echo "no warning for $option: $stderr"
            return 1
        }
    done
    [ "$(container_ip "$name")" = 172.28.61.7 ]
    mkdir -p "$SUITE_TMP/android/rootfs/www"
    echo "app-config-ok" >"$SUITE_TMP/android/rootfs/www/index.html"
    in_container "$name" httpd -p 8480 -h /www
    wait_until 5 in_container "$name" sh -c 'netstat -ltn | grep -q ":8480 "'
    run curl -s -m 5 http://127.0.0.1:18480/
    [ "$output" = "app-config-ok" ]
    [ "$(http_from "$name" "$NET_OUT_IP" 8080)" = outside-ok ]
    ds --name="$name" stop >/dev/null
    grep -qx "run_at_boot_priority=3" "$config"
    grep -qx "sparse_image_size_gb=8" "$config"
    grep -qx "tx11_extra_flags=-dpi 120 -legacy-drawing" "$config"
}

@test "a gateway client's config boots and is wired when its router starts" {
    local name="$NAME-gwc" router="$NAME-gwc-router"
    install_config gateway-client.config "$name" gw >/dev/null
    start_by_name "$name"
    ds --name="$router" --rootfs="$SUITE_TMP/gwr/rootfs" --net=nat --dns="$NET_OUT_IP" start
    wait_until 10 booted "$router"
    wait_until 10 in_container "$router" ip link show eth1
    wait_until 10 in_container "$name" ip link show eth0
    ds --name="$name" stop >/dev/null
    ds --name="$router" stop >/dev/null
}

@test "a force_cgroupv1=1 config boots in the v1 layout" {
    local name="$NAME-v1"
    install_config cgroupv1.config "$name" v1 >/dev/null
    start_by_name "$name"
    run in_container "$name" sh -c 'grep " /sys/fs/cgroup/systemd " /proc/mounts'
    [[ $output == *"cgroup "* ]]
    ds --name="$name" stop >/dev/null
}

@test "malformed lines in an upstream config are warnings naming file and line; it boots" {
    local name="$NAME-bad" config
    config=$(install_config bad-values.config "$name" bad)
    # --net=none on the command line: the file's unknown net_mode would fall back to host.
    run --separate-stderr ds --name="$name" --net=none start
    [ "$status" -eq 0 ]
    wait_until 10 booted "$name"
    local line
    for line in 7 8 9 10 11 12 13; do
        [[ $stderr == *"$config:$line:"* ]] || {
            echo "no warning for line $line: $stderr"
            return 1
        }
    done
    # The bad keys kept their defaults: no limits, the default init.
    [ ! -e "$(limit_dir pids "$name")" ] || [ "$(cat "$(limit_dir pids "$name")/pids.max")" = max ]
    [ "$(in_container "$name" hostname)" = bad_values_box ]
    ds --name="$name" stop >/dev/null
}

@test "the host is as it was before the suite" {
    stop_suite_containers
    net_state_clean
}
