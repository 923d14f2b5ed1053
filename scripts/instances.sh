#!/usr/bin/env bash
# Several instances of cachelab on your own machine, as a real web app runs
# as several processes: N of them (3 unless told) on consecutive loopback
# ports, all on the repository's one cache_dir, and nginx in front on one
# address, sending each request to the next instance in turn (proxy/room.conf,
# the same file the room and the shared cache use). Each instance has a
# memory tier of its own and they share the disk tier: the dashboard shows
# them side by side. Ctrl-C stops everything.
#
#   scripts/instances.sh                3 instances on 8001-8003, nginx on 8000
#   scripts/instances.sh 2              2 instances on 8001-8002, nginx on 8000
#   scripts/instances.sh 4 9000         4 instances on 9001-9004, nginx on 9000
#   scripts/instances.sh --direct [N [PORT]]
#                                       the instances alone, no nginx: ask
#                                       each on its own port
#   scripts/instances.sh --redis [URL] [N [PORT]]
#                                       all of them on one shared tier, the
#                                       Redis at URL (REDIS_URL if set, else
#                                       redis://127.0.0.1:6379/, the one
#                                       scripts/redis.sh starts): a value one
#                                       instance computed is a Redis hit on
#                                       the others, and clearing one's memory
#                                       clears theirs
#
# Each instance is named by its port (X-Instance: 8002). Needs curl and
# cargo, and nginx unless --direct (Debian: apt-get install nginx-light); no
# root. Everything listens on 127.0.0.1 only. Everything nginx writes goes to
# a temporary run directory, removed when it stops.
set -euo pipefail
cd "$(dirname "$0")/.."

direct=""
redis_url=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --direct) direct=1; shift ;;
        --redis)
            shift
            # The URL is optional: the next argument, when it is one.
            if [[ "${1:-}" == redis://* || "${1:-}" == rediss://* ]]; then
                redis_url=$1
                shift
            else
                redis_url=${REDIS_URL:-redis://127.0.0.1:6379/}
            fi
            ;;
        *) break ;;
    esac
done
count=${1:-3}
port=${2:-8000}
usage="usage: scripts/instances.sh [--direct] [--redis [URL]] [COUNT [PORT]]"
if [[ ! "$count" =~ ^[0-9]+$ ]] || ((count < 1 || count > 16)); then
    echo "instances: COUNT is 1 to 16; $usage" >&2
    exit 2
fi
if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port + count > 65535)); then
    echo "instances: PORT and the COUNT ports above it must be 1 to 65535; $usage" >&2
    exit 2
fi
# Checked before the build, which can take minutes.
if [[ -z "$direct" ]]; then
    proxy/nginx.sh --check >/dev/null 2>&1 || { echo "instances: nginx is missing: apt-get install nginx-light (or use --direct)" >&2; exit 1; }
fi
command -v curl >/dev/null || { echo "instances: curl is missing: apt-get install curl" >&2; exit 1; }
if [[ -n "$redis_url" ]]; then
    # Only a warning: the instances start without it, and share once it
    # answers (their keeper tries it again every quarter second).
    redis_address=${redis_url#*://}
    redis_address=${redis_address##*@}
    redis_address=${redis_address%%/*}
    redis_host=${redis_address%:*}
    redis_port=${redis_address##*:}
    [[ "$redis_address" == *:* ]] || redis_port=6379
    if ! (: <>"/dev/tcp/$redis_host/$redis_port") 2>/dev/null; then
        echo "instances: nothing answers at $redis_host:$redis_port yet (start it with scripts/redis.sh); the instances share once it does" >&2
    fi
fi
app_ports=()
for ((i = 1; i <= count; i++)); do
    app_ports+=($((port + i)))
done
ports=("${app_ports[@]}")
[[ -z "$direct" ]] && ports+=("$port")
for each in "${ports[@]}"; do
    if (: <>"/dev/tcp/127.0.0.1/$each") 2>/dev/null; then
        echo "instances: something already answers on 127.0.0.1:$each (an app started with cargo run? stop it first)" >&2
        exit 1
    fi
done

cargo build --release
# The binary itself, started once per instance (not `cargo run` N times,
# which would each take cargo's lock on the build in turn).
target_dir=$(cargo metadata --format-version 1 --no-deps | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
binary="$target_dir/release/cachelab"

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/cachelab-instances.XXXXXX")
# The key nginx sends with each request it mirrors to the app's witness
# route (see scripts/shared-cache.sh): new for every run, known only to
# nginx and the instances.
witness_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
apps=()
proxy=""
stop() {
    # The proxy first, so no request reaches an instance that is stopping;
    # then every instance at once, so their shutdowns overlap. Each whole
    # process group: nginx's workers outlive a master that was killed.
    for pid in $proxy; do
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${apps[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in "${apps[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$run_dir"
}
trap stop EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

answers() {  # URL PID: true once URL answers, false if PID stops or 20 s pass
    for _ in $(seq 200); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# setsid: each in a process group of its own, so Ctrl-C reaches only this
# script, which stops nginx before the instances (see scripts/room.sh). No
# instance_name is given: each is named by its port. With --redis each is
# given the one shared tier (ROCKET_REDIS_URL); without, none is set here,
# so Rocket.toml's redis_url (unset by default) decides.
shared_tier=()
[[ -n "$redis_url" ]] && shared_tier=(ROCKET_REDIS_URL="$redis_url")
for app_port in "${app_ports[@]}"; do
    env ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT="$app_port" ROCKET_PROXY_WITNESS_KEY="$witness_key" \
        "${shared_tier[@]}" setsid "$binary" &
    apps+=($!)
done
for i in "${!apps[@]}"; do
    if ! answers "http://127.0.0.1:${app_ports[$i]}/health" "${apps[$i]}"; then
        echo "instances: the instance on 127.0.0.1:${app_ports[$i]} did not start (its own message is above)" >&2
        exit 1
    fi
done

echo
echo "instances: $count instances of cachelab, one cache_dir ($(pwd)/cache_dir) shared by all:"
for app_port in "${app_ports[@]}"; do
    echo "instances:   http://127.0.0.1:$app_port/   (X-Instance: $app_port)"
done
if [[ -n "$redis_url" ]]; then
    echo "instances: and one shared tier, the Redis at $redis_host:$redis_port: a value"
    echo "instances: one instance computed is a Redis hit on the others (Cache-Status: cachelab-redis;hit)"
fi

if [[ -n "$direct" ]]; then
    first="http://127.0.0.1:${app_ports[0]}"
    cat <<EOF
instances:
instances: ask one instance for 20!, then another:
instances:   curl -si $first/factorial/20 | grep -i -e '^x-instance' -e '^x-cache:' | tr -d '\r' | paste -sd ' '
instances:   curl -si http://127.0.0.1:${app_ports[-1]}/factorial/20 | grep -i -e '^x-instance' -e '^x-cache:' | tr -d '\r' | paste -sd ' '
instances: each misses once: the memory tier is one per process. Each instance's
instances: dashboard shows them all side by side: $first/dashboard
instances: Ctrl-C stops them all
EOF
    # Until Ctrl-C, or until every instance has stopped.
    set +e
    for pid in "${apps[@]}"; do
        wait "$pid"
    done
    echo "instances: every instance stopped" >&2
    exit 1
fi

app_list=$(printf '127.0.0.1:%s,' "${app_ports[@]}")
ROOM_LISTEN="127.0.0.1:$port" ROOM_APP="${app_list%,}" ROOM_WITNESS_KEY="$witness_key" \
    setsid proxy/nginx.sh "$run_dir" &
proxy=$!
if ! answers "http://127.0.0.1:$port/health" "$proxy"; then
    echo "instances: nginx did not start on 127.0.0.1:$port (its own message is above)" >&2
    exit 1
fi

front="http://127.0.0.1:$port"
cat <<EOF
instances: nginx in front of them, each request to the next instance in turn:
instances:   $front/   (open this one)
instances:
instances: ask for 20! a few times through nginx, and see who answered:
instances:   for i in 1 2 3 4 5 6; do curl -si $front/factorial/20 | grep -i -e '^x-instance' -e '^x-cache:' | tr -d '\r' | paste -sd ' '; done
instances: each instance misses once before it hits: the memory tier is one per
instances: process. The dashboard shows every instance's tiers side by side:
instances:   $front/dashboard
instances: README.md, "Several instances", has more to try.
instances: Ctrl-C stops nginx and every instance
EOF

# Until Ctrl-C, or until nginx stops by itself. An instance that stops
# (kill one, to see) leaves nginx sending requests to the others.
set +e
running=("${apps[@]}")
while kill -0 "$proxy" 2>/dev/null; do
    still=()
    for pid in "${running[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then
            still+=("$pid")
        else
            wait "$pid"
            echo "instances: instance (process $pid) stopped (status $?); nginx sends requests to the others" >&2
        fi
    done
    running=("${still[@]}")
    sleep 1
done
echo "instances: nginx stopped" >&2
tail -n 3 "$run_dir/error.log" >&2
exit 1
