//! One request/response exchange on a leased connection, up to the response head.
//!
//! The exchange owns the connection's two tasks for this request:
//! - the **write task** ([`WriteTask`]) sends the head and body;
//! - the **read task** parses the response head (skipping interim `100`/`103` responses), then
//!   hands over to the response body ([`crate::response::ResponseBody`]), which keeps driving
//!   the write task until the request is fully sent.
//!
//! Both are polled from the same `poll`, write first. Nothing runs unless the owner polls, and
//! the owner going away drops the lease, which closes the connection (see [`crate::lease`]).

use std::io;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use futures_lite::FutureExt;

use crate::close::CloseReason;
use crate::codec::error::ProtocolError;
use crate::codec::response::{is_interim, parse_response_head, ResponseHead};
use crate::error::Error;
use crate::lease::Lease;
use crate::net::{sleep, Sleep};
use crate::write::WriteTask;

pub(crate) struct Exchange {
    pub(crate) lease: Lease,
    pub(crate) write: WriteTask,
    /// A write failure seen while the response may still arrive (a server may answer and
    /// close before reading the whole request). Returned only if no response head comes.
    write_error: Option<Error>,
    /// Response head limit in bytes. Interim (1xx) heads count against it too, so a server
    /// cannot stream interim responses forever (as in Go).
    max_head: usize,
    /// Bytes of interim heads consumed so far; the final head gets `max_head` minus this.
    interim_bytes: usize,
    /// Whether any response byte was received (a failure before that, on a reused
    /// connection, means the server closed it while idle: the request may be retried).
    received_any: bool,
    /// The buffered bytes were parsed and are an incomplete head. Set and cleared only by
    /// `poll_head_inner` (cleared when a read adds bytes), so a poll that brings nothing new
    /// does not parse the same bytes again.
    incomplete: bool,
    /// No read was attempted yet. Cleared by the first `poll_fill` of `poll_head_inner`,
    /// which first tells the stream to wait for readiness (the request was just sent, so an
    /// immediate read would find nothing; in wasm that read is a wasted host call).
    first_read: bool,
    /// `response_header_timeout`, armed once the request is fully written.
    header_timeout: Option<Duration>,
    header_timer: Option<Sleep>,
}

impl Exchange {
    pub(crate) fn new(
        lease: Lease,
        write: WriteTask,
        max_head: usize,
        header_timeout: Option<Duration>,
    ) -> Exchange {
        Exchange {
            lease,
            write,
            write_error: None,
            max_head,
            interim_bytes: 0,
            received_any: false,
            incomplete: false,
            first_read: true,
            header_timeout,
            header_timer: None,
        }
    }

    /// Whether a failure so far is one the server cannot have acted on: nothing of a response
    /// arrived. (Whether a retry is allowed also depends on the request and on reuse.)
    pub(crate) fn nothing_received(&self) -> bool {
        !self.received_any
    }

    /// Drives the write task, if it is still running. A failure of the caller's body ends the
    /// exchange; a socket write failure is kept until it is known whether a response arrives.
    pub(crate) fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<(), Error> {
        if self.write_error.is_some() || self.write.is_done() {
            return Ok(());
        }
        let io = self.lease.conn().io();
        match self.write.poll(cx, io) {
            Poll::Ready(Ok(())) | Poll::Pending => Ok(()),
            Poll::Ready(Err(e @ Error::RequestBody { .. })) => {
                self.lease.poison(CloseReason::WriteError);
                Err(e)
            }
            Poll::Ready(Err(e)) => {
                self.lease.poison(CloseReason::WriteError);
                self.write_error = Some(e);
                Ok(())
            }
        }
    }

    /// Whether the request was written completely and without error.
    pub(crate) fn write_ok(&self) -> bool {
        self.write_error.is_none() && self.write.is_done()
    }

    /// Polls until the final (non-interim) response head has been parsed.
    pub(crate) fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, Error>> {
        let result = ready!(self.poll_head_inner(cx));
        if let Err(e) = &result {
            self.lease.poison(match e {
                Error::Protocol(_) => CloseReason::ProtocolError,
                Error::ResponseHeaderTimeout { .. } => CloseReason::Timeout,
                Error::Write { .. } | Error::RequestBody { .. } => CloseReason::WriteError,
                _ => CloseReason::ReadError,
            });
        }
        Poll::Ready(result)
    }

    fn poll_head_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, Error>> {
        self.poll_write(cx)?;
        loop {
            let limit = self.max_head - self.interim_bytes;
            let conn = self.lease.conn();
            let parsed = if self.incomplete || conn.buffered().is_empty() {
                None
            } else {
                parse_response_head(conn.buffered(), limit).map_err(|e| match e {
                    // Report the configured limit, not what interim heads left of it.
                    ProtocolError::HeadTooLarge { .. } => ProtocolError::HeadTooLarge {
                        limit: self.max_head,
                    },
                    e => e,
                })?
            };
            match parsed {
                Some((head, used)) => {
                    conn.consume(used);
                    if is_interim(head.status) {
                        // `used <= limit`: the codec refuses longer heads.
                        self.interim_bytes += used;
                        continue;
                    }
                    return Poll::Ready(Ok(head));
                }
                None if conn.is_full(limit.saturating_add(1)) => {
                    panic!("internal error: codec asked for more bytes past the head limit")
                }
                None => self.incomplete = true,
            }
            if std::mem::take(&mut self.first_read) && conn.buffered().is_empty() {
                conn.io().wait_before_next_read();
            }
            match conn.poll_fill(cx, limit.saturating_add(1)) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(self.write_error.take().unwrap_or_else(|| {
                        Error::ReadHead {
                            source: io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "server closed the connection before a complete response head",
                            ),
                        }
                    })))
                }
                Poll::Ready(Ok(_)) => {
                    self.received_any = true;
                    self.incomplete = false;
                }
                Poll::Ready(Err(source)) => {
                    return Poll::Ready(Err(self
                        .write_error
                        .take()
                        .unwrap_or(Error::ReadHead { source })))
                }
                Poll::Pending => return self.poll_header_timer(cx),
            }
        }
    }

    /// Arms the response header timer once the request is written, and polls it.
    fn poll_header_timer(&mut self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, Error>> {
        let Some(after) = self.header_timeout else {
            return Poll::Pending;
        };
        if !self.write.is_done() && self.write_error.is_none() {
            return Poll::Pending;
        }
        let timer = self.header_timer.get_or_insert_with(|| sleep(after));
        ready!(timer.poll(cx));
        Poll::Ready(Err(Error::ResponseHeaderTimeout { after }))
    }
}
