//! The net layer: one small async API over two backends.
//!
//! | | wasm32-wasip2 | native |
//! |---|---|---|
//! | TCP | `wasi:sockets/tcp` + `wasi:io/streams` | `std::net` made async by `async-io` |
//! | name lookup | `wasi:sockets/ip-name-lookup` | `std::net::ToSocketAddrs` (IP literals skip it) |
//! | timers | `wasi:clocks/monotonic-clock` pollables | `async_io::Timer` |
//! | waiting | this crate's reactor over `wasi:io/poll` | async-io's reactor |
//!
//! Both backends expose exactly the same items:
//!
//! - [`TcpStream`]: `connect(host, port)`, `poll_read`, `poll_write`, `poll_flush`,
//!   `try_read_now` (a non-blocking probe), `shutdown_write`, `local_addr`, `peer_addr`, and
//!   futures-io `AsyncRead`/`AsyncWrite`.
//! - [`TcpListener`]: `bind(addr)`, `local_addr()`, `accept().await`, for test servers and the
//!   demo's embedded server.
//! - [`Sleep`] / [`sleep`] / [`sleep_until`]: a timer future.
//! - [`block_on`]: runs a future to completion on the current thread, driving the backend's
//!   reactor. Natively any executor works (async-io drives itself); on wasm32-wasip2 the futures
//!   of this module make progress only under this `block_on`, because WASI 0.2 has no way to
//!   wake a component except `wasi:io/poll`.
//!
//! Conventions shared by both backends:
//! - `poll_read` returning `Ok(0)` for a non-empty buffer means end of stream (the peer sent
//!   FIN). The WASI backend never reports a 0-byte `read` from the host as end of stream; only
//!   `stream-error::closed` is.
//! - Errors are `std::io::Error` with the closest `ErrorKind` (`ConnectionRefused`,
//!   `ConnectionReset`, `TimedOut`, `AddrInUse`, `NotFound` for a name that did not resolve …).

#[cfg(not(target_os = "wasi"))]
mod native;
#[cfg(not(target_os = "wasi"))]
pub use native::{block_on, sleep, sleep_until, Sleep, TcpListener, TcpStream};

#[cfg(target_os = "wasi")]
mod wasi;
#[cfg(target_os = "wasi")]
pub use self::wasi::{block_on, sleep, sleep_until, Sleep, TcpListener, TcpStream};
