//! The native backend: `std::net` sockets made asynchronous by `async-io`.

use std::fmt;
use std::future::Future;
use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};

use super::connect::{connect_each, known_addresses};

/// Always 0 natively: async-io's reactor owns polling here, and this crate makes no poll calls
/// of its own. On wasm32-wasip2 it counts the `wasi:io/poll.poll` calls made by [`block_on`].
pub fn poll_calls() -> u64 {
    0
}

/// Runs a future to completion on this thread (`async_io::block_on`).
///
/// Natively any executor works: async-io drives its reactor itself.
pub fn block_on<F: Future>(future: F) -> F::Output {
    async_io::block_on(future)
}

/// A TCP connection.
pub struct TcpStream {
    inner: Async<std::net::TcpStream>,
}

impl TcpStream {
    fn new(inner: Async<std::net::TcpStream>) -> io::Result<Self> {
        inner.get_ref().set_nodelay(true)?;
        Ok(TcpStream { inner })
    }

    /// Resolves `host` and connects to each resolved address in order until one succeeds.
    ///
    /// `host` is an IP literal (IPv6 with or without brackets) or `localhost` (`::1`, then
    /// `127.0.0.1`), which need no lookup, or a name, which is resolved with
    /// `std::net::ToSocketAddrs` (getaddrinfo) on the `blocking` crate's thread pool, so that
    /// the calling thread, and every other task of its executor, keeps running meanwhile.
    /// Dropping the future abandons the lookup. Returns the error of the last attempt, or an
    /// [`io::ErrorKind::NotFound`] error if the name did not resolve or resolved to no
    /// address.
    /// Sets `TCP_NODELAY`.
    pub async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
        let addrs = resolve(host, port).await?;
        connect_each(host, addrs, Async::<std::net::TcpStream>::connect)
            .await
            .and_then(TcpStream::new)
    }

    /// Reads into `buf`. `Ok(0)` for a non-empty `buf` means end of stream (the peer sent FIN).
    ///
    /// When no data is available, registers `cx`'s waker and returns `Pending`.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        futures_io::AsyncRead::poll_read(Pin::new(&mut self.inner), cx, buf)
    }

    /// Writes a prefix of `buf`.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.inner), cx, buf)
    }

    /// Ready when everything written so far has been handed to the OS (immediately: writes go
    /// straight to the socket).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.inner), cx)
    }

    /// Starts sending everything written so far without waiting for it to complete. Natively
    /// there is nothing to do: writes go straight to the kernel.
    pub fn start_flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// A hint that nothing is expected to be readable yet. A no-op here: a read that finds
    /// nothing is one cheap syscall, while waiting for readiness first costs more (measured:
    /// 3 → 13 syscalls per request). The WASI backend acts on it.
    pub fn wait_before_next_read(&mut self) {}

    /// Non-blocking probe, for idle pooled connections. Never registers a waker.
    ///
    /// `Ok(None)`: nothing available now (the connection is alive and quiet). `Ok(Some(0))`:
    /// end of stream. `Ok(Some(n))`: `n` unsolicited bytes were copied into `buf`. With an
    /// empty `buf` only end of stream can be detected.
    pub fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let socket = self.inner.get_ref(); // non-blocking: async-io set O_NONBLOCK
        loop {
            let result = if buf.is_empty() {
                // A 0-byte read cannot tell EOF from "no data": peek one byte instead, and
                // report only EOF.
                socket
                    .peek(&mut [0u8])
                    .map(|n| if n == 0 { Some(0) } else { None })
            } else {
                (&*socket).read(buf).map(Some)
            };
            match result {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {} // retry
                Err(e) => return Err(e),
            }
        }
    }

    /// Half-close: sends FIN; reading continues to work.
    ///
    /// Later writes fail with [`io::ErrorKind::BrokenPipe`].
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.inner.get_ref().shutdown(Shutdown::Write)
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// The remote address of the connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
}

/// The addresses of `host`: immediately for an IP literal or `localhost`, otherwise from a
/// getaddrinfo lookup on the `blocking` crate's thread pool.
///
/// A thread pool because getaddrinfo is the resolver that honours the system's configuration
/// (`/etc/hosts`, nsswitch, search domains) and it only comes blocking; the pool is the one
/// async-io's ecosystem uses for that (`async-net` resolves the same way); it starts threads as
/// work arrives and lets each exit after half a second idle. If the future is dropped, the
/// lookup's result is discarded when its thread finishes.
async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Some(addrs) = known_addresses(host, port) {
        return Ok(addrs);
    }
    let name = host.to_owned();
    blocking::unblock(move || {
        (name.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect)
    })
    .await
    // std reports lookup failures as uncategorized errors; make them `NotFound`, as on
    // WASI (`name-unresolvable`), keeping the resolver's message.
    .map_err(|e| io::Error::new(io::ErrorKind::NotFound, format!("resolve {host}: {e}")))
}

/// A listening TCP socket, for test servers and embedded servers.
pub struct TcpListener {
    inner: Async<std::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` and listens. Port 0 picks an ephemeral port. Synchronous.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Async::<std::net::TcpListener>::bind(addr)?,
        })
    }

    /// The address the listener is bound to (with the actual port if bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    /// Waits for and accepts the next connection, returning it with the peer's address.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (inner, peer) = self.inner.accept().await?;
        Ok((TcpStream::new(inner)?, peer))
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
}

/// A future that completes at a deadline. Created by [`sleep`] and [`sleep_until`].
///
/// Once complete it stays complete (polling again returns `Ready`) until
/// [`reset`](Self::reset).
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    timer: Timer,
    deadline: Instant,
    fired: bool,
}

/// A [`Sleep`] that completes after `duration`.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(crate::net::deadline_after(duration))
}

/// A [`Sleep`] that completes at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        timer: Timer::at(deadline),
        deadline,
        fired: false,
    }
}

impl Sleep {
    /// The instant at which this timer completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Changes the deadline. The timer must be polled again for the new deadline to wake the
    /// task.
    pub fn reset(&mut self, deadline: Instant) {
        self.timer.set_at(deadline);
        self.deadline = deadline;
        self.fired = false;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !this.fired {
            // A fired `async_io::Timer` is pending forever; remember that it fired.
            ready!(Pin::new(&mut this.timer).poll(cx));
            this.fired = true;
        }
        Poll::Ready(())
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}
