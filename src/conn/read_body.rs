//! The read task's second half: streaming the response body out of the connection.
//!
//! Payload is decoded in place in the connection's buffer and copied once, into the caller's
//! buffer; a large read of a raw (Content-Length or close-delimited) body goes from the stream
//! straight into the caller's buffer. The body completes (`Reading::Done`) as soon as its end
//! is buffered, before the read that delivers its last bytes returns, so the owner can pool
//! the connection at once.

use std::task::{Context, Poll};

use super::connection::{Conn, READ_BUF};
use super::exchange::{Exchange, Reading};
use super::stream::Stream;
use crate::error::{Error, Phase};

impl Exchange {
    /// Reads body bytes into `buf`; `Ok(0)` at the end. A framing error found past good
    /// payload is recorded (`Reading::Failed` with the error unreported) and the payload is
    /// delivered first.
    pub(crate) fn poll_read_body(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Conn,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        match &self.reading {
            Reading::Done { .. } => return Poll::Ready(Ok(0)),
            Reading::Body(_) => {}
            _ => panic!("internal error: reading a body in another state"),
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // A failure of the request's write no longer matters to this response; it closes
        // the connection afterwards (`fate`: the request was not completely written).
        self.poll_write(cx, conn);
        match self.poll_body(cx, conn, buf) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.fail(e))),
            other => other,
        }
    }

    fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Conn,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        loop {
            let Reading::Body(body) = &mut self.reading else {
                return Poll::Ready(Ok(0));
            };
            if body.pending > 0 {
                let n = body.pending.min(buf.len());
                buf[..n].copy_from_slice(&conn.buffered()[..n]);
                conn.consume(n);
                body.pending -= n;
                if body.pending == 0 {
                    // Complete the body now if its end is buffered too.
                    self.advance_buffered(conn);
                }
                return Poll::Ready(Ok(n));
            }
            if body.decoder.is_done() {
                self.complete();
                return Poll::Ready(Ok(0));
            }
            if body.raw && buf.len() >= READ_BUF && conn.buffered().is_empty() {
                // A large read of a raw body: from the stream straight into `buf`, no copy
                // through the connection's buffer (and, in wasm, fewer host calls).
                let want = body.decoder.remaining().map_or(buf.len(), |rest| {
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
                    body.decoder
                        .on_eof()
                        .map_err(|e| Error::protocol(Phase::ReadBody, e))?;
                    continue;
                }
                let step = body
                    .decoder
                    .decode(&buf[..n])
                    .map_err(|e| Error::protocol(Phase::ReadBody, e))?;
                if step.consumed != n || step.data != (0..n) {
                    panic!("internal error: a raw body decoded {n} bytes as {step:?}");
                }
                if body.decoder.is_done() {
                    self.complete();
                }
                return Poll::Ready(Ok(n));
            }
            match conn.poll_fill(cx, usize::MAX) {
                Poll::Ready(Ok(0)) => body
                    .decoder
                    .on_eof()
                    .map_err(|e| Error::protocol(Phase::ReadBody, e))?,
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(source)) => return Poll::Ready(Err(Error::ReadBody { source })),
                Poll::Pending => return Poll::Pending,
            }
            self.decode_buffered(conn)?;
        }
    }

    /// Decodes what is buffered; completes the body if its end is there. A framing error is
    /// recorded, to be reported by the next read.
    pub(super) fn advance_buffered(&mut self, conn: &mut Conn) {
        if let Err(e) = self.decode_buffered(conn) {
            self.fail_later(e);
            return;
        }
        if let Reading::Body(body) = &self.reading {
            if body.pending == 0 && body.decoder.is_done() {
                self.complete();
            }
        }
    }

    /// Runs the decoder over buffered bytes until it finds payload, needs more, or is done.
    /// Precondition: no payload is pending.
    fn decode_buffered(&mut self, conn: &mut Conn) -> Result<(), Error> {
        let Reading::Body(body) = &mut self.reading else {
            return Ok(());
        };
        if body.pending != 0 {
            panic!(
                "internal error: decoding while {} payload bytes are pending",
                body.pending
            );
        }
        while !body.decoder.is_done() && !conn.buffered().is_empty() {
            let step = body
                .decoder
                .decode(conn.buffered())
                .map_err(|e| Error::protocol(Phase::ReadBody, e))?;
            conn.consume(step.data.start);
            if !step.data.is_empty() {
                body.pending = step.data.len();
                return Ok(());
            }
            conn.consume(step.consumed - step.data.start);
            if step.consumed == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The body's end was decoded: the response is complete.
    fn complete(&mut self) {
        let Reading::Body(body) = &mut self.reading else {
            panic!("internal error: completing a body that is not being read");
        };
        self.reading = Reading::Done {
            close: body.close,
            trailers: body.decoder.take_trailers(),
        };
    }

    /// The owner is going away: if the rest of the body is already buffered, consume it
    /// (discarding the payload) so the exchange completes and the connection can be pooled.
    /// A malformed rest fails the exchange as the server's fault.
    pub(crate) fn drain_buffered(&mut self, conn: &mut Conn) {
        loop {
            let Reading::Body(body) = &mut self.reading else {
                return;
            };
            if body.pending > 0 {
                conn.consume(body.pending);
                body.pending = 0;
            }
            if body.decoder.is_done() {
                self.complete();
                return;
            }
            if conn.buffered().is_empty() {
                return;
            }
            if let Err(e) = self.decode_buffered(conn) {
                self.fail(e);
                return;
            }
            if let Reading::Body(body) = &self.reading {
                if body.pending == 0 && !body.decoder.is_done() {
                    return;
                }
            }
        }
    }

    /// How many bytes a collecting read should ask for: the known rest of the body (at least
    /// 1, so that the end is observed), within 1 B..=1 MiB; 16 KiB when unknown.
    pub(crate) fn read_size_hint(&self) -> usize {
        const UNKNOWN: usize = 16 * 1024;
        const MAX: usize = 1024 * 1024;
        match &self.reading {
            Reading::Body(body) => match body.decoder.remaining() {
                Some(rest) => usize::try_from(rest)
                    .unwrap_or(MAX)
                    .saturating_add(body.pending)
                    .clamp(1, MAX),
                None => UNKNOWN.max(body.pending),
            },
            _ => 1,
        }
    }
}
