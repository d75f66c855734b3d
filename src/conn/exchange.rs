//! One request/response exchange on a connection: its two tasks and its verdict.
//!
//! The exchange owns the connection's two tasks for one request: the write task
//! ([`WriteTask`], its own state graph) and the read task, whose state is [`Reading`]:
//!
//! ```text
//!                 interim 1xx head (counted against the head limit and MAX_INTERIM_RESPONSES;
//!                      ┌───┐        shown to the request's OnInformational hook)
//!                      ▼   │
//!   request ──▶ Head(awaiting) ──final head──▶ Body(decoder) ──end of body──▶ Done
//!                 │         └──bodiless head (HEAD, 204, 304, length 0, 101)─▶ Done
//!                 │                              │
//!                 └──── error ──▶ Failed ◀────── error
//! ```
//!
//! **Expect: 100-continue.** The write task holds the body once the head is out
//! (`WriteTask::is_held`); the read task releases it on a `100`, or when the expect-continue
//! timer (armed at the first wait for the head) fires. A final head that comes first leaves
//! the body held: the owner takes it back for the caller (`take_held_body`), and the verdict
//! is `EarlyResponse` (the request is incomplete on the wire) unless the head said close.
//! Go instead sends the body after such an answer unless it said close, to keep the
//! connection; roundtrip does not upload a body the server declined (the point of asking)
//! and pays a new connection for it.
//!
//! **101.** A `101 Switching Protocols` is the final head of a request that asked for an
//! upgrade (else `ProtocolError::UnrequestedUpgrade`); its verdict is `Upgraded` (the owner
//! hands the connection over instead of closing it), or `EarlyResponse` if the request was
//! not completely written.
//!
//! Both tasks are polled by whoever owns the exchange (the round-trip future, then the
//! response body), write first; nothing runs unless the owner polls. The exchange does not own
//! the connection: every method takes it, so the owner can hand the connection back to the
//! pool the moment the exchange is over.
//!
//! **One verdict.** [`Exchange::fate`] is the only place that decides what happens to the
//! connection when the exchange ends, from the two states alone: pooled (`close: None`), closed
//! with a [`CloseReason`], and whether the request may be sent again on another connection (Go's
//! `checkTransportResend`). Release, body drop, errors and retries all go through it.

use std::io;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_lite::FutureExt;
use http::{HeaderMap, Method};

use super::connection::Conn;
use super::stream::Stream;
use super::write::WriteTask;
use crate::body::Body;
use crate::close::CloseReason;
use crate::codec::body::BodyDecoder;
use crate::codec::error::ProtocolError;
use crate::codec::limits::MAX_INTERIM_RESPONSES;
use crate::codec::response::{
    is_interim, parse_response_head, response_framing, Framing, ResponseHead,
};
use crate::error::{Error, Phase};
use crate::informational::OnInformational;
use crate::net::{sleep, Sleep};

/// Per-exchange settings, fixed when it starts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Response head limit in bytes. Interim (1xx) heads count against it too, so a server
    /// cannot stream interim responses forever (as in Go).
    pub(crate) max_head: usize,
    /// `response_header_timeout`, armed once the request is fully written.
    pub(crate) header_timeout: Option<Duration>,
}

pub(crate) struct Exchange {
    /// The write task. Driven only by `poll_write`.
    write: WriteTask,
    /// The read task. Written only by the `poll_*` methods here and in `read_body.rs`, and by
    /// `drain_buffered`.
    pub(super) reading: Reading,
    limits: Limits,
    /// The request's method and whether it asked for `Connection: close`: what the codec
    /// needs to decide the response's framing.
    method: Method,
    request_close: bool,
}

/// The read task's state. See the module doc for the graph.
pub(super) enum Reading {
    Head(AwaitHead),
    Body(BodyRead),
    /// The response is complete. `close`: what its head said about reuse.
    Done {
        close: Option<CloseReason>,
        trailers: Option<HeaderMap>,
    },
    /// An error ended the exchange. `silent`: not one response byte had arrived (a reused
    /// connection failing so was closed by the server while it sat idle). `unreported`: the
    /// error, when it was found ahead of the caller (a framing error behind good payload, or
    /// behind the head) and is reported by the next read; taken by `take_unreported_error`.
    Failed {
        cause: Cause,
        silent: bool,
        unreported: Option<Error>,
    },
}

/// Waiting for the final response head.
pub(super) struct AwaitHead {
    progress: Progress,
    /// Interim heads consumed so far, at most `MAX_INTERIM_RESPONSES`.
    interims: u8,
    /// Bytes of interim heads consumed so far; the final head gets `max_head` minus this.
    interim_bytes: usize,
    /// The response header timer, armed once the request is written.
    timer: Option<Sleep>,
    /// What few requests need: `None` for most. Here rather than in [`Exchange`], which
    /// must not grow (only the head needs it; a boxed pointer in this variant is free).
    extras: Option<Box<Extras>>,
}

/// A request's rarely used settings for its head: an upgrade, a 1xx hook, an
/// expect-continue wait. Set by [`Exchange::new`]; `continue_timer` is written only by
/// `poll_continue_timer`.
pub(crate) struct Extras {
    /// The request asked to switch protocols: a `101` may answer it.
    pub(crate) upgrade: bool,
    /// Called for each interim head, with no borrow held.
    pub(crate) on_informational: Option<OnInformational>,
    /// The body is held for a `100 Continue` (the write task was made with `hold`) for at
    /// most this long. `None`: not held.
    pub(crate) continue_after: Option<Duration>,
    /// The expect-continue timer, armed at the first wait for the head while held.
    pub(crate) continue_timer: Option<Sleep>,
}

/// How far the head has come.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Progress {
    /// No read attempted yet: the first one waits for readiness (the request was just sent,
    /// so an immediate read finds nothing; in wasm that read is a wasted host call).
    FirstRead,
    /// Reads attempted; no response byte yet.
    Silent,
    /// Bytes arrived that were not parsed yet.
    Unparsed,
    /// What is buffered was parsed and is an incomplete head: no parse until more arrives.
    Incomplete,
}

/// Reading the response body.
pub(super) struct BodyRead {
    pub(super) decoder: BodyDecoder,
    /// Invariant: the first `pending` bytes of the connection's buffer are payload the decoder
    /// already accounted for and the caller has not read yet.
    pub(super) pending: usize,
    /// The body is raw bytes on the wire (Content-Length or close-delimited), so a large read
    /// can go from the stream straight into the caller's buffer. Fixed by the framing.
    pub(super) raw: bool,
    /// What the head said about reuse.
    pub(super) close: Option<CloseReason>,
}

/// What ended an exchange early: the input to [`Exchange::fate`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Cause {
    /// The server's bytes violated HTTP/1.1.
    Protocol,
    /// The response header timeout fired.
    Timeout,
    /// Writing to the connection failed.
    Write,
    /// The caller's request body failed.
    RequestBody,
    /// Reading from the connection failed, or it ended too early.
    Read,
}

impl Cause {
    fn of(e: &Error) -> Cause {
        match e {
            Error::Protocol { .. } => Cause::Protocol,
            // A body that does not decode is the server's bad bytes too.
            #[cfg(feature = "decompress")]
            Error::Decompress { .. } => Cause::Protocol,
            Error::ResponseHeaderTimeout { .. } => Cause::Timeout,
            Error::Write { .. } => Cause::Write,
            Error::RequestBody { .. } => Cause::RequestBody,
            _ => Cause::Read,
        }
    }
}

/// What the caller allows for a resend: the request side of Go's `checkTransportResend`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resend {
    /// `retry_stale_connections` is on.
    pub(crate) enabled: bool,
    /// The request is replayable (safe method or idempotency key) and its body can be sent
    /// again after part of it was written (an in-memory body).
    pub(crate) replayable: bool,
}

/// The verdict on a connection when its exchange ends.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Fate {
    /// `None`: the connection may be pooled. `Some(reason)`: it is closed, for that reason.
    pub(crate) close: Option<CloseReason>,
    /// The request may be sent again on another connection.
    pub(crate) resend: bool,
}

impl Exchange {
    /// `extras`: what the request needs beyond the common case (see [`Extras`]); when it says
    /// `continue_after`, `write` must hold its body.
    pub(crate) fn new(
        write: WriteTask,
        limits: Limits,
        method: &Method,
        request_close: bool,
        extras: Option<Box<Extras>>,
    ) -> Self {
        Exchange {
            write,
            reading: Reading::Head(AwaitHead {
                progress: Progress::FirstRead,
                interims: 0,
                interim_bytes: 0,
                timer: None,
                extras,
            }),
            limits,
            method: method.clone(),
            request_close,
        }
    }

    /// Decides the connection's fate from the state of both tasks. The only place that does.
    ///
    /// - The response is complete: pooled, unless its head said close, the request was not
    ///   completely written (`EarlyResponse`: the server answered before reading it all, so
    ///   the connection's state is unknown), or bytes beyond the response are buffered
    ///   (`UnsolicitedResponse`).
    /// - An error ended it: closed, with the reason for the error. **Resend** (Go's
    ///   `checkTransportResend`, narrowed as in Go): the connection was reused from the pool,
    ///   not one byte of a response arrived, the failure was the connection's (a read or write
    ///   error, not the caller's body or a timeout), `resend.enabled`, and either none of the
    ///   request was written or it is `resend.replayable`. Then the server closed the
    ///   connection while it sat idle: `ServerClosedIdle`, and the request goes again.
    /// - Neither (the owner is gone mid-exchange): `CallerGone`, or `WriteError` if a write
    ///   had already failed.
    pub(crate) fn fate(&self, conn: &Conn, resend: Resend) -> Fate {
        let close = |reason| Fate {
            close: Some(reason),
            resend: false,
        };
        match &self.reading {
            Reading::Done { close: said, .. } => {
                let early = !self.write.is_done();
                Fate {
                    close: match *said {
                        // A connection whose request is still being sent (or was withheld)
                        // cannot be handed over as a clean byte stream.
                        Some(CloseReason::Upgraded) if early => Some(CloseReason::EarlyResponse),
                        Some(reason) => Some(reason),
                        None if early => Some(CloseReason::EarlyResponse),
                        None if !conn.buffered().is_empty() => {
                            Some(CloseReason::UnsolicitedResponse)
                        }
                        None => None,
                    },
                    resend: false,
                }
            }
            Reading::Failed { cause, silent, .. } => {
                let connection_failed = matches!(cause, Cause::Read | Cause::Write);
                if *silent
                    && connection_failed
                    && conn.is_reused()
                    && resend.enabled
                    && (self.write.nothing_written() || resend.replayable)
                {
                    return Fate {
                        close: Some(CloseReason::ServerClosedIdle),
                        resend: true,
                    };
                }
                close(match cause {
                    Cause::Protocol => CloseReason::ProtocolError,
                    Cause::Timeout => CloseReason::Timeout,
                    Cause::Write | Cause::RequestBody => CloseReason::WriteError,
                    Cause::Read => CloseReason::ReadError,
                })
            }
            Reading::Head(_) | Reading::Body(_) if self.write.has_failed() => {
                close(CloseReason::WriteError)
            }
            Reading::Head(_) | Reading::Body(_) => close(CloseReason::CallerGone),
        }
    }

    /// The response is complete (the connection can be released).
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.reading, Reading::Done { .. })
    }

    /// The request body, if none of the request was written (for a resend).
    pub(crate) fn take_unsent_body(&mut self) -> Option<Body> {
        self.write.take_unsent_body()
    }

    /// The request body, if it is still held for a `100 Continue` that did not come (a final
    /// response came instead): it is not sent, and goes back to the caller.
    pub(crate) fn take_held_body(&mut self) -> Option<Body> {
        self.write.take_held_body()
    }

    /// Chunked trailers of a complete response.
    pub(crate) fn take_trailers(&mut self) -> Option<HeaderMap> {
        match &mut self.reading {
            Reading::Done { trailers, .. } => trailers.take(),
            _ => None,
        }
    }

    /// Records `e` as what ended the exchange, and returns it.
    pub(super) fn fail(&mut self, e: Error) -> Error {
        let silent = match &self.reading {
            Reading::Head(h) => {
                h.interim_bytes == 0 && matches!(h.progress, Progress::FirstRead | Progress::Silent)
            }
            _ => false,
        };
        self.reading = Reading::Failed {
            cause: Cause::of(&e),
            silent,
            unreported: None,
        };
        e
    }

    /// Records `e` as what ended the exchange, to be reported by the next read.
    pub(super) fn fail_later(&mut self, e: Error) {
        let e = self.fail(e);
        if let Reading::Failed { unreported, .. } = &mut self.reading {
            *unreported = Some(e);
        }
    }

    /// The body's content did not decode (`Error::Decompress`) while its framing was still
    /// being read: the exchange ends with that error, as any failure of the body does, and
    /// `fate` decides on the connection. Once the framing is complete (or failed) there is
    /// nothing to decide: the connection's fate was already settled.
    #[cfg(feature = "decompress")]
    pub(crate) fn fail_content(&mut self, e: Error) -> Error {
        match self.reading {
            Reading::Body(_) => self.fail(e),
            _ => e,
        }
    }

    /// An error ended the exchange.
    pub(crate) fn is_failed(&self) -> bool {
        matches!(self.reading, Reading::Failed { .. })
    }

    /// The error that ended the exchange ahead of the caller, if not yet reported.
    pub(crate) fn take_unreported_error(&mut self) -> Option<Error> {
        match &mut self.reading {
            Reading::Failed { unreported, .. } => unreported.take(),
            _ => None,
        }
    }

    /// Drives the write task, if it is still running. Its failure, of the stream or of the
    /// caller's body, waits in the task: a response that arrives is still the answer (the
    /// connection is closed afterwards), and the failure is the exchange's error only if no
    /// response head comes (see `poll_head_inner`).
    pub(super) fn poll_write(&mut self, cx: &mut Context<'_>, conn: &mut Conn) {
        if !self.write.is_finished() {
            self.write.poll(cx, conn.io());
        }
    }

    /// Polls until the final (non-interim) response head has been parsed. The exchange is
    /// then streaming its body, or done when the response has none.
    pub(crate) fn poll_head(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Conn,
    ) -> Poll<Result<ResponseHead, Error>> {
        if !matches!(self.reading, Reading::Head(_)) {
            panic!("internal error: poll_head after the head");
        }
        self.poll_write(cx, conn);
        match ready!(self.poll_head_inner(cx, conn)) {
            Ok(head) => Poll::Ready(self.start_body(conn, head)),
            Err(e) => Poll::Ready(Err(self.fail(e))),
        }
    }

    fn poll_head_inner(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Conn,
    ) -> Poll<Result<ResponseHead, Error>> {
        let max_head = self.limits.max_head;
        let Reading::Head(h) = &mut self.reading else {
            panic!("internal error: reading a head in another state");
        };
        loop {
            let limit = max_head - h.interim_bytes;
            if h.progress == Progress::Unparsed
                || (h.progress == Progress::FirstRead && !conn.buffered().is_empty())
            {
                match parse_response_head(conn.buffered(), limit).map_err(|e| match e {
                    // Report the configured limit, not what interim heads left of it.
                    ProtocolError::HeadTooLarge { .. } => {
                        ProtocolError::HeadTooLarge { limit: max_head }
                    }
                    e => e,
                }) {
                    Err(e) => return Poll::Ready(Err(Error::protocol(Phase::ReadHead, e))),
                    Ok(Some((head, used))) => {
                        conn.consume(used);
                        if !is_interim(head.status) {
                            return Poll::Ready(Ok(head));
                        }
                        if usize::from(h.interims) == MAX_INTERIM_RESPONSES {
                            let e = ProtocolError::TooManyInterimResponses {
                                limit: MAX_INTERIM_RESPONSES,
                            };
                            return Poll::Ready(Err(Error::protocol(Phase::ReadHead, e)));
                        }
                        h.interims += 1;
                        if head.status == http::StatusCode::CONTINUE && self.write.is_held() {
                            self.write.release();
                            self.write.poll(cx, conn.io());
                        }
                        if let Some(hook) =
                            h.extras.as_ref().and_then(|e| e.on_informational.as_ref())
                        {
                            hook.call(head);
                        }
                        // `used <= limit`: the codec refuses longer heads.
                        h.interim_bytes += used;
                        h.progress = Progress::Unparsed;
                        if conn.buffered().is_empty() {
                            h.progress = Progress::Incomplete;
                        }
                        continue;
                    }
                    Ok(None) if conn.is_full(limit.saturating_add(1)) => {
                        panic!("internal error: codec asked for more bytes past the head limit")
                    }
                    Ok(None) => h.progress = Progress::Incomplete,
                }
            }
            if self.write.body_failed() {
                // The caller's body failed and no complete head is buffered: the request is
                // broken, and waiting for the server to answer it is no use.
                let e = self.write.take_error();
                return Poll::Ready(Err(e.unwrap_or_else(|| {
                    panic!("internal error: a failed body without its error")
                })));
            }
            if h.progress == Progress::FirstRead {
                conn.io().wait_before_next_read();
                h.progress = Progress::Silent;
            }
            match conn.poll_fill(cx, limit.saturating_add(1)) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(self.write.take_error().unwrap_or_else(|| {
                        Error::ReadHead {
                            source: io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "server closed the connection before a complete response head",
                            ),
                        }
                    })))
                }
                Poll::Ready(Ok(_)) => h.progress = Progress::Unparsed,
                Poll::Ready(Err(source)) => {
                    return Poll::Ready(Err(self
                        .write
                        .take_error()
                        .unwrap_or(Error::ReadHead { source })))
                }
                Poll::Pending => {
                    if poll_continue_timer(h, &mut self.write, cx) {
                        // Waited long enough for a `100`: send the body now.
                        self.write.poll(cx, conn.io());
                    }
                    return poll_header_timer(h, &self.write, self.limits, cx);
                }
            }
        }
    }

    /// The final head arrived: decide its framing and move to reading its body.
    fn start_body(&mut self, conn: &mut Conn, head: ResponseHead) -> Result<ResponseHead, Error> {
        let asked_upgrade = matches!(&self.reading,
            Reading::Head(h) if h.extras.as_ref().is_some_and(|e| e.upgrade));
        if head.status == http::StatusCode::SWITCHING_PROTOCOLS && !asked_upgrade {
            let e = ProtocolError::UnrequestedUpgrade;
            return Err(self.fail(Error::protocol(Phase::ReadHead, e)));
        }
        let framing = response_framing(&self.method, self.request_close, &head)
            .map_err(|e| self.fail(Error::protocol(Phase::ReadHead, e)))?;
        self.reading = if framing.framing == Framing::Empty {
            Reading::Done {
                close: framing.close,
                trailers: None,
            }
        } else {
            Reading::Body(BodyRead {
                decoder: BodyDecoder::new(framing.framing),
                pending: 0,
                raw: matches!(
                    framing.framing,
                    Framing::Length(_) | Framing::CloseDelimited
                ),
                close: framing.close,
            })
        };
        // The whole body may have arrived with the head.
        self.advance_buffered(conn);
        Ok(head)
    }
}

/// While the body is held for a `100 Continue`, arms the expect-continue timer and polls
/// it; when it has fired, releases the body and returns true.
fn poll_continue_timer(h: &mut AwaitHead, write: &mut WriteTask, cx: &mut Context<'_>) -> bool {
    if !write.is_held() {
        return false;
    }
    let Some(extras) = h.extras.as_mut() else {
        return false;
    };
    let Some(after) = extras.continue_after else {
        return false;
    };
    let timer = extras.continue_timer.get_or_insert_with(|| sleep(after));
    if timer.poll(cx).is_pending() {
        return false;
    }
    write.release();
    true
}

/// Arms the response header timer once the request is written, and polls it.
fn poll_header_timer(
    h: &mut AwaitHead,
    write: &WriteTask,
    limits: Limits,
    cx: &mut Context<'_>,
) -> Poll<Result<ResponseHead, Error>> {
    let Some(after) = limits.header_timeout else {
        return Poll::Pending;
    };
    if !write.is_finished() {
        return Poll::Pending;
    }
    let timer = h.timer.get_or_insert_with(|| sleep(after));
    ready!(timer.poll(cx));
    Poll::Ready(Err(Error::ResponseHeaderTimeout { after }))
}
