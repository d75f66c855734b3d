#!/usr/bin/env bash
# The demo: roundtrip's `demo` example (`get` plus an embedded server) as a wasm32-wasip2
# component under wasmtime, then natively. Without a URL it fetches three times from the
# embedded server over one pooled connection and prints the pool statistics. Extra arguments
# go to it (see examples/get.rs: URL, -n N, -X METHOD, -H 'Name: value', -d DATA, --stats, -q,
# --cacert FILE, -k; and --tls: the embedded server speaks https with a certificate made at
# start).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(-n 3 --stats)
cargo build -q --release --example demo --target wasm32-wasip2
echo "== as a wasm32-wasip2 component under wasmtime" >&2
wasmtime run -S inherit-network=y -S allow-ip-name-lookup=y \
    target/wasm32-wasip2/release/examples/demo.wasm "${args[@]}"
echo "== natively" >&2
cargo run -q --release --example demo -- "${args[@]}"
