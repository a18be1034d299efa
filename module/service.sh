#!/system/bin/sh
# Late-start boot script (Magisk, KernelSU, APatch run it in parallel with the boot). It returns
# at once: the work runs detached, waits for sys.boot_completed, starts the server and then every
# container saved with run_at_boot=1, by run_at_boot_priority (`droidspaces autoboot`, which
# gives each container a deadline and carries on past a failure).
# Log: <workspace>/Logs/boot-module.log (the previous boot's: boot-module.log.old).

MODDIR=${0%/*}
BIN=$MODDIR/droidspaces
WORKSPACE=${DROIDSPACES_HOME:-/data/local/Droidspaces}
LOG=$WORKSPACE/Logs/boot-module.log
# How long to wait for sys.boot_completed before starting anyway.
BOOT_WAIT_SECONDS=${DS_BOOT_WAIT_SECONDS:-600}

log() {
    echo "[$(date '+%Y-%m-%d %H:%M:%S')] [service] $*"
}

wait_for_boot() {
    waited=0
    until [ "$(getprop sys.boot_completed 2>/dev/null)" = 1 ]; do
        if [ "$waited" -ge "$BOOT_WAIT_SECONDS" ]; then
            log "sys.boot_completed is not 1 after ${BOOT_WAIT_SECONDS} s: starting anyway"
            return 0
        fi
        sleep 1
        waited=$((waited + 1))
    done
    log "boot completed (waited ${waited} s)"
}

boot() {
    log "Droidspaces module service (module: $MODDIR, workspace: $WORKSPACE)"
    if [ ! -x "$BIN" ]; then
        log "$BIN is missing or not executable: nothing started"
        return 1
    fi
    wait_for_boot
    if "$BIN" daemon --status >/dev/null 2>&1; then
        log "the server already runs"
    else
        "$BIN" daemon 2>&1 | while IFS= read -r line; do log "daemon: $line"; done
    fi
    "$BIN" autoboot 2>&1 | while IFS= read -r line; do log "$line"; done
    log "done"
}

if [ "$1" = --detached ]; then
    boot
    exit 0
fi

umask 077
mkdir -p "$WORKSPACE/Logs" || exit 0
[ -f "$LOG" ] && mv -f "$LOG" "$LOG.old"
# Detached: its own session (setsid), no terminal, stdin closed, so the manager's wait for this
# script ends now and nothing of the boot stage holds the work.
if command -v setsid >/dev/null 2>&1; then
    setsid sh "$0" --detached </dev/null >>"$LOG" 2>&1 &
else
    sh "$0" --detached </dev/null >>"$LOG" 2>&1 &
fi
exit 0
