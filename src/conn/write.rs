//! The write task of one exchange: sends the request head and body.
//!
//! A plain state machine polled by whoever owns the exchange (the round-trip future, then the
//! response body), interleaved with the read task, so a server that answers while the request
//! body is still being sent, or only once it has read it all, works either way.
//!
//! ```text
//!   Unsent ──first byte written──▶ Sending ──body complete──▶ Flushing ──▶ Done
//!     │                             │   ▲
//!     │          (held) head written│   │release (100 Continue, or the timer)
//!     │                             ▼   │
//!     │                              Held ──take_held_body──▶ Withheld
//!     │                               │                          │
//!     └──────── error ──▶ Failed ◀────┴───────── error ──────────┘
//! ```
//!
//! A request with `Expect: 100-continue` is *held*: once its head is written and flushed the
//! task stops, holding the body untouched, until the exchange releases it (a `100`, or the
//! expect-continue timer) or takes it back (a final response came instead: the body is not
//! sent, and goes back to the caller).
//!
//! Until the first byte reaches the stream the request body is untouched, and a failure keeps
//! it (`Failed { unsent: Some(body) }`): [`WriteTask::take_unsent_body`] hands it back, so a
//! request that never left, even one with a streamed body, can be sent again elsewhere.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_io::AsyncRead;

use super::stream::{Io, Stream};
use crate::body::{Body, Kind};
use crate::codec::request::{write_chunk, LAST_CHUNK};
use crate::error::Error;

/// Bodies up to this size are copied behind the head so head and body leave in one write.
const COALESCE_MAX: usize = 16 * 1024;
/// Read size for streamed bodies.
const STREAM_CHUNK: usize = 16 * 1024;
/// Steps per poll (writes, body reads, the flush) before the task yields (hyper's dispatcher
/// yields after 16 too), so a stream that always accepts cannot starve the reader or the
/// executor. Steps that do no I/O (the end of the body, the final flush, which never waits)
/// are taken even when the budget is spent.
const WRITES_PER_POLL: usize = 16;

pub(crate) struct WriteTask {
    /// Written only by `poll` (and `take_unsent_body`, `release`, `take_held_body`); read by
    /// the exchange through the predicates below.
    state: Writing,
}

enum Writing {
    /// Nothing has reached the stream. `out` is the head, with `body` copied behind it when
    /// `coalesced`; `body` is the caller's, untouched. `hold`: the body waits, once the head
    /// is written, for the exchange to release it (never with `coalesced`).
    Unsent {
        out: Vec<u8>,
        body: Body,
        coalesced: bool,
        hold: bool,
    },
    /// Some bytes were written: `out[pos..]` is unsent, then the rest of `source`.
    Sending {
        out: Vec<u8>,
        pos: usize,
        source: Source,
    },
    /// The head was written and its flush issued; the body, untouched, waits for
    /// [`WriteTask::release`] or [`WriteTask::take_held_body`]. Polling does nothing.
    Held { body: Body },
    /// A held body was handed back unsent: the request is incomplete on the wire, so the
    /// connection cannot be reused (`fate`: not done). No more progress.
    Withheld,
    /// Everything was handed over; the final flush is still to be issued.
    Flushing,
    /// The request was written and its flush issued. The task does not wait for the flush to
    /// complete (on WASI that costs host calls and a wake-up): the next write on the connection
    /// waits for it, and the response proves the server received the request.
    Done,
    /// The write failed. `error` is the socket error, kept for the exchange to report if no
    /// response arrives (taken by `take_error`); `unsent` is the body when nothing was
    /// written.
    Failed {
        error: Option<Error>,
        unsent: Option<Body>,
    },
}

enum Source {
    /// Nothing more to send.
    None,
    /// A held body, behind the head still being written (see `Writing::Held`).
    Held(Body),
    /// A large in-memory body, sent from `bytes[sent..]` without copying.
    Bytes { bytes: Bytes, sent: usize },
    /// A streamed body.
    Reader {
        reader: Pin<Box<dyn AsyncRead>>,
        /// `Some(n)`: `Content-Length` framing, `n` bytes still owed. `None`: chunked.
        remaining: Option<u64>,
        /// Read scratch space (allocated on first use).
        scratch: Vec<u8>,
    },
}

impl WriteTask {
    /// `head` is the encoded request head; the body follows it. `hold`: the body waits to be
    /// released once the head is written (`Expect: 100-continue`).
    pub(crate) fn new(mut head: Vec<u8>, body: Body, hold: bool) -> WriteTask {
        let coalesced = match &body.kind {
            Kind::Bytes(b) if !hold && b.len() <= COALESCE_MAX => {
                head.extend_from_slice(b);
                true
            }
            _ => false,
        };
        WriteTask {
            state: Writing::Unsent {
                out: head,
                body,
                coalesced,
                hold,
            },
        }
    }

    /// The head is written and the body waits for [`WriteTask::release`].
    pub(crate) fn is_held(&self) -> bool {
        matches!(self.state, Writing::Held { .. })
    }

    /// Lets a held body go: the next poll sends it. No-op unless held.
    pub(crate) fn release(&mut self) {
        if let Writing::Held { .. } = self.state {
            let Writing::Held { body } = std::mem::replace(&mut self.state, Writing::Flushing)
            else {
                panic!("internal error: write state changed under a step")
            };
            self.state = Writing::Sending {
                out: Vec::new(),
                pos: 0,
                source: Source::from(body),
            };
        }
    }

    /// The held body, unsent, for the caller: the task is `Withheld` afterwards. `None`
    /// unless held.
    pub(crate) fn take_held_body(&mut self) -> Option<Body> {
        if !self.is_held() {
            return None;
        }
        match std::mem::replace(&mut self.state, Writing::Withheld) {
            Writing::Held { body } => Some(body),
            _ => panic!("internal error: write state changed under a step"),
        }
    }

    /// The whole request was handed to the stream and its flush issued.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, Writing::Done)
    }

    /// The task will make no more progress (done, failed, or its body handed back).
    pub(crate) fn is_finished(&self) -> bool {
        matches!(
            self.state,
            Writing::Done | Writing::Failed { .. } | Writing::Withheld
        )
    }

    /// The write failed (the stream, or the caller's body).
    pub(crate) fn has_failed(&self) -> bool {
        matches!(self.state, Writing::Failed { .. })
    }

    /// No byte of the request has reached the stream.
    pub(crate) fn nothing_written(&self) -> bool {
        matches!(
            self.state,
            Writing::Unsent { .. }
                | Writing::Failed {
                    unsent: Some(_),
                    ..
                }
        )
    }

    /// The socket error that ended the task, if it has not been taken yet.
    pub(crate) fn take_error(&mut self) -> Option<Error> {
        match &mut self.state {
            Writing::Failed { error, .. } => error.take(),
            _ => None,
        }
    }

    /// The request body, if none of the request was written: the request can be sent again
    /// as it was. The task is failed afterwards.
    pub(crate) fn take_unsent_body(&mut self) -> Option<Body> {
        let body = match std::mem::replace(&mut self.state, Writing::Flushing) {
            Writing::Unsent { body, .. } => Some(body),
            Writing::Failed { unsent, .. } => unsent,
            other => {
                self.state = other;
                return None;
            }
        };
        self.state = Writing::Failed {
            error: None,
            unsent: None,
        };
        body
    }

    /// Drives the write until the whole request is written and its flush issued. A failure,
    /// of the stream or of the caller's body, ends the task and is kept in it (see
    /// [`WriteTask::take_error`]): whether it is the exchange's error depends on whether a
    /// response arrives (a server may answer and close before reading the whole request).
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>, io: &mut Io) {
        if self.is_finished() {
            return;
        }
        if let Poll::Ready(Err(e)) = self.poll_steps(cx, io) {
            // A body error means the body was being read: the head had been written.
            let unsent = self.take_unsent_body();
            self.state = Writing::Failed {
                error: Some(e),
                unsent,
            };
        }
    }

    /// The caller's request body failed (or did not match its declared length).
    pub(crate) fn body_failed(&self) -> bool {
        matches!(
            self.state,
            Writing::Failed {
                error: Some(Error::RequestBody { .. }),
                ..
            }
        )
    }

    fn poll_steps(&mut self, cx: &mut Context<'_>, io: &mut Io) -> Poll<Result<(), Error>> {
        for _ in 0..WRITES_PER_POLL {
            match &mut self.state {
                Writing::Done | Writing::Failed { .. } | Writing::Withheld => {
                    return Poll::Ready(Ok(()))
                }
                // Woken by the exchange, which releases the body and polls again.
                Writing::Held { .. } => return Poll::Pending,
                Writing::Flushing => {
                    io.start_flush().map_err(|source| Error::Write { source })?;
                    self.state = Writing::Done;
                }
                Writing::Unsent { out, .. } => {
                    let n = ready!(write_some(cx, io, out))?;
                    let Writing::Unsent {
                        out,
                        body,
                        coalesced,
                        hold,
                    } = std::mem::replace(&mut self.state, Writing::Flushing)
                    else {
                        panic!("internal error: write state changed under a write");
                    };
                    let source = if coalesced {
                        Source::None
                    } else if hold {
                        Source::Held(body)
                    } else {
                        Source::from(body)
                    };
                    self.state = Writing::Sending {
                        out,
                        pos: n,
                        source,
                    };
                }
                Writing::Sending { out, pos, .. } => {
                    if *pos < out.len() {
                        *pos += ready!(write_some(cx, io, &out[*pos..]))?;
                        continue;
                    }
                    if self.end_of_output(io)? {
                        continue;
                    }
                    let Writing::Sending { out, source, pos } = &mut self.state else {
                        panic!("internal error: write state changed under a step")
                    };
                    out.clear();
                    *pos = 0;
                    if !ready!(source.fill(cx, io, out))? {
                        self.state = Writing::Flushing;
                    }
                }
            }
        }
        // Budget spent. Steps that wait for nothing are taken rather than yield: the last
        // write may have used up the budget, and a response read in this same poll must find
        // the request complete, not still `Sending` (it would be taken for an early response
        // and the connection closed).
        if let Writing::Sending { out, pos, .. } = &self.state {
            if *pos == out.len() {
                self.end_of_output(io)?;
            }
        }
        if self.is_held() {
            return Poll::Pending;
        }
        if let Writing::Flushing = self.state {
            io.start_flush().map_err(|source| Error::Write { source })?;
            self.state = Writing::Done;
        }
        if let Writing::Done = self.state {
            return Poll::Ready(Ok(()));
        }
        // Budget spent with more to do: yield, and ask to be polled again.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// `Sending` with all of `out` written: when what follows needs no I/O (no more body, or
    /// a held one), moves on to `Flushing` or `Held` (the head's flush issued) and returns
    /// true; otherwise leaves the state alone (the source is filled next).
    fn end_of_output(&mut self, io: &mut Io) -> Result<bool, Error> {
        let Writing::Sending { source, .. } = &mut self.state else {
            return Ok(false);
        };
        match source {
            Source::None => self.state = Writing::Flushing,
            Source::Bytes { bytes, sent } if *sent == bytes.len() => self.state = Writing::Flushing,
            Source::Held(_) => {
                io.start_flush().map_err(|source| Error::Write { source })?;
                let Source::Held(body) = std::mem::replace(source, Source::None) else {
                    panic!("internal error: write state changed under a step")
                };
                self.state = Writing::Held { body };
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// One write of a non-empty `buf`; a stream that accepts nothing has failed.
fn write_some(cx: &mut Context<'_>, io: &mut Io, buf: &[u8]) -> Poll<Result<usize, Error>> {
    match ready!(io.poll_write(cx, buf)) {
        Ok(0) => Poll::Ready(Err(Error::Write {
            source: io::Error::new(io::ErrorKind::WriteZero, "connection accepted no bytes"),
        })),
        Ok(n) => Poll::Ready(Ok(n)),
        Err(source) => Poll::Ready(Err(Error::Write { source })),
    }
}

impl From<Body> for Source {
    fn from(body: Body) -> Source {
        match body.kind {
            Kind::Empty => Source::None,
            Kind::Bytes(bytes) => Source::Bytes { bytes, sent: 0 },
            Kind::Reader { reader, len } => Source::Reader {
                reader,
                remaining: len,
                scratch: Vec::new(),
            },
        }
    }
}

impl Source {
    /// Produces the next bytes to send into `out` (or writes a large in-memory body
    /// directly). `Ok(true)`: more to send; `Ok(false)`: the body is complete.
    fn fill(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut Io,
        out: &mut Vec<u8>,
    ) -> Poll<Result<bool, Error>> {
        match self {
            Source::None => Poll::Ready(Ok(false)),
            Source::Held(_) => panic!("internal error: filling from a held body"),
            Source::Bytes { bytes, sent } => {
                if *sent == bytes.len() {
                    *self = Source::None;
                    return Poll::Ready(Ok(false));
                }
                *sent += ready!(write_some(cx, io, &bytes[*sent..]))?;
                Poll::Ready(Ok(true))
            }
            Source::Reader {
                reader,
                remaining,
                scratch,
            } => {
                let n = ready!(read_body(cx, io, reader.as_mut(), *remaining, scratch))?;
                match remaining {
                    Some(rem) if n == 0 && *rem > 0 => Poll::Ready(Err(length_mismatch(format!(
                        "request body ended {rem} bytes short of its declared length"
                    )))),
                    Some(rem) if n as u64 > *rem => Poll::Ready(Err(length_mismatch(
                        "request body is longer than its declared length".into(),
                    ))),
                    Some(_) if n == 0 => {
                        *self = Source::None;
                        Poll::Ready(Ok(false))
                    }
                    Some(rem) => {
                        *rem -= n as u64;
                        out.extend_from_slice(&scratch[..n]);
                        Poll::Ready(Ok(true))
                    }
                    None if n == 0 => {
                        out.extend_from_slice(LAST_CHUNK);
                        *self = Source::None;
                        Poll::Ready(Ok(true))
                    }
                    None => {
                        write_chunk(&scratch[..n], out);
                        Poll::Ready(Ok(true))
                    }
                }
            }
        }
    }
}

/// One read of the caller's body reader into `scratch`: `n` bytes, 0 at its end.
fn read_body(
    cx: &mut Context<'_>,
    io: &mut Io,
    reader: Pin<&mut dyn AsyncRead>,
    remaining: Option<u64>,
    scratch: &mut Vec<u8>,
) -> Poll<Result<usize, Error>> {
    if scratch.is_empty() {
        scratch.resize(STREAM_CHUNK, 0);
    }
    let want = match remaining {
        Some(0) => 1, // one more read must report EOF, or the body runs long
        Some(n) => n.min(STREAM_CHUNK as u64) as usize,
        None => STREAM_CHUNK,
    };
    match reader.poll_read(cx, &mut scratch[..want]) {
        // A reader claiming more than it was given breaks the `AsyncRead` contract.
        Poll::Ready(Ok(n)) if n > want => Poll::Ready(Err(Error::RequestBody {
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("request body reader returned {n} bytes for a {want}-byte buffer"),
            ),
        })),
        Poll::Ready(Ok(n)) => Poll::Ready(Ok(n)),
        Poll::Ready(Err(source)) => Poll::Ready(Err(Error::RequestBody { source })),
        Poll::Pending => {
            // The body blocks: make sure what was written so far (at least the head) reaches
            // the server, which may be waiting for it.
            io.start_flush().map_err(|source| Error::Write { source })?;
            Poll::Pending
        }
    }
}

fn length_mismatch(msg: String) -> Error {
    Error::RequestBody {
        source: io::Error::new(io::ErrorKind::InvalidData, msg),
    }
}
