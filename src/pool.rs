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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use crate::close::CloseReason;
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
    /// When it entered the pool (for `idle_timeout`).
    since: Instant,
    /// Put order; also its key in `Pool::lru`.
    seq: u64,
}

/// The pool. Owned by the transport's shared state and borrowed only for the duration of one
/// method call: no method here calls user code or wakes a task, so a `RefCell` borrow around a
/// call is never re-entered.
#[derive(Debug)]
pub(crate) struct Pool<K, C> {
    config: PoolConfig,
    /// Idle connections per key, oldest first (`seq` ascending); `take` pops the back (LIFO).
    /// Invariant: every entry has a matching `lru` entry. A key's deque is kept when it
    /// empties (one per host ever used), so the put/take cycle of a busy host hashes once.
    idle: HashMap<K, VecDeque<Idle<C>>, FastHash>,
    /// Every idle connection by put order: `seq -> key`. The first entry is the connection idle
    /// the longest, across all keys. Invariant: `lru.len() == stats.idle`.
    lru: BTreeMap<u64, K>,
    /// Next `seq` to hand out. Only grows.
    next_seq: u64,
    /// Set by `close_idle`, cleared by the next `take`: while set, puts are refused.
    closing: bool,
    /// Connections per key: reserved for a dial, in use, or idle. Incremented by
    /// `try_reserve`, decremented by every close and by `release_reservation`. Invariant: no
    /// zero entries; the values sum to dialing + `stats.in_use` + `stats.idle`.
    per_host: HashMap<K, usize, FastHash>,
    /// Connections the pool closed, waiting to be dropped by the caller once its borrow of the
    /// pool has ended ([`Pool::take_dead`]): dropping a socket may drop wakers, and a waker
    /// drop must never run while the pool is borrowed.
    dead: Vec<C>,
    /// Connection accounting. The pool owns it because it sees every idle transition; the
    /// transport reports dials, check-outs and closes of in-use connections through the
    /// `note_*` methods.
    stats: PoolStats,
}

impl<K: Hash + Eq + Clone, C> Pool<K, C> {
    pub(crate) fn new(config: PoolConfig) -> Self {
        Pool {
            config,
            idle: HashMap::default(),
            lru: BTreeMap::new(),
            next_seq: 0,
            closing: false,
            per_host: HashMap::default(),
            dead: Vec::new(),
            stats: PoolStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> &PoolStats {
        &self.stats
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
        let list = self.idle.get_mut(key)?;
        loop {
            let mut entry = list.pop_back()?;
            if self.lru.remove(&entry.seq).is_none() {
                panic!(
                    "internal error: idle connection {} missing from the lru",
                    entry.seq
                );
            }
            self.stats.idle -= 1;
            match probe(&mut entry.conn) {
                None => {
                    self.stats.in_use += 1;
                    self.stats.reuses += 1;
                    return Some(entry.conn);
                }
                Some(reason) => {
                    self.stats.record_close(reason);
                    forget_conn(&mut self.per_host, key);
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
        if self.config.disable_keep_alives || self.config.max_idle_per_host == 0 {
            return Err((conn, CloseReason::KeepAlivesDisabled));
        }
        if self.closing {
            return Err((conn, CloseReason::CloseIdleConnections));
        }
        self.prune(now);
        if self.config.max_idle_total == 0 {
            return Err((conn, CloseReason::TooManyIdle));
        }
        let list = self.idle.entry(key.clone()).or_default();
        if list.len() >= self.config.max_idle_per_host {
            return Err((conn, CloseReason::TooManyIdleForHost));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        list.push_back(Idle {
            conn,
            since: now,
            seq,
        });
        self.lru.insert(seq, key);
        self.stats.in_use -= 1;
        self.stats.idle += 1;
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
        while let Some(since) = self.oldest_since() {
            if now.saturating_duration_since(since) < timeout {
                break;
            }
            self.close_oldest(CloseReason::IdleTimeout);
        }
    }

    /// When the next idle connection expires, if any.
    #[cfg(test)]
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        Some(self.oldest_since()? + self.config.idle_timeout?)
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
        let n = self.per_host.get(key).copied().unwrap_or(0);
        if self.config.max_conns_per_host.is_some_and(|max| n >= max) {
            return false;
        }
        *self.per_host.entry(key.clone()).or_insert(0) += 1;
        true
    }

    /// A dial that held a reservation failed or was abandoned.
    pub(crate) fn release_reservation(&mut self, key: &K, failed: bool) {
        if failed {
            self.stats.dial_errors += 1;
        }
        forget_conn(&mut self.per_host, key);
    }

    /// How many more requests for `key` could get a connection now without waiting: idle
    /// ones plus free slots.
    pub(crate) fn available(&self, key: &K) -> usize {
        let idle = self.idle.get(key).map_or(0, VecDeque::len);
        let free = match self.config.max_conns_per_host {
            None => usize::MAX,
            Some(max) => max.saturating_sub(self.per_host.get(key).copied().unwrap_or(0)),
        };
        idle.saturating_add(free)
    }

    /// A reserved dial succeeded: the new connection is in use.
    pub(crate) fn note_dialed(&mut self) {
        self.stats.dials += 1;
        self.stats.in_use += 1;
    }

    /// Requests waiting for a connection slot changed by `delta` (+1 or -1).
    pub(crate) fn note_waiting(&mut self, waiting: bool) {
        if waiting {
            self.stats.waiting += 1;
        } else {
            self.stats.waiting -= 1;
        }
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
        forget_conn(&mut self.per_host, key);
    }

    fn oldest_since(&self) -> Option<Instant> {
        let (seq, key) = self.lru.first_key_value()?;
        let front = self
            .idle
            .get(key)
            .and_then(VecDeque::front)
            .unwrap_or_else(|| panic!("internal error: lru entry {seq} without idle connection"));
        Some(front.since)
    }

    /// Closes the connection idle the longest. Precondition: the pool is not empty.
    fn close_oldest(&mut self, reason: CloseReason) {
        let (seq, key) = self
            .lru
            .pop_first()
            .unwrap_or_else(|| panic!("internal error: close_oldest on an empty pool"));
        let list = self
            .idle
            .get_mut(&key)
            .unwrap_or_else(|| panic!("internal error: lru key without idle list"));
        let entry = list
            .pop_front()
            .unwrap_or_else(|| panic!("internal error: lru entry {seq} in an empty idle list"));
        if entry.seq != seq {
            panic!("internal error: idle list order disagrees with the lru");
        }
        self.stats.idle -= 1;
        self.stats.record_close(reason);
        forget_conn(&mut self.per_host, &key);
        self.dead.push(entry.conn);
    }

    /// The connections closed since the last call, to be dropped after the pool's borrow ends.
    pub(crate) fn take_dead(&mut self) -> Vec<C> {
        std::mem::take(&mut self.dead)
    }
}

/// One connection (or reservation) for `key` is gone from `per_host`.
fn forget_conn<K: Hash + Eq>(per_host: &mut HashMap<K, usize, FastHash>, key: &K) {
    match per_host.get_mut(key) {
        Some(n) if *n > 1 => *n -= 1,
        Some(_) => {
            per_host.remove(key);
        }
        // An underflow would silently lift max_conns_per_host: fail loudly instead.
        None => panic!("internal error: per-host connection count underflow"),
    }
}

/// The hasher of the pool's maps: FxHash's multiply-rotate, a few instructions per word.
/// Their keys are the caller's own targets, never network input, so SipHash's flooding
/// resistance buys nothing, while it cost several percent of a pooled request.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FxHasher;

    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

/// See [`FastHash`].
#[derive(Debug)]
pub(crate) struct FxHasher(u64);

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> PoolConfig {
        PoolConfig {
            max_idle_per_host: 2,
            max_idle_total: 3,
            idle_timeout: Some(Duration::from_secs(10)),
            disable_keep_alives: false,
            max_conns_per_host: None,
        }
    }

    /// A pool with `n` dialed (in-use) connections numbered from 0.
    fn pool_with(config: PoolConfig) -> Pool<&'static str, u32> {
        Pool::new(config)
    }

    fn alive(_: &mut u32) -> Option<CloseReason> {
        None
    }

    fn dial(p: &mut Pool<&'static str, u32>, n: u32) {
        dial_to(p, "a", n);
    }

    fn dial_to(p: &mut Pool<&'static str, u32>, key: &'static str, n: u32) {
        for _ in 0..n {
            assert!(p.try_reserve(&key));
            p.note_dialed();
        }
    }

    #[test]
    fn lifo_per_host() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial(&mut p, 2);
        p.try_put("a", 1, t0).unwrap();
        p.try_put("a", 2, t0).unwrap();
        assert_eq!(p.take(&"a", t0, alive), Some(2));
        assert_eq!(p.take(&"a", t0, alive), Some(1));
        assert_eq!(p.take(&"a", t0, alive), None);
        assert_eq!(p.stats().reuses, 2);
        assert_eq!(p.stats().in_use, 2);
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn keys_are_separate() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial(&mut p, 1);
        p.try_put("a", 1, t0).unwrap();
        assert_eq!(p.take(&"b", t0, alive), None);
        assert_eq!(p.take(&"a", t0, alive), Some(1));
    }

    #[test]
    fn per_host_limit_refuses_and_says_why() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial(&mut p, 3);
        p.try_put("a", 1, t0).unwrap();
        p.try_put("a", 2, t0).unwrap();
        assert_eq!(
            p.try_put("a", 3, t0),
            Err((3, CloseReason::TooManyIdleForHost))
        );
        // Refused: still in use until the caller closes it.
        assert_eq!(p.stats().in_use, 1);
        p.note_in_use_closed(&"a", CloseReason::TooManyIdleForHost);
        assert_eq!(p.stats().closed(CloseReason::TooManyIdleForHost), 1);
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn global_limit_evicts_the_longest_idle_of_any_host() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial_to(&mut p, "a", 2);
        dial_to(&mut p, "b", 1);
        dial_to(&mut p, "c", 1);
        p.try_put("a", 1, t0).unwrap();
        p.try_put("b", 2, t0).unwrap();
        p.try_put("a", 3, t0).unwrap();
        p.try_put("c", 4, t0).unwrap();
        assert_eq!(p.stats().idle, 3);
        assert_eq!(p.stats().closed(CloseReason::TooManyIdle), 1);
        // "a"/1 was the oldest.
        assert_eq!(p.take(&"a", t0, alive), Some(3));
        assert_eq!(p.take(&"a", t0, alive), None);
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn put_or_close_records_the_reason() {
        let t0 = Instant::now();
        let mut p = pool_with(PoolConfig {
            disable_keep_alives: true,
            ..config()
        });
        dial(&mut p, 1);
        assert_eq!(
            p.put_or_close("a", 1, t0),
            Some(CloseReason::KeepAlivesDisabled)
        );
        assert_eq!(p.stats().closed(CloseReason::KeepAlivesDisabled), 1);
        assert_eq!(p.stats().in_use, 0);
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn zero_per_host_means_no_pooling() {
        let mut p = pool_with(PoolConfig {
            max_idle_per_host: 0,
            ..config()
        });
        dial(&mut p, 1);
        assert_eq!(
            p.try_put("a", 1, Instant::now()),
            Err((1, CloseReason::KeepAlivesDisabled))
        );
    }

    #[test]
    fn idle_timeout_closes_instead_of_handing_out() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial(&mut p, 2);
        p.try_put("a", 1, t0).unwrap();
        p.try_put("a", 2, t0 + Duration::from_secs(5)).unwrap();
        assert_eq!(p.next_expiry(), Some(t0 + Duration::from_secs(10)));
        // At t0+10s the first has expired; the second is still good.
        assert_eq!(p.take(&"a", t0 + Duration::from_secs(10), alive), Some(2));
        assert_eq!(p.stats().closed(CloseReason::IdleTimeout), 1);
        assert_eq!(p.next_expiry(), None);
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn prune_closes_only_expired() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial_to(&mut p, "a", 1);
        dial_to(&mut p, "b", 1);
        p.try_put("a", 1, t0).unwrap();
        p.try_put("b", 2, t0 + Duration::from_secs(1)).unwrap();
        p.prune(t0 + Duration::from_millis(10_500));
        assert_eq!(p.stats().idle, 1);
        assert_eq!(p.stats().closed(CloseReason::IdleTimeout), 1);
        p.prune(t0 + Duration::from_secs(11));
        assert_eq!(p.stats().idle, 0);
    }

    #[test]
    fn failed_probe_closes_and_tries_the_next() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial(&mut p, 2);
        p.try_put("a", 1, t0).unwrap();
        p.try_put("a", 2, t0).unwrap();
        let got = p.take(&"a", t0, |c| {
            (*c == 2).then_some(CloseReason::ServerClosedIdle)
        });
        assert_eq!(got, Some(1));
        assert_eq!(p.stats().closed(CloseReason::ServerClosedIdle), 1);
        assert_eq!(p.stats().reuses, 1);
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn close_idle_refuses_puts_until_next_take() {
        let t0 = Instant::now();
        let mut p = pool_with(config());
        dial(&mut p, 3);
        p.try_put("a", 1, t0).unwrap();
        p.close_idle(CloseReason::CloseIdleConnections);
        assert_eq!(p.stats().idle, 0);
        assert_eq!(p.stats().closed(CloseReason::CloseIdleConnections), 1);
        assert_eq!(
            p.try_put("a", 2, t0),
            Err((2, CloseReason::CloseIdleConnections))
        );
        p.note_in_use_closed(&"a", CloseReason::CloseIdleConnections);
        assert_eq!(p.take(&"a", t0, alive), None);
        p.try_put("a", 3, t0).unwrap();
        assert!(p.stats().is_balanced());
    }

    #[test]
    fn max_conns_per_host_counts_dialing_in_use_and_idle() {
        let t0 = Instant::now();
        let mut p = pool_with(PoolConfig {
            max_conns_per_host: Some(2),
            ..config()
        });
        assert_eq!(p.available(&"a"), 2);
        assert!(p.try_reserve(&"a"));
        assert!(p.try_reserve(&"a"));
        assert!(!p.try_reserve(&"a"), "two dialing: full");
        assert!(p.try_reserve(&"b"), "other hosts are separate");
        assert_eq!(p.available(&"a"), 0);
        p.release_reservation(&"a", true); // one dial failed
        assert_eq!(p.stats().dial_errors, 1);
        assert_eq!(p.available(&"a"), 1);
        p.note_dialed(); // the other succeeded
        p.try_put("a", 7, t0).unwrap();
        assert_eq!(p.available(&"a"), 2, "one idle plus one free slot");
        p.close_idle(CloseReason::CloseIdleConnections);
        assert_eq!(p.available(&"a"), 2);
        assert!(p.stats().is_balanced());
    }

    #[test]
    #[should_panic(expected = "internal error")]
    #[cfg(not(target_os = "wasi"))] // wasm32-wasip2 aborts on panic: #[should_panic] cannot run there.
    fn closing_more_than_in_use_is_loud() {
        let mut p = pool_with(config());
        p.note_in_use_closed(&"a", CloseReason::ReadError);
    }
}
