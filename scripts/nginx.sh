#!/usr/bin/env bash
# Starts or stops a private nginx for the interop tests.
#   scripts/nginx.sh start DIR   -> prints the base URL; files, logs and pid under DIR. Also
#                                   serves https on a second port with a throwaway CA made
#                                   here with the openssl CLI: DIR/tls_url holds its base URL
#                                   and DIR/tls/ca.pem the CA certificate to trust.
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
    free_port() {
        local p
        while :; do
            p=$(( 20000 + RANDOM % 30000 ))
            (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
        done
    }
    port=$(free_port)
    tls_port=$(free_port)
    while [ "$tls_port" = "$port" ]; do tls_port=$(free_port); done
    # A throwaway CA and a server certificate for 127.0.0.1 and localhost (P-256).
    command -v openssl >/dev/null || { echo "nginx.sh: openssl is missing (apt install openssl)" >&2; exit 1; }
    tls="$dir/tls"; mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=roundtrip test CA" -addext basicConstraints=critical,CA:TRUE \
        -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$tls/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' > "$tls/ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -CAcreateserial -days 30 -extfile "$tls/ext" -out "$tls/server.pem" 2>/dev/null
    chmod 644 "$tls"/*.pem; chmod 755 "$tls"
    sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g" -e "s#@TLSPORT@#$tls_port#g" \
        "$here/nginx.conf" > "$dir/nginx.conf"
    echo "https://127.0.0.1:$tls_port" > "$dir/tls_url"
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
