# Helpers for the module and desktop suites (97-module.bats, 98-desktop.bats): the built
# artifacts, pack.sh, the root manager's installer environment for customize.sh, and qemu-user
# through binfmt_misc for the foreign binaries. Load after helpers: load helpers/module

MODULE_SRC=$REPO_ROOT/module
MODULE_ARCHES="aarch64 armhf x86_64 x86"
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build}

# The project version, from CMakeLists.txt (the one source of truth).
project_version() {
    sed -n 's/^project(droidspaces VERSION \([0-9.]*\).*/\1/p' "$REPO_ROOT/CMakeLists.txt"
}

# Fails (never skips) unless the four binaries and the dashboard are built.
module_require_artifacts() {
    local arch
    for arch in $MODULE_ARCHES; do
        if [ ! -x "$BUILD_DIR/dist-bin/$arch/droidspaces" ]; then
            echo "missing $BUILD_DIR/dist-bin/$arch/droidspaces: run './build.sh dist' first" >&2
            return 1
        fi
    done
    if [ ! -f "$BUILD_DIR/webroot/index.html" ]; then
        echo "missing $BUILD_DIR/webroot/index.html: run './build.sh' (builds the dashboard)" >&2
        return 1
    fi
}

# Packs the artifacts into directory $1 (pack.sh prints the two paths).
module_pack() {
    "$MODULE_SRC/pack.sh" --version "$(project_version)" --bins "$BUILD_DIR/dist-bin" \
        --webroot "$BUILD_DIR/webroot" --out "$1"
}

# --- qemu-user for the foreign binaries -------------------------------------------------------
# customize.sh runs the extracted binary (`check --json`). On this x86_64 host the aarch64 and
# armhf binaries run through qemu-user registered in binfmt_misc for the suite's lifetime, under
# entry names of our own; binfmt_restore removes exactly those entries and unmounts binfmt_misc
# only when we mounted it. x86 (i686) runs natively.

BINFMT_DIR=/proc/sys/fs/binfmt_misc
# name magic mask interpreter, as qemu's qemu-binfmt-conf.sh defines them.
binfmt_entries() {
    local elf_mask='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'
    echo "aarch64" '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00' \
        "$elf_mask" /usr/bin/qemu-aarch64-static
    echo "arm" '\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00' \
        "$elf_mask" /usr/bin/qemu-arm-static
}

# Registers the entries; records what to undo in $SUITE_TMP/binfmt.undo.
binfmt_setup() {
    [ "$(uname -m)" = x86_64 ] || return 0
    : >"$SUITE_TMP/binfmt.undo"
    if [ ! -e "$BINFMT_DIR/register" ]; then
        mount -t binfmt_misc binfmt_misc "$BINFMT_DIR" || {
            echo "cannot mount binfmt_misc on $BINFMT_DIR" >&2
            return 1
        }
        echo "umount" >>"$SUITE_TMP/binfmt.undo"
    fi
    local name magic mask interp entry
    while read -r name magic mask interp; do
        [ -x "$interp" ] || { echo "missing $interp (qemu-user-static)" >&2; return 1; }
        entry="ds-test-$$-$name"
        printf ':%s:M::%s:%s:%s:F\n' "$entry" "$magic" "$mask" "$interp" >"$BINFMT_DIR/register" ||
            { echo "cannot register $entry in binfmt_misc" >&2; return 1; }
        echo "entry $entry" >>"$SUITE_TMP/binfmt.undo"
    done < <(binfmt_entries)
}

binfmt_restore() {
    [ -f "$SUITE_TMP/binfmt.undo" ] || return 0
    local what arg
    # Entries first, then the mount (the undo file lists the mount first).
    while read -r what arg; do
        [ "$what" = entry ] && [ -e "$BINFMT_DIR/$arg" ] && echo -1 >"$BINFMT_DIR/$arg"
    done <"$SUITE_TMP/binfmt.undo"
    if grep -qx umount "$SUITE_TMP/binfmt.undo"; then
        # Only when nobody registered anything meanwhile.
        if [ -z "$(ls "$BINFMT_DIR" | grep -vx -e register -e status)" ]; then
            umount "$BINFMT_DIR"
        fi
    fi
    rm -f "$SUITE_TMP/binfmt.undo"
}

# --- the root manager's installer, as far as customize.sh sees it ------------------------------

# A directory of busybox applet links: the installer's PATH in standalone mode holds busybox
# applets only, so customize.sh must not need anything else.
busybox_path() {
    local dir=$SUITE_TMP/busybox-bin
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir"
        /bin/busybox --install -s "$dir"
    fi
    echo "$dir"
}

# Runs customize.sh the way the installer does, with recording stand-ins.
#   run_customize MANAGER ARCH ROOT [ZIP]
# MANAGER: Magisk, KernelSU or APatch. ROOT holds adb/ (NVBASE: modules_update/droidspaces is
# MODPATH, as when installing from the app) and tmp/; the workspace is $DROIDSPACES_HOME.
# Writes ROOT/calls (one line per helper call) and ROOT/ui (what ui_print printed); exit status:
# the installer's (1 when abort was called).
run_customize() {
    local manager=$1 arch=$2 root=$3 zip=${4:-$MODULE_ZIP}
    local modpath=$root/adb/modules_update/droidspaces
    # The installer removes MODPATH and extracts customize.sh into it first.
    rm -rf "$modpath" "$root/tmp"
    mkdir -p "$modpath" "$root/tmp"
    : >"$root/calls"
    : >"$root/ui"
    unzip -o -q "$zip" customize.sh -d "$modpath"
    cat >"$root/installer.sh" <<'EOF'
ui_print() { echo "$1" >>"$DS_T_ROOT/ui"; }
abort() {
    echo "abort $1" >>"$DS_T_ROOT/calls"
    echo "$1" >>"$DS_T_ROOT/ui"
    # Which binary was extracted, before the real abort's cleanup removes it.
    [ -f "$MODPATH/droidspaces" ] && echo "extracted $(sha256sum <"$MODPATH/droidspaces")" >>"$DS_T_ROOT/calls"
    rm -rf "$MODPATH"
    exit 1
}
set_perm() {
    echo "set_perm $*" >>"$DS_T_ROOT/calls"
    # The installer runs as root; a test that drops root cannot chown (and need not).
    if [ "$(id -u)" = 0 ]; then chown "$2:$3" "$1" || return 1; fi
    chmod "$4" "$1"
}
set_perm_recursive() {
    echo "set_perm_recursive $*" >>"$DS_T_ROOT/calls"
    find "$1" -type d -exec chmod "$4" {} + && find "$1" -type f -exec chmod "$5" {} +
}
. "$MODPATH/customize.sh"
rm -f "$MODPATH/customize.sh"
EOF
    local -a env=(
        "PATH=$(busybox_path)" "ASH_STANDALONE=1" "DS_T_ROOT=$root"
        "MODPATH=$modpath" "TMPDIR=$root/tmp" "ZIPFILE=$zip" "ARCH=$arch" "API=34"
        "BOOTMODE=true" "NVBASE=$root/adb" "DROIDSPACES_HOME=$DROIDSPACES_HOME"
        "MAGISK_VER=v25.2" "MAGISK_VER_CODE=25200"
    )
    case $arch in arm64 | x64) env+=("IS64BIT=true") ;; *) env+=("IS64BIT=false") ;; esac
    case $manager in
    KernelSU) env+=("KSU=true" "KSU_VER=v1.0.5" "KSU_VER_CODE=12081") ;;
    APatch) env+=("APATCH=true" "APATCH_VER=11107" "APATCH_VER_CODE=11107") ;;
    Magisk) env+=("MAGISK_VER=28.1" "MAGISK_VER_CODE=28100") ;;
    esac
    env -i "${env[@]}" /bin/busybox ash "$root/installer.sh" </dev/null
}

# The arch directory of a manager's ARCH value.
arch_dir_of() {
    case $1 in arm64) echo aarch64 ;; arm) echo armhf ;; x64) echo x86_64 ;; x86) echo x86 ;; esac
}

# Whether ELF file $1 needs qemu-user on this host (x86_64 runs x86_64 and i386 natively).
foreign_elf() {
    local machine
    machine=$(od -An -tx1 -j18 -N1 "$1" | tr -d ' ')
    case $(uname -m) in
    x86_64) [ "$machine" != 3e ] && [ "$machine" != 03 ] ;;
    *) return 1 ;;
    esac
}

# "path size mode" of every entry below $1, and every file's sha256: what an upgrade must keep.
tree_fingerprint() {
    (cd "$1" && find . -printf '%p %s %m %y\n' | LC_ALL=C sort &&
        find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
}
