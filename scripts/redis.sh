#!/usr/bin/env bash
# A Redis for cachelab's shared tier, in the foreground: Debian's
# redis-server on 127.0.0.1:6379 (or the port given), with a directory of
# its own under the repository (redis/, ignored by git). Then, in another
# terminal:
#
#   ROCKET_REDIS_URL=redis://127.0.0.1:6379/ cargo run --release
#   scripts/instances.sh --redis        (several instances sharing it)
#
#   scripts/redis.sh                    Redis on 127.0.0.1:6379
#   scripts/redis.sh 6380               Redis on 127.0.0.1:6380
#
# It is a cache and nothing else: nothing is saved (no RDB snapshot, no
# append-only file), so a restarted Redis starts empty, and the instances
# compute again what it lost. Listens on 127.0.0.1 only, with no password:
# not for a network others reach. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${1:-6379}
usage="usage: scripts/redis.sh [PORT]"
if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "redis: PORT is 1 to 65535; $usage" >&2
    exit 2
fi
command -v redis-server >/dev/null || {
    echo "redis: redis-server is missing: apt-get install redis-server (Debian/Ubuntu), brew install redis (macOS)" >&2
    exit 1
}
if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "redis: something already answers on 127.0.0.1:$port (a Redis started earlier? the system's own: systemctl stop redis-server)" >&2
    exit 1
fi

# Its working directory: with nothing saved, Redis writes nothing here, but
# it must not be the directory of whoever started it.
dir="$(pwd)/redis"
mkdir -p "$dir"

echo "redis: Redis on 127.0.0.1:$port, nothing saved, at most 64 MB of answers"
echo "redis: start the app with ROCKET_REDIS_URL=redis://127.0.0.1:$port/ (Ctrl-C stops Redis)"
# --maxmemory with allkeys-lru: when the answers fill 64 MB, Redis evicts to
# make room, choosing by its own approximated LRU (it samples a few keys and
# drops the least recently used of those), any key alike, as a cache should;
# the default (noeviction) would refuse every new answer instead.
# --protected-mode yes: with no password, only loopback clients are served.
exec redis-server \
    --bind 127.0.0.1 \
    --port "$port" \
    --protected-mode yes \
    --dir "$dir" \
    --save "" \
    --appendonly no \
    --maxmemory 64mb \
    --maxmemory-policy allkeys-lru
