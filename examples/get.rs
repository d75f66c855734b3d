//! `get`: a small curl on roundtrip, natively and as a wasm32-wasip2 component.
//!
//! ```text
//! get URL [-n N] [-X METHOD] [-H 'Name: value']... [-d DATA] [--stats] [-q]
//!     [--cacert FILE] [-k|--insecure] [--raw|--compressed]
//! ```
//!
//! Prints each response's status line and headers to stderr and its body to stdout. `-n N`
//! sends the request N times on one transport (so the connection is reused); `--stats` prints
//! the pool statistics at the end; `-q` prints bodies only once (the last). The `demo` example
//! is the same with an embedded server for when there is no URL; `get` carries no server, so
//! its component size is that of a client. `https://` URLs trust Mozilla's roots, plus those
//! in `--cacert FILE` (as a component, FILE must be inside a directory given to wasmtime with
//! `--dir`); `-k` accepts any certificate, as curl's does. gzip and deflate bodies are asked
//! for and decoded (feature `decompress`), as curl's `--compressed` does; `--raw` turns that
//! off.
//!
//! ```text
//! cargo run --example get -- -n 3 --stats http://127.0.0.1:8080/
//! cargo build --release --example get --target wasm32-wasip2
//! wasmtime run -S inherit-network=y -S allow-ip-name-lookup=y \
//!     target/wasm32-wasip2/release/examples/get.wasm -n 3 --stats http://127.0.0.1:8080/
//! ```

use std::process::ExitCode;

#[path = "common/cli.rs"]
mod cli;

fn main() -> ExitCode {
    let args = match cli::parse_args() {
        Ok(a) if a.url.is_some() => a,
        Ok(_) => {
            eprintln!("get: a URL is needed (the demo example serves one itself)");
            return cli::usage();
        }
        Err(e) => {
            if !e.is_empty() {
                eprintln!("get: {e}");
            }
            return cli::usage();
        }
    };
    let url = args.url.clone().unwrap_or_default();
    roundtrip::net::block_on(cli::client(&args, &url))
}
