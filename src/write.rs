//! The write task of one exchange: sends the request head and body.
//!
//! It is a plain state machine polled by whoever owns the exchange (the round-trip future,
//! then the response body), interleaved with the read task, so a server that answers while the
//! request body is still being sent — or that only answers once it has read it all — works
//! either way.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures_io::AsyncRead;

use crate::body::{Body, Kind};
use crate::codec::request::{write_chunk, LAST_CHUNK};
use crate::error::Error;
use crate::net::TcpStream;

/// Bodies up to this size are copied behind the head so head and body leave in one write.
const COALESCE_MAX: usize = 16 * 1024;
/// Read size for streamed bodies.
const STREAM_CHUNK: usize = 16 * 1024;

pub(crate) struct WriteTask {
    /// Bytes ready to send: the head, then framed body pieces. `out[pos..]` is unsent.
    out: Vec<u8>,
    pos: usize,
    /// Where the rest of the body comes from once `out` is drained.
    source: Source,
    /// Whether anything was written to the socket yet (a failure before that is safe to
    /// retry for any method: the server saw nothing).
    pub(crate) wrote_any: bool,
    state: State,
}

enum Source {
    /// Nothing more to send.
    None,
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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Bytes of the request remain to be handed to the socket.
    Sending,
    /// Everything was handed over; the final flush is still to be issued.
    Flushing,
    /// The request was written and its flush issued. The task does not wait for the flush
    /// to complete (on WASI that costs host calls and a wake-up): the next write on the
    /// connection waits for it, and the response proves the server received the request.
    Done,
}

impl WriteTask {
    /// `head` is the encoded request head; the body follows it.
    pub(crate) fn new(mut head: Vec<u8>, body: Body) -> WriteTask {
        let source = match body.kind {
            Kind::Empty => Source::None,
            Kind::Bytes(b) if b.len() <= COALESCE_MAX => {
                head.extend_from_slice(&b);
                Source::None
            }
            Kind::Bytes(bytes) => Source::Bytes { bytes, sent: 0 },
            Kind::Reader { reader, len } => Source::Reader {
                reader,
                remaining: len,
                scratch: Vec::new(),
            },
        };
        WriteTask {
            out: head,
            pos: 0,
            source,
            wrote_any: false,
            state: State::Sending,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Drives the write until the whole request is written and flushed.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut TcpStream,
    ) -> Poll<Result<(), Error>> {
        loop {
            match self.state {
                State::Done => return Poll::Ready(Ok(())),
                State::Flushing => {
                    io.start_flush().map_err(|source| Error::Write { source })?;
                    self.state = State::Done;
                }
                State::Sending => {
                    if self.pos < self.out.len() {
                        let n = ready!(io.poll_write(cx, &self.out[self.pos..]))
                            .map_err(|source| Error::Write { source })?;
                        if n == 0 {
                            return Poll::Ready(Err(write_zero()));
                        }
                        self.wrote_any = true;
                        self.pos += n;
                        continue;
                    }
                    self.out.clear();
                    self.pos = 0;
                    match self.fill(cx, io) {
                        Poll::Ready(Ok(true)) => {}
                        Poll::Ready(Ok(false)) => self.state = State::Flushing,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            }
        }
    }

    /// Produces the next bytes to send into `out` (or writes a large in-memory body directly).
    /// `Ok(true)`: more to send; `Ok(false)`: the body is complete.
    fn fill(&mut self, cx: &mut Context<'_>, io: &mut TcpStream) -> Poll<Result<bool, Error>> {
        match &mut self.source {
            Source::None => Poll::Ready(Ok(false)),
            Source::Bytes { bytes, sent } => {
                if *sent == bytes.len() {
                    self.source = Source::None;
                    return Poll::Ready(Ok(false));
                }
                let n = ready!(io.poll_write(cx, &bytes[*sent..]))
                    .map_err(|source| Error::Write { source })?;
                if n == 0 {
                    return Poll::Ready(Err(write_zero()));
                }
                self.wrote_any = true;
                *sent += n;
                Poll::Ready(Ok(true))
            }
            Source::Reader {
                reader,
                remaining,
                scratch,
            } => {
                if scratch.is_empty() {
                    scratch.resize(STREAM_CHUNK, 0);
                }
                let want = match remaining {
                    Some(0) => 1, // one more read must report EOF, or the body runs long
                    Some(n) => (*n).min(STREAM_CHUNK as u64) as usize,
                    None => STREAM_CHUNK,
                };
                let n = match reader.as_mut().poll_read(cx, &mut scratch[..want]) {
                    // A reader claiming more than it was given breaks the `AsyncRead` contract.
                    Poll::Ready(Ok(n)) if n > want => {
                        return Poll::Ready(Err(Error::RequestBody {
                            source: io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!("request body reader returned {n} bytes for a {want}-byte buffer"),
                            ),
                        }))
                    }
                    Poll::Ready(Ok(n)) => n,
                    Poll::Ready(Err(source)) => {
                        return Poll::Ready(Err(Error::RequestBody { source }))
                    }
                    Poll::Pending => {
                        // The body blocks: make sure what was written so far (at least the
                        // head) reaches the server, which may be waiting for it.
                        io.start_flush().map_err(|source| Error::Write { source })?;
                        return Poll::Pending;
                    }
                };
                match remaining {
                    Some(rem) => {
                        if n == 0 && *rem > 0 {
                            return Poll::Ready(Err(length_mismatch(format!(
                                "request body ended {rem} bytes short of its declared length"
                            ))));
                        }
                        if n as u64 > *rem {
                            return Poll::Ready(Err(length_mismatch(
                                "request body is longer than its declared length".into(),
                            )));
                        }
                        if n == 0 {
                            self.source = Source::None;
                            return Poll::Ready(Ok(false));
                        }
                        *rem -= n as u64;
                        self.out.extend_from_slice(&scratch[..n]);
                    }
                    None if n == 0 => {
                        self.out.extend_from_slice(LAST_CHUNK);
                        self.source = Source::None;
                    }
                    None => write_chunk(&scratch[..n], &mut self.out),
                }
                Poll::Ready(Ok(true))
            }
        }
    }
}

fn write_zero() -> Error {
    Error::Write {
        source: io::Error::new(io::ErrorKind::WriteZero, "connection accepted no bytes"),
    }
}

fn length_mismatch(msg: String) -> Error {
    Error::RequestBody {
        source: io::Error::new(io::ErrorKind::InvalidData, msg),
    }
}
