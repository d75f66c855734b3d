//! The net layer: one small async API over two backends.
//!
//! | | wasm32-wasip2 | native |
//! |---|---|---|
//! | TCP | `wasi:sockets/tcp` + `wasi:io/streams` | `std::net` made async by `async-io` |
//! | name lookup | `wasi:sockets/ip-name-lookup` | `std::net::ToSocketAddrs` on `blocking`'s thread pool |
//! | timers | `wasi:clocks/monotonic-clock` pollables | `async_io::Timer` |
//! | waiting | this crate's reactor over `wasi:io/poll` | async-io's reactor |
//!
//! Both backends expose exactly the same items:
//!
//! - [`TcpStream`]: `connect(host, port)`, `poll_read`, `poll_write`, `poll_flush`,
//!   `start_flush` (flush without waiting for completion), `try_read_now` (a non-blocking
//!   probe), `wait_before_next_read` (a hint: nothing is readable yet), `shutdown_write`, `local_addr`, `peer_addr`, and
//!   futures-io `AsyncRead`/`AsyncWrite`.
//! - [`TcpListener`]: `bind(addr)`, `local_addr()`, `accept().await`, for test servers and the
//!   demo's embedded server.
//! - [`Sleep`] / [`sleep`] / [`sleep_until`]: a timer future.
//! - [`block_on`]: runs a future to completion on the current thread, driving the backend's
//!   reactor. Natively any executor works (async-io drives itself); on wasm32-wasip2 the futures
//!   of this module make progress only under this `block_on`, because WASI 0.2 has no way to
//!   wake a component except `wasi:io/poll`. It must not be nested there.
//! - [`poll_calls`]: how many `wasi:io/poll.poll` calls `block_on` has made on this thread, for
//!   benchmarks and tests (always 0 natively, where async-io owns polling).
//!
//! Conventions shared by both backends:
//! - `connect(host, port)` takes an IP literal (IPv6 with or without brackets) or a name, and
//!   tries every resolved address in order, one at a time. IP literals and `localhost` (`::1`,
//!   then `127.0.0.1`) need no lookup. No lookup blocks the calling thread: natively it runs
//!   on a pool thread, on WASI in the host. Dropping the future abandons it at any point.
//! - `poll_read` returning `Ok(0)` for a non-empty buffer means end of stream (the peer sent
//!   FIN). The WASI backend never reports a 0-byte `read` from the host as end of stream; only
//!   `stream-error::closed` is.
//! - Errors are `std::io::Error` with the closest `ErrorKind` (`ConnectionRefused`,
//!   `ConnectionReset`, `TimedOut`, `AddrInUse`, `NotFound` for a name that did not resolve …).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

mod connect;
#[cfg(not(target_os = "wasi"))]
mod native;
#[cfg(not(target_os = "wasi"))]
pub use native::{block_on, poll_calls, sleep, sleep_until, Sleep, TcpListener, TcpStream};

#[cfg(target_os = "wasi")]
mod wasi;
#[cfg(target_os = "wasi")]
pub use self::wasi::{block_on, poll_calls, sleep, sleep_until, Sleep, TcpListener, TcpStream};

use std::time::{Duration, Instant};

/// `now + duration`, or about 30 years from now if that is not representable (a timer that
/// never fires in practice, as for `sleep(Duration::MAX)`).
fn deadline_after(duration: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(duration)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 60 * 60))
}

// Both backends have the same inherent methods; the trait impls and `Debug` are written once.

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .finish_non_exhaustive()
    }
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read(cx, buf)
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush(cx)
    }

    /// Flushes, then half-closes ([`TcpStream::shutdown_write`]).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_flush(cx))?;
        Poll::Ready(this.shutdown_write())
    }
}
