#!/usr/bin/env bash
# roundtrip's benchmark: builds every contender natively and as wasm32-wasip2 components,
# starts a private nginx (1 worker) on loopback, runs the scenarios interleaved over several
# rounds, and writes medians, ratios and the target checks. See bench/README.md.
#
#   bench/run.sh            full run (about 30 minutes on 2 cores once built); updates the
#                           table in bench/README.md and writes bench/results/<stamp>.{json,tsv,md}
#   bench/run.sh --smoke    CI smoke pass: everything builds and every contender runs every
#                           scenario once with small N (< 3 minutes once built); results go to
#                           bench/target/smoke/, the README is left alone
#
# Environment: WASMTIME (default: wasmtime on PATH, else ~/.cargo/bin/wasmtime).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
mode=full
case "${1:-}" in
    "") ;;
    --smoke) mode=smoke ;;
    --full) mode=full ;;
    *) echo "usage: bench/run.sh [--smoke]" >&2; exit 2 ;;
esac
start=$(date +%s)
log() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }

# --- prerequisites (idempotent) ---------------------------------------------------------------
"$root/scripts/setup.sh" nginx
export PATH="$HOME/.cargo/bin:$PATH"
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v /usr/bin/time >/dev/null 2>&1 || true
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from apt"
    sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
WASMTIME=${WASMTIME:-$(command -v wasmtime)}
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# --- builds -------------------------------------------------------------------------------------
# Native and wasm contenders each get their own target dir; the wasm one is built with
# RUSTFLAGS="--cfg tokio_unstable" (tokio's wasip2 networking), so a separate dir keeps the
# root build (target/) from being invalidated. All use the workspace's release profile.
native_dir=$here/target/native
wasm_dir=$here/target/wasm
log "building native contenders ($native_dir)"
env -u RUSTFLAGS CARGO_TARGET_DIR="$native_dir" \
    cargo build --release --manifest-path "$here/Cargo.toml" -p roundtrip-bench --bins
log "building wasm32-wasip2 contenders ($wasm_dir)"
RUSTFLAGS="--cfg tokio_unstable" CARGO_TARGET_DIR="$wasm_dir" \
    cargo build --release --manifest-path "$here/Cargo.toml" -p roundtrip-bench --bins --target wasm32-wasip2
log "building the get example as a release component (target/wasm32-wasip2/release/examples/get.wasm)"
get_wasm=$root/target/wasm32-wasip2/release/examples/get.wasm
get_error=""
if ! (cd "$root" && env -u RUSTFLAGS cargo build --release --target wasm32-wasip2 --example get); then
    get_error="cargo build --release --target wasm32-wasip2 --example get failed"
    log "$get_error (recorded)"
fi
# Precompile the components, so that runs measure the client, not Cranelift.
cwasm_dir=$here/target/cwasm
mkdir -p "$cwasm_dir"
for bin in rt hyper_conn hyper_pool wstd raw; do
    src=$wasm_dir/wasm32-wasip2/release/$bin.wasm
    if [ ! -f "$cwasm_dir/$bin.cwasm" ] || [ "$src" -nt "$cwasm_dir/$bin.cwasm" ]; then
        "$WASMTIME" compile -o "$cwasm_dir/$bin.cwasm" "$src"
    fi
done

# --- nginx ---------------------------------------------------------------------------------------
# A directory of its own per run (config, logs, pid, files), so that runs never share an nginx.
mkdir -p "$here/target"
ndir=$(mktemp -d "$here/target/nginx.XXXXXX")
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stop_nginx() {
    if [ -f "$ndir/nginx.pid" ]; then kill "$(cat "$ndir/nginx.pid")" 2>/dev/null || true; fi
    sleep 0.2
    rm -rf "$ndir"
}
trap stop_nginx EXIT
trap 'exit 130' INT TERM
mkdir -p "$ndir/www"
chmod 755 "$here/target" "$ndir" "$ndir/www"   # nginx workers run as an unprivileged user
port=$(free_port); logport=$(free_port)
while [ "$logport" = "$port" ]; do logport=$(free_port); done
sed -e "s#@DIR@#$ndir#g" -e "s#@PORT@#$port#g" -e "s#@LOGPORT@#$logport#g" "$here/nginx.conf" > "$ndir/nginx.conf"
head -c 1024 /dev/urandom > "$ndir/www/1k.bin"
head -c 16777216 /dev/urandom > "$ndir/www/16m.bin"
chmod 644 "$ndir/www/"*.bin
: > "$ndir/access.log"; chmod 666 "$ndir/access.log"
"$nginx_bin" -p "$ndir" -c "$ndir/nginx.conf" -e "$ndir/error.log"
for p in "$port" "$logport"; do
    up=no
    for _ in $(seq 50); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$p),1)" 2>/dev/null; then
            up=yes; break
        fi
        sleep 0.1
    done
    if [ "$up" = no ]; then log "nginx did not start:"; cat "$ndir/error.log" >&2; exit 1; fi
done
log "nginx (1 worker) on 127.0.0.1:$port (timing, no access log) and :$logport (connection log)"

# --- run ----------------------------------------------------------------------------------------
if [ "$mode" = smoke ]; then out=$here/target/smoke; else out=$here/results; fi
mkdir -p "$out"
python3 "$here/bench.py" --mode "$mode" \
    --native-dir "$native_dir/release" --cwasm-dir "$cwasm_dir" \
    --wasm-dir "$wasm_dir/wasm32-wasip2/release" --get-wasm "$get_wasm" --get-error "$get_error" \
    --wasmtime "$WASMTIME" --url "http://127.0.0.1:$port" --log-url "http://127.0.0.1:$logport" \
    --access-log "$ndir/access.log" --post-lua "$here/post.lua" --out "$out" \
    --readme "$here/README.md"
log "done ($mode)"
