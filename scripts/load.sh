#!/usr/bin/env bash
# Load test for cachelab: how fast are cache hits next to Rocket's cheapest route?
#
# Builds the release binary, starts it on a free 127.0.0.1 port with a
# temporary cache_dir and no simulated delays, warms it, then measures with wrk:
#   /health          the framework's floor (a static string)
#   memory hit       GET /factorial/20, repeated
#   memory hit, 304  the same with its ETag in If-None-Match: answered 304 Not
#                    Modified, headers only (the tier is still asked)
#   memory hit, big  GET /factorial/10000, repeated (35,660 digits per answer)
#   disk hit         POST /data with one small body, repeated
#   miss-heavy mix   new bodies and uncached factorials (scripts/miss_mix.lua)
#   proxy hit        the lab's resource with `public, s-maxage=3600` through
#                    nginx's shared cache (proxy/room.conf, as
#                    scripts/shared-cache.sh runs it): nginx answers, and
#                    mirrors the request to the app's witness route
#   proxy hit, no witness  the same with the mirror off: nginx alone
#   memory hit via nginx  GET /factorial/20 through the same nginx, which
#                    stores nothing (no-cache) and asks the app every time
#   Redis hit        GET /factorial/1 ... /factorial/100 in turn
#                    (scripts/redis_cycle.lua) from a second instance of the
#                    app, as on another machine, whose memory holds a single
#                    step (memory_capacity = 1): every value is in Redis
#                    already, and each request's n was last asked a hundred
#                    requests ago, so memory misses and Redis answers. The
#                    Redis is scripts/redis.sh's, on a free port, started
#                    here and stopped at the end; the script prints the share
#                    of answers that really came from Redis. The first
#                    instance has no Redis, so the other rows are unchanged.
# and, beside the app, Rocket alone (examples/framework_floor.rs) sending a
# memory hit's exact response with no cache behind it, against its own
# /health: the floor under any hit, so the table shows what the response
# itself costs and what the cache adds.
# Each is run for a fixed time in several rounds, interleaved, so a burst of
# other work on the machine hits every route alike; the table shows medians.
# Ratios are taken within a round, then the median of those is reported.
#
# Usage: scripts/load.sh [--rounds N] [--duration SECS] [--connections N]
#                        [--routes NAME,NAME...] [--no-build] [--write-docs]
#   --routes      measures only these rows (health, memory_hit, memory_hit_304,
#                 memory_hit_10000, disk_hit, miss_mix, proxy_hit,
#                 proxy_hit_no_witness, proxy_memory_hit, redis_hit, floor_health,
#                 floor_cache_headers, floor_hit), and /health, which the ratios need, and
#                 prints their table without the targets
#   --write-docs  also writes docs/benchmarks.md and docs/benchmarks.svg
#
# Needs wrk (Debian: apt-get install wrk) and curl; the proxy rows need
# nginx (apt-get install nginx-light) and the Redis row redis-server
# (apt-get install redis-server), each left out without it. Stops by
# itself. The binaries are looked for where cargo builds them
# (CARGO_TARGET_DIR is honoured).
set -euo pipefail

rounds=5
duration=4
connections=32
threads=2
build=1
write_docs=0
only_routes=""

while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --connections) connections="$2"; shift 2 ;;
        --routes) only_routes="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --write-docs) write_docs=1; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
        *) echo "load.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done

for tool in wrk curl cargo; do
    command -v "$tool" >/dev/null || { echo "load.sh: $tool is not installed" >&2; exit 1; }
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
binary="$target_dir/release/cachelab"
floor_binary="$target_dir/release/examples/framework_floor"
if [[ $build -eq 1 ]]; then
    echo "building the release binaries..." >&2
    cargo build --release --quiet --bin cachelab --example framework_floor
fi
for file in "$binary" "$floor_binary"; do
    [[ -x "$file" ]] || { echo "load.sh: $file is missing (drop --no-build)" >&2; exit 1; }
done

work_dir="$(mktemp -d)"
server_pid=""
floor_pid=""
redis_pid=""
redis_app_pid=""
proxy_pids=()
proxy_dirs=()
cleanup() {
    # nginx first, and its whole process group: its workers outlive a
    # master that was killed.
    for pid in "${proxy_pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for dir in "${proxy_dirs[@]}"; do
        rm -rf "$dir" "$dir.log"
    done
    # Deleting the mix's thousands of small files can take a while on some disks.
    [[ -d "$work_dir/cache" ]] && echo "removing the temporary cache_dir..." >&2
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    [[ -n "$floor_pid" ]] && kill "$floor_pid" 2>/dev/null || true
    # The instance before its Redis, so it does not report an outage.
    for pid in $redis_app_pid $redis_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A port nothing on 127.0.0.1 answers on.
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local candidate
    for _ in $(seq 50); do
        candidate=$((20000 + RANDOM % 30000))
        if port_is_free "$candidate" && [[ $candidate != "${1:-}" ]]; then echo "$candidate"; return; fi
    done
    echo "load.sh: no free port found" >&2
    exit 1
}
port=$(free_port)
floor_port=$(free_port "$port")
proxy_port=$(free_port "$floor_port")
plain_proxy_port=$(free_port "$proxy_port")
redis_port=$(free_port "$plain_proxy_port")
redis_app_port=$(free_port "$redis_port")
base="http://127.0.0.1:$port"
floor="http://127.0.0.1:$floor_port"
proxied="http://127.0.0.1:$proxy_port"
plain_proxied="http://127.0.0.1:$plain_proxy_port"
# The key nginx reports each lab request with (see proxy/room.conf), so the
# proxy rows measure the shared cache as it runs for a learner, witness
# report included.
witness_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')

now_ns() { date +%s%N; }

# Start the server from the temp dir, so no Rocket.toml of ours is read from
# the working directory: the settings are the ones built in, plus these.
started_ns=$(now_ns)
(
    cd "$work_dir"
    exec env ROCKET_PROFILE=release \
        ROCKET_ADDRESS=127.0.0.1 \
        ROCKET_PORT="$port" \
        ROCKET_CACHE_DIR="$work_dir/cache" \
        ROCKET_DATA_DELAY_MS=0 \
        ROCKET_FACTORIAL_DELAY_MS=0 \
        ROCKET_LOG_LEVEL=critical \
        ROCKET_PROXY_WITNESS_KEY="$witness_key" \
        "$binary" >"$work_dir/server.log" 2>&1
) &
server_pid=$!

ready=0
for _ in $(seq 1000); do
    if curl -sf -o /dev/null "$base/health"; then ready=1; break; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.005
done
if [[ $ready -ne 1 ]]; then
    echo "load.sh: the server did not come up; its log:" >&2
    cat "$work_dir/server.log" >&2
    exit 1
fi
startup_ms=$(( ($(now_ns) - started_ns) / 1000000 ))

(cd "$work_dir" && exec env ROCKET_PORT="$floor_port" "$floor_binary" >"$work_dir/floor.log" 2>&1) &
floor_pid=$!
for _ in $(seq 1000); do
    curl -sf -o /dev/null "$floor/health" && break
    kill -0 "$floor_pid" 2>/dev/null || { cat "$work_dir/floor.log" >&2; exit 1; }
    sleep 0.005
done

# nginx's shared cache in front of the app, from the repository's config,
# twice: as a learner runs it, mirroring each request for the lab's resource
# to the app's witness route, and without that mirror, to show what the
# witness costs a proxy hit.
proxy_resource="/http-cache/resource/load-test?cc=public%2C%20s-maxage%3D3600"
start_proxy() {  # PORT MIRROR ("" for the witness, or off): sets started_pid and started_dir
    # A run directory of its own, not one inside $work_dir: run as root,
    # nginx's workers drop to an unprivileged user, who must reach the
    # stored copies, and $work_dir is private to its owner.
    started_dir=$(mktemp -d)
    proxy_dirs+=("$started_dir")
    ROOM_LISTEN="127.0.0.1:$1" ROOM_APP="127.0.0.1:$port" ROOM_WITNESS_KEY="$witness_key" \
        ROOM_WITNESS_MIRROR="$2" setsid "$repo/proxy/nginx.sh" "$started_dir" >"$started_dir.log" 2>&1 &
    started_pid=$!
    proxy_pids+=("$started_pid")
    local url="http://127.0.0.1:$1"
    for _ in $(seq 1000); do
        curl -sf -o /dev/null "$url/health" && break
        kill -0 "$started_pid" 2>/dev/null || { cat "$started_dir.log" "$started_dir/error.log" >&2; exit 1; }
        sleep 0.005
    done
    # The first request is the proxy's miss; it stores the answer.
    curl -sf -o /dev/null "$url$proxy_resource"
    local status
    status=$(curl -s -o /dev/null -D - "$url$proxy_resource" | tr -d '\r' | grep -i '^cache-status:' | tail -n 1)
    [[ "$status" == *"nginx; hit"* ]] || {
        echo "load.sh: the proxy did not store $proxy_resource ($status)" >&2
        tail -n 5 "$started_dir/error.log" >&2
        exit 1
    }
}
if "$repo/proxy/nginx.sh" --check >/dev/null 2>&1; then
    start_proxy "$proxy_port" ""
    start_proxy "$plain_proxy_port" off
else
    echo "load.sh: nginx is not installed, so the proxy rows are left out" >&2
fi

# The shared tier: scripts/redis.sh's Redis on a free port, and a second
# instance on it whose memory holds one step (see the Redis hit row above).
redis_app="http://127.0.0.1:$redis_app_port"
if command -v redis-server >/dev/null; then
    setsid "$repo/scripts/redis.sh" "$redis_port" >"$work_dir/redis.log" 2>&1 &
    redis_pid=$!
    (
        cd "$work_dir"
        exec env ROCKET_PROFILE=release \
            ROCKET_ADDRESS=127.0.0.1 \
            ROCKET_PORT="$redis_app_port" \
            ROCKET_CACHE_DIR="$work_dir/cache-redis-instance" \
            ROCKET_DATA_DELAY_MS=0 \
            ROCKET_FACTORIAL_DELAY_MS=0 \
            ROCKET_LOG_LEVEL=critical \
            ROCKET_MEMORY_CAPACITY=1 \
            ROCKET_INSTANCE_NAME=redis-row \
            ROCKET_REDIS_URL="redis://127.0.0.1:$redis_port/" \
            "$binary" >"$work_dir/redis-instance.log" 2>&1
    ) &
    redis_app_pid=$!
    # Up once its shared tier is: the keeper connects in the background.
    for _ in $(seq 1000); do
        curl -sf "$redis_app/stats" 2>/dev/null | grep -q '"health":"up"' && break
        kill -0 "$redis_pid" 2>/dev/null || { cat "$work_dir/redis.log" >&2; exit 1; }
        kill -0 "$redis_app_pid" 2>/dev/null || { cat "$work_dir/redis-instance.log" >&2; exit 1; }
        sleep 0.01
    done
    # Every value of the cycle computed once, and so stored in Redis.
    for n in $(seq 100); do
        curl -sf -o /dev/null "$redis_app/factorial/$n"
    done
    status=$(curl -s -o /dev/null -D - "$redis_app/factorial/50" | tr -d '\r' | grep -i '^cache-status:' || true)
    [[ "$status" == *"cachelab-redis;hit"* ]] || {
        echo "load.sh: the Redis row's instance did not answer from Redis ($status)" >&2
        exit 1
    }
else
    echo "load.sh: redis-server is not installed, so the Redis row is left out" >&2
fi
# "memory_hits redis_hits" of the Redis row's instance, from its /metrics.
redis_row_counts() {
    curl -sf "$redis_app/metrics" | awk '
        /^cachelab_cache_hits_total\{.*tier="memory"/ {memory = $NF}
        /^cachelab_cache_hits_total\{.*tier="redis"/ {shared = $NF}
        END {print memory + 0, shared + 0}'
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }

body='{"user":42,"items":["a","b"]}'
post_data() {
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' -d "$body" "$base/data"
}

# Warm both tiers (the first request of each is the miss) and read RSS at rest.
curl -sf -o /dev/null "$base/factorial/20"
post_data
sleep 1
rss_rest_kib=$(rss_kib)

# A cold 10000! with no simulated delay: the server's own timing of the work.
curl -sf -o /dev/null -X DELETE "$base/cache/memory"
cold_10000_ms=$(curl -sf -o /dev/null -D - "$base/factorial/10000" | tr -d '\r' |
    sed -n 's/^server-timing:.*total;dur=\([0-9.]*\).*/\1/ip')
curl -sf -o /dev/null "$base/factorial/20"
# 20!'s tag, for the revalidation row: a client that kept the answer.
etag_20=$(curl -sf -o /dev/null -D - "$base/factorial/20" | tr -d '\r' | sed -n 's/^etag: *//ip')
not_modified_status=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag_20" "$base/factorial/20")
if [[ $not_modified_status != 304 ]]; then
    echo "load.sh: /factorial/20 with If-None-Match: $etag_20 answered $not_modified_status, not 304" >&2
    exit 1
fi

# wrk's latency figures come with units; print them in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n
    }'
}

# run NAME DURATION wrk-args... -> appends "round name rps p50 p99 errors" to results
results="$work_dir/results.txt"
: >"$results"
run() {
    local round="$1" name="$2" secs="$3"; shift 3
    local out
    out=$(wrk -t"$threads" -c"$connections" -d"${secs}s" --latency "$@")
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
    errors=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i } END {print n + 0}' <<<"$out")
    echo "$round $name $rps $p50 $p99 $errors" >>"$results"
}

routes=(health memory_hit memory_hit_304 memory_hit_10000 disk_hit miss_mix)
((${#proxy_pids[@]})) && routes+=(proxy_hit proxy_hit_no_witness proxy_memory_hit)
[[ -n "$redis_pid" ]] && routes+=(redis_hit)
routes+=(floor_health floor_cache_headers floor_hit)
if [[ -n "$only_routes" ]]; then
    selected=(health)
    for name in ${only_routes//,/ }; do
        [[ " ${routes[*]} " == *" $name "* ]] || { echo "load.sh: no route $name here (try --help)" >&2; exit 2; }
        [[ $name == health ]] || selected+=("$name")
    done
    routes=("${selected[@]}")
fi
measure() {
    local round="$1" name="$2" secs="$3"
    case "$name" in
        health) run "$round" health "$secs" "$base/health" ;;
        memory_hit) run "$round" memory_hit "$secs" "$base/factorial/20" ;;
        memory_hit_304) run "$round" memory_hit_304 "$secs" -H "If-None-Match: $etag_20" "$base/factorial/20" ;;
        memory_hit_10000) run "$round" memory_hit_10000 "$secs" "$base/factorial/10000" ;;
        disk_hit) run "$round" disk_hit "$secs" -s "$repo/scripts/post_data.lua" "$base/data" ;;
        proxy_hit) run "$round" proxy_hit "$secs" "$proxied$proxy_resource" ;;
        proxy_hit_no_witness) run "$round" proxy_hit_no_witness "$secs" "$plain_proxied$proxy_resource" ;;
        proxy_memory_hit) run "$round" proxy_memory_hit "$secs" "$proxied/factorial/20" ;;
        redis_hit) run "$round" redis_hit "$secs" -s "$repo/scripts/redis_cycle.lua" "$redis_app" ;;
        floor_health) run "$round" floor_health "$secs" "$floor/health" ;;
        floor_cache_headers) run "$round" floor_cache_headers "$secs" "$floor/health-with-cache-headers" ;;
        floor_hit) run "$round" floor_hit "$secs" "$floor/factorial/20" ;;
    esac
}
measure_round() {
    local round="$1" secs="$2" name
    for name in "${routes[@]}"; do
        # The mix writes thousands of entries: it runs once, below.
        [[ $name == miss_mix ]] || measure "$round" "$name" "$secs"
    done
}

echo "warming up (1 s per route)..." >&2
curl -sf -o /dev/null "$base/factorial/10000"
measure_round 0 1
: >"$results"
[[ -n "$redis_pid" ]] && redis_counts_before=$(redis_row_counts)
for round in $(seq "$rounds"); do
    echo "round $round of $rounds ($duration s per route)..." >&2
    measure_round "$round" "$duration"
done
# The mix writes thousands of new entries, so it runs once, after the rounds,
# and is compared with the median /health.
if [[ " ${routes[*]} " == *" miss_mix "* ]]; then
    echo "miss-heavy mix ($duration s)..." >&2
    run 1 miss_mix "$duration" -s "$repo/scripts/miss_mix.lua" "$base"
fi
sleep 1
rss_after_kib=$(rss_kib)
# How many of the Redis row's answers memory gave instead (two connections
# asking for one n at once): the row is honest only if these are few.
redis_share=""
if [[ " ${routes[*]} " == *" redis_hit "* ]]; then
    read -r memory_before shared_before <<<"$redis_counts_before"
    read -r memory_after shared_after <<<"$(redis_row_counts)"
    redis_share=$(awk -v m=$((memory_after - memory_before)) -v r=$((shared_after - shared_before)) \
        'BEGIN {if (m + r > 0) printf "%.1f%% of the Redis row'"'"'s %d answers came from Redis (the rest from memory)", 100 * r / (m + r), m + r}')
fi

median() { sort -g | awk '{v[NR] = $1} END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column_of() { awk -v name="$1" -v col="$2" '$2 == name {print $col}' "$results"; }
# Per-round ratio of a route's req/s to /health's, one line per round (Rocket
# alone's routes against its own /health).
ratios_of() {
    if [[ $1 == miss_mix ]]; then
        awk -v r="$(column_of miss_mix 3 | median)" -v h="$(column_of health 3 | median)" \
            'BEGIN {if (h > 0) printf "%.3f\n", r / h}'
        return
    fi
    local base_route=health
    [[ $1 == floor_* ]] && base_route=floor_health
    awk -v name="$1" -v base="$base_route" '$2 == base {h[$1] = $3} $2 == name {r[$1] = $3}
        END {for (k in r) if (h[k] > 0) printf "%.3f\n", r[k] / h[k]}' "$results"
}
spread_of() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s–%s", lo, hi}'; }

label_of() {
    case "$1" in
        health) echo "/health (the floor)" ;;
        memory_hit) echo "memory hit: GET /factorial/20" ;;
        memory_hit_304) echo "memory hit answered 304 (If-None-Match)" ;;
        memory_hit_10000) echo "memory hit: GET /factorial/10000 (35 KB)" ;;
        disk_hit) echo "disk hit: POST /data (30 B body)" ;;
        miss_mix) echo "miss-heavy mix (80% misses)" ;;
        proxy_hit) echo "proxy hit: nginx's stored copy, witness report to the app included" ;;
        proxy_hit_no_witness) echo "proxy hit, no witness: nginx's stored copy alone" ;;
        proxy_memory_hit) echo "memory hit through nginx: GET /factorial/20" ;;
        redis_hit) echo "Redis hit: GET /factorial/1…100, one step in memory" ;;
        floor_health) echo "Rocket alone: /health" ;;
        floor_cache_headers) echo "Rocket alone: /health + a hit's cache headers" ;;
        floor_hit) echo "Rocket alone: a memory hit's bytes, fixed" ;;
    esac
}

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cores=$(nproc)
total_errors=$(awk '{n += $6} END {print n + 0}' "$results")

table="$work_dir/table.md"
{
    echo "| route | req/s | p50 ms | p99 ms | × /health (median, range over rounds) |"
    echo "|---|---:|---:|---:|---:|"
    for name in "${routes[@]}"; do
        rps=$(column_of "$name" 3 | median)
        p50=$(column_of "$name" 4 | median)
        p99=$(column_of "$name" 5 | median)
        if [[ $name == health || $name == floor_health ]]; then
            ratio="1"
        else
            ratio="$(ratios_of "$name" | median) ($(ratios_of "$name" | spread_of))"
        fi
        printf "| %s | %.0f | %.3f | %.3f | %s |\n" "$(label_of "$name")" "$rps" "$p50" "$p99" "$ratio"
    done
} >"$table"

if [[ -n "$only_routes" ]]; then
    echo
    cat "$table"
    echo
    echo "wrk -t$threads -c$connections, $rounds rounds × ${duration} s per route, on $(nproc) cores; only the routes asked for."
    [[ -n "$redis_share" ]] && echo "$redis_share."
    exit 0
fi

memory_ratio=$(ratios_of memory_hit | median)
# A 304 against a full hit of the same answer, round by round.
not_modified_ratio=$(awk '$2 == "memory_hit" {h[$1] = $3} $2 == "memory_hit_304" {r[$1] = $3}
    END {for (k in r) if (h[k] > 0) printf "%.3f\n", r[k] / h[k]}' "$results" | median)
floor_ratio=$(ratios_of floor_hit | median)
disk_ratio=$(ratios_of disk_hit | median)
memory_p99=$(column_of memory_hit 5 | median)
disk_p99=$(column_of disk_hit 5 | median)
health_p99=$(column_of health 5 | median)
# Round by round: the app's memory hit against its /health, over Rocket
# alone's fixed hit against Rocket alone's /health. 1 means the cache adds
# nothing to what sending those bytes costs.
memory_vs_floor=$(awk '$2 == "health" {h[$1] = $3} $2 == "memory_hit" {m[$1] = $3}
    $2 == "floor_health" {fh[$1] = $3} $2 == "floor_hit" {f[$1] = $3}
    END {for (k in m) if (h[k] > 0 && fh[k] > 0 && f[k] > 0) printf "%.3f\n", (m[k] / h[k]) / (f[k] / fh[k])}' \
    "$results" | median)
# Each hit's p99 against /health's p99 in the same round.
p99_ratio_of() {
    awk -v name="$1" '$2 == "health" {h[$1] = $5} $2 == name {r[$1] = $5}
        END {for (k in r) if (h[k] > 0) printf "%.3f\n", r[k] / h[k]}' "$results" | median
}
memory_p99_ratio=$(p99_ratio_of memory_hit)
memory_304_p99_ratio=$(p99_ratio_of memory_hit_304)
disk_p99_ratio=$(p99_ratio_of disk_hit)
miss_mix_ratio=$(ratios_of miss_mix | median)
# The miss-heavy mix before hits stopped sharing writes between cores
# (docs/benchmarks.md of 2026-11-30, same machine type): 0.072× /health.
miss_mix_before=0.072
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {
    ok = (op == ">=") ? (v + 0 >= t + 0) : (op == "<=") ? (v + 0 <= t + 0) : (v + 0 < t + 0)
    print ok ? "met" : "NOT met" }'; }

targets="$work_dir/targets.md"
{
    echo "| target | measured | |"
    echo "|---|---:|---|"
    echo "| memory hit ≥ 0.95× Rocket alone sending the same bytes (each against its own /health) | ${memory_vs_floor}× (memory hit ${memory_ratio}× /health; Rocket alone ${floor_ratio}×) | $(verdict "$memory_vs_floor" ">=" 0.95) |"
    echo "| memory hit answered 304 ≥ the same hit answered 200 (req/s) | ${not_modified_ratio}× | $(verdict "$not_modified_ratio" ">=" 1) |"
    echo "| disk hit ≥ 0.6× /health | ${disk_ratio}× | $(verdict "$disk_ratio" ">=" 0.6) |"
    echo "| memory hit p99 ≤ 1.3× /health's p99 | ${memory_p99_ratio}× (${memory_p99} ms against ${health_p99} ms) | $(verdict "$memory_p99_ratio" "<=" 1.3) |"
    echo "| memory hit answered 304: p99 ≤ 1.3× /health's p99 | ${memory_304_p99_ratio}× | $(verdict "$memory_304_p99_ratio" "<=" 1.3) |"
    echo "| disk hit p99 ≤ 1.3× /health's p99 | ${disk_p99_ratio}× (${disk_p99} ms) | $(verdict "$disk_p99_ratio" "<=" 1.3) |"
    echo "| miss-heavy mix no slower than before (${miss_mix_before}× /health) | ${miss_mix_ratio}× | $(verdict "$miss_mix_ratio" ">=" "$miss_mix_before") |"
    echo "| cold 10000! at delay 0 < 50 ms | ${cold_10000_ms} ms | $(verdict "$cold_10000_ms" "<" 50) |"
    echo "| start-up to first answer < 1 s | ${startup_ms} ms | $(verdict "$startup_ms" "<" 1000) |"
    echo "| RSS at rest < 30 MiB | $((rss_rest_kib / 1024)) MiB (after the load: $((rss_after_kib / 1024)) MiB) | $(verdict "$rss_rest_kib" "<" 30720) |"
} >"$targets"

setup_line="wrk -t$threads -c$connections, $rounds rounds × ${duration} s per route, on $cores cores ($cpu_model); wrk shares the cores with the server; the app and Rocket alone run Rocket's default of one worker per core ($cores)."
if [[ $cores -lt 4 ]]; then
    setup_line="$setup_line Four workers on four cores: not measured, this machine has $cores."
fi
echo
cat "$table"
echo
cat "$targets"
echo
echo "$setup_line"
[[ -n "$redis_share" ]] && echo "$redis_share."
if [[ $total_errors -ne 0 ]]; then
    echo "WARNING: $total_errors non-2xx responses or socket errors during the runs" >&2
fi

[[ $write_docs -eq 1 ]] || exit 0

# --- docs/benchmarks.md and its chart ---------------------------------------
mkdir -p "$repo/docs"
svg="$repo/docs/benchmarks.svg"
{
    bar_height=28
    gap=14
    left=300
    width=760
    chart_width=$((width - left - 150))
    height=$(( (${#routes[@]}) * (bar_height + gap) + 50 ))
    max=0
    for name in "${routes[@]}"; do
        value=$(column_of "$name" 3 | median)
        max=$(awk -v a="$max" -v b="$value" 'BEGIN {print (b > a) ? b : a}')
    done
    echo "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"$width\" height=\"$height\" viewBox=\"0 0 $width $height\" font-family=\"sans-serif\" font-size=\"13\">"
    echo "  <title>cachelab: requests per second, median of $rounds rounds (wrk -t$threads -c$connections, loopback)</title>"
    echo "  <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>"
    echo "  <text x=\"10\" y=\"20\" font-weight=\"bold\">Requests per second (higher is better), median of $rounds rounds</text>"
    y=36
    for name in "${routes[@]}"; do
        value=$(column_of "$name" 3 | median)
        bar=$(awk -v v="$value" -v m="$max" -v w="$chart_width" 'BEGIN {printf "%d", (m > 0) ? v / m * w : 0}')
        case "$name" in
            health|floor_*) colour="#888888" ;;
            memory_hit*) colour="#2a7ab8" ;;
            disk_hit) colour="#d9822b" ;;
            proxy_hit*) colour="#3a9b5c" ;;
            proxy_memory_hit) colour="#2a7ab8" ;;
            redis_hit) colour="#8e44ad" ;;
            *) colour="#b33a3a" ;;
        esac
        text_y=$((y + bar_height / 2 + 5))
        echo "  <text x=\"$((left - 8))\" y=\"$text_y\" text-anchor=\"end\">$(label_of "$name" | sed 's/&/\&amp;/g; s/</\&lt;/g')</text>"
        echo "  <rect x=\"$left\" y=\"$y\" width=\"$bar\" height=\"$bar_height\" fill=\"$colour\"/>"
        if [[ $name == health || $name == floor_health ]]; then ratio="1"; else ratio="$(ratios_of "$name" | median)"; fi
        echo "  <text x=\"$((left + bar + 6))\" y=\"$text_y\">$(printf "%.0f" "$value") (${ratio}×)</text>"
        y=$((y + bar_height + gap))
    done
    echo "</svg>"
} >"$svg"

commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo "unknown")
kernel=$(uname -r)
{
    echo "# Benchmarks"
    echo
    echo "Written by \`scripts/load.sh --write-docs\` on $(date -u +%Y-%m-%d) at commit \`$commit\`."
    echo "Run it again to replace this page; \`cargo bench\` measures the tiers without HTTP."
    echo
    echo "![requests per second by route](benchmarks.svg)"
    echo
    echo "## Under load"
    echo
    cat "$table"
    echo
    echo "## Targets"
    echo
    cat "$targets"
    echo
    echo "## How it was measured"
    echo
    echo "- $setup_line"
    echo "- Machine: $cores cores (\`nproc\`), $cpu_model, Linux $kernel."
    echo "- The release binary on 127.0.0.1 with a fresh temporary \`cache_dir\`,"
    echo "  \`data_delay_ms = 0\`, \`factorial_delay_ms = 0\` and \`log_level = critical\`."
    echo "- Routes run in turn within each round; the ratio to \`/health\` is taken"
    echo "  within a round, so a burst of other work on the machine affects both"
    echo "  sides of it. Absolute req/s move with whatever else the machine runs;"
    echo "  the ratios are what to compare."
    echo "- \"Rocket alone\" is \`examples/framework_floor.rs\`: the same Rocket settings"
    echo "  sending fixed responses, its ratios taken against its own \`/health\`. Its"
    echo "  memory-hit row is the most any cache could reach with that response."
    if [[ -n "$redis_share" ]]; then
        echo "- The Redis row: a second instance with \`memory_capacity = 1\` on a Redis"
        echo "  started by \`scripts/redis.sh\` on loopback, asked for 1! to 100! in turn"
        echo "  (\`scripts/redis_cycle.lua\`), all of them stored in Redis beforehand:"
        echo "  $redis_share. Each Redis hit is a round trip to Redis, the answer's"
        echo "  SHA-256 checked, and a copy put in memory (evicting the one step there)."
    fi
    echo "- Start-up: from starting the process to the first answered \`/health\`."
    echo "  Cold 10000!: the server's own \`Server-Timing\` \`total\` for \`/factorial/10000\`"
    echo "  right after \`DELETE /cache/memory\`."
} >"$repo/docs/benchmarks.md"
echo "wrote docs/benchmarks.md and docs/benchmarks.svg" >&2
