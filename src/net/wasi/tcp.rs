//! [`TcpStream`] over `wasi:sockets/tcp` and `wasi:io/streams`.
//!
//! Host calls dominate the cost of I/O in a component, so each operation makes as few as
//! the WASI 0.2 contracts allow:
//!
//! - read with data available: 1 (`read`); with nothing available: 1 (`read`), then the wait
//!   is shared with every other pending operation in one `poll` of the reactor. After
//!   `wait_before_next_read` (a request was just sent): the `poll` first, then 1 `read`.
//! - write: 2 (`check-write`, `write`), or 1 when the previous `check-write` permit is unused
//!   (e.g. the first write after a completed flush).
//! - flush: 2 (`flush`, `check-write` to observe completion); 0 if nothing was written since
//!   the last flush. `start_flush` issues the `flush` without waiting: 1.
//! - A poll that finds its source still registered with the reactor (a spurious wake-up, e.g.
//!   from a combinator polling all its children) returns `Pending` with no host call at all.
//!
//! Each stream subscribes at most once per direction, on the first operation that has to wait,
//! and reuses that pollable for the lifetime of the stream.

use std::io;
use std::net::SocketAddr;
use std::task::{ready, Context, Poll};

use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};

use super::reactor::Source;
use super::{addr, error, resolve};

/// A TCP connection.
///
/// Its futures make progress only under [`block_on`](super::block_on). Not `Send`: WASI
/// resources belong to the component instance's single thread.
pub struct TcpStream {
    // Field order is drop order, and it matters: a child resource must be dropped before its
    // parent, or wasmtime traps with "resource has children".
    //
    // 1. The pollables, children of `input` and `output`. Dropping a `Source` deregisters it
    //    from the reactor first (the reactor holds a clone of its `Rc<Pollable>`), so that the
    //    pollable resource itself is dropped right here.
    /// Pollable of `input`, subscribed by the first read that has to wait.
    read_ready: Option<Source>,
    /// Pollable of `output`, subscribed by the first write or flush that has to wait.
    write_ready: Option<Source>,
    // 2. The streams, children of `socket`.
    input: InputStream,
    output: OutputStream,
    // 3. The socket (kept for `shutdown` and the addresses).
    socket: TcpSocket,
    /// Bytes the last `check-write` permitted for the next `write`. Reset to 0 by every
    /// `write`, `flush` and shutdown: a permit is only valid for the very next write.
    permit: u64,
    /// Bytes have been written since the last flush was issued.
    unflushed: bool,
    /// A flush has been issued and its completion (a non-zero `check-write`) not yet seen.
    flushing: bool,
    /// Set by `wait_before_next_read`, cleared by the next `poll_read`: that read waits for
    /// the pollable before trying.
    wait_first: bool,
}

impl TcpStream {
    /// Wraps the parts of a connected socket, as returned by `finish-connect` or `accept`.
    pub(crate) fn from_parts(socket: TcpSocket, input: InputStream, output: OutputStream) -> Self {
        TcpStream {
            read_ready: None,
            write_ready: None,
            input,
            output,
            socket,
            permit: 0,
            unflushed: false,
            flushing: false,
            wait_first: false,
        }
    }

    /// Resolves `host` and connects to each resolved address in order until one succeeds.
    ///
    /// `host` is an IP literal (IPv6 with or without brackets) or `localhost` (`::1`, then
    /// `127.0.0.1`), which need no lookup, or a name, which is resolved with
    /// `wasi:sockets/ip-name-lookup`. Returns the error of the last attempt, or an
    /// [`io::ErrorKind::NotFound`] error if the name did not resolve or resolved to no
    /// address.
    pub async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
        resolve::connect(host, port).await
    }

    /// Reads into `buf`. `Ok(0)` for a non-empty `buf` means end of stream (the peer sent FIN).
    ///
    /// When no data is available, registers `cx`'s waker and returns `Pending`.
    pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if let Some(ready) = &self.read_ready {
            if ready.still_waiting(cx.waker()) {
                // The reactor has not seen `input` ready since our last empty read.
                return Poll::Pending;
            }
        }
        if !std::mem::take(&mut self.wait_first) {
            if let Some(n) = self.read_now(buf)? {
                return Poll::Ready(Ok(n));
            }
        }
        // Nothing available. A 0-byte read is not end of stream: wait for the host to say
        // there is something to read (data, EOF or an error).
        let input = &self.input;
        self.read_ready
            .get_or_insert_with(|| Source::new(input.subscribe()))
            .register(cx.waker());
        Poll::Pending
    }

    /// Tells the stream that nothing is expected to be readable yet (a request was just sent):
    /// the next [`poll_read`](Self::poll_read) registers for readiness and returns `Pending`
    /// without trying a `read` first. That saves the host call of a read that would find
    /// nothing, whose cost wasmtime makes grow with the buffer (it allocates and zeroes the
    /// requested length). If data is there after all, the reactor's next `poll` says so at
    /// once.
    pub fn wait_before_next_read(&mut self) {
        self.wait_first = true;
    }

    /// Writes a prefix of `buf` of at most the size the host currently permits.
    pub fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.permit == 0 {
            ready!(self.poll_permit(cx))?;
        }
        let n = buf
            .len()
            .min(usize::try_from(self.permit).unwrap_or(usize::MAX));
        self.permit = 0;
        self.output.write(&buf[..n]).map_err(error::write)?;
        self.unflushed = true;
        Poll::Ready(Ok(n))
    }

    /// Ready when everything written so far has been handed to the host, which has handed
    /// it to the OS.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.flushing {
            if !self.unflushed {
                return Poll::Ready(Ok(()));
            }
            self.start_flush()?;
        }
        // After `flush`, `check-write` reports 0 until the flush has completed.
        self.poll_permit(cx)
    }

    /// Starts sending everything written so far (`flush`), without waiting for it to
    /// complete: 1 host call, or none if nothing was written since the last flush. The next
    /// write waits for the flush to complete (`check-write` reports 0 until it has), so
    /// ordering is kept; a flush failure surfaces there.
    pub fn start_flush(&mut self) -> io::Result<()> {
        if self.unflushed && !self.flushing {
            self.output.flush().map_err(error::write)?;
            self.unflushed = false;
            self.flushing = true;
            self.permit = 0;
        }
        Ok(())
    }

    /// Non-blocking probe, for idle pooled connections. Never registers a waker.
    ///
    /// `Ok(None)`: nothing available now (the connection is alive and quiet). `Ok(Some(0))`:
    /// end of stream. `Ok(Some(n))`: `n` unsolicited bytes were copied into `buf`. With an
    /// empty `buf` only end of stream can be detected.
    pub fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.read_now(buf)
    }

    /// Half-close: sends FIN once previously written data is out; reading continues to work.
    ///
    /// Later writes fail with [`io::ErrorKind::BrokenPipe`].
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.permit = 0;
        self.socket
            .shutdown(ShutdownType::Send)
            .map_err(|code| error::sockets(code, "shutdown"))
    }

    /// The local address of the connection.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_address()
            .map(addr::from_wasi)
            .map_err(|code| error::sockets(code, "local address"))
    }

    /// The remote address of the connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .remote_address()
            .map(addr::from_wasi)
            .map_err(|code| error::sockets(code, "peer address"))
    }

    /// One non-blocking `read`: `None` if nothing is available, `Some(0)` at end of stream.
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match self.input.read(buf.len() as u64) {
            Ok(bytes) if bytes.is_empty() => Ok(None),
            Ok(bytes) => {
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(Some(bytes.len()))
            }
            Err(StreamError::Closed) => Ok(Some(0)),
            Err(StreamError::LastOperationFailed(e)) => {
                Err(error::stream_failed(&e, "read failed"))
            }
        }
    }

    /// Obtains a non-zero write permit into `self.permit`, or registers and returns `Pending`.
    /// A non-zero permit also means any issued flush has completed.
    fn poll_permit(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(ready) = &self.write_ready {
            if ready.still_waiting(cx.waker()) {
                return Poll::Pending;
            }
        }
        match self.output.check_write() {
            Ok(0) => {
                let output = &self.output;
                self.write_ready
                    .get_or_insert_with(|| Source::new(output.subscribe()))
                    .register(cx.waker());
                Poll::Pending
            }
            Ok(permit) => {
                self.permit = permit;
                self.flushing = false;
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(error::write(e))),
        }
    }
}
