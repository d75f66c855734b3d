//! The idle-connection pool: pure bookkeeping, no I/O, no clocks of its own.
//!
//! The pool holds connections that finished an exchange cleanly, keyed by `(scheme, host,
//! port)`. It never touches a socket: closing a connection means dropping it, and the time is
//! always passed in (`now`), so every rule here is unit-tested without a network or a sleep.
//!
//! Rules, after Go's `tryPutIdleConn` / `queueForIdleConn`:
//! - per host, reuse is **LIFO** (the most recently used connection is the warmest, the least
//!   likely to have been timed out by the server);
//! - across hosts, `max_idle_total` evicts the connection that has been idle **longest**;
//! - a connection idle for longer than `idle_timeout` is closed instead of handed out (expiry is
//!   lazy: checked on every `take` and `put`, and by [`Pool::prune`]);
//! - after `close_idle`, connections returned to the pool are closed too, until the next `take`
//!   (Go's `closeIdle` flag: a request in flight when the user asked to close idle connections
//!   must not quietly repopulate the pool);
//! - returning a connection is either [`Pool::try_put`], which hands the connection back with the
//!   reason it was refused, or [`Pool::put_or_close`], which closes it and records that reason.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::close::CloseReason;
use crate::fxhash::FastHash;
use crate::stats::PoolStats;

/// Pool limits. See `TransportBuilder` for the user-facing defaults and why they were chosen.
#[derive(Clone, Debug)]
pub(crate) struct PoolConfig {
    /// Idle connections kept per key; 0 disables pooling for every key.
    pub max_idle_per_host: usize,
    /// Idle connections kept across all keys.
    pub max_idle_total: usize,
    /// Idle connections older than this are closed, never handed out. `None`: no limit.
    pub idle_timeout: Option<Duration>,
    /// No connection is ever pooled.
    pub disable_keep_alives: bool,
    /// Connections per key (dialing, in use and idle together); `None`: no limit.
    pub max_conns_per_host: Option<usize>,
}

/// One idle connection.
#[derive(Debug)]
struct Idle<C> {
    conn: C,
    /// Put order; also its entry in `Pool::lru`.
    seq: u64,
}

/// What the pool knows of one key.
#[derive(Debug)]
struct Host<C> {
    /// Idle connections, oldest first (`seq` ascending); `take` pops the back (LIFO).
    idle: VecDeque<Idle<C>>,
    /// Connections: reserved for a dial, in use, or idle (so `idle.len() <= conns`).
    /// Incremented by `try_reserve`, decremented by every close and by
    /// `release_reservation`; the entry is removed when it reaches 0.
    conns: usize,
}

/// An entry of the global idle order.
#[derive(Debug)]
struct LruEntry<K> {
    seq: u64,
    /// When the connection entered the pool (for `idle_timeout`).
    since: Instant,
    key: K,
}

/// The pool. Owned by the transport's shared state and borrowed only for the duration of one
/// method call: no method here calls user code or wakes a task, so a `RefCell` borrow around a
/// call is never re-entered.
#[derive(Debug)]
pub(crate) struct Pool<K, C> {
    config: PoolConfig,
    /// Per key: idle connections and the connection count. Invariants: every key with a
    /// connection (reserved, in use or idle) has an entry and no other key has one; the
    /// `conns` sum to dialing + `stats.in_use` + idle. A busy host keeps its entry
    /// across put/take cycles, so each costs one hash lookup and no allocation.
    hosts: HashMap<K, Host<C>, FastHash>,
    /// Every idle connection in put order (`seq` ascending, which is also `since` order): the
    /// front is the connection idle the longest, across all keys. Invariants: exactly one
    /// entry per idle connection (`lru.len()` is the idle count `stats()` reports), with the same `seq`. Removal
    /// at `take` is O(1) when the connection taken is the most recently pooled overall (the
    /// usual case: one busy host), else a binary search and a shift of the shorter side.
    lru: VecDeque<LruEntry<K>>,
    /// Next `seq` to hand out. Only grows.
    next_seq: u64,
    /// Set by `close_idle`, cleared by the next `take`: while set, puts are refused.
    closing: bool,
    /// Connections the pool closed, waiting to be dropped by the caller once its borrow of the
    /// pool has ended ([`Pool::take_dead`]): dropping a socket may drop wakers, and a waker
    /// drop must never run while the pool is borrowed.
    dead: Vec<C>,
    /// Connection accounting. The pool owns it because it sees every idle transition; the
    /// transport reports dials, check-outs and closes of in-use connections through the
    /// `note_*` methods. Its `idle` and `waiting` fields stay 0 here: `stats()` derives idle
    /// from `lru`, and the transport derives waiting from its queues.
    stats: PoolStats,
}

impl<K: Hash + Eq + Clone, C> Pool<K, C> {
    pub(crate) fn new(config: PoolConfig) -> Self {
        Pool {
            config,
            hosts: HashMap::default(),
            lru: VecDeque::new(),
            next_seq: 0,
            closing: false,
            dead: Vec::new(),
            stats: PoolStats::default(),
        }
    }

    /// A snapshot of the accounting, with the idle count read from the idle order itself.
    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            idle: self.lru.len() as u64,
            ..self.stats.clone()
        }
    }

    /// Why any connection offered now would be refused whatever the limits: keep-alives are
    /// off, or `close_idle` was called.
    pub(crate) fn refuses_put(&self) -> Option<CloseReason> {
        self.refuses_keep_alive()
            .or(self.closing.then_some(CloseReason::CloseIdleConnections))
    }

    /// Why no connection may be kept alive at all (keep-alives are off, or pooling is with
    /// `max_idle_per_host` 0). Checked before a connection is handed to a waiting request:
    /// as in Go's `tryPutIdleConn`, that check comes first and `close_idle`'s comes after the
    /// hand-off (a request waiting now is not an idle connection).
    pub(crate) fn refuses_keep_alive(&self) -> Option<CloseReason> {
        (self.config.disable_keep_alives || self.config.max_idle_per_host == 0)
            .then_some(CloseReason::KeepAlivesDisabled)
    }

    /// Whether requests must say `Connection: close`.
    pub(crate) fn keep_alives_disabled(&self) -> bool {
        self.config.disable_keep_alives
    }

    /// Takes the most recently pooled connection for `key` that passes `probe`.
    ///
    /// Expired connections (for any key) are closed first. `probe` is the non-blocking liveness
    /// check: it returns `Some(reason)` when the connection must not be used (the server closed
    /// it, or sent unsolicited bytes); such a connection is closed with that reason and the next
    /// one is tried. A returned connection counts as in use.
    pub(crate) fn take(
        &mut self,
        key: &K,
        now: Instant,
        mut probe: impl FnMut(&mut C) -> Option<CloseReason>,
    ) -> Option<C> {
        self.closing = false;
        self.prune(now);
        loop {
            let host = self.hosts.get_mut(key)?;
            let mut entry = host.idle.pop_back()?;
            remove_from_lru(&mut self.lru, entry.seq);
            match probe(&mut entry.conn) {
                None => {
                    self.stats.in_use += 1;
                    self.stats.reuses += 1;
                    return Some(entry.conn);
                }
                Some(reason) => {
                    self.stats.record_close(reason);
                    self.forget_conn(key);
                    self.dead.push(entry.conn);
                }
            }
        }
    }

    /// Offers an in-use connection to the pool. On refusal the connection comes back with the
    /// reason, still counted as in use: the caller must close it with
    /// [`Pool::note_in_use_closed`] (or try again elsewhere).
    pub(crate) fn try_put(
        &mut self,
        key: K,
        conn: C,
        now: Instant,
    ) -> Result<(), (C, CloseReason)> {
        if let Some(reason) = self.refuses_put() {
            return Err((conn, reason));
        }
        self.prune(now);
        if self.config.max_idle_total == 0 {
            return Err((conn, CloseReason::TooManyIdle));
        }
        let Some(host) = self.hosts.get_mut(&key) else {
            panic!("internal error: a connection put back for a key with no connections");
        };
        if host.idle.len() >= self.config.max_idle_per_host {
            return Err((conn, CloseReason::TooManyIdleForHost));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        host.idle.push_back(Idle { conn, seq });
        self.lru.push_back(LruEntry {
            seq,
            since: now,
            key,
        });
        self.stats.in_use -= 1;
        // Over the global cap: the connection idle the longest goes (it may be another host's).
        while self.lru.len() > self.config.max_idle_total {
            self.close_oldest(CloseReason::TooManyIdle);
        }
        Ok(())
    }

    /// Offers an in-use connection to the pool and closes it if refused (it joins the dead,
    /// see [`Pool::take_dead`]). Returns why it was closed, `None` if it was pooled.
    pub(crate) fn put_or_close(&mut self, key: K, conn: C, now: Instant) -> Option<CloseReason> {
        match self.try_put(key.clone(), conn, now) {
            Ok(()) => None,
            Err((conn, reason)) => {
                self.dead.push(conn);
                self.note_in_use_closed(&key, reason);
                Some(reason)
            }
        }
    }

    /// Closes every idle connection whose `idle_timeout` has passed. Cost: O(expired).
    pub(crate) fn prune(&mut self, now: Instant) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        while let Some(oldest) = self.lru.front() {
            if now.saturating_duration_since(oldest.since) < timeout {
                break;
            }
            self.close_oldest(CloseReason::IdleTimeout);
        }
    }

    /// When the next idle connection expires, if any.
    #[cfg(test)]
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        Some(self.lru.front()?.since + self.config.idle_timeout?)
    }

    /// Closes every idle connection with `reason`, and refuses puts until the next `take`.
    pub(crate) fn close_idle(&mut self, reason: CloseReason) {
        self.closing = true;
        while !self.lru.is_empty() {
            self.close_oldest(reason);
        }
    }

    /// Reserves a connection slot for a dial to `key`, if `max_conns_per_host` allows. The
    /// slot ends with `note_dialed` (it becomes the connection's) or `release_reservation`.
    pub(crate) fn try_reserve(&mut self, key: &K) -> bool {
        let n = self.hosts.get(key).map_or(0, |h| h.conns);
        if self.config.max_conns_per_host.is_some_and(|max| n >= max) {
            return false;
        }
        match self.hosts.get_mut(key) {
            Some(host) => host.conns += 1,
            None => {
                self.hosts.insert(
                    key.clone(),
                    Host {
                        idle: VecDeque::new(),
                        conns: 1,
                    },
                );
            }
        }
        true
    }

    /// A dial that held a reservation failed or was abandoned.
    pub(crate) fn release_reservation(&mut self, key: &K, failed: bool) {
        if failed {
            self.stats.dial_errors += 1;
        }
        self.forget_conn(key);
    }

    /// How many more requests for `key` could get a connection now without waiting: idle
    /// ones plus free slots. (The transport hands connections to waiting requests directly
    /// and asks `try_reserve`; this view of the same counts is for the unit tests.)
    #[cfg(test)]
    pub(crate) fn available(&self, key: &K) -> usize {
        let (idle, conns) = self
            .hosts
            .get(key)
            .map_or((0, 0), |h| (h.idle.len(), h.conns));
        let free = match self.config.max_conns_per_host {
            None => usize::MAX,
            Some(max) => max.saturating_sub(conns),
        };
        idle.saturating_add(free)
    }

    /// A reserved dial succeeded: the new connection is in use.
    pub(crate) fn note_dialed(&mut self) {
        self.stats.dials += 1;
        self.stats.in_use += 1;
    }

    /// A connection handed from one request straight to a waiting one was taken: a reuse.
    pub(crate) fn note_reuse(&mut self) {
        self.stats.reuses += 1;
    }

    /// A TLS handshake completed; `resumed`: it resumed an earlier session.
    #[cfg(feature = "tls")]
    pub(crate) fn note_tls_handshake(&mut self, resumed: bool) {
        self.stats.tls_handshakes += 1;
        if resumed {
            self.stats.tls_resumptions += 1;
        }
    }

    /// A dial finished after its request had left or been served by another connection.
    pub(crate) fn note_orphan_dial(&mut self) {
        self.stats.orphan_dials += 1;
    }

    pub(crate) fn note_request(&mut self) {
        self.stats.requests += 1;
    }

    pub(crate) fn note_retry(&mut self) {
        self.stats.retries += 1;
    }

    /// An in-use connection to `key` was closed (dropped) for `reason`.
    pub(crate) fn note_in_use_closed(&mut self, key: &K, reason: CloseReason) {
        if self.stats.in_use == 0 {
            // Silence here would let the accounting drift and hide a leaked connection.
            panic!("internal error: in-use connection count underflow ({reason})");
        }
        self.stats.in_use -= 1;
        self.stats.record_close(reason);
        self.forget_conn(key);
    }

    /// Closes the connection idle the longest. Precondition: the pool is not empty.
    fn close_oldest(&mut self, reason: CloseReason) {
        let oldest = self
            .lru
            .pop_front()
            .unwrap_or_else(|| panic!("internal error: close_oldest on an empty pool"));
        let entry = self
            .hosts
            .get_mut(&oldest.key)
            .and_then(|h| h.idle.pop_front())
            .unwrap_or_else(|| panic!("internal error: lru entry {} not idle", oldest.seq));
        if entry.seq != oldest.seq {
            panic!("internal error: idle list order disagrees with the lru");
        }
        self.stats.record_close(reason);
        self.forget_conn(&oldest.key);
        self.dead.push(entry.conn);
    }

    /// One connection (or reservation) for `key` is gone.
    fn forget_conn(&mut self, key: &K) {
        match self.hosts.get_mut(key) {
            Some(host) if host.conns > 1 => host.conns -= 1,
            Some(host) if host.idle.is_empty() => {
                self.hosts.remove(key);
            }
            // An idle connection outliving its count, or an underflow (which would silently
            // lift max_conns_per_host): fail loudly instead.
            _ => panic!("internal error: per-host connection count underflow"),
        }
    }

    /// The connections closed since the last call, to be dropped after the pool's borrow ends.
    pub(crate) fn take_dead(&mut self) -> Vec<C> {
        std::mem::take(&mut self.dead)
    }
}

/// Removes the entry for `seq` from the lru. The taken connection is usually the most
/// recently pooled one (LIFO), so the back is checked first.
fn remove_from_lru<K>(lru: &mut VecDeque<LruEntry<K>>, seq: u64) {
    if lru.back().is_some_and(|e| e.seq == seq) {
        lru.pop_back();
        return;
    }
    match lru.binary_search_by_key(&seq, |e| e.seq) {
        Ok(i) => {
            lru.remove(i);
        }
        Err(_) => panic!("internal error: idle connection {seq} missing from the lru"),
    }
}

#[cfg(test)]
mod tests;
