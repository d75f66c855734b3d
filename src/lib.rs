//! # roundtrip
//!
//! A pooled HTTP/1.1 client transport for WebAssembly components (`wasm32-wasip2`, over
//! `wasi:sockets`) and native hosts, after Go's `net/http.Transport`.
//!
//! ```no_run
//! use roundtrip::{Body, Transport};
//!
//! roundtrip::net::block_on(async {
//!     let transport = Transport::new();
//!     for _ in 0..3 {
//!         let req = http::Request::get("http://127.0.0.1:8080/").body(Body::empty())?;
//!         let mut resp = transport.round_trip(req).await?;
//!         let text = resp.body_mut().text().await?;
//!         println!("{} ({} bytes)", resp.status(), text.len());
//!     }
//!     // One connection served all three requests.
//!     assert_eq!(transport.stats().dials, 1);
//!     Ok::<(), Box<dyn std::error::Error>>(())
//! });
//! ```
//!
//! ## Design
//!
//! - **Layers**, each depending only on the ones below: the sans-IO [`codec`] (request writer,
//!   response head parser, body framing); the [`net`] layer (WASI 0.2 or native TCP, same API);
//!   the idle pool; the connection and its per-exchange read and write tasks; the
//!   [`Transport`] with `round_trip`.
//! - **Single-threaded and executor-agnostic.** Nothing is spawned. A connection's read and
//!   write tasks are state machines inside the round-trip future and then the response body;
//!   they run when the caller polls. Dropping either at any point closes the connection (Go's
//!   "caller gone" signal is ownership here) and keeps the accounting exact.
//! - **Reuse is a value.** Every close records a [`CloseReason`]; [`PoolStats`] counts them.
//!
//! ## In scope / out of scope
//!
//! In: HTTP/1.1 (and 1.0 servers) over plain TCP; keep-alive pooling; chunked and sized
//! request and response bodies; trailers; timeouts for connect and the response head; retries
//! of replayable requests on stale pooled connections. Out: TLS, HTTP/2, proxies, redirects,
//! cookies, decompression (layers above a transport, or future work).
//! ## Targets
//!
//! wasm32-wasip2 (over WASI 0.2) and native hosts get everything. wasm32-unknown-unknown
//! (browsers, no sockets) gets the sans-IO [`codec`], [`CloseReason`] and [`Error`]: the rest
//! needs a network.
// One measured exception, allowed where it is: `codec::response::value_checked_by_httparse`
// skips re-validating header values httparse already validated (6% of a request's
// instructions). Everything else is safe code.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

// Everything above the codec needs sockets: not built for wasm32-unknown-unknown. (Plain
// attributes, not a macro: rustfmt only follows `mod` items it can see.)
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod body;
pub mod close;
pub mod codec;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod conn;
pub mod error;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod fxhash;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod net;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod pool;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod stats;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod transport;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use body::Body;
pub use close::CloseReason;
pub use codec::error::{ProtocolError, RequestError};
pub use error::{Error, Phase};
/// The `http` crate roundtrip's requests and responses are made of, re-exported so that a
/// user's `http` types always match.
pub use http;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use stats::{ConnectionInfo, PoolStats};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use transport::{
    ResponseBody, Transport, TransportBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_COLLECT_BYTES, DEFAULT_MAX_IDLE_PER_HOST, DEFAULT_MAX_IDLE_TOTAL,
};
