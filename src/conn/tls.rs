//! A TLS client stream owned by the crate: rustls's sans-IO `ClientConnection` driven over
//! [`TcpStream`], on both targets, keeping what the connection layer needs of a [`Stream`]:
//!
//! - `poll_read` decrypts; it first pushes out TLS records still waiting to be written (the
//!   request's last records), so a request whose tail could not be written at once is never
//!   left behind while the exchange waits for its response. A failure to send them is not a
//!   read error (the server may have answered, then reset the connection): the write side
//!   reports it, and the response is still read.
//! - `poll_write` encrypts into rustls's buffer and writes what the socket takes now.
//! - `start_flush` writes what it can without waiting, then starts the socket's flush.
//! - `try_read_now`, the idle probe, decrypts whatever arrived: session tickets and other
//!   handshake records are not data (the connection is alive), a `close_notify` or end of
//!   stream means the server closed it, plaintext is unsolicited.
//! - `shutdown_write` sends `close_notify`.
//!
//! rustls's blocking-style API is bridged with adapters that turn `Pending` into
//! `WouldBlock`; a waker is registered whenever `WouldBlock` comes from the socket, except in
//! `start_flush`, which has no context (a no-op waker; the exchange's next `poll_read`
//! registers the real one), and in the probe, which never registers one.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::stream::Stream;
use crate::net::TcpStream;

/// A TLS connection over TCP.
pub(crate) struct TlsStream {
    tcp: TcpStream,
    tls: ClientConnection,
    /// A write to the socket failed. rustls keeps the records it could not send; reads no
    /// longer try to send them (the write side has the error to report).
    send_failed: bool,
}

impl TlsStream {
    /// Runs the client handshake over `tcp` for `name`. ALPN must end at `http/1.1` or at
    /// no protocol: anything else is refused.
    pub(crate) async fn connect(
        tcp: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
    ) -> io::Result<TlsStream> {
        let tls = ClientConnection::new(config, name).map_err(tls_error)?;
        let mut stream = TlsStream {
            tcp,
            tls,
            send_failed: false,
        };
        futures_lite::future::poll_fn(|cx| stream.poll_handshake(cx)).await?;
        match stream.tls.alpn_protocol() {
            None | Some(b"http/1.1") => Ok(stream),
            Some(other) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                AlpnMismatch(String::from_utf8_lossy(other).into_owned()),
            )),
        }
    }

    /// Whether the handshake resumed an earlier session (no full handshake).
    pub(crate) fn resumed(&self) -> bool {
        self.tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed)
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.tls.is_handshaking() {
            if self.poll_send(cx, true)?.is_pending() {
                return Poll::Pending;
            }
            if !self.tls.is_handshaking() {
                break;
            }
            match self.receive(cx) {
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection during the TLS handshake",
                    )))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        // The client's last flight (its Finished).
        self.poll_send(cx, true)
    }

    /// Writes queued TLS records until rustls has none or the socket takes no more. With
    /// `flush`, starts the socket's flush for what was written (without waiting for it):
    /// records the stream writes on its own (the handshake, alerts, a tail pushed out by a
    /// read) must reach the server even if nothing flushes after them (WASI promises
    /// delivery only after a flush). A key-update reply is not among them: rustls sends it
    /// ahead of our next record. `poll_write` passes false: the write task flushes once, at
    /// the end of the request, and a flush per write would make each next write wait for the
    /// previous flush to complete.
    fn poll_send(&mut self, cx: &mut Context<'_>, flush: bool) -> Poll<io::Result<()>> {
        let mut wrote = false;
        let result = loop {
            if !self.tls.wants_write() {
                break Poll::Ready(Ok(()));
            }
            let mut socket = Polled {
                tcp: &mut self.tcp,
                cx,
            };
            match self.tls.write_tls(&mut socket) {
                // A socket that takes nothing would make this loop spin.
                Ok(0) => {
                    self.send_failed = true;
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                Ok(_) => wrote = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Poll::Pending,
                Err(e) => {
                    self.send_failed = true;
                    return Poll::Ready(Err(e));
                }
            }
        };
        if wrote && flush {
            self.tcp.start_flush()?;
        }
        result
    }

    /// Reads TLS bytes from the socket and processes them: `Ok(0)` at end of stream.
    fn receive(&mut self, cx: &mut Context<'_>) -> io::Result<usize> {
        let n = self.tls.read_tls(&mut Polled {
            tcp: &mut self.tcp,
            cx,
        })?;
        self.process()?;
        Ok(n)
    }

    /// Processes what was read; on a TLS error, sends the alert rustls queued (best effort).
    fn process(&mut self) -> io::Result<()> {
        match self.tls.process_new_packets() {
            Ok(_) => Ok(()),
            Err(e) => {
                let waker = Waker::noop();
                let _ = self.poll_send(&mut Context::from_waker(waker), true);
                Err(tls_error(e))
            }
        }
    }
}

impl Stream for TlsStream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        // Records still to send go first (their wake-up is registered if the socket is full).
        // Failing to send them is not a read error: a server may answer and then reset the
        // connection before it has read the whole request, and its answer is still to be read
        // (as over plain TCP). The write task reports the failure; sending is not retried.
        if !self.send_failed {
            let _ = self.poll_send(cx, true);
        }
        loop {
            match self.tls.reader().read(buf) {
                // 0: the server's close_notify (the end of a close-delimited body, say).
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Includes `UnexpectedEof`: the TCP stream ended without close_notify, which
                // may be a truncation attack: an error, never a short body.
                Err(e) => return Poll::Ready(Err(e)),
            }
            match self.receive(cx) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        // Back-pressure: what rustls holds goes out before more is taken.
        std::task::ready!(self.poll_send(cx, false))?;
        let n = self.tls.writer().write(buf)?;
        // Send it now if the socket takes it; if not, the next write, flush or read does.
        if let Poll::Ready(Err(e)) = self.poll_send(cx, false) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn start_flush(&mut self) -> io::Result<()> {
        // Without a task to wake: what the socket does not take now is sent by the next read.
        let waker = Waker::noop();
        if let Poll::Ready(Err(e)) = self.poll_send(&mut Context::from_waker(waker), false) {
            return Err(e);
        }
        self.tcp.start_flush()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every record rustls holds goes to the socket, then the socket's flush completes.
        std::task::ready!(self.poll_send(cx, false))?;
        self.tcp.poll_flush(cx)
    }

    fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.send_failed {
            // Records of the last request never left: the connection cannot be reused.
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        loop {
            match self.tls.reader().read(buf) {
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(0)),
                Err(e) => return Err(e),
            }
            match self.tls.read_tls(&mut Probe(&mut self.tcp)) {
                Ok(_) => self.process()?,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }

    fn wait_before_next_read(&mut self) {
        self.tcp.wait_before_next_read();
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.tls.send_close_notify();
        self.start_flush()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.peer_addr()
    }
}

/// The socket as `io::Read`/`io::Write` for rustls, within one poll: `Pending` is
/// `WouldBlock`, with `cx`'s waker registered.
struct Polled<'a, 'b> {
    tcp: &'a mut TcpStream,
    cx: &'a mut Context<'b>,
}

impl Read for Polled<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tcp.poll_read(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl Write for Polled<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tcp.poll_write(self.cx, buf) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket as `io::Read` for the idle probe: never waits, never registers a waker, and
/// asks for at most [`PROBE_TLS_BYTES`] at a time (rustls offers its whole buffer, and on
/// WASI the host zeroes every byte asked for; an idle connection usually has nothing, or a
/// `close_notify` record, waiting).
struct Probe<'a>(&'a mut TcpStream);

/// Enough for one `close_notify` record (about 24–31 bytes) in one read.
const PROBE_TLS_BYTES: usize = 64;

impl Read for Probe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(PROBE_TLS_BYTES);
        match self.0.try_read_now(&mut buf[..n])? {
            Some(n) => Ok(n),
            None => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

/// A rustls error as an `io::Error` that keeps it (see `Error::tls_error`).
pub(crate) fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The server chose an application protocol other than `http/1.1`.
#[derive(Debug)]
pub(crate) struct AlpnMismatch(pub(crate) String);

impl std::fmt::Display for AlpnMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the server chose the application protocol {:?}; roundtrip speaks http/1.1",
            self.0
        )
    }
}

impl std::error::Error for AlpnMismatch {}
