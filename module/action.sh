#!/system/bin/sh
# The manager's Action button: the state of every container and the dashboard's address,
# starting the server first if it does not run.

MODDIR=${0%/*}
BIN=$MODDIR/droidspaces

if [ ! -x "$BIN" ]; then
    echo "! $BIN is missing: reinstall the module"
    exit 1
fi

echo "Droidspaces $("$BIN" version 2>/dev/null)"
echo
if ! "$BIN" daemon --status >/dev/null 2>&1; then
    echo "Starting the server..."
    "$BIN" daemon >/dev/null || echo "! The server did not start: see Logs/droidspacesd.log"
fi
echo "Containers:"
"$BIN" show --all
echo
"$BIN" daemon --status
echo
echo "Open the dashboard address above in a browser on this device, or the module's WebUI."
exit 0
