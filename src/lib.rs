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
//! ## `!Send`, by design
//!
//! A [`Transport`] and its futures are single-threaded (`Rc`, `RefCell`; no locks, no atomics
//! on the hot path), which is what a wasm32-wasip2 component is. A multi-threaded native
//! program uses one transport per thread (each with its own pool), for example one per
//! worker of a thread-per-core runtime, or drives one transport from one thread and hands
//! results over a channel.
//!
//! ## Design
//!
//! Layers, each its own folder, each depending only on the ones below:
//!
//! | layer | module | what |
//! |---|---|---|
//! | codec | [`codec`] | sans-IO HTTP/1.1: request head writer, response head parser, body framing |
//! | net | [`net`] | WASI 0.2 or native TCP, name lookup and timers behind one API |
//! | pool | `pool` | idle bookkeeping with injected time: LIFO, caps, expiry, try-put / put-or-close |
//! | connection | `conn` | the stream seam, a connection's buffer and idle probe, the exchange (its read and write tasks, and the one verdict on the connection) |
//! | transport | `transport` | [`Transport`], the builder, leases, the wait queue, dials, [`ResponseBody`] |
//!
//! - **Single-threaded and executor-agnostic.** Nothing is spawned. A connection's read and
//!   write tasks are state machines inside the round-trip future and then the response body;
//!   dials are tasks owned by the transport. All of them run when the caller polls one of the
//!   transport's futures or bodies, under any executor. Dropping either at any point closes
//!   the connection (Go's "caller gone" signal is ownership here) and keeps the accounting
//!   exact; a dial outlives the request that started it, as in Go, and its connection goes to
//!   the next request or the pool.
//! - **Reuse is a value.** One function decides each connection's fate when its exchange
//!   ends: pooled, or closed with a [`CloseReason`], and whether the request may be resent
//!   (the rule: [`TransportBuilder::retry_stale_connections`]). [`PoolStats`] counts every
//!   close by reason.
//!
//! ## Public API
//!
//! On purpose, and covered by semver: [`Transport`] and [`TransportBuilder`], [`Body`],
//! [`ResponseBody`], [`Error`] with [`Phase`], [`ProtocolError`] and [`RequestError`],
//! [`CloseReason`], [`PoolStats`] and [`ConnectionInfo`]; the interim-response hook
//! [`OnInformational`] (a request extension); [`upgrade`] and [`Upgraded`]; `ContentEncoding`,
//! `Decompressed` and `DecompressError` (feature `decompress`); the [`net`] module ([`net::block_on`],
//! timers, and the [`net::TcpStream`] / [`net::TcpListener`] that the demo's embedded server
//! and the tests use; [`net::poll_calls`] is a supported diagnostic); the sans-IO [`codec`],
//! usable on its own (it is all that builds for wasm32-unknown-unknown); and `http`,
//! re-exported, whose types requests and responses are made of.
//!
//! ## In scope / out of scope
//!
//! In: HTTP/1.1 (and 1.0 servers) over TCP and, with the `tls` feature (a default), over
//! TLS 1.2 and 1.3 with rustls (in components too); keep-alive pooling; chunked and sized
//! request and response bodies; trailers; timeouts for connect (the TLS handshake included),
//! the response head and `Expect: 100-continue`
//! ([`TransportBuilder::expect_continue_timeout`]: a final response instead of `100` leaves
//! the body unsent, returned by [`ResponseBody::take_unsent_body`]); interim (1xx) responses,
//! each shown to the request's [`OnInformational`] hook; `101 Switching Protocols`, the
//! connection handed over by [`upgrade`] as an [`Upgraded`] `AsyncRead + AsyncWrite` stream
//! (out of the pool: [`CloseReason::Upgraded`]); resends of requests on stale pooled
//! connections; with the `decompress` feature (a default), transparent gzip and deflate
//! decoding of response bodies. Out, for now: HTTP/2, proxies, redirects, cookies.
//!
//! ## Features
//!
//! - `tls` (default): `https://` with rustls and its *ring* provider (which needs clang to
//!   build for wasm32-wasip2). The builder's trust options: `add_root_certificates`,
//!   `root_certificates_file`, `webpki_roots`, `client_certificate`,
//!   `danger_accept_invalid_certs`.
//! - `webpki-roots` (default): Mozilla's root certificates compiled in.
//! - `decompress` (default): transparent decompression, as Go's transport does for gzip. A
//!   request without an `Accept-Encoding` of the caller's (and without `Range`, and not a
//!   HEAD) is sent with `accept-encoding: gzip, deflate`; a response in `gzip` (members in a
//!   row included) or `deflate` (zlib-wrapped, or raw as some servers send it) is decoded
//!   while it streams, with no whole-body buffering; its `Content-Encoding` and
//!   `Content-Length` are removed and its extensions hold [`Decompressed`]. The collect limit
//!   of `bytes()` / `text()` counts decoded bytes. A body that does not decode is an
//!   [`Error::Decompress`] (phase `ReadBody`) naming a [`DecompressError`]; bytes after the
//!   end of the compressed stream are ignored. Off per transport with
//!   [`TransportBuilder::disable_compression`]. Pure Rust: miniz_oxide and crc32fast; no
//!   `br`: a pure-Rust brotli decoder adds 175 KB to a component, 3.7× what gzip and
//!   deflate cost (47 KB).
//!
//! ## Targets
//!
//! wasm32-wasip2 (over WASI 0.2) and native hosts get everything. wasm32-unknown-unknown
//! (browsers, no sockets) gets the sans-IO [`codec`], [`CloseReason`] and [`Error`]: the rest
//! needs a network.
// One measured exception, allowed where it is: `codec::response::value_checked_by_httparse`
// skips re-validating header values httparse already validated (8% of a request's
// instructions natively: 21.7k -> 19.9k, bench/README.md). Everything else is safe code.
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
#[cfg(feature = "decompress")]
mod decompress;
pub mod error;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod fxhash;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
mod informational;
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
#[cfg(feature = "decompress")]
pub use decompress::{ContentEncoding, DecompressError, Decompressed};
pub use error::{Error, Phase};
/// The `http` crate roundtrip's requests and responses are made of, re-exported so that a
/// user's `http` types always match.
pub use http;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use informational::OnInformational;
/// The `rustls` that [`Error::tls_error`] returns errors of (feature `tls`), re-exported so
/// that a user names the same version.
#[cfg(all(
    feature = "tls",
    not(all(target_arch = "wasm32", target_os = "unknown"))
))]
pub use rustls;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use stats::{ConnectionInfo, PoolStats};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use transport::{upgrade, Upgraded, DEFAULT_EXPECT_CONTINUE_TIMEOUT};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use transport::{
    ResponseBody, Transport, TransportBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_COLLECT_BYTES, DEFAULT_MAX_IDLE_PER_HOST, DEFAULT_MAX_IDLE_TOTAL,
};
