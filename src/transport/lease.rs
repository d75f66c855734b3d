//! Leases: connections checked out for an exchange, and the exchange in flight on one.
//!
//! A [`Lease`] is the only way an exchange holds a connection, and [`InFlight`] the only way a
//! lease is used: it pairs the lease with its [`Exchange`]. The lease ends exactly once, with
//! the verdict of [`Exchange::fate`]:
//! - when the exchange completes (the response head for a bodiless response, the body's end
//!   otherwise): pooled, or handed to a waiting request, unless the verdict says close;
//! - when it fails: closed with the reason for the failure, and maybe resent;
//! - when the caller goes away (drops the round-trip future or the response body): the
//!   `InFlight` is dropped, drains what is already buffered, and ends the lease with the
//!   verdict then, `CallerGone` unless the rest of the response was there.
//!
//! This is Go's `callerGone` rendezvous in ownership form: the read and write tasks live inside
//! the future or body that owns the exchange, so they can never block on, or leak past, a
//! caller that walked away.

use std::rc::Rc;
use std::task::{Context, Poll};

use super::shared::{Key, Shared};
use crate::body::Body;
use crate::close::CloseReason;
use crate::codec::response::ResponseHead;
use crate::conn::{Conn, Exchange, Fate, Resend};
use crate::error::Error;
use crate::stats::ConnectionInfo;

/// An in-use connection. Ends through [`Lease::end`].
pub(crate) struct Lease {
    shared: Rc<Shared>,
    key: Key,
    /// `Some` until `end` takes it.
    conn: Option<Conn>,
}

impl Lease {
    pub(crate) fn new(shared: Rc<Shared>, key: Key, conn: Conn) -> Lease {
        Lease {
            shared,
            key,
            conn: Some(conn),
        }
    }

    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .unwrap_or_else(|| panic!("internal error: lease used after it ended"))
    }

    fn conn_ref(&self) -> &Conn {
        self.conn
            .as_ref()
            .unwrap_or_else(|| panic!("internal error: lease used after it ended"))
    }

    /// Which connection this is.
    pub(crate) fn info(&self) -> ConnectionInfo {
        let conn = self.conn_ref();
        ConnectionInfo {
            id: conn.id(),
            reused: conn.is_reused(),
        }
    }

    /// Ends the lease with the exchange's verdict: `None` puts the connection (to a waiting
    /// request or the pool, put-or-close), `Some(reason)` closes it.
    fn end(&mut self, close: Option<CloseReason>) {
        let Some(mut conn) = self.conn.take() else {
            panic!("internal error: lease ended twice");
        };
        conn.end_exchange();
        match close {
            None => {
                self.shared.put(&self.key, conn);
            }
            Some(reason) => self.shared.close(&self.key, conn, reason),
        }
    }
}

impl Lease {
    /// Ends the lease by handing the connection to the caller (an upgrade): counted as closed
    /// (`Upgraded`), out of the transport's hands for good.
    fn hand_over(&mut self) -> Conn {
        let Some(mut conn) = self.conn.take() else {
            panic!("internal error: lease ended twice");
        };
        conn.end_exchange();
        self.shared
            .with_pool(|pool| pool.note_in_use_closed(&self.key, CloseReason::Upgraded));
        conn
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Every path ends the lease through `InFlight`; only a panic unwinding past one
            // gets here, and the accounting must still balance.
            self.shared.close(&self.key, conn, CloseReason::CallerGone);
            if !std::thread::panicking() {
                panic!("internal error: a lease dropped without a verdict");
            }
        }
    }
}

/// An exchange in flight on a leased connection. Dropping it ends the lease with the
/// exchange's verdict (see the module doc).
pub(crate) struct InFlight {
    /// `Some` until `finish`.
    lease: Option<Lease>,
    exchange: Exchange,
    /// What the request allows for a resend, fixed when the exchange starts.
    resend: Resend,
}

impl InFlight {
    pub(crate) fn new(lease: Lease, exchange: Exchange, resend: Resend) -> InFlight {
        InFlight {
            lease: Some(lease),
            exchange,
            resend,
        }
    }

    /// The lease and the exchange, borrowed apart.
    fn parts(&mut self) -> (&mut Lease, &mut Exchange) {
        let lease = self
            .lease
            .as_mut()
            .unwrap_or_else(|| panic!("internal error: exchange used after it finished"));
        (lease, &mut self.exchange)
    }

    /// Which connection serves the exchange.
    pub(crate) fn info(&self) -> ConnectionInfo {
        match &self.lease {
            Some(lease) => lease.info(),
            None => panic!("internal error: exchange used after it finished"),
        }
    }

    pub(crate) fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// Drives the exchange to its response head (and, meanwhile, the transport's dials).
    pub(crate) fn poll_head(&mut self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, Error>> {
        let (lease, exchange) = self.parts();
        lease.shared.drive_dials(cx);
        exchange.poll_head(cx, lease.conn())
    }

    /// Reads body bytes (and drives the transport's dials).
    pub(crate) fn poll_read_body(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        let (lease, exchange) = self.parts();
        lease.shared.drive_dials(cx);
        exchange.poll_read_body(cx, lease.conn(), buf)
    }

    /// The body's content did not decode: see `Exchange::fail_content`.
    #[cfg(feature = "decompress")]
    pub(crate) fn fail_content(&mut self, e: Error) -> Error {
        self.exchange.fail_content(e)
    }

    /// Whether the exchange is over (complete or failed): time to `finish`.
    pub(crate) fn is_over(&self) -> bool {
        self.exchange.is_done() || self.exchange.is_failed()
    }

    /// Ends the lease now, with the exchange's verdict, and returns it.
    pub(crate) fn finish(&mut self) -> Fate {
        let mut lease = self
            .lease
            .take()
            .unwrap_or_else(|| panic!("internal error: exchange finished twice"));
        let fate = self.exchange.fate(lease.conn_ref(), self.resend);
        lease.end(fate.close);
        fate
    }

    /// [`InFlight::finish`], except that a verdict of `Upgraded` hands the connection over
    /// (returned) instead of closing it.
    pub(crate) fn finish_or_hand_over(&mut self) -> Option<Conn> {
        let mut lease = self
            .lease
            .take()
            .unwrap_or_else(|| panic!("internal error: exchange finished twice"));
        let fate = self.exchange.fate(lease.conn_ref(), self.resend);
        if fate.close == Some(CloseReason::Upgraded) {
            return Some(lease.hand_over());
        }
        lease.end(fate.close);
        None
    }

    /// The request body still held for a `100 Continue` that a final response overtook.
    pub(crate) fn take_held_body(&mut self) -> Option<Body> {
        self.exchange.take_held_body()
    }

    /// Trailers of a complete response.
    pub(crate) fn take_trailers(&mut self) -> Option<http::HeaderMap> {
        self.exchange.take_trailers()
    }

    /// The error found ahead of the caller, if the exchange failed so.
    pub(crate) fn take_unreported_error(&mut self) -> Option<Error> {
        self.exchange.take_unreported_error()
    }

    /// The request body, if none of the request was written (for a resend).
    pub(crate) fn take_unsent_body(&mut self) -> Option<Body> {
        self.exchange.take_unsent_body()
    }

    /// A collecting read's size: the known rest of the body.
    pub(crate) fn read_size_hint(&self) -> usize {
        self.exchange.read_size_hint()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(mut lease) = self.lease.take() {
            // The caller went away. If the rest of the response is already here, the
            // exchange completes and the connection can still be pooled.
            self.exchange.drain_buffered(lease.conn());
            let fate = self.exchange.fate(lease.conn_ref(), self.resend);
            lease.end(fate.close);
        }
    }
}
