#!/usr/bin/env bash
# A shared HTTP cache in front of cachelab on your own machine: the app as
# `cargo run --release` serves it, on 127.0.0.1:8000, and nginx with
# proxy/room.conf's shared cache in front of it on 127.0.0.1:8080. Ask the
# same URL of both and compare what comes back. Ctrl-C stops both.
#
#   scripts/shared-cache.sh                 proxy on 8080, app on 8000
#   scripts/shared-cache.sh 9080 9000       proxy on 9080, app on 9000
#
# Needs nginx (Debian: apt-get install nginx-light), curl and cargo; no
# root. Everything nginx writes (its stored copies too) goes to a temporary
# run directory, removed when it stops; the app keeps its cache_dir in the
# repository, as `cargo run --release` does. Both listen on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

proxy_port=${1:-8080}
app_port=${2:-8000}
for port in "$proxy_port" "$app_port"; do
    if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
        echo "shared-cache: usage: scripts/shared-cache.sh [PROXY_PORT [APP_PORT]]" >&2
        exit 2
    fi
done
if ((proxy_port == app_port)); then
    echo "shared-cache: the proxy and the app need two different ports" >&2
    exit 2
fi
# Checked before the build, which can take minutes.
proxy/nginx.sh --check >/dev/null 2>&1 || { echo "shared-cache: nginx is missing: apt-get install nginx-light" >&2; exit 1; }
command -v curl >/dev/null || { echo "shared-cache: curl is missing: apt-get install curl" >&2; exit 1; }
for port in "$app_port" "$proxy_port"; do
    if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "shared-cache: something already answers on 127.0.0.1:$port (an app started with cargo run? stop it first)" >&2
        exit 1
    fi
done

cargo build --release

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/cachelab-shared-cache.XXXXXX")
# The key nginx sends with each request it mirrors to the app's witness
# route, so the app counts what the proxy received and nobody else can add
# to the count: new for every run, known only to the two of them.
witness_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
app=""
proxy=""
stop() {
    # The proxy first, so no request reaches an app that is stopping. Each
    # whole process group: nginx's workers outlive a master that was killed.
    for pid in $proxy $app; do
        kill -TERM -- "-$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$run_dir"
}
trap stop EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# setsid: each in a process group of its own, so Ctrl-C reaches only this
# script, which stops nginx before the app (see scripts/room.sh).
ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT="$app_port" ROCKET_PROXY_WITNESS_KEY="$witness_key" \
    setsid cargo run --release --quiet &
app=$!
answers() {  # URL PID: true once URL answers, false if PID stops or 20 s pass
    for _ in $(seq 200); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
if ! answers "http://127.0.0.1:$app_port/health" "$app"; then
    echo "shared-cache: the app did not start on 127.0.0.1:$app_port (its own message is above)" >&2
    exit 1
fi

ROOM_LISTEN="127.0.0.1:$proxy_port" ROOM_APP="127.0.0.1:$app_port" ROOM_WITNESS_KEY="$witness_key" \
    setsid proxy/nginx.sh "$run_dir" &
proxy=$!
if ! answers "http://127.0.0.1:$proxy_port/health" "$proxy"; then
    echo "shared-cache: nginx did not start on 127.0.0.1:$proxy_port (its own message is above)" >&2
    exit 1
fi

proxied="http://127.0.0.1:$proxy_port"
direct="http://127.0.0.1:$app_port"
resource="/http-cache/resource/logo?cc=public,s-maxage=30"
cat <<EOF

shared-cache: the app:                  $direct/
shared-cache: the app behind nginx:     $proxied/   (open this one)
shared-cache: nginx's stored copies are kept in $run_dir/shared_cache
shared-cache:
shared-cache: try a resource a shared cache may keep for 30 s, twice:
shared-cache:   curl -si '$proxied$resource' | grep -i -e cache-status -e x-served
shared-cache: the first answer's Cache-Status ends with "nginx; fwd=miss", the second
shared-cache: with "nginx; hit". What the app and the proxy each saw:
shared-cache:   curl -s '$direct/http-cache/resource/logo/requests'
shared-cache:   curl -s '$direct/http-cache/resource/logo/proxy'
shared-cache: README.md, "A shared cache in front", has more to try.
shared-cache: to see what the proxy answers while the app is down: kill $app
shared-cache: Ctrl-C stops nginx and the app
EOF

# Until Ctrl-C, or until nginx stops by itself. An app that stops leaves
# nginx running, answering from its stored copies where the app allowed it
# (stale-if-error).
set +e
while kill -0 "$proxy" 2>/dev/null; do
    if [[ -n "$app" ]] && ! kill -0 "$app" 2>/dev/null; then
        wait "$app"
        echo "shared-cache: the app stopped (status $?); nginx keeps answering on $proxied/ (Ctrl-C stops it)" >&2
        app=""
    fi
    sleep 1
done
echo "shared-cache: nginx stopped" >&2
tail -n 3 "$run_dir/error.log" >&2
exit 1
