//! One HTTP/1.1 connection: its stream and its read buffer.
//!
//! A `Conn` is always owned by exactly one place: a lease while an exchange uses it
//! (`transport::lease`), a waiting request it was handed to, or the idle pool. It has no shared
//! state and no `RefCell`; whoever owns it drives it. Dropping it closes the stream.

use std::io;
use std::task::{Context, Poll};

use super::stream::{Io, Stream};
use crate::close::CloseReason;

/// Initial (and steady-state) read buffer size. A response head larger than this grows the
/// buffer up to the transport's head limit; the buffer shrinks back when the connection is
/// pooled, so an idle connection holds `READ_BUF` bytes of heap plus the socket.
pub(crate) const READ_BUF: usize = 8 * 1024;

/// An established connection.
pub(crate) struct Conn {
    /// The stream. Dropping it closes the connection.
    io: Io,
    /// Read buffer. `buf[start..end]` holds bytes read from the socket and not yet consumed by
    /// the codec. Written by `poll_fill` (appends) and `consume` (advances `start`); read through
    /// `buffered`. Invariant: `start <= end <= buf.len()`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Unique per transport, for logs and tests. Set once by `new`.
    id: u64,
    /// Exchanges completed on this connection; non-zero means the next use is a reuse.
    /// Incremented only by `end_exchange`, which the lease calls once per exchange.
    completed: u64,
    /// Went through the idle pool or a hand-back (Go's markReused).
    pooled: bool,
}

impl Conn {
    pub(crate) fn new(io: Io, id: u64) -> Conn {
        Conn {
            io,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            id,
            completed: 0,
            pooled: false,
        }
    }

    /// The stream, for the write task and direct body reads.
    pub(crate) fn io(&mut self) -> &mut Io {
        &mut self.io
    }

    /// The connection's id, unique within its transport.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether an exchange already completed on this connection (the next one is a reuse).
    pub(crate) fn is_reused(&self) -> bool {
        self.completed > 0 || self.pooled
    }

    /// Go's markReused: the connection enters the idle pool or is handed on.
    pub(crate) fn mark_pooled(&mut self) {
        self.pooled = true;
    }

    /// Counts an exchange as ended on this connection, whatever its fate.
    pub(crate) fn end_exchange(&mut self) {
        self.completed += 1;
    }

    /// Bytes read and not yet consumed.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` buffered bytes consumed. Precondition: `n <= buffered().len()`.
    pub(crate) fn consume(&mut self, n: usize) {
        if n > self.end - self.start {
            panic!(
                "internal error: consumed {n} of {} buffered bytes",
                self.end - self.start
            );
        }
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads more bytes from the socket after the buffered ones. `Ok(0)`: end of stream.
    ///
    /// `limit` caps the buffer's growth (the response head limit plus one, so the codec can
    /// tell "too large" from "incomplete"). Buffered bytes are moved to the front first when
    /// that makes room.
    pub(crate) fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        limit: usize,
    ) -> Poll<io::Result<usize>> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < limit {
                let grown = (self.buf.len() * 2).min(limit);
                self.buf.resize(grown, 0);
            } else {
                panic!("internal error: poll_fill called with a full buffer at its limit");
            }
        }
        let n = std::task::ready!(self.io.poll_read(cx, &mut self.buf[self.end..]))?;
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Whether the buffer is full up to `limit` (no `poll_fill` possible).
    pub(crate) fn is_full(&self, limit: usize) -> bool {
        self.start == 0 && self.end == self.buf.len() && self.buf.len() >= limit
    }

    /// Gives back a buffer grown for a large head, before the connection is pooled. (That
    /// nothing is buffered is the exchange's verdict to make: see `Exchange::fate`.)
    pub(crate) fn shrink_for_idle(&mut self) {
        if self.buf.len() > READ_BUF {
            self.buf.truncate(READ_BUF);
            self.buf.shrink_to_fit();
        }
    }

    /// Non-blocking liveness check for an idle connection, run before handing it out (Go's
    /// readLoop peek, done at checkout instead of by a parked reader).
    ///
    /// EOF, or an unsolicited `HTTP/1.x 408` (the server timed the connection out and said
    /// so), means the server closed it: close quietly. Any other bytes are unsolicited: close,
    /// and the transport logs it once.
    pub(crate) fn probe_idle(&mut self) -> Option<CloseReason> {
        if self.end != self.start {
            panic!("internal error: an idle connection holds buffered bytes");
        }
        // A few bytes tell all the probe needs (EOF, a 408, or anything else). The size
        // matters in wasm: wasmtime allocates and zeroes the requested length on every read.
        match self.io.try_read_now(&mut self.buf[..PROBE_BYTES]) {
            Ok(None) => None,
            Ok(Some(0)) => Some(CloseReason::ServerClosedIdle),
            Ok(Some(n)) if is_408(&self.buf[..n]) => Some(CloseReason::ServerClosedIdle),
            Ok(Some(_)) => Some(CloseReason::UnsolicitedResponse),
            Err(_) => Some(CloseReason::ServerClosedIdle),
        }
    }
}

/// Bytes the idle probe asks for: enough for `HTTP/1.1 408`.
const PROBE_BYTES: usize = 16;

/// `HTTP/1.x 408` at the start of unsolicited bytes (Go's `is408Message`).
fn is_408(b: &[u8]) -> bool {
    b.len() >= 12 && b.starts_with(b"HTTP/1.") && b[8] == b' ' && &b[9..12] == b"408"
}

#[cfg(test)]
mod tests {
    use super::is_408;

    #[test]
    fn recognises_408() {
        assert!(is_408(b"HTTP/1.1 408 Request Timeout\r\n"));
        assert!(is_408(b"HTTP/1.0 408"));
        assert!(!is_408(b"HTTP/1.1 200 OK\r\n"));
        assert!(!is_408(b"HTTP/1.1 40"));
        assert!(!is_408(b"HTTP/2.0 408"));
    }
}
