# A simulated Android host for the Android suites: a private mount namespace whose root is a
# tmpfs mirroring this machine's, plus what the runtime recognises Android by and works with
# (/system/build.prop, /data, /storage/emulated/0 and /sdcard, /sys/fs/selinux/enforce). The
# real binary runs unchanged inside it; nothing of it is visible on the host, and it vanishes
# with its holder process. Load after helpers.bash; needs SUITE_TMP (suite_setup).
#
#   android_sim_setup         builds the namespace (once per suite, in setup_file)
#   android_sim CMD...        runs CMD inside it (root and cwd of the simulated host)
#   android_sim_teardown      ends the holder; the namespace and every mount in it go with it
#   dsa ARGS...               the runtime inside it, with the suite's timeout
#   android_stop_all          stops every container of the suite's workspace from inside it
#
# Test-side paths (host view): $ANDROID_DATA is the simulated /data, $ANDROID_SDCARD the
# simulated /storage/emulated/0, $ANDROID_SELINUX the simulated /sys/fs/selinux (enforce "1").
# $ANDROID_SYSTEM is the simulated /system (build.prop; add stand-in tools under bin/).

android_sim_setup() {
    ANDROID_SIM=$SUITE_TMP/android-sim
    ANDROID_DATA=$ANDROID_SIM/data
    ANDROID_SDCARD=$ANDROID_SIM/sdcard
    ANDROID_SELINUX=$ANDROID_SIM/selinux
    ANDROID_SYSTEM=$ANDROID_SIM/system
    mkdir -p "$ANDROID_SIM/root" "$ANDROID_DATA/local/tmp" "$ANDROID_DATA/system" \
        "$ANDROID_DATA/adb" "$ANDROID_SDCARD/Download" "$ANDROID_SELINUX" "$ANDROID_SYSTEM/bin"
    printf '1' >"$ANDROID_SELINUX/enforce"
    printf '%s\n' 'ro.build.version.release=14' 'ro.build.version.sdk=34' \
        'ro.product.cpu.abi=x86_64' >"$ANDROID_SYSTEM/build.prop"
    export ANDROID_SIM ANDROID_DATA ANDROID_SDCARD ANDROID_SELINUX ANDROID_SYSTEM

    unshare -m --propagation private -- bash -c "$(declare -f _android_sim_build _android_sim_enter)
        _android_sim_build '$ANDROID_SIM' && _android_sim_enter '$ANDROID_SIM/root' sleep infinity" \
        >"$ANDROID_SIM/holder.log" 2>&1 &
    ANDROID_SIM_HOLDER=$!
    export ANDROID_SIM_HOLDER
    echo "$ANDROID_SIM_HOLDER" >"$ANDROID_SIM/holder.pid"
    wait_until 20 android_sim_ready || {
        cat "$ANDROID_SIM/holder.log" >&2
        return 1
    }
}

android_sim_ready() {
    kill -0 "$ANDROID_SIM_HOLDER" 2>/dev/null || return 1
    [ -e "/proc/$ANDROID_SIM_HOLDER/root/system/build.prop" ]
}

android_sim() {
    nsenter -t "$ANDROID_SIM_HOLDER" -m -r -w -- "$@"
}

android_sim_teardown() {
    [ -n "${ANDROID_SIM_HOLDER:-}" ] || return 0
    kill "$ANDROID_SIM_HOLDER" 2>/dev/null || true
    wait_until 10 bash -c "! kill -0 $ANDROID_SIM_HOLDER" || true
    ANDROID_SIM_HOLDER=
}

dsa() {
    suite_record_names "$@"
    android_sim timeout --foreground -k 5 "${DS_TIMEOUT:-90}" "$DROIDSPACES_BIN" "$@"
}

android_stop_all() {
    local pidfile
    for pidfile in "$DROIDSPACES_HOME"/Pids/*.pid; do
        [ -e "$pidfile" ] || continue
        dsa --name="$(basename "$pidfile" .pid)" stop --timeout=10 >/dev/null 2>&1 || true
    done
}

# Makes $1 the root of the mount namespace and runs the rest. pivot_root, not chroot: a process
# that joins the namespace (setns, as `run` and `enter` do) gets the namespace's root, which
# must be the simulated host's, not this machine's.
_android_sim_enter() {
    cd "$1" && mkdir -p .old-root && pivot_root . .old-root && umount -l /.old-root &&
        rmdir /.old-root && shift && exec "$@"
}

# Runs inside the new (private) mount namespace. $1: the simulation's directory; its root/
# becomes the simulated host's /.
_android_sim_build() {
    set -e
    local sim=$1 root=$1/root entry name
    mount -t tmpfs -o mode=755 ds-android-root "$root"
    # The host's top-level entries, recursively, except the one holding the simulation itself:
    # bound alone it shows its files without the mounts made under it (no loop into root/).
    for entry in /*; do
        name=${entry#/}
        if [ -L "$entry" ]; then
            cp -P "$entry" "$root/$name"
        elif [ -d "$entry" ]; then
            mkdir -p "$root/$name"
            case $sim/ in
            "$entry"/*) mount --bind "$entry" "$root/$name" ;;
            *) mount --rbind "$entry" "$root/$name" ;;
            esac
        fi
    done
    # A private /dev: nodes created under it (Android's /dev/block/loopN, the runtime's
    # /dev/droidspaces-net) never reach the host's devtmpfs.
    mount -t tmpfs -o mode=755 ds-android-dev "$root/dev"
    cp -a /dev/. "$root/dev/" 2>/dev/null || true
    for entry in pts shm mqueue hugepages; do
        if mountpoint -q "/dev/$entry"; then mount --rbind "/dev/$entry" "$root/dev/$entry"; fi
    done
    # /sys/fs with the host's filesystems and a stand-in selinuxfs.
    mount -t tmpfs -o mode=755 ds-android-sysfs "$root/sys/fs"
    for entry in /sys/fs/*; do
        mkdir -p "$root$entry"
        mount --rbind "$entry" "$root$entry"
    done
    mkdir -p "$root/sys/fs/selinux"
    mount --bind "$sim/selinux" "$root/sys/fs/selinux"
    # Android's own places.
    mkdir -p "$root/system" "$root/data" "$root/storage/emulated/0"
    mount --bind "$sim/system" "$root/system"
    mount --bind "$sim/data" "$root/data"
    mount --bind "$sim/sdcard" "$root/storage/emulated/0"
    ln -s /storage/emulated/0 "$root/sdcard"
}
