//! The transport's shared state, and leases: connections checked out of it.
//!
//! A [`Lease`] is the only way an exchange holds a connection. It ends in exactly one of two
//! ways, and both update the pool accounting:
//! - [`Lease::release`] with the exchange's verdict (`None`: the connection is clean and is
//!   offered to the pool, put-or-close; `Some(reason)`: it is closed with that reason);
//! - being dropped without a release: the caller went away mid-exchange (dropped the
//!   round-trip future or the response body), so the connection is closed with
//!   [`CloseReason::CallerGone`] — or with the reason recorded by [`Lease::poison`], when an
//!   error already decided it.
//!
//! This is Go's `callerGone` rendezvous in ownership form: the read and write tasks live inside
//! the future or body that owns the lease, so they can never block on, or leak past, a caller
//! that walked away.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;

use crate::close::CloseReason;
use crate::codec::request::Target;
use crate::conn::Conn;
use crate::pool::{Pool, PoolConfig};
use crate::stats::PoolStats;

/// State shared by a transport's handles and its leases. Single-threaded (`Rc`).
pub(crate) struct Shared {
    /// The idle pool and the accounting. Borrowed only through [`Shared::with_pool`] (or
    /// briefly to read it): one non-async call at a time, and connections the pool closes are
    /// dropped only after the borrow ends, so nothing under the borrow wakes a task, drops a
    /// waker or runs user code.
    pool: RefCell<Pool<Target, Conn>>,
    /// Next connection id. Written only by `next_id`.
    next_id: Cell<u64>,
    /// Whether an unsolicited response on an idle connection was logged yet (logged once).
    warned_unsolicited: Cell<bool>,
}

impl Shared {
    pub(crate) fn new(config: PoolConfig) -> Shared {
        Shared {
            pool: RefCell::new(Pool::new(config)),
            next_id: Cell::new(1),
            warned_unsolicited: Cell::new(false),
        }
    }

    /// Runs `f` on the pool, then drops the connections it closed, outside the borrow.
    pub(crate) fn with_pool<R>(&self, f: impl FnOnce(&mut Pool<Target, Conn>) -> R) -> R {
        let (result, dead) = {
            let mut pool = self.pool.borrow_mut();
            let result = f(&mut pool);
            (result, pool.take_dead())
        };
        drop(dead);
        result
    }

    /// A snapshot of the accounting.
    pub(crate) fn stats(&self) -> PoolStats {
        self.pool.borrow().stats().clone()
    }

    pub(crate) fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    /// Takes a live idle connection for `target`, if any, as a lease.
    pub(crate) fn checkout(self: &Rc<Self>, target: &Target) -> Option<Lease> {
        let mut unsolicited = None;
        let conn = self.with_pool(|pool| {
            pool.take(target, Instant::now(), |conn| {
                let verdict = conn.probe_idle();
                if verdict == Some(CloseReason::UnsolicitedResponse) {
                    unsolicited = Some(conn.id);
                }
                verdict
            })
        })?;
        if let Some(id) = unsolicited {
            self.warn_unsolicited(id);
        }
        Some(Lease::new(self.clone(), target.clone(), conn))
    }

    /// Registers a freshly dialed connection as a lease.
    pub(crate) fn dialed(self: &Rc<Self>, target: &Target, conn: Conn) -> Lease {
        self.with_pool(Pool::note_dialed);
        Lease::new(self.clone(), target.clone(), conn)
    }

    fn warn_unsolicited(&self, id: u64) {
        if !self.warned_unsolicited.replace(true) {
            log::warn!(
                "roundtrip: unsolicited response received on idle HTTP connection {id}; \
                 connection closed (logged once per transport)"
            );
        }
    }
}

/// An in-use connection. See the module doc for how it ends.
pub(crate) struct Lease {
    shared: Rc<Shared>,
    target: Target,
    /// `Some` until the lease is released; taken exactly once, by `release` or `drop`.
    conn: Option<Conn>,
    /// The close reason to record if the lease is dropped without a release.
    on_drop: CloseReason,
}

impl Lease {
    fn new(shared: Rc<Shared>, target: Target, conn: Conn) -> Lease {
        Lease {
            shared,
            target,
            conn: Some(conn),
            on_drop: CloseReason::CallerGone,
        }
    }

    pub(crate) fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .unwrap_or_else(|| panic!("internal error: lease used after release"))
    }

    /// The connection's id.
    pub(crate) fn conn_id(&self) -> u64 {
        self.conn.as_ref().map_or(0, |c| c.id)
    }

    /// Whether this connection already completed an exchange (it came from the pool).
    pub(crate) fn is_reused(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.completed > 0)
    }

    /// Records why the connection must close when this lease ends, if nothing else decides.
    pub(crate) fn poison(&mut self, reason: CloseReason) {
        self.on_drop = reason;
    }

    /// Ends the lease. `verdict` `None`: the exchange ended cleanly; offer the connection to
    /// the pool (put-or-close). `Some(reason)`: close it for that reason. Returns the reason
    /// the connection was closed, `None` if it was pooled.
    pub(crate) fn release(mut self, verdict: Option<CloseReason>) -> Option<CloseReason> {
        let mut conn = self
            .conn
            .take()
            .unwrap_or_else(|| panic!("internal error: lease released twice"));
        conn.completed += 1;
        let verdict = verdict.or_else(|| conn.ready_for_idle());
        match verdict {
            None => {
                let target = self.target.clone();
                self.shared
                    .with_pool(|pool| pool.put_or_close(target, conn, Instant::now()))
            }
            Some(reason) => {
                self.shared
                    .with_pool(|pool| pool.note_in_use_closed(reason));
                drop(conn);
                Some(reason)
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let reason = self.on_drop;
            self.shared
                .with_pool(|pool| pool.note_in_use_closed(reason));
            drop(conn);
        }
    }
}
