//! The transport's core: the state shared by its handles, leases, waiting requests and dials.
//!
//! Borrow discipline, for every `RefCell` here: borrowed for one non-async call at a time,
//! never across a poll of user code or a dial, and never while a waker is woken or a
//! connection dropped (dropping a stream may drop wakers). Connections the pool closes are
//! dropped after its borrow ends; wakers are collected under a borrow and woken after it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::task::{Context, Waker};
use std::time::Instant;

use http::Uri;

use super::builder::Config;
use super::dial::{self, Connector, Dials, Finished};
use super::waiters::{Waiters, Want};
use crate::close::CloseReason;
use crate::codec::error::RequestError;
use crate::codec::request::Target;
use crate::conn::Conn;
use crate::pool::{Pool, PoolConfig};
use crate::stats::PoolStats;

/// Pool key: where a connection goes. Shared, so a request, its lease and the pool's lists
/// hold one allocation between them.
pub(crate) type Key = Rc<Target>;

pub(crate) struct Shared {
    /// The idle pool and the accounting. Borrowed only through [`Shared::with_pool`] (or
    /// briefly to read it).
    pool: RefCell<Pool<Key, Conn>>,
    /// Requests waiting for a connection. Borrowed for single calls.
    waiters: RefCell<Waiters>,
    /// Dials in progress, owned here so they outlive their requests. Borrowed for single
    /// calls; a dial is polled only after `drive_dials` took it out.
    dials: RefCell<Dials>,
    /// How connections are opened.
    connector: Connector,
    /// The transport's settings. Immutable.
    pub(crate) config: Config,
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
    pub(crate) fn new(pool: PoolConfig, config: Config, connector: Connector) -> Shared {
        Shared {
            pool: RefCell::new(Pool::new(pool)),
            waiters: RefCell::new(Waiters::default()),
            dials: RefCell::new(Dials::default()),
            connector,
            config,
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
        if key.is_tls() && !cfg!(feature = "tls") {
            return Err(RequestError::UnsupportedScheme(scheme.into()));
        }
        *self.last_key.borrow_mut() = Some(CachedKey {
            scheme: scheme.into(),
            authority: authority.into(),
            key: key.clone(),
        });
        Ok(key)
    }

    /// Runs `f` on the pool, then drops the connections it closed, outside the borrow, then
    /// starts dials for waiting requests that the change made room for.
    pub(crate) fn with_pool<R>(&self, f: impl FnOnce(&mut Pool<Key, Conn>) -> R) -> R {
        let (result, dead) = {
            let mut pool = self.pool.borrow_mut();
            let result = f(&mut pool);
            (result, pool.take_dead())
        };
        drop(dead);
        self.start_waiting_dials();
        result
    }

    /// For each host with requests waiting for a slot: while `max_conns_per_host` allows,
    /// start a dial for the oldest such request, and wake it so that it drives the dial.
    ///
    /// Called after every pool operation: the check for nobody waiting is inlined, the rest
    /// is out of line (its frame alone cost more than the check, several times a request).
    #[inline]
    fn start_waiting_dials(&self) {
        if !self.waiters.borrow().is_empty() {
            self.start_waiting_dials_slow();
        }
    }

    #[inline(never)]
    fn start_waiting_dials_slow(&self) {
        let keys = self.waiters.borrow().keys_without_dial();
        let mut wake = Vec::new();
        for key in keys {
            loop {
                let Some(want) = self.waiters.borrow().first_without_dial(&key) else {
                    break;
                };
                if !self.pool.borrow_mut().try_reserve(&key) {
                    break;
                }
                self.start_dial(&key, &want);
                wake.extend(want.waker());
            }
        }
        wake.into_iter().for_each(Waker::wake);
    }

    /// Starts a dial for `want`, whose slot is already reserved. The connector runs before
    /// `dials` is borrowed: it is code that may call back into the transport.
    fn start_dial(&self, key: &Key, want: &Rc<Want>) {
        let dial = dial::open(&self.connector, key, self.config.connect_timeout);
        self.dials.borrow_mut().push(key, want, dial);
    }

    /// Reserves a slot and starts a dial for `want`, if `max_conns_per_host` allows.
    /// (A bare borrow, not `with_pool`: a reservation closes nothing, and `with_pool` would
    /// start a second dial for `want` before this one marks it as dialing.)
    pub(crate) fn try_dial_for(&self, key: &Key, want: &Rc<Want>) {
        let reserved = self.pool.borrow_mut().try_reserve(key);
        if reserved {
            self.start_dial(key, want);
        }
    }

    /// Polls every dial in progress (those woken since their last poll), registering `cx`'s
    /// task for their wake-ups, and hands out those that finished. Cheap when none runs.
    ///
    /// Called on every poll of a transport future or body: the check for no dial is inlined,
    /// the rest is out of line.
    #[inline]
    pub(crate) fn drive_dials(&self, cx: &mut Context<'_>) {
        if !self.dials.borrow().is_empty() {
            self.drive_dials_slow(cx);
        }
    }

    #[inline(never)]
    fn drive_dials_slow(&self, cx: &mut Context<'_>) {
        let tasks = self.dials.borrow_mut().take_all();
        let mut running = Vec::with_capacity(tasks.len());
        let mut finished = Vec::new();
        for task in tasks {
            match task.poll(cx) {
                Ok(done) => finished.push(done),
                Err(task) => running.push(task),
            }
        }
        self.dials.borrow_mut().put_back(running);
        for done in finished {
            self.dial_finished(done);
        }
    }

    /// A dial finished: its connection goes to the request that started it if that one still
    /// waits, else to the next waiting request or the pool; its error goes to its request.
    fn dial_finished(&self, done: Finished) {
        let Finished { key, want, result } = done;
        let want = want.upgrade();
        match result {
            Ok(stream) => {
                #[cfg(feature = "tls")]
                if let crate::conn::Io::Tls(tls) = &stream {
                    let resumed = tls.resumed();
                    self.with_pool(|pool| pool.note_tls_handshake(resumed));
                }
                let conn = Conn::new(stream, self.next_id());
                self.with_pool(Pool::note_dialed);
                if let Some(w) = want.filter(|w| !w.is_served()) {
                    let waker = self.waiters.borrow_mut().deliver_to(&key, &w, Ok(conn));
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                    return;
                }
                self.with_pool(Pool::note_orphan_dial);
                self.put(&key, conn);
            }
            Err(e) => {
                self.with_pool(|pool| pool.release_reservation(&key, true));
                if let Some(w) = want.filter(|w| !w.is_served()) {
                    let waker = self.waiters.borrow_mut().deliver_to(&key, &w, Err(e));
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                }
            }
        }
    }

    /// A connection that ended its exchange cleanly: to the oldest request waiting for its
    /// host (a reuse, no probe: it was in use a moment ago), else offered to the pool
    /// (put-or-close). Returns why it was closed, `None` if it went on.
    pub(crate) fn put(&self, key: &Key, mut conn: Conn) -> Option<CloseReason> {
        conn.shrink_for_idle();
        if self.waiters.borrow().is_empty() {
            // The usual case: nobody waits, so the pool decides (its `try_put` refuses first
            // for the same reasons `refuses_put` gives).
            conn.mark_pooled();
            return self.with_pool(|pool| pool.put_or_close(key.clone(), conn, Instant::now()));
        }
        // Go's order: keep-alives first, then the waiting request, then (in the pool)
        // `close_idle_connections`. (A separate statement: a borrow in an `if let`
        // condition lives through its block, and `with_pool` borrows again.)
        let refused = self.pool.borrow().refuses_keep_alive();
        if let Some(reason) = refused {
            self.with_pool(|pool| pool.note_in_use_closed(key, reason));
            drop(conn);
            return Some(reason);
        }
        let handed = self.waiters.borrow_mut().deliver_first(key, conn);
        match handed {
            Ok(waker) => {
                // Counted as a reuse when the waiting request takes it (`connect`).
                if let Some(w) = waker {
                    w.wake();
                }
                None
            }
            Err(mut conn) => {
                conn.mark_pooled();
                self.with_pool(|pool| pool.put_or_close(key.clone(), conn, Instant::now()))
            }
        }
    }

    /// An in-use connection is closed for `reason`.
    pub(crate) fn close(&self, key: &Key, conn: Conn, reason: CloseReason) {
        drop(conn);
        self.with_pool(|pool| pool.note_in_use_closed(key, reason));
    }

    /// Takes a live idle connection for `key`, if any (after the non-blocking probe).
    pub(crate) fn checkout(&self, key: &Key) -> Option<Conn> {
        let mut unsolicited = None;
        let conn = self.with_pool(|pool| {
            pool.take(key, Instant::now(), |conn| {
                let verdict = conn.probe_idle();
                if verdict == Some(CloseReason::UnsolicitedResponse) {
                    unsolicited = Some(conn.id());
                }
                verdict
            })
        });
        if let Some(id) = unsolicited {
            self.warn_unsolicited(id);
        }
        conn
    }

    /// Whether a new request for `key` must queue behind waiting ones.
    pub(crate) fn has_waiters(&self, key: &Key) -> bool {
        let waiters = self.waiters.borrow();
        !waiters.is_empty() && waiters.has_queue(key)
    }

    /// Queues a request for `key`.
    pub(crate) fn enqueue(&self, key: &Key) -> Rc<Want> {
        self.waiters.borrow_mut().push(key)
    }

    /// A waiting request leaves: out of the queue, and what was delivered to it and not
    /// taken goes back (a connection is put, an error dropped).
    pub(crate) fn leave(&self, key: &Key, want: &Rc<Want>) {
        let was_dialing = want.is_dialing() && !want.is_served();
        self.waiters.borrow_mut().remove(key, want);
        if was_dialing {
            let next = self.waiters.borrow().first_without_dial(key);
            if let Some(next) = next {
                let moved = self.dials.borrow_mut().retarget(want, &next);
                if moved {
                    if let Some(w) = next.waker() {
                        w.wake();
                    }
                }
            }
        }
        if let Some(Ok(conn)) = want.take() {
            self.put(key, conn);
        }
    }

    /// Closes every idle connection, and abandons dials no request waits for (they would
    /// only become idle connections); a dial whose request left is kept when another request
    /// for its host waits without a dial of its own: it is handed to that one.
    pub(crate) fn close_idle(&self) {
        let orphans = {
            let waiters = self.waiters.borrow();
            self.dials
                .borrow_mut()
                .take_orphans(|key| waiters.first_without_dial(key))
        };
        for (key, task) in orphans {
            drop(task);
            self.with_pool(|pool| pool.release_reservation(&key, false));
        }
        self.with_pool(|pool| pool.close_idle(CloseReason::CloseIdleConnections));
    }

    /// A snapshot of the accounting.
    pub(crate) fn stats(&self) -> PoolStats {
        let mut stats = self.pool.borrow().stats();
        stats.waiting = self.waiters.borrow().waiting_for_slot();
        stats
    }

    /// Whether keep-alives are disabled (every request says `Connection: close`).
    pub(crate) fn keep_alives_disabled(&self) -> bool {
        self.pool.borrow().keep_alives_disabled()
    }

    pub(crate) fn next_id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
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
