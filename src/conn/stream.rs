//! The connection seam: the byte stream a connection runs over.
//!
//! The connection layer never names a socket type. It works over [`Stream`]: `AsyncRead` and
//! `AsyncWrite` in their `poll_*` form, plus the few things a pooled HTTP/1.1 client needs that
//! those traits cannot say. [`TcpStream`] (both net backends) implements it, and so do the TLS
//! stream (`conn::tls`, feature `tls`, over a `TcpStream`) and the in-memory scripted stream
//! that the exchange, retry and waiter unit tests run over (`conn::scripted`, tests only).
//! [`Io`] holds whichever a connection uses. A proxy tunnel would be the next.
//!
//! Contract, for every implementation:
//! - `poll_read` with a non-empty buffer returning `Ok(0)` means end of stream, and only that;
//!   `Pending` registers the context's waker, which is woken when reading may make progress.
//! - `poll_write` writes a non-empty prefix or returns an error; `Ok(0)` only for an empty
//!   buffer.
//! - `start_flush` hands what was written on without waiting for completion; ordering with
//!   later writes is the stream's job.
//! - `try_read_now` never waits and never registers a waker.

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll};

use crate::net::TcpStream;

/// A byte stream a connection can run over. See the module doc for the contract.
pub(crate) trait Stream {
    /// Reads into `buf`; `Ok(0)` for a non-empty `buf` is end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Writes a prefix of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Starts sending what was written, without waiting for it to complete (the next write,
    /// or the response, proves it arrived). A failure may also surface at the next write.
    fn start_flush(&mut self) -> io::Result<()>;

    /// Ready when everything written so far has left for the peer (a TLS stream's buffered
    /// records included). The exchange never waits for this ([`Stream::start_flush`] is
    /// enough between request and response); an upgraded connection's `AsyncWrite::poll_flush`
    /// does.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// The non-blocking idle probe: `Ok(None)` nothing available (alive and quiet),
    /// `Ok(Some(0))` end of stream, `Ok(Some(n))` `n` unsolicited bytes copied into `buf`.
    fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;

    /// A hint that nothing is expected to be readable yet (a request was just sent). A stream
    /// whose empty read costs more than a readiness wait (WASI) waits before its next read.
    fn wait_before_next_read(&mut self);

    // Half-close and the addresses are part of the seam (TLS sends `close_notify` on
    // half-close and reports the socket's addresses); nothing in the client calls them yet.

    /// Half-close: no more writes; reading goes on.
    #[allow(dead_code)]
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// The local address of the underlying connection.
    #[allow(dead_code)]
    fn local_addr(&self) -> io::Result<SocketAddr>;

    /// The remote address of the underlying connection.
    #[allow(dead_code)]
    fn peer_addr(&self) -> io::Result<SocketAddr>;
}

impl Stream for TcpStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_read(self, cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        TcpStream::poll_write(self, cx, buf)
    }

    fn start_flush(&mut self) -> io::Result<()> {
        TcpStream::start_flush(self)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_flush(self, cx)
    }

    fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        TcpStream::try_read_now(self, buf)
    }

    fn wait_before_next_read(&mut self) {
        TcpStream::wait_before_next_read(self)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        TcpStream::shutdown_write(self)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::local_addr(self)
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        TcpStream::peer_addr(self)
    }
}

/// A boxed stream is a stream (a large one is boxed inside [`Io`]).
impl<S: Stream + ?Sized> Stream for Box<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        (**self).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        (**self).poll_write(cx, buf)
    }

    fn start_flush(&mut self) -> io::Result<()> {
        (**self).start_flush()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        (**self).poll_flush(cx)
    }

    fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        (**self).try_read_now(buf)
    }

    fn wait_before_next_read(&mut self) {
        (**self).wait_before_next_read()
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        (**self).shutdown_write()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        (**self).local_addr()
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        (**self).peer_addr()
    }
}

/// A connection's stream: every implementation of [`Stream`], dispatched statically. An enum
/// rather than `Box<dyn Stream>`: the dynamic call cost 2-3% of a pooled request's
/// instructions natively and ~5% in wasm (callgrind, `rt seq`), where every indirect call
/// goes through a table, and it kept the TCP calls from being inlined. A stream that wraps
/// another (TLS, a proxy tunnel) is one more variant.
pub(crate) enum Io {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP. Boxed: rustls's connection state is large, and most connections are
    /// plain.
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
    /// The in-memory scripted stream of the unit tests.
    #[cfg(test)]
    Scripted(super::scripted::Scripted),
}

/// Calls `$call` on whichever stream `$io` holds.
macro_rules! each {
    ($io:expr, $s:ident => $call:expr) => {
        match $io {
            Io::Tcp($s) => $call,
            #[cfg(feature = "tls")]
            Io::Tls($s) => $call,
            #[cfg(test)]
            Io::Scripted($s) => $call,
        }
    };
}

impl Stream for Io {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        each!(self, s => Stream::poll_read(s, cx, buf))
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        each!(self, s => Stream::poll_write(s, cx, buf))
    }

    fn start_flush(&mut self) -> io::Result<()> {
        each!(self, s => Stream::start_flush(s))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Stream::poll_flush(s, cx))
    }

    fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        each!(self, s => Stream::try_read_now(s, buf))
    }

    fn wait_before_next_read(&mut self) {
        each!(self, s => Stream::wait_before_next_read(s))
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        each!(self, s => Stream::shutdown_write(s))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        each!(self, s => Stream::local_addr(s))
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        each!(self, s => Stream::peer_addr(s))
    }
}
