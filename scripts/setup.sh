#!/usr/bin/env bash
# Installs what roundtrip's demo and tests need on a fresh Debian machine with Rust (rustup):
#   scripts/setup.sh          the wasm32-wasip2 target, wasmtime, and clang (ring, behind the
#                             default `tls` feature, compiles C for wasm32 with it)
#   scripts/setup.sh nginx    ... and nginx and openssl (for the interop tests), and for the codec's
#                             browser-target tests: the wasm32-unknown-unknown target,
#                             wasm-bindgen-test-runner (matching Cargo.lock) and node
# Idempotent: each step is skipped when already done.
set -euo pipefail

WASMTIME_VERSION=48.0.8   # builds with rustc 1.95; any wasmtime >= 25 on PATH is used as is

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    rustup target add wasm32-wasip2
fi

apt_install() {
    local sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$@" >/dev/null
}

# ring (rustls's crypto, feature `tls`) compiles its C and assembly for wasm32 with clang;
# Debian's is enough, no WASI sysroot needed. Plain-HTTP builds (no default features) don't.
if ! command -v clang >/dev/null 2>&1; then
    echo "installing clang from apt (ring's C for wasm32-wasip2)" >&2
    apt_install clang
fi

wasmtime_ok() {
    command -v wasmtime >/dev/null 2>&1 || return 1
    local major
    major=$(wasmtime --version | sed -E 's/^wasmtime[^0-9]*([0-9]+)\..*/\1/')
    [ "${major:-0}" -ge 25 ]
}
if ! wasmtime_ok; then
    export PATH="$HOME/.cargo/bin:$PATH"
    if ! wasmtime_ok; then
        echo "installing wasmtime-cli $WASMTIME_VERSION from crates.io (about 16 minutes, once per machine)" >&2
        cargo install wasmtime-cli --version "$WASMTIME_VERSION" --locked
    fi
fi

if [ "${1:-}" = nginx ]; then
    if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        rustup target add wasm32-unknown-unknown
    fi
    # The runner must match the wasm-bindgen version in Cargo.lock.
    here=$(cd "$(dirname "$0")/.." && pwd)
    wbg=$(grep -A1 '^name = "wasm-bindgen"$' "$here/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
    if [ -n "$wbg" ] && ! wasm-bindgen-test-runner --version 2>/dev/null | grep -q " $wbg\b"; then
        echo "installing wasm-bindgen-cli $wbg from crates.io (a few minutes, once per machine)" >&2
        cargo install wasm-bindgen-cli --version "$wbg"
    fi
    if ! command -v node >/dev/null 2>&1; then
        sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
        $sudo_cmd apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nodejs >/dev/null
    fi
fi

if [ "${1:-}" = nginx ] && ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nginx-light >/dev/null 2>&1 \
        || DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq nginx
fi

# The https interop: scripts/nginx.sh makes a throwaway CA with the openssl CLI.
if [ "${1:-}" = nginx ] && ! command -v openssl >/dev/null 2>&1; then
    echo "installing openssl from apt (the test CA for nginx's https port)" >&2
    apt_install openssl
fi
