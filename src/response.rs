//! Response bodies: streamed from the connection, which returns to the pool before the final
//! read returns.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::AsyncRead;
use futures_lite::future::poll_fn;
use http::HeaderMap;

use crate::close::CloseReason;
use crate::codec::body::BodyDecoder;
use crate::codec::response::Framing;
use crate::conn::READ_BUF;
use crate::error::Error;
use crate::exchange::Exchange;
use crate::stats::ConnectionInfo;

/// The body of a response.
///
/// Read it as a futures-io [`AsyncRead`], or collect it with [`ResponseBody::bytes`] /
/// [`ResponseBody::text`]. Reading it to the end returns its connection to the pool **before**
/// the read that reports the end (or that delivers the last bytes, when the end is already
/// buffered) returns, so the next request reuses it. Dropping it early closes the connection,
/// unless the rest of the body is already buffered, in which case it is pooled.
///
/// Chunked trailers are available from [`ResponseBody::trailers`] once the body was read to
/// the end.
///
/// If the server answered before the request body was fully sent, the rest of the request body
/// is sent while this body is read: nothing runs in the background, so a caller that waits for
/// something else before reading (for example for its own request-body producer) stalls the
/// upload too. Read the body, or drop it.
pub struct ResponseBody {
    state: State,
    /// Which connection served the response; `None` for [`ResponseBody::empty`]. Set once at
    /// construction.
    connection: Option<ConnectionInfo>,
}

enum State {
    /// The body is complete (or was empty); the connection is already released.
    Done { trailers: Option<HeaderMap> },
    /// Reading from the connection.
    Streaming(Box<Stream>),
    /// An error ended the body; its connection was closed. Holds the error until a read
    /// reports it (an error found while the response was being built); reads after that get
    /// [`Error::Canceled`].
    Failed(Option<Error>),
}

pub(crate) struct Stream {
    /// The exchange: lease, and the write task (still driven while the body is read).
    exchange: Exchange,
    decoder: BodyDecoder,
    /// Invariant: the first `pending` bytes of the connection's buffer are payload the decoder
    /// already accounted for and the caller has not read yet. Written by `decode_buffered`
    /// and `poll_read`.
    pending: usize,
    /// What the response head decided about reuse (`None`: reusable if the body completes).
    verdict: Option<CloseReason>,
    /// The body is raw bytes on the wire (Content-Length or close-delimited), so a large read
    /// can go from the socket straight into the caller's buffer.
    raw: bool,
}

impl ResponseBody {
    pub(crate) fn done(trailers: Option<HeaderMap>) -> ResponseBody {
        ResponseBody {
            state: State::Done { trailers },
            connection: None,
        }
    }

    /// A body with nothing to read, for a response served by `connection`.
    pub(crate) fn bodiless(connection: ConnectionInfo) -> ResponseBody {
        ResponseBody {
            state: State::Done { trailers: None },
            connection: Some(connection),
        }
    }

    pub(crate) fn streaming(
        exchange: Exchange,
        framing: Framing,
        verdict: Option<CloseReason>,
    ) -> ResponseBody {
        let connection = Some(ConnectionInfo {
            id: exchange.lease.conn_id(),
            reused: exchange.lease.is_reused(),
        });
        let decoder = BodyDecoder::new(framing);
        let raw = matches!(framing, Framing::Length(_) | Framing::CloseDelimited);
        let mut body = ResponseBody {
            state: State::Streaming(Box::new(Stream {
                exchange,
                decoder,
                pending: 0,
                verdict,
                raw,
            })),
            connection,
        };
        // The whole body may have arrived with the head: then pool now.
        if let Err(e) = body.advance_buffered() {
            body.fail(&e);
            body.state = State::Failed(Some(e));
        }
        body
    }

    /// An empty body.
    pub fn empty() -> ResponseBody {
        ResponseBody::done(None)
    }

    /// Which connection served the response: its id and whether it was reused from the
    /// idle pool. `None` only for a body made with [`ResponseBody::empty`].
    ///
    /// It lives here rather than in the response's extensions because inserting into
    /// `http::Extensions` costs three allocations per response.
    ///
    /// ```no_run
    /// # roundtrip::net::block_on(async {
    /// # let transport = roundtrip::Transport::new();
    /// let response = transport.get("http://127.0.0.1:8080/").await?;
    /// let info = response.body().connection().unwrap();
    /// println!("connection {} (reused: {})", info.id, info.reused);
    /// # Ok::<(), roundtrip::Error>(())
    /// # });
    /// ```
    pub fn connection(&self) -> Option<ConnectionInfo> {
        self.connection
    }

    /// Whether the body has been read to its end (its connection is released).
    pub fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done { .. })
    }

    /// Chunked trailers, once the body was read to the end (`None` before, or if there were
    /// none).
    pub fn trailers(&self) -> Option<&HeaderMap> {
        match &self.state {
            State::Done { trailers } => trailers.as_ref(),
            _ => None,
        }
    }

    /// Reads the rest of the body into memory.
    pub async fn bytes(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        loop {
            // Done (the connection already went back to the pool with the last bytes): no
            // need for a read that reports the end.
            if self.is_end_stream() {
                return Ok(out);
            }
            // Read straight into `out`, sized by what is known to come (the rest of a
            // Content-Length body), so a small body costs one small allocation.
            let start = out.len();
            out.resize(start + self.read_size_hint(), 0);
            let n = poll_fn(|cx| self.poll_read_body(cx, &mut out[start..])).await;
            out.truncate(start + *n.as_ref().unwrap_or(&0));
            if n? == 0 {
                return Ok(out);
            }
        }
    }

    /// How many bytes the next read should ask for: the known rest of the body (at least 1,
    /// so that the end is observed), within 1 B..=1 MiB; 16 KiB when unknown.
    fn read_size_hint(&self) -> usize {
        const UNKNOWN: usize = 16 * 1024;
        const MAX: usize = 1024 * 1024;
        match &self.state {
            State::Streaming(s) => match s.decoder.remaining() {
                Some(rest) => usize::try_from(rest)
                    .unwrap_or(MAX)
                    .saturating_add(s.pending)
                    .clamp(1, MAX),
                None => UNKNOWN.max(s.pending),
            },
            _ => 1,
        }
    }

    /// Reads the rest of the body as text (invalid UTF-8 is replaced with U+FFFD).
    pub async fn text(&mut self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads body bytes into `buf`; `Ok(0)` at the end. The typed form of `AsyncRead`.
    pub fn poll_read_body(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        let result = self.poll_read_inner(cx, buf);
        if let Poll::Ready(Err(e)) = &result {
            self.fail(e);
        }
        result
    }

    fn poll_read_inner(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        let stream = match &mut self.state {
            State::Done { .. } => return Poll::Ready(Ok(0)),
            State::Failed(e) => return Poll::Ready(Err(e.take().unwrap_or(Error::Canceled))),
            State::Streaming(s) => s,
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        stream.exchange.poll_write(cx)?;
        loop {
            if stream.pending > 0 {
                let conn = stream.exchange.lease.conn();
                let n = stream.pending.min(buf.len());
                buf[..n].copy_from_slice(&conn.buffered()[..n]);
                conn.consume(n);
                stream.pending -= n;
                if stream.pending == 0 {
                    // Pool before returning the last bytes, when the end is already here. A
                    // framing error found on the way is reported by the next read: these bytes
                    // are good and are delivered first.
                    if let Err(e) = self.advance_buffered() {
                        self.fail(&e);
                        self.state = State::Failed(Some(e));
                    }
                }
                return Poll::Ready(Ok(n));
            }
            if stream.decoder.is_done() {
                self.finish();
                return Poll::Ready(Ok(0));
            }
            let conn = stream.exchange.lease.conn();
            if stream.raw && buf.len() >= READ_BUF && conn.buffered().is_empty() {
                // A large read of a raw body: from the socket straight into `buf`, no copy
                // through the connection's buffer (and, in wasm, fewer host calls).
                let want = stream.decoder.remaining().map_or(buf.len(), |rest| {
                    usize::try_from(rest).map_or(buf.len(), |rest| rest.min(buf.len()))
                });
                let n = match conn.io().poll_read(cx, &mut buf[..want]) {
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(source)) => {
                        return Poll::Ready(Err(Error::ReadBody { source }))
                    }
                    Poll::Pending => return Poll::Pending,
                };
                if n == 0 {
                    stream.decoder.on_eof()?;
                    continue;
                }
                let step = stream.decoder.decode(&buf[..n])?;
                if step.consumed != n || step.data != (0..n) {
                    panic!("internal error: a raw body decoded {n} bytes as {step:?}");
                }
                if stream.decoder.is_done() {
                    self.finish();
                }
                return Poll::Ready(Ok(n));
            }
            match conn.poll_fill(cx, usize::MAX) {
                Poll::Ready(Ok(0)) => {
                    stream.decoder.on_eof()?;
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(source)) => return Poll::Ready(Err(Error::ReadBody { source })),
                Poll::Pending => return Poll::Pending,
            }
            stream.decode_buffered()?;
        }
    }

    /// Decodes what is buffered; if that completes the body, releases the connection now.
    fn advance_buffered(&mut self) -> Result<(), Error> {
        if let State::Streaming(stream) = &mut self.state {
            stream.decode_buffered()?;
            if stream.pending == 0 && stream.decoder.is_done() {
                self.finish();
            }
        }
        Ok(())
    }

    /// The body is complete: release the connection (pool it if the exchange was clean).
    fn finish(&mut self) {
        let State::Streaming(mut stream) = std::mem::replace(&mut self.state, State::Failed(None))
        else {
            panic!("internal error: finish on a body that is not streaming");
        };
        let trailers = stream.decoder.take_trailers();
        let verdict = stream
            .verdict
            .or_else(|| (!stream.exchange.write_ok()).then_some(CloseReason::EarlyResponse));
        stream.exchange.lease.release(verdict);
        self.state = State::Done { trailers };
    }

    /// An error ended the body: close the connection with a reason that says why.
    fn fail(&mut self, e: &Error) {
        if let State::Streaming(stream) = std::mem::replace(&mut self.state, State::Failed(None)) {
            let reason = match e {
                Error::Protocol(_) => CloseReason::ProtocolError,
                Error::Write { .. } | Error::RequestBody { .. } => CloseReason::WriteError,
                _ => CloseReason::ReadError,
            };
            stream.exchange.lease.release(Some(reason));
        }
    }
}

impl Stream {
    /// Runs the decoder over buffered bytes until it finds payload, needs more, or is done.
    /// Precondition: `pending == 0`.
    fn decode_buffered(&mut self) -> Result<(), Error> {
        if self.pending != 0 {
            panic!(
                "internal error: decoding while {} payload bytes are pending",
                self.pending
            );
        }
        let conn = self.exchange.lease.conn();
        while !self.decoder.is_done() && !conn.buffered().is_empty() {
            let step = self.decoder.decode(conn.buffered())?;
            conn.consume(step.data.start);
            if !step.data.is_empty() {
                self.pending = step.data.len();
                return Ok(());
            }
            conn.consume(step.consumed - step.data.start);
            if step.consumed == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Whether the rest of the body is already buffered: drains it (discarding payload) and
    /// reports whether the decoder reached the end.
    fn drain_buffered(&mut self) -> bool {
        loop {
            if self.pending > 0 {
                let n = self.pending;
                self.exchange.lease.conn().consume(n);
                self.pending = 0;
            }
            if self.decoder.is_done() {
                return true;
            }
            if self.exchange.lease.conn().buffered().is_empty() {
                return false;
            }
            if self.decode_buffered().is_err() {
                // The caller is gone, but the close is the server's fault: say so.
                self.exchange.lease.poison(CloseReason::ProtocolError);
                return false;
            }
            if self.pending == 0 && !self.decoder.is_done() {
                return false;
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let State::Streaming(stream) = &mut self.state {
            // Dropped early: pool the connection only if the rest is already here and the
            // request was fully written; otherwise the lease closes it as `CallerGone`.
            if stream.drain_buffered() {
                self.finish();
            }
        }
    }
}

impl AsyncRead for ResponseBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_read_body(cx, buf)
            .map_err(Error::into_io)
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Done { .. } => "done",
            State::Streaming(_) => "streaming",
            State::Failed(_) => "failed",
        };
        f.debug_struct("ResponseBody")
            .field("state", &state)
            .finish()
    }
}
