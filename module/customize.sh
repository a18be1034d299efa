# shellcheck shell=sh
# Droidspaces module installer step. SOURCED (not executed) by the Magisk, KernelSU or APatch
# installer in BusyBox ash standalone mode, after it extracted this file into $MODPATH: so no
# `exit` (it would end the installer), and every failure goes through the installer's `abort`.
#
# Installer variables used: MODPATH TMPDIR ZIPFILE ARCH; KSU=true / APATCH=true tell the manager
# (MAGISK_VER is faked by KernelSU, never used for detection); NVBASE (/data/adb).
# Installer helpers used: ui_print abort set_perm set_perm_recursive.
#
# The zip carries the binaries of all four architectures under bin/<arch>/; only this device's
# is extracted (SKIPUNZIP=1: the installer extracts nothing but this file).
# The line below must stay exactly "SKIPUNZIP=1": Magisk greps for it (the installer reads it).
# shellcheck disable=SC2034
SKIPUNZIP=1

# Where the containers live. The runtime uses the same rule (DROIDSPACES_HOME, else this path
# on Android), and upstream's app used the same directory: an upgrade keeps every container.
DS_WORKSPACE=${DROIDSPACES_HOME:-/data/local/Droidspaces}
DS_ADB=${NVBASE:-/data/adb}
# $MODPATH is modules_update/droidspaces while installing from the app; after the reboot the
# module lives here, and that is where links must point.
DS_LIVE=$DS_ADB/modules/droidspaces

ds_arch() {
    case $1 in
    arm64) echo aarch64 ;;
    arm) echo armhf ;;
    x64) echo x86_64 ;;
    x86) echo x86 ;;
    *) return 1 ;;
    esac
}

ds_manager() {
    if [ "$KSU" = true ]; then
        echo KernelSU
    elif [ "$APATCH" = true ]; then
        echo APatch
    else
        echo Magisk
    fi
}

# The names of the required kernel features that `check --json` reports missing, comma
# separated. Works on the pretty and the compact form: the "required" array is the last
# section, each of its entries ends with "}".
ds_missing_required() {
    tr -d '\n' <"$1" |
        sed 's/.*"required": *\[//; s/\].*//' |
        tr '}' '\n' |
        grep '"ok": *false' |
        sed 's/.*"name": *"\([^"]*\)".*/\1/' |
        tr '\n' ',' | sed 's/,$//; s/,/, /g'
}

# Runs the freshly extracted binary's kernel check; aborts naming what is missing.
ds_check_kernel() {
    ds_status=0
    "$MODPATH/droidspaces" check --json >"$TMPDIR/ds-check.json" 2>"$TMPDIR/ds-check.err" ||
        ds_status=$?
    if [ "$ds_status" -ge 126 ] || ! grep -q '"missing_required"' "$TMPDIR/ds-check.json"; then
        abort "! The $DS_ARCH binary does not run on this device (exit $ds_status): $(head -n 1 "$TMPDIR/ds-check.err")"
    fi
    ds_missing=$(ds_missing_required "$TMPDIR/ds-check.json")
    if [ "$ds_status" -ne 0 ] || [ -n "$ds_missing" ]; then
        abort "! This kernel lacks features Droidspaces requires: ${ds_missing:-see 'droidspaces check'}"
    fi
    ui_print "- Kernel check passed (droidspaces check)"
}

# A root shell finds `droidspaces` without relying on system/ overlays, which KernelSU only
# mounts with a metamodule: KernelSU and APatch put their bin directory on a root shell's PATH.
# Magisk mounts system/ itself, so there a system/bin link does it.
ds_link() {
    ds_dir=$1
    ds_target=$ds_dir/droidspaces
    mkdir -p "$ds_dir" || abort "! Cannot create $ds_dir"
    if [ -e "$ds_target" ] && [ ! -L "$ds_target" ]; then
        ui_print "! $ds_target exists and is not our link: left alone, call $DS_LIVE/droidspaces"
        return 0
    fi
    ln -sf "$DS_LIVE/droidspaces" "$ds_target" || abort "! Cannot link $ds_target"
}

ds_expose_command() {
    case $(ds_manager) in
    KernelSU) ds_link "$DS_ADB/ksu/bin" ;;
    APatch) ds_link "$DS_ADB/ap/bin" ;;
    Magisk) ds_link "$MODPATH/system/bin" ;;
    esac
}

# Creates the workspace on a fresh install; on an upgrade it is left exactly as it is.
ds_workspace() {
    if [ -d "$DS_WORKSPACE" ]; then
        ds_count=0
        for ds_conf in "$DS_WORKSPACE"/Containers/*/container.config; do
            [ -f "$ds_conf" ] && ds_count=$((ds_count + 1))
        done
        ui_print "- Keeping the workspace $DS_WORKSPACE ($ds_count container(s))"
        return 0
    fi
    mkdir -p "$DS_WORKSPACE" || abort "! Cannot create the workspace $DS_WORKSPACE"
    chmod 0700 "$DS_WORKSPACE"
    ui_print "- Created the workspace $DS_WORKSPACE"
}

ds_install() {
    DS_ARCH=$(ds_arch "$ARCH") ||
        abort "! Unsupported architecture '$ARCH': Droidspaces ships arm64, arm, x64 and x86"
    ui_print "- Droidspaces for $DS_ARCH ($(ds_manager))"

    unzip -o "$ZIPFILE" module.prop service.sh uninstall.sh action.sh 'webroot/*' \
        -d "$MODPATH" >&2 || abort "! Cannot extract the module files from $ZIPFILE"
    if ! unzip -p "$ZIPFILE" "bin/$DS_ARCH/droidspaces" >"$MODPATH/droidspaces" ||
        [ ! -s "$MODPATH/droidspaces" ]; then
        abort "! The zip has no bin/$DS_ARCH/droidspaces"
    fi

    set_perm_recursive "$MODPATH" 0 0 0755 0644
    set_perm "$MODPATH/droidspaces" 0 0 0755
    set_perm "$MODPATH/service.sh" 0 0 0755
    set_perm "$MODPATH/uninstall.sh" 0 0 0755
    set_perm "$MODPATH/action.sh" 0 0 0755

    ds_check_kernel
    ds_workspace
    ds_expose_command
    ui_print "- Containers with run_at_boot=1 start at every boot (Logs/boot-module.log)"
    ui_print "- Reboot, then run 'droidspaces' in a root shell or open the WebUI"
}

ds_install
