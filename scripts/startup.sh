#!/usr/bin/env bash
# Start-up of cachelab on a cache_dir that already holds many entries: does
# it answer at once, however many are stored?
#
# Builds the release binaries, fills a temporary cache_dir with N entries
# written as the app writes them (examples/fill_cache.rs), then starts the
# app on it again and again and measures, from the moment the process is
# started:
#   /health      the first successful GET /health
#   first hit    POST /data with a stored body, sent as soon as /health
#                answers (a MISS there is reported: it should never happen)
#   a miss       then how long POST /data with a new body takes: its answer
#                is stored, which needs the directory's change lock
#   index read   /stats stops saying index_loading
#   all counted  /stats reports every stored entry
# (all from the moment the process is started, except the miss: its own
# duration)
# with the kernel's page cache warm and, when /proc/sys/vm/drop_caches can
# be written (root), cold: after sync; echo 3 > /proc/sys/vm/drop_caches,
# which also evicts the binary itself. The same is measured on a cache_dir
# holding a single entry, so the table separates what the stored entries
# cost from what starting the process costs. Each is repeated ROUNDS times,
# interleaved, and the table shows medians, with the range. The first start
# of all is shown on its own: the directory has no footprint record yet,
# so the app measures it in the background. du -s of the directory is
# printed too. The goal: /health and a hit within 100 ms of start.
#
# Usage: scripts/startup.sh [--entries N] [--rounds N] [--dir PARENT]
#                           [--no-build]
#   --entries N   entries to store (default 50000)
#   --rounds N    starts per row (default 5)
#   --dir PARENT  where to make the temporary cache_dir (default: $TMPDIR or
#                 /tmp); use a real disk, not tmpfs, for the cold rows
#
# Needs bash 5, curl and cargo. Stops by itself and removes what it made.
# Dropping the page cache slows everything else on the machine for a while.
set -euo pipefail

entries=50000
rounds=5
parent="${TMPDIR:-/tmp}"
build=1

while [[ $# -gt 0 ]]; do
    case "$1" in
        --entries) entries="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --dir) parent="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
        *) echo "startup.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

[[ -n "${EPOCHREALTIME:-}" ]] || { echo "startup.sh: needs bash 5 or later" >&2; exit 1; }
for tool in curl cargo du; do
    command -v "$tool" >/dev/null || { echo "startup.sh: $tool is not installed" >&2; exit 1; }
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
binary="$target_dir/release/cachelab"
fill_binary="$target_dir/release/examples/fill_cache"
if [[ $build -eq 1 ]]; then
    echo "building the release binaries..." >&2
    cargo build --release --quiet --bin cachelab --example fill_cache
fi
for file in "$binary" "$fill_binary"; do
    [[ -x "$file" ]] || { echo "startup.sh: $file is missing (drop --no-build)" >&2; exit 1; }
done

work_dir="$(mktemp -d "$parent/cachelab-startup.XXXXXX")"
cache_dir="$work_dir/cache"
single_dir="$work_dir/single"
server_pid=""
fill_pid=""
stop_server() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
}
cleanup() {
    stop_server
    if [[ -n "$fill_pid" ]]; then
        kill "$fill_pid" 2>/dev/null || true
        wait "$fill_pid" 2>/dev/null || true
    fi
    echo "removing the temporary cache_dir..." >&2
    rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ $(stat -f -c %T "$work_dir") == tmpfs ]]; then
    echo "startup.sh: $parent is tmpfs, so the page cache cannot be dropped; use --dir" >&2
fi

# A port nothing on 127.0.0.1 answers on.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=""
for _ in $(seq 50); do
    candidate=$((20000 + RANDOM % 30000))
    if port_is_free "$candidate"; then port=$candidate; break; fi
done
[[ -n "$port" ]] || { echo "startup.sh: no free port found" >&2; exit 1; }
base="http://127.0.0.1:$port"

# Waits $1 seconds without starting a process: a read that times out on a
# pipe nobody writes to.
exec {pause_fd}<> <(:)
pause() { read -r -t "$1" -u "$pause_fd" _ || true; }

# Microseconds since the epoch, into the variable named $1, without a
# subshell (a fork would cost more than what is measured).
now_us() { printf -v "$1" '%s' "${EPOCHREALTIME//[.,]/}"; }

# Requests over bash's /dev/tcp rather than curl, answers kept in variables
# rather than printed: no process is started per attempt, so polling does
# not take the CPU from the app starting up. Sets reply_status (e.g. 200)
# and reply_x_cache; fails if nothing answers (within 2 minutes).
reply_status=""
reply_x_cache=""
http() {
    local method="$1" path="$2" body="${3:-}" line
    reply_status=""
    reply_x_cache=""
    { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
    if [[ -n "$body" ]]; then
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
            "$method" "$path" "${#body}" "$body" >&3
    else
        printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$method" "$path" >&3
    fi
    while IFS= read -r -t 120 line <&3; do
        line="${line%$'\r'}"
        [[ -z "$line" ]] && break
        case "${line,,}" in
            http/1.1\ *) reply_status="${line:9:3}" ;;
            x-cache:*) reply_x_cache="${line#*: }" ;;
        esac
    done
    exec 3<&-
    [[ -n "$reply_status" ]]
}

# Tried before the fill: dropping the page cache is harmless now.
can_drop_caches=0
if (sync && echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then can_drop_caches=1; fi

echo "writing $entries entries..." >&2
# In the background and waited for, so that an interruption stops it too.
fill() {
    "$fill_binary" "$1" "$2" >"$work_dir/bodies.txt" &
    fill_pid=$!
    wait "$fill_pid"
    fill_pid=""
}
fill "$cache_dir" "$entries"
mapfile -t stored_bodies <"$work_dir/bodies.txt"
fill "$single_dir" 1 2>/dev/null
mapfile -t single_bodies <"$work_dir/bodies.txt"
single_body="${single_bodies[0]}"
du_bytes=$(du -s --block-size=1 "$cache_dir" | cut -f1)
du_human=$(du -sh "$cache_dir" | cut -f1)
# The fill leaves hundreds of megabytes of metadata to write back; without
# this, the first start would be timed against that.
sync
# Read the binary once, so that the first start is as warm as its row says.
cat "$binary" >/dev/null

results="$work_dir/results.txt"
: >"$results"
run=0

# measure LABEL DIR ENTRIES BODY: one start on DIR, which holds ENTRIES
# entries, BODY among them; stores one entry more. Appended to results as
# "label health_ms hit_ms index_s counted_s x_cache miss_ms".
measure() {
    local label="$1" dir="$2" expected="$3" body="$4" started ready hit loaded counted now stats
    local x_cache miss_sent missed
    now_us started
    (
        cd "$work_dir"
        exec env ROCKET_PROFILE=release \
            ROCKET_ADDRESS=127.0.0.1 \
            ROCKET_PORT="$port" \
            ROCKET_CACHE_DIR="$dir" \
            ROCKET_DISK_MAX_BYTES=$((du_bytes * 4)) \
            ROCKET_DATA_DELAY_MS=0 \
            ROCKET_FACTORIAL_DELAY_MS=0 \
            ROCKET_LOG_LEVEL=critical \
            "$binary" >>"$work_dir/server.log" 2>&1
    ) &
    server_pid=$!
    until http GET /health && [[ $reply_status == 200 ]]; do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "startup.sh: the server exited; its log:" >&2
            cat "$work_dir/server.log" >&2
            exit 1
        fi
        now_us now
        if ((now - started > 60000000)); then
            echo "startup.sh: no answer from /health within 60 s" >&2
            exit 1
        fi
        pause 0.001
    done
    now_us ready
    http POST /data "$body" || true
    now_us hit
    x_cache="$reply_x_cache"
    now_us miss_sent
    http POST /data "{\"startup_probe\":$run}" || true
    now_us missed
    expected=$((expected + 1))
    loaded=""
    counted=""
    while [[ -z "$counted" ]]; do
        stats=$(curl -sf "$base/stats") || true
        now_us now
        if [[ -z "$loaded" && $stats == *'"index_loading":false'* ]]; then loaded=$now; fi
        if [[ -n "$loaded" && $stats == *"\"entries\":$expected,"* ]]; then counted=$now; fi
        if [[ -z "$counted" ]] && ((now - started > 600000000)); then
            echo "startup.sh: after 10 minutes /stats still does not count $expected entries:" >&2
            echo "$stats" >&2
            exit 1
        fi
        [[ -n "$counted" ]] || pause 0.02
    done
    stop_server
    awk -v label="$label" -v s="$started" -v r="$ready" -v h="$hit" -v l="$loaded" -v c="$counted" \
        -v x="${x_cache:-none}" -v ms="$miss_sent" -v m="$missed" 'BEGIN {
        printf "%s %.1f %.1f %.2f %.2f %s %.1f\n", label, (r - s) / 1000, (h - s) / 1000,
            (l - s) / 1e6, (c - s) / 1e6, x, (m - ms) / 1000 }' >>"$results"
}

# A different stored body each time, so no start finds its entry read by
# the one before.
next_body() { body="${stored_bodies[$((run % ${#stored_bodies[@]}))]}"; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Each start stores one new entry (the miss), counted here.
stored=$entries
single_stored=1
on_cache_dir() {
    next_body
    measure "$1" "$cache_dir" "$stored" "$body"
    stored=$((stored + 1))
    run=$((run + 1))
}
on_single_dir() {
    measure "$1" "$single_dir" "$single_stored" "$single_body"
    single_stored=$((single_stored + 1))
    run=$((run + 1))
}

echo "first start (the app measures the directory)..." >&2
on_cache_dir first
for round in $(seq "$rounds"); do
    echo "round $round of $rounds: warm..." >&2
    on_single_dir single_warm
    on_cache_dir warm
    if [[ $can_drop_caches -eq 1 ]]; then
        echo "round $round of $rounds: cold..." >&2
        drop_caches
        on_single_dir single_cold
        drop_caches
        on_cache_dir cold
    fi
done

median() { sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR > 1) print lo, hi}'; }
column_of() { awk -v label="$1" -v col="$2" '$1 == label {print $col}' "$results"; }
# cell LABEL COLUMN DECIMALS: "median (lowest–highest)".
cell() {
    local median spread
    median=$(column_of "$1" "$2" | median)
    spread=$(column_of "$1" "$2" | spread)
    awk -v m="$median" -v s="$spread" -v d="$3" 'BEGIN {
        printf "%.*f", d, m
        if (split(s, r, " ") == 2) printf " (%.*f–%.*f)", d, r[1], d, r[2] }'
}

row() {
    local label="$1" name="$2" count
    count=$(column_of "$label" 1 | wc -l)
    [[ $count -gt 0 ]] || return 0
    printf "| %s | %s | %s | %s | %s | %s |\n" "$name ($count)" "$(cell "$label" 2 1)" \
        "$(cell "$label" 3 1)" "$(cell "$label" 7 1)" "$(cell "$label" 4 2)" "$(cell "$label" 5 2)"
}

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo
echo "$entries entries; du -s of the cache_dir: $du_bytes bytes ($du_human)"
echo
echo "| start (how many) | /health ms | first hit ms | a miss right after, ms | index read s | all counted s |"
echo "|---|---:|---:|---:|---:|---:|"
row first "$entries entries, first start: no footprint record, warm"
row warm "$entries entries, warm page cache"
row cold "$entries entries, cold page cache"
row single_warm "1 entry, warm page cache"
row single_cold "1 entry, cold page cache"
echo
if [[ $can_drop_caches -eq 0 ]]; then
    echo "Cold starts skipped: /proc/sys/vm/drop_caches cannot be written (run as root)."
fi
misses=$(awk '$6 != "HIT"' "$results" | wc -l)
if [[ $misses -gt 0 ]]; then
    echo "WARNING: $misses first requests for a stored body were not a HIT"
fi
worst_hit=$(for label in warm cold; do column_of "$label" 3 | median; done | grep -v nan | sort -g | tail -1)
verdict=$(awk -v v="$worst_hit" 'BEGIN {print (v + 0 < 100) ? "met" : "NOT met"}')
echo "Goal, /health and a hit within 100 ms of start (median): $verdict (${worst_hit} ms at worst)."
echo "Medians with the range over starts in brackets; $(nproc) cores ($cpu_model), load average $(cut -d' ' -f1-3 /proc/loadavg)."
