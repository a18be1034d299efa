# shellcheck shell=bash
# Helpers for bench/run.sh. Sourced, not executed.
#
# Timing: stamp VAR stores "now" in microseconds in VAR without forking (bash's
# $EPOCHREALTIME), so the probe itself adds nothing to what is measured. Falls back to
# `date +%s%6N` on shells without EPOCHREALTIME.

log() { printf '[bench] %s\n' "$*" >&2; }
warn() { printf '[bench] WARNING: %s\n' "$*" >&2; }

stamp() {
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        printf -v "$1" '%s' "${EPOCHREALTIME/[.,]/}"
    else
        printf -v "$1" '%s' "$(date +%s%6N)"
    fi
}

# stats FILE: one integer (µs) per line -> "n median min max" in ms, or "0 NA NA NA".
stats() {
    local f=$1
    [[ -s $f ]] || {
        echo "0 NA NA NA"
        return
    }
    sort -n "$f" | awk '{a[NR]=$1}
        END {
            m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
            printf "%d %s %s %s\n", NR, f(m / 1000), f(a[1] / 1000), f(a[NR] / 1000)
        }
        function f(v) { return sprintf(v < 10 ? "%.2f" : "%.1f", v) }'
}

# median_of FILE: the median field of stats (ms) or NA.
median_of() {
    local s
    s=$(stats "$1")
    set -- $s # word splitting wanted
    echo "$2"
}

# stats_kb FILE: integers (kB) -> median, or NA.
median_kb() {
    [[ -s $1 ]] || {
        echo NA
        return
    }
    sort -n "$1" | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%d\n", m}'
}

# ratio A B -> A/B with 2 decimals, or NA.
ratio() {
    if [[ $1 == NA || $2 == NA || -z $1 || -z $2 ]]; then
        echo NA
        return
    fi
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "NA"; else printf "%.2f\n", a / b }'
}

# verdict VALUE OP LIMIT -> PASS / FAIL / n/a (OP is lt or le).
verdict() {
    local v=$1 op=$2 lim=$3
    [[ $v == NA || -z $v ]] && {
        echo "n/a"
        return
    }
    awk -v v="$v" -v l="$lim" -v op="$op" 'BEGIN {
        ok = (op == "lt") ? (v < l) : (v <= l)
        print ok ? "PASS" : "FAIL" }'
}

# hyperfine_median CSV NAME -> median in ms (hyperfine's CSV is in seconds), or NA.
hyperfine_median() {
    local csv=$1 name=$2
    [[ -s $csv ]] || {
        echo NA
        return
    }
    awk -F, -v n="$name" 'NR > 1 {
        c = $1; gsub(/"/, "", c)
        if (c == n) { printf "%.2f\n", $4 * 1000; found = 1 }
    } END { if (!found) print "NA" }' "$csv"
}

# mem_sample PID -> "RSS_kB PSS_kB RssFile_kB RssAnon_kB" (NA for what cannot be read).
mem_sample() {
    local pid=$1 rss rfile ranon pss
    read -r rss rfile ranon < <(awk '/^VmRSS:/ {r = $2} /^RssFile:/ {f = $2} /^RssAnon:/ {a = $2}
        END {print (r == "" ? "NA" : r), (f == "" ? "NA" : f), (a == "" ? "NA" : a)}' "/proc/$pid/status" 2>/dev/null)
    if [[ -r /proc/$pid/smaps_rollup ]]; then
        pss=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null)
    else
        pss=$(awk '/^Pss:/ {s += $2} END {if (NR) print s}' "/proc/$pid/smaps" 2>/dev/null)
    fi
    echo "${rss:-NA} ${pss:-NA} ${rfile:-NA} ${ranon:-NA}"
}

# json_field FILE KEY -> a numeric field of a flat JSON object (the runtime's .state file).
json_num() {
    sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1" 2>/dev/null | head -1
}

# pid_alive PID: true while PID exists and is not a zombie.
pid_alive() {
    local st
    [[ -n ${1:-} && -e /proc/$1 ]] || return 1
    st=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null)
    [[ -n $st && $st != Z && $st != X ]]
}

# wait_gone PID SECONDS: waits for PID to exit. Returns 1 on timeout.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while pid_alive "$pid"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.02
    done
    return 0
}

# The host state compared before and after the run (what "nothing left behind" means).
# Only processes that can belong to a container run are listed: monitors, nspawn, and
# anything whose root directory lies inside the bench's work dir.
host_snapshot() {
    local work=$1 p
    echo "# mounts"
    awk '{print $5}' /proc/self/mountinfo | sort
    echo "# droidspaces cgroups"
    find /sys/fs/cgroup -path '*droidspaces*' -type d 2>/dev/null | sort
    echo "# processes"
    {
        ps -eo args= | grep -E '^(ds-monitor|systemd-nspawn)' || true
        for p in $(find /proc -mindepth 2 -maxdepth 2 -name root -lname "$work/*" 2>/dev/null); do
            echo "root-in-workdir: $(tr '\0' ' ' <"${p%/root}/cmdline" 2>/dev/null)"
        done
    } | sort
}

# shellcheck disable=SC2034 # NSPAWN_LEADER is read by run.sh
# find_nspawn_leader NSPAWN_PID: sets NSPAWN_LEADER to the child of systemd-nspawn whose
# comm is "systemd" (the container's PID 1), or leaves it empty. Builtins only: no forks
# in the polling loop.
find_nspawn_leader() {
    local ns=$1 f k comm
    local -a kids
    NSPAWN_LEADER=
    for f in /proc/"$ns"/task/*/children; do
        [[ -r $f ]] || continue
        read -r -a kids <"$f" 2>/dev/null || true
        for k in "${kids[@]}"; do
            comm=
            read -r comm <"/proc/$k/comm" 2>/dev/null || continue
            if [[ $comm == systemd ]]; then
                NSPAWN_LEADER=$k
                return 0
            fi
        done
    done
    return 1
}

# systemd_userspace_ms PID -> "Startup finished in …(userspace)" as ms, or NA.
systemd_userspace_ms() {
    local out
    out=$(timeout 10 nsenter -t "$1" -a systemd-analyze time 2>/dev/null | head -1)
    awk -v s="$out" 'BEGIN {
        n = split(s, w, " ")
        for (i = 1; i <= n; i++) if (w[i] == "(userspace)") {
            v = w[i - 1]
            if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%d\n", v; exit }
            if (v ~ /s$/)  { sub(/s$/, "", v);  printf "%d\n", v * 1000; exit }
        }
        print "NA" }'
}
