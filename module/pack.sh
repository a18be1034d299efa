#!/bin/sh
# Builds the two release artifacts from built binaries and the built dashboard:
#   OUT/droidspaces-V.zip           the Magisk / KernelSU / APatch module
#   OUT/droidspaces-V-linux.tar.gz  the desktop tarball (install.sh + systemd unit)
#   OUT/update.json                 what the module's updateJson URL serves
# Usage: module/pack.sh --version V --bins DIR --webroot DIR --out DIR [--update-json URL]
#   DIR/<arch>/droidspaces for arch in aarch64 armhf x86_64 x86 (all four required).
# Reproducible: the same inputs give the same bytes (fixed mtimes, sorted names, normalised
# modes, no owner names or extra attributes, UTC, gzip without name and time).
set -eu

ARCHES="aarch64 armhf x86_64 x86"
# Every file's mtime: SOURCE_DATE_EPOCH when the caller sets one, else a fixed date.
EPOCH=${SOURCE_DATE_EPOCH:-1704067200}
UPDATE_JSON=https://github.com/droidspaces/droidspaces/releases/latest/download/update.json

die() {
    echo "pack.sh: $*" >&2
    exit 1
}

VERSION="" BINS="" WEBROOT="" OUT=""
while [ $# -gt 0 ]; do
    case $1 in
    --version | --bins | --webroot | --out | --update-json)
        [ $# -ge 2 ] || die "option '$1' requires a value"
        case $1 in
        --version) VERSION=$2 ;;
        --bins) BINS=$2 ;;
        --webroot) WEBROOT=$2 ;;
        --out) OUT=$2 ;;
        --update-json) UPDATE_JSON=$2 ;;
        esac
        shift 2
        ;;
    *) die "unknown argument '$1': usage: pack.sh --version V --bins DIR --webroot DIR --out DIR" ;;
    esac
done
if [ -z "$VERSION" ] || [ -z "$BINS" ] || [ -z "$WEBROOT" ] || [ -z "$OUT" ]; then
    die "usage: pack.sh --version V --bins DIR --webroot DIR --out DIR [--update-json URL]"
fi

# versionCode: 1000000 + MAJOR*10000 + MINOR*100 + PATCH (0.1.0 -> 1000100). Increases with
# every release while MINOR and PATCH stay below 100, and stays above upstream's codes (6500
# for v6.5.0): the module keeps upstream's id, so a manager sees ours as the newer one.
echo "$VERSION" | grep -Eq '^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$' ||
    die "--version '$VERSION': expected MAJOR.MINOR.PATCH, each 0-99"
MAJOR=${VERSION%%.*}
REST=${VERSION#*.}
MINOR=${REST%%.*}
PATCH=${REST#*.}
VERSION_CODE=$((1000000 + MAJOR * 10000 + MINOR * 100 + PATCH))

for arch in $ARCHES; do
    if [ ! -f "$BINS/$arch/droidspaces" ] || [ ! -x "$BINS/$arch/droidspaces" ]; then
        die "--bins '$BINS': no executable $arch/droidspaces (need $ARCHES)"
    fi
done
[ -f "$WEBROOT/index.html" ] || die "--webroot '$WEBROOT': no index.html (build the dashboard)"
case $UPDATE_JSON in
https://*) ;;
*) die "--update-json '$UPDATE_JSON': expected an https:// URL" ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ds-pack.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT INT TERM

# Copies a tree with normalised modes: directories and executables 0755, other files 0644.
copy_tree() {
    mkdir -p "$2"
    cp -R "$1/." "$2/"
    find "$2" -type d -exec chmod 0755 {} +
    find "$2" -type f -exec chmod 0644 {} +
}

# Sets every mtime to EPOCH (symlinks themselves too).
fix_times() {
    find "$1" -exec touch -h -d "@$EPOCH" {} +
}

# The module zip.
Z=$STAGE/zip
mkdir -p "$Z/META-INF/com/google/android" "$Z/bin"
sed -e "s|@VERSION@|$VERSION|g" -e "s|@VERSION_CODE@|$VERSION_CODE|g" \
    -e "s|@UPDATE_JSON@|$UPDATE_JSON|g" "$HERE/module.prop" >"$Z/module.prop"
for f in customize.sh service.sh uninstall.sh action.sh; do
    cp "$HERE/$f" "$Z/$f"
done
for f in update-binary updater-script; do
    cp "$HERE/META-INF/com/google/android/$f" "$Z/META-INF/com/google/android/$f"
done
copy_tree "$WEBROOT" "$Z/webroot"
for arch in $ARCHES; do
    mkdir -p "$Z/bin/$arch"
    cp "$BINS/$arch/droidspaces" "$Z/bin/$arch/droidspaces"
done
find "$Z" -type d -exec chmod 0755 {} +
find "$Z" -type f -exec chmod 0644 {} +
chmod 0755 "$Z"/*.sh "$Z/META-INF/com/google/android/update-binary" "$Z"/bin/*/droidspaces
fix_times "$Z"
ZIP=$OUT/droidspaces-$VERSION.zip
rm -f "$ZIP"
# -X: no uid/gid or extra time fields; -D: no directory entries; names in C-locale order.
(cd "$Z" && find . -type f | sed 's|^\./||' | LC_ALL=C sort |
    TZ=UTC zip -q -X -D -9 "$ZIP" -@) || die "zip failed"

# The desktop tarball.
NAME=droidspaces-$VERSION-linux
T=$STAGE/tar/$NAME
mkdir -p "$T/bin"
cp "$HERE/desktop/install.sh" "$T/install.sh"
cp "$HERE/desktop/droidspaces.service" "$T/droidspaces.service"
cp "$HERE/desktop/README" "$T/README"
copy_tree "$WEBROOT" "$T/webroot"
for arch in $ARCHES; do
    mkdir -p "$T/bin/$arch"
    cp "$BINS/$arch/droidspaces" "$T/bin/$arch/droidspaces"
done
printf '%s\n' "$VERSION" >"$T/VERSION"
find "$T" -type d -exec chmod 0755 {} +
find "$T" -type f -exec chmod 0644 {} +
chmod 0755 "$T/install.sh" "$T"/bin/*/droidspaces
fix_times "$STAGE/tar"
TGZ=$OUT/$NAME.tar.gz
(cd "$STAGE/tar" && LC_ALL=C tar --sort=name --format=gnu --mtime="@$EPOCH" --owner=0 \
    --group=0 --numeric-owner -cf - "$NAME") | gzip -n -9 >"$TGZ.tmp" || die "tar failed"
mv -f "$TGZ.tmp" "$TGZ"

# What the module's updateJson serves: the zip next to it in the same release.
printf '{"version":"v%s","versionCode":%s,"zipUrl":"%s","changelog":"%s"}\n' \
    "$VERSION" "$VERSION_CODE" "${UPDATE_JSON%/*}/droidspaces-$VERSION.zip" \
    "${UPDATE_JSON%/*}/CHANGELOG.md" >"$OUT/update.json"

echo "$ZIP"
echo "$TGZ"
