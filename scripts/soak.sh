#!/usr/bin/env bash
# Mixed load for DURATION seconds (default 60) against a release build on
# 127.0.0.1, with a fresh cache_dir. Prints requests, refusals, latency
# percentiles and the app's resident memory over time, and fails if any
# answer other than 2xx or the workload's intended 400s appears, or if peak
# RSS passes RSS_LIMIT_MIB (default 100). Stops by itself and always stops
# the server.
#
#   scripts/soak.sh                 # 60 s
#   DURATION=10 scripts/soak.sh     # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-60}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
RSS_LIMIT_MIB=${RSS_LIMIT_MIB:-100}

command -v wrk >/dev/null || { echo "soak: wrk is not installed (apt-get install wrk)"; exit 2; }
cargo build --release --quiet

work=$(mktemp -d)
pid=""
sampler=""
cleanup() {
    [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true
    if [[ -n "$pid" ]]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A free port: ask the kernel for one, then hand it to the app.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Small simulated delays so the load measures the caches, and a disk bound
# small enough that eviction runs all the time.
ROCKET_ADDRESS=127.0.0.1 \
ROCKET_PORT="$port" \
ROCKET_CACHE_DIR="$work/cache" \
ROCKET_DATA_DELAY_MS=2 \
ROCKET_FACTORIAL_DELAY_MS=0 \
ROCKET_DISK_MAX_BYTES="2 MiB" \
ROCKET_DISK_MAX_ENTRIES=500 \
ROCKET_DISK_SWEEP_INTERVAL_SECS=5 \
ROCKET_LOG_LEVEL=critical \
    target/release/cachelab >"$work/app.log" 2>&1 &
pid=$!

for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "soak: the app did not start"; cat "$work/app.log"; exit 1; }

# Resident memory once a second while the load runs.
(
    while kill -0 "$pid" 2>/dev/null; do
        awk '/VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null >>"$work/rss_kib" || true
        sleep 1
    done
) &
sampler=$!

echo "soak: ${DURATION}s, $CONNECTIONS connections, $THREADS threads, app pid $pid on port $port"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s -s scripts/soak.lua \
    "http://127.0.0.1:$port" | tee "$work/wrk.txt"

peak_kib=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status")
kill "$sampler" 2>/dev/null || true
sampler=""
echo "stats              $(curl -fsS "http://127.0.0.1:$port/stats")"
echo "RSS every 10 s     $(awk 'NR % 10 == 1 { printf "%d ", $1 / 1024 }' "$work/rss_kib")MiB"
echo "peak RSS (VmHWM)   $((peak_kib / 1024)) MiB (bound: $RSS_LIMIT_MIB MiB)"
echo "cache_dir on disk  $(du -sh "$work/cache" 2>/dev/null | cut -f1)"

status=0
unintended=$(sed -n 's/^UNINTENDED_NON_2XX=//p' "$work/wrk.txt")
socket_errors=$(sed -n 's/^SOCKET_ERRORS=//p' "$work/wrk.txt")
if [[ "${unintended:-1}" != 0 ]]; then
    echo "soak: FAIL: $unintended answers were neither 2xx nor the intended 400s"
    status=1
fi
if [[ "${socket_errors:-1}" != 0 ]]; then
    echo "soak: FAIL: $socket_errors socket errors"
    status=1
fi
if (( peak_kib > RSS_LIMIT_MIB * 1024 )); then
    echo "soak: FAIL: peak RSS $((peak_kib / 1024)) MiB is over $RSS_LIMIT_MIB MiB"
    status=1
fi
[[ $status == 0 ]] && echo "soak: PASS"
exit $status
