#!/bin/sh
# Installs Droidspaces from this tarball: the binary for this machine, the dashboard next to it,
# a `droidspaces` link on PATH and the systemd unit.
#   ./install.sh [--prefix=DIR] [--unitdir=DIR] [--enable] [--uninstall]
# Layout: PREFIX/lib/droidspaces/{droidspaces,webroot/}, PREFIX/bin/droidspaces -> that binary
# (the server finds webroot/ next to the real binary), UNITDIR/droidspaces.service.
# UNITDIR: /etc/systemd/system for the prefixes /usr and /usr/local, else PREFIX/lib/systemd/system.
set -eu

die() {
    echo "install.sh: $*" >&2
    exit 1
}

PREFIX=/usr/local UNITDIR="" ENABLE=0 UNINSTALL=0
while [ $# -gt 0 ]; do
    case $1 in
    --prefix=*) PREFIX=${1#--prefix=} ;;
    --unitdir=*) UNITDIR=${1#--unitdir=} ;;
    --prefix | --unitdir)
        [ $# -ge 2 ] || die "option '$1' requires a directory"
        if [ "$1" = --prefix ]; then PREFIX=$2; else UNITDIR=$2; fi
        shift
        ;;
    --enable) ENABLE=1 ;;
    --uninstall) UNINSTALL=1 ;;
    -h | --help)
        sed -n '2,8p' "$0"
        exit 0
        ;;
    *) die "unknown argument '$1': see --help" ;;
    esac
    shift
done
case $PREFIX in
/*) ;;
*) die "--prefix '$PREFIX': expected an absolute path" ;;
esac
PREFIX=${PREFIX%/}
if [ -z "$UNITDIR" ]; then
    case $PREFIX in
    /usr | /usr/local) UNITDIR=/etc/systemd/system ;;
    *) UNITDIR=$PREFIX/lib/systemd/system ;;
    esac
fi
LIBDIR=$PREFIX/lib/droidspaces
BIN=$LIBDIR/droidspaces
LINK=$PREFIX/bin/droidspaces
UNIT=$UNITDIR/droidspaces.service
HERE=$(cd "$(dirname "$0")" && pwd)

# Only touch systemd when the unit is (to be) in a directory systemd reads.
system_unit() {
    [ "$UNITDIR" = /etc/systemd/system ] && command -v systemctl >/dev/null 2>&1 &&
        [ -d /run/systemd/system ]
}

uninstall() {
    if [ -f "$UNIT" ] && system_unit; then
        systemctl disable --now droidspaces.service || true
    fi
    rm -f "$UNIT"
    if [ -L "$LINK" ] && [ "$(readlink "$LINK")" = "$BIN" ]; then
        rm -f "$LINK"
    fi
    rm -rf "$LIBDIR"
    if system_unit; then systemctl daemon-reload || true; fi
    echo "Removed Droidspaces from $PREFIX; containers in the workspace are kept"
}

machine_arch() {
    case $(uname -m) in
    x86_64 | amd64) echo x86_64 ;;
    aarch64 | arm64 | armv8b) echo aarch64 ;;
    armv7l | armv7 | armv8l | armhf | armv6l) echo armhf ;;
    i386 | i486 | i586 | i686) echo x86 ;;
    *) return 1 ;;
    esac
}

install_all() {
    arch=$(machine_arch) || die "machine '$(uname -m)': no binary for it (x86_64, aarch64, armhf, x86)"
    [ -x "$HERE/bin/$arch/droidspaces" ] || die "$HERE/bin/$arch/droidspaces is missing"
    [ -f "$HERE/webroot/index.html" ] || die "$HERE/webroot is missing"
    if [ -e "$LINK" ] && { [ ! -L "$LINK" ] || [ "$(readlink "$LINK")" != "$BIN" ]; }; then
        die "$LINK exists and is not ours: remove it or choose another --prefix"
    fi
    mkdir -p "$LIBDIR" "$PREFIX/bin" "$UNITDIR"
    # Into place by rename: a running server keeps its old binary until it restarts.
    cp "$HERE/bin/$arch/droidspaces" "$BIN.new"
    chmod 0755 "$BIN.new"
    mv -f "$BIN.new" "$BIN"
    rm -rf "$LIBDIR/webroot.new"
    cp -R "$HERE/webroot" "$LIBDIR/webroot.new"
    rm -rf "$LIBDIR/webroot"
    mv "$LIBDIR/webroot.new" "$LIBDIR/webroot"
    ln -sfn "$BIN" "$LINK"
    sed "s|@BIN@|$BIN|g" "$HERE/droidspaces.service" >"$UNIT.new"
    chmod 0644 "$UNIT.new"
    mv -f "$UNIT.new" "$UNIT"
    echo "Installed $("$BIN" version | cut -d' ' -f1) ($arch) to $BIN"
    echo "Unit: $UNIT"
    if system_unit; then
        systemctl daemon-reload
        if [ "$ENABLE" = 1 ]; then
            systemctl enable --now droidspaces.service
        else
            echo "Start it at boot with: systemctl enable --now droidspaces.service"
        fi
    fi
}

if [ "$UNINSTALL" = 1 ]; then uninstall; else install_all; fi
