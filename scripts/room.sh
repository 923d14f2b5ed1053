#!/usr/bin/env bash
# Serves cachelab to a room of learners: the app in release under the
# workshop profile on loopback, and nginx in front on every network
# interface, which closes connections that stop sending and is a shared
# HTTP cache in front of the app (proxy/room.conf says which, why and how).
# Ctrl-C stops both.
#
#   scripts/room.sh          learners open http://<this machine>:8000/
#   scripts/room.sh 9000     ... on port 9000
#
# Needs nginx (Debian: apt-get install nginx-light), curl and cargo; no
# root. The app keeps its cache_dir and progress file in the repository, as
# `cargo run --release` does. ROOM_HEADER_TIMEOUT=20s and the like change a
# timeout (proxy/nginx.sh lists them).
set -euo pipefail
cd "$(dirname "$0")/.."

port=${1:-8000}
if [[ ! "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    echo "room: usage: scripts/room.sh [PORT]" >&2
    exit 2
fi
# Checked before the build, which can take minutes.
proxy/nginx.sh --check >/dev/null 2>&1 || { echo "room: nginx is missing: apt-get install nginx-light" >&2; exit 1; }
command -v curl >/dev/null || { echo "room: curl is missing: apt-get install curl" >&2; exit 1; }

# The app's own port, on loopback: the first one above the room's that
# nothing answers on. Learners never see it.
app_port=$((port + 1))
while (: <>"/dev/tcp/127.0.0.1/$app_port") 2>/dev/null; do
    app_port=$((app_port + 1))
done

cargo build --release

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/cachelab-room.XXXXXX")
# The key nginx sends with each request for the lab's resource it mirrors
# to the app's witness route, so the app counts what the shared cache
# received and no learner can add to the count: new for every run.
witness_key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
app=""
proxy=""
stop() {
    # The proxy first, so no request reaches an app that is stopping. Each
    # whole process group: nginx's workers outlive a master that was killed,
    # and would keep the room's port.
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

# setsid detaches the app and nginx from the terminal, each in a process
# group of its own, so Ctrl-C reaches only this script, which stops nginx
# first: an app told to stop while nginx still holds a connection to it can
# wait out its whole shutdown grace (5 s). `setsid` and `cargo run` each
# replace themselves with what they start, so $! is the app's process id.
# The app's own "Instructor view:" line names its internal port; it is kept
# aside and printed below with the room's port instead.
ROCKET_PROFILE=workshop ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT="$app_port" \
    ROCKET_PROXY_WITNESS_KEY="$witness_key" \
    setsid cargo run --release --quiet \
    > >(tee "$run_dir/app.out" | grep --line-buffered -v '^Instructor view:') &
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
    echo "room: the app did not start on 127.0.0.1:$app_port (its own message is above)" >&2
    exit 1
fi

ROOM_LISTEN="0.0.0.0:$port" ROOM_APP="127.0.0.1:$app_port" ROOM_WITNESS_KEY="$witness_key" \
    setsid proxy/nginx.sh "$run_dir" &
proxy=$!
if ! answers "http://127.0.0.1:$port/health" "$proxy"; then
    echo "room: nginx did not start on port $port (its own message is above)" >&2
    exit 1
fi

addresses=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -F . | grep -v '^127\.' || true)
echo
echo "room: learners open:"
for address in ${addresses:-$(hostname)}; do
    echo "room:   http://$address:$port/"
done
echo "room: on this machine: http://127.0.0.1:$port/ (the app itself answers only on 127.0.0.1:$app_port)"
instructor=$(grep -o '/exercises/progress?key=[A-Za-z0-9_-]*' "$run_dir/app.out" | head -n 1 || true)
[ -n "$instructor" ] && echo "room: instructor view (keep it to yourself): http://127.0.0.1:$port$instructor"
echo "room: Ctrl-C stops the proxy and the app"

# Until Ctrl-C, or until one of the two stops by itself.
set +e
wait -n "$app" "$proxy"
status=$?
kill -0 "$app" 2>/dev/null || echo "room: the app stopped (status $status)" >&2
kill -0 "$proxy" 2>/dev/null || { echo "room: nginx stopped (status $status)" >&2; tail -n 3 "$run_dir/error.log" >&2; }
exit 1
