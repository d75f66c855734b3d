//! How a request gets its connection.
//!
//! 1. If no request for the host is already waiting, take the most recently pooled idle
//!    connection that passes the non-blocking probe (the pool closes those that fail it).
//! 2. Otherwise queue (a [`Want`], FIFO per host), start a dial if `max_conns_per_host`
//!    allows (else one is started for the oldest queued request when a slot frees up), and
//!    wait for whichever connection reaches this request first: see [`super::waiters`].
//!
//! Dropping the waiting future leaves the queue; a dial started for it goes on (see
//! [`super::dial`]), and a connection delivered to it but not taken goes back.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::lease::Lease;
use super::shared::{Key, Shared};
use super::waiters::Want;
use crate::conn::Conn;
use crate::error::Error;
use crate::pool::Pool;

/// A connection for `key`, as a lease.
pub(crate) fn connect(shared: &Rc<Shared>, key: &Key) -> Connect {
    if !shared.has_waiters(key) {
        if let Some(conn) = shared.checkout(key) {
            return Connect::Ready(Some(Lease::new(shared.clone(), key.clone(), conn)));
        }
    }
    let want = shared.enqueue(key);
    shared.try_dial_for(key, &want);
    Connect::Waiting(Waiting {
        shared: shared.clone(),
        key: key.clone(),
        want,
    })
}

/// Future of [`connect`].
pub(crate) enum Connect {
    /// An idle connection was taken at once. `None` once returned.
    Ready(Option<Lease>),
    Waiting(Waiting),
}

/// A queued request. Dropping it leaves the queue.
pub(crate) struct Waiting {
    shared: Rc<Shared>,
    key: Key,
    want: Rc<Want>,
}

impl Waiting {
    /// What was delivered, as a lease. A handed-back connection is a reuse.
    fn take(&self) -> Option<Result<Lease, Error>> {
        let conn: Conn = match self.want.take()? {
            Ok(conn) => conn,
            Err(e) => return Some(Err(e)),
        };
        if conn.is_reused() {
            self.shared.with_pool(Pool::note_reuse);
        }
        Some(Ok(Lease::new(self.shared.clone(), self.key.clone(), conn)))
    }
}

impl Future for Connect {
    type Output = Result<Lease, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let waiting = match self.get_mut() {
            Connect::Ready(lease) => {
                let lease = lease
                    .take()
                    .unwrap_or_else(|| panic!("internal error: connect polled after it completed"));
                return Poll::Ready(Ok(lease));
            }
            Connect::Waiting(w) => w,
        };
        if let Some(result) = waiting.take() {
            return Poll::Ready(result);
        }
        waiting.want.set_waker(cx.waker());
        waiting.shared.drive_dials(cx);
        if let Some(result) = waiting.take() {
            return Poll::Ready(result);
        }
        // Nothing runs between these on this thread, but the discipline costs one check.
        match waiting.take() {
            Some(result) => Poll::Ready(result),
            None => Poll::Pending,
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.shared.leave(&self.key, &self.want);
    }
}
