#!/usr/bin/env bash
# Starts or stops a private nginx for the interop tests.
#   scripts/nginx.sh start DIR   -> prints the base URL; files, logs and pid under DIR
#   scripts/nginx.sh stop DIR
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}
here=$(cd "$(dirname "$0")" && pwd)
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
case "$cmd" in
start)
    mkdir -p "$dir/www"
    chmod 755 "$dir" "$dir/www"   # nginx workers run as an unprivileged user
    # A free loopback port: one nothing answers on (bash's /dev/tcp, no other tools needed).
    while :; do
        port=$(( 20000 + RANDOM % 30000 ))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
    done
    sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g" "$here/nginx.conf" > "$dir/nginx.conf"
    printf 'hello from nginx\n' > "$dir/www/hello.txt"
    head -c 1048576 /dev/zero | tr '\0' 'x' > "$dir/www/big.bin"
    seq 1 20000 > "$dir/www/big.txt"
    "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "http://127.0.0.1:$port"; exit 0
        fi
        sleep 0.1
    done
    echo "nginx did not start; see $dir/error.log" >&2; cat "$dir/error.log" >&2; exit 1
    ;;
stop)
    if [ -f "$dir/nginx.pid" ]; then kill "$(cat "$dir/nginx.pid")" 2>/dev/null || true; fi
    ;;
esac
