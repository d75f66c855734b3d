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
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Uri;

use crate::close::CloseReason;
use crate::codec::error::RequestError;
use crate::codec::request::Target;
use crate::conn::Conn;
use crate::pool::{Pool, PoolConfig};
use crate::stats::PoolStats;
use crate::waiters::{Ticket, Waiters};

/// Pool key: where a connection goes. Shared, so a request, its lease and the pool's lists
/// hold one allocation between them.
pub(crate) type Key = Rc<Target>;

/// State shared by a transport's handles and its leases. Single-threaded (`Rc`).
pub(crate) struct Shared {
    /// The idle pool and the accounting. Borrowed only through [`Shared::with_pool`] (or
    /// briefly to read it): one non-async call at a time, and connections the pool closes are
    /// dropped only after the borrow ends, so nothing under the borrow wakes a task, drops a
    /// waker or runs user code.
    pool: RefCell<Pool<Key, Conn>>,
    /// Requests waiting for `max_conns_per_host`. Borrowed only for single calls; woken by
    /// `with_pool` after every pool change, outside both borrows.
    waiters: RefCell<Waiters<Key>>,
    /// Next connection id. Written only by `next_id`.
    next_id: Cell<u64>,
    /// Whether an unsolicited response on an idle connection was logged yet (logged once).
    warned_unsolicited: Cell<bool>,
    /// The last request's pool key, by the exact scheme and authority text it was parsed
    /// from. Read and written only by [`Shared::key_for`], each borrow a single statement.
    last_key: RefCell<Option<CachedKey>>,
}

/// A pool key and the URI text it was parsed from ([`Shared::key_for`]).
struct CachedKey {
    scheme: Box<str>,
    authority: Box<str>,
    key: Key,
}

impl Shared {
    pub(crate) fn new(config: PoolConfig) -> Shared {
        Shared {
            pool: RefCell::new(Pool::new(config)),
            waiters: RefCell::new(Waiters::new()),
            next_id: Cell::new(1),
            warned_unsolicited: Cell::new(false),
            last_key: RefCell::new(None),
        }
    }

    /// The pool key for `uri`. A client usually asks the same host again and again, so the
    /// last key is reused when the scheme and authority are byte-for-byte the same: the
    /// parse and the key's two allocations are paid once per change of host.
    pub(crate) fn key_for(&self, uri: &Uri) -> Result<Key, RequestError> {
        let (scheme, authority) = match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => (scheme, authority.as_str()),
            _ => return Target::from_uri(uri).map(Key::new),
        };
        let cached = match &*self.last_key.borrow() {
            Some(c) if *c.scheme == *scheme && *c.authority == *authority => Some(c.key.clone()),
            _ => None,
        };
        if let Some(key) = cached {
            return Ok(key);
        }
        let key = Key::new(Target::from_uri(uri)?);
        *self.last_key.borrow_mut() = Some(CachedKey {
            scheme: scheme.into(),
            authority: authority.into(),
            key: key.clone(),
        });
        Ok(key)
    }

    /// Runs `f` on the pool, then drops the connections it closed, outside the borrow, then
    /// wakes the waiters that the change made room for.
    pub(crate) fn with_pool<R>(&self, f: impl FnOnce(&mut Pool<Key, Conn>) -> R) -> R {
        let (result, dead) = {
            let mut pool = self.pool.borrow_mut();
            let result = f(&mut pool);
            (result, pool.take_dead())
        };
        drop(dead);
        self.wake_waiters();
        result
    }

    fn wake_waiters(&self) {
        if self.waiters.borrow().is_empty() {
            return;
        }
        let wakers = {
            let pool = self.pool.borrow();
            self.waiters
                .borrow_mut()
                .wake_ready(|key| pool.available(key))
        };
        for waker in wakers {
            waker.wake();
        }
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

    /// Whether a new request for `key` must queue behind waiting ones.
    pub(crate) fn has_waiters(&self, key: &Key) -> bool {
        let waiters = self.waiters.borrow();
        !waiters.is_empty() && waiters.has_queue(key)
    }

    /// Takes a live idle connection for `key`, if any, as a lease.
    pub(crate) fn checkout(self: &Rc<Self>, key: &Key) -> Option<Lease> {
        let mut unsolicited = None;
        let conn = self.with_pool(|pool| {
            pool.take(key, Instant::now(), |conn| {
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
        Some(Lease::new(self.clone(), key.clone(), conn))
    }

    /// Reserves a dial slot for `key` if `max_conns_per_host` allows.
    pub(crate) fn reserve(self: &Rc<Self>, key: &Key) -> Option<Reservation> {
        self.with_pool(|pool| pool.try_reserve(key))
            .then(|| Reservation {
                shared: self.clone(),
                key: key.clone(),
                armed: true,
            })
    }

    /// Queues the caller behind the requests already waiting for `key`.
    pub(crate) fn enqueue(self: &Rc<Self>, key: &Key) -> Turn {
        let ticket = self.waiters.borrow_mut().push(key);
        self.with_pool(|pool| pool.note_waiting(true));
        Turn {
            shared: self.clone(),
            key: key.clone(),
            ticket,
        }
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

/// A dial slot for one key, held while dialing. Dropped unused (the dial failed, or the
/// caller went away mid-dial), it frees the slot.
pub(crate) struct Reservation {
    shared: Rc<Shared>,
    key: Key,
    /// Cleared when the slot becomes a connection's or is released as failed.
    armed: bool,
}

impl Reservation {
    /// The dial succeeded: the slot becomes the new connection's lease.
    pub(crate) fn dialed(mut self, conn: Conn) -> Lease {
        self.armed = false;
        self.shared.with_pool(Pool::note_dialed);
        Lease::new(self.shared.clone(), self.key.clone(), conn)
    }

    /// The dial failed: free the slot and count the failure.
    pub(crate) fn failed(mut self) {
        self.armed = false;
        let key = self.key.clone();
        self.shared
            .with_pool(|pool| pool.release_reservation(&key, true));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.armed {
            let key = self.key.clone();
            self.shared
                .with_pool(|pool| pool.release_reservation(&key, false));
        }
    }
}

/// A place in a host's wait queue. Await [`Turn::wait`]; drop it to leave the queue.
pub(crate) struct Turn {
    shared: Rc<Shared>,
    key: Key,
    ticket: Rc<Ticket>,
}

impl Turn {
    /// Waits until capacity for this key may be free (wake-ups are a hint: the caller tries,
    /// and calls `wait` again if another request took it).
    pub(crate) fn wait(&mut self) -> WaitTurn<'_> {
        WaitTurn { turn: self }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.shared
            .waiters
            .borrow_mut()
            .remove(&self.key, &self.ticket);
        // Leaving may pass a turn this ticket was given and did not use to the next waiter.
        self.shared.with_pool(|pool| pool.note_waiting(false));
    }
}

/// Future of [`Turn::wait`].
pub(crate) struct WaitTurn<'a> {
    turn: &'a mut Turn,
}

impl Future for WaitTurn<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let ticket = &self.turn.ticket;
        if ticket.take_woken() {
            return Poll::Ready(());
        }
        ticket.set_waker(cx.waker());
        // Re-check: capacity may have appeared before the waker was stored.
        if ticket.take_woken() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

/// An in-use connection. See the module doc for how it ends.
pub(crate) struct Lease {
    shared: Rc<Shared>,
    target: Key,
    /// `Some` until the lease is released; taken exactly once, by `release` or `drop`.
    conn: Option<Conn>,
    /// The close reason to record if the lease is dropped without a release.
    on_drop: CloseReason,
}

impl Lease {
    fn new(shared: Rc<Shared>, target: Key, conn: Conn) -> Lease {
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
                let target = &self.target;
                self.shared
                    .with_pool(|pool| pool.note_in_use_closed(target, reason));
                drop(conn);
                Some(reason)
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let (reason, target) = (self.on_drop, &self.target);
            self.shared
                .with_pool(|pool| pool.note_in_use_closed(target, reason));
            drop(conn);
        }
    }
}
