#!/system/bin/sh
# Runs when the module is removed. Stops every running container cleanly (their own init powers
# them off) and the server, and removes the command links the installer made. The workspace
# (containers, configs, images, logs) is the user's and stays: reinstalling finds it again.

MODDIR=${0%/*}
BIN=$MODDIR/droidspaces
ADB=${NVBASE:-/data/adb}

running_names() {
    "$BIN" show --json 2>/dev/null | grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

if [ -x "$BIN" ]; then
    names=$(running_names | tr '\n' ',' | sed 's/,$//')
    if [ -n "$names" ]; then
        echo "Stopping containers: $names"
        "$BIN" --name="$names" stop || echo "Some containers did not stop cleanly"
    fi
    if "$BIN" daemon --status >/dev/null 2>&1; then
        "$BIN" daemon --stop
    fi
fi

# Only our own links: a link that points elsewhere, or a file, is someone else's.
for link in "$ADB/ksu/bin/droidspaces" "$ADB/ap/bin/droidspaces"; do
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$ADB/modules/droidspaces/droidspaces" ]; then
        rm -f "$link"
    fi
done
exit 0
