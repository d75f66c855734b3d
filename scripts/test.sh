#!/usr/bin/env bash
# Runs every check and test of roundtrip, natively and as wasm32-wasip2 components under
# wasmtime, including interop with a real nginx. Installs what it needs first
# (scripts/setup.sh: the wasm32-wasip2 target, wasmtime, nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n== %s\n' "$*"; }

step "setup"
scripts/setup.sh nginx

step "start nginx"
nginx_dir=$(mktemp -d)
trap 'scripts/nginx.sh stop "$nginx_dir"; rm -rf "$nginx_dir"' EXIT
ROUNDTRIP_NGINX_URL=$(scripts/nginx.sh start "$nginx_dir")
ROUNDTRIP_NGINX_TLS_URL=$(cat "$nginx_dir/tls_url")
ROUNDTRIP_NGINX_CA="$nginx_dir/tls/ca.pem"
ROUNDTRIP_NGINX_CA_PEM=$(cat "$ROUNDTRIP_NGINX_CA")   # for components: no preopen needed
export ROUNDTRIP_NGINX_URL ROUNDTRIP_NGINX_TLS_URL ROUNDTRIP_NGINX_CA ROUNDTRIP_NGINX_CA_PEM
# Nothing may be skipped: tests that need nginx or a built component fail without them.
export ROUNDTRIP_FULL_TEST=1
echo "nginx at $ROUNDTRIP_NGINX_URL and $ROUNDTRIP_NGINX_TLS_URL"

step "format and lints (both targets)"
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --target wasm32-wasip2 -- -D warnings
# The plain-HTTP build (no TLS, no ring, no C compiler) stays clean too.
cargo clippy --all-targets --no-default-features -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -q

step "build the get example as a release component"
cargo build --release --example get --target wasm32-wasip2
component=target/wasm32-wasip2/release/examples/get.wasm
export ROUNDTRIP_COMPONENT="$PWD/$component"

step "cargo test (native)"
cargo test

step "cargo test --target wasm32-wasip2 (under wasmtime)"
cargo test --target wasm32-wasip2

step "codec unit tests on wasm32-unknown-unknown (wasm-bindgen-test, under node)"
cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings
cargo test --lib --target wasm32-unknown-unknown

step "get -n 100 against nginx uses exactly one TCP connection, http and https (nginx \$connection)"
check_one_connection() {
    local label=$1 url=$2; shift 2
    : > "$nginx_dir/access.log"
    "$@" -q -n 100 --stats "$url/hello.txt" > /dev/null
    local requests conns
    requests=$(wc -l < "$nginx_dir/access.log")
    conns=$(awk '{print $1}' "$nginx_dir/access.log" | sort -u | wc -l)
    echo "$label: $requests requests over $conns connection(s)"
    [ "$requests" -eq 100 ] && [ "$conns" -eq 1 ]
}
cargo build -q --release --example get
wasm_get=(wasmtime run -S inherit-network=y -S allow-ip-name-lookup=y
    --dir "$nginx_dir/tls::/tls" "$component")
check_one_connection "native http" "$ROUNDTRIP_NGINX_URL" target/release/examples/get
check_one_connection "wasm32-wasip2 http" "$ROUNDTRIP_NGINX_URL" "${wasm_get[@]}"
check_one_connection "native https" "$ROUNDTRIP_NGINX_TLS_URL" \
    target/release/examples/get --cacert "$ROUNDTRIP_NGINX_CA"
check_one_connection "wasm32-wasip2 https" "$ROUNDTRIP_NGINX_TLS_URL" \
    "${wasm_get[@]}" --cacert /tls/ca.pem

step "get decodes nginx's gzip by default, natively and as a component"
seq 1 20000 > "$nginx_dir/big.want"
target/release/examples/get -q "$ROUNDTRIP_NGINX_URL/big.txt" 2>/dev/null | cmp - "$nginx_dir/big.want"
"${wasm_get[@]}" -q "$ROUNDTRIP_NGINX_URL/big.txt" 2>/dev/null | cmp - "$nginx_dir/big.want"
echo "get: big.txt decoded from gzip on both targets"

step "the demo (embedded server, no URL): 3 requests over one connection, http and https, on both targets"
check_demo() {
    local label=$1; shift
    local out
    out=$("$@" -n 3 --stats 2>&1) || { echo "$out"; return 1; }
    echo "$out" | grep -q "request 3 on connection 1" || { echo "$out"; return 1; }
    if [[ " $* " == *" --tls "* ]]; then
        echo "$out" | grep -q "tls_handshakes=1 " || { echo "$out"; return 1; }
    fi
    echo "$label: ok"
}
cargo build -q --release --example demo
cargo build -q --release --example demo --target wasm32-wasip2
check_demo native target/release/examples/demo
check_demo wasm32-wasip2 wasmtime run -S inherit-network=y -S allow-ip-name-lookup=y \
    target/wasm32-wasip2/release/examples/demo.wasm
# The same over https: the embedded server's certificate is made at start and trusted.
check_demo "native https" target/release/examples/demo --tls
check_demo "wasm32-wasip2 https" wasmtime run -S inherit-network=y -S allow-ip-name-lookup=y \
    target/wasm32-wasip2/release/examples/demo.wasm --tls

step "benchmark smoke pass (bench/run.sh --smoke: every contender builds and runs)"
bench/run.sh --smoke

step "all tests passed"
