#!/usr/bin/env bash
# Starts nginx in front of cachelab with proxy/room.conf, everything kept in
# RUN_DIR (its stored copies too). scripts/room.sh and
# scripts/shared-cache.sh start the proxy this way, and so do the process
# tests, so they run the very config a room uses.
#
#   proxy/nginx.sh --check     prints where nginx is, or one line saying how
#                              to install it (exit 1)
#   proxy/nginx.sh RUN_DIR     writes RUN_DIR/nginx.conf and runs nginx in
#                              the foreground (exec: the caller's process id
#                              is nginx's master, and SIGTERM stops it)
#
# room.conf's names between at signs come from ROOM_<NAME> environment
# variables: ROOM_LISTEN (where learners connect, 0.0.0.0:8000) and ROOM_APP
# (the app, 127.0.0.1:8001, or several instances of it, separated by commas:
# 127.0.0.1:8001,127.0.0.1:8002; a value that lists several repeats the line
# that names it once for each) and ROOM_WITNESS_KEY (the app's
# proxy_witness_key, which nginx sends with each request it mirrors to the
# app's witness route) must be given; ROOM_HEADER_TIMEOUT,
# ROOM_BODY_TIMEOUT, ROOM_SEND_TIMEOUT and ROOM_KEEPALIVE_TIMEOUT replace
# the room's values written beside them ("2s"), and ROOM_WITNESS_MIRROR=off
# turns the witness's mirror off.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# Debian puts nginx in /usr/sbin, which is not on an ordinary user's PATH.
find_nginx() {
    if command -v nginx >/dev/null; then
        command -v nginx
    elif [[ -x /usr/sbin/nginx ]]; then
        echo /usr/sbin/nginx
    else
        echo "nginx is not installed: apt-get install nginx-light" >&2
        return 1
    fi
}

if [[ "${1:-}" == "--check" ]]; then
    find_nginx
    exit
fi
run_dir=${1:?usage: proxy/nginx.sh --check | RUN_DIR}
nginx=$(find_nginx)

config=$(<"$here/room.conf")
names=$(grep -o '@[A-Z_]\+\(:-[^@]*\)\?@' <<<"$config" | sed 's/^@\([A-Z_]*\).*$/\1/' | sort -u)
for name in $names; do
    variable="ROOM_$name"
    value=${!variable:-}
    if [[ -z "$value" ]]; then
        if grep -q "@$name@" <<<"$config"; then
            echo "proxy/nginx.sh: set $variable" >&2
            exit 2
        fi
        config=$(sed "s|@$name:-\([^@]*\)@|\1|g" <<<"$config")
        continue
    fi
    # Addresses and durations only: a space, quote, ; or brace would be
    # nginx syntax and change what the file says. (This also keeps sed's
    # and awk's own special characters out of the replacement.)
    one='[][A-Za-z0-9.:_-]+'
    if [[ ! "$value" =~ ^$one(,$one)*$ ]]; then
        echo "proxy/nginx.sh: $variable=$value is not an address or a duration (or a list of them, separated by commas)" >&2
        exit 2
    fi
    IFS=, read -ra items <<<"$value"
    if ((${#items[@]} > 1)); then
        # A list: the line that names it, once for each item.
        config=$(awk -v pattern="@$name(:-[^@]*)?@" -v list="$value" '
            $0 ~ pattern {
                count = split(list, each, ",")
                for (i = 1; i <= count; i++) { line = $0; gsub(pattern, each[i], line); print line }
                next
            }
            { print }' <<<"$config")
    else
        config=$(sed "s|@$name\(:-[^@]*\)\?@|$value|g" <<<"$config")
    fi
done
printf '%s\n' "$config" >"$run_dir/nginx.conf"

# Run as root, nginx's workers drop to an unprivileged user, which must
# still reach the temporary folders nginx makes here for request bodies
# (and gives to that user). mktemp's folders are private to their owner.
chmod 711 "$run_dir"

exec "$nginx" -p "$run_dir/" -c nginx.conf
