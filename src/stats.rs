//! Pool statistics: counters a user can read at any time.

use std::fmt;

use crate::close::CloseReason;

/// Which connection served a response: from [`ResponseBody::connection`](crate::ResponseBody::connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The connection's number, unique within its transport (counting from 1).
    pub id: u64,
    /// Whether the connection had served an earlier response (it came from the idle pool).
    pub reused: bool,
}

/// A snapshot of a transport's connection accounting.
///
/// Every connection is counted once in `dials` when it is established and then is, at any
/// moment, in exactly one of three places: checked out (`in_use`), parked in the pool (`idle`),
/// or closed (one entry in `closes`). So `dials == in_use + idle + closed_total()` always holds;
/// [`PoolStats::is_balanced`] checks it, and every test of the crate asserts it. (A connection
/// handed from one request straight to the next stays `in_use`.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections established (TCP connects that succeeded).
    pub dials: u64,
    /// Failed connection attempts (resolve or connect errors, connect timeouts).
    pub dial_errors: u64,
    /// Round trips served on a connection that had been used or pooled before: taken from
    /// the idle pool, or handed straight from one request to a waiting one.
    pub reuses: u64,
    /// Round trips started (including retries).
    pub requests: u64,
    /// Requests retried on a fresh connection after a reused one turned out to be dead.
    pub retries: u64,
    /// Dials that finished after the request that started them had left, or had been served
    /// by another connection first (Go's late binding): the connection went to another
    /// waiting request or was offered to the idle pool (which keeps it unless keep-alives are
    /// off, the pool is full or `close_idle_connections` was called).
    pub orphan_dials: u64,
    /// TLS handshakes completed (`https` dials that succeeded).
    pub tls_handshakes: u64,
    /// Of those, the ones that resumed an earlier session instead of a full handshake.
    pub tls_resumptions: u64,
    /// Connections idle in the pool right now.
    pub idle: u64,
    /// Connections checked out by an in-flight round trip or an unfinished response body.
    pub in_use: u64,
    /// Requests waiting for a connection because their host is at `max_conns_per_host`.
    pub waiting: u64,
    /// Closes by reason, indexed like [`CloseReason::ALL`].
    pub closes: [u64; CloseReason::ALL.len()],
}

impl PoolStats {
    /// How many connections were closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closes[reason.index()]
    }

    /// How many connections were closed, for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closes.iter().sum()
    }

    /// `(reason, count)` for every reason with a non-zero count.
    pub fn closes_by_reason(&self) -> impl Iterator<Item = (CloseReason, u64)> + '_ {
        CloseReason::ALL
            .iter()
            .zip(self.closes.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (*r, *n))
    }

    /// Whether the accounting identity `dials == in_use + idle + closed_total()` holds.
    pub fn is_balanced(&self) -> bool {
        self.dials == self.in_use + self.idle + self.closed_total()
    }

    pub(crate) fn record_close(&mut self, reason: CloseReason) {
        self.closes[reason.index()] += 1;
    }
}

impl fmt::Display for PoolStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dials={} dial_errors={} requests={} reuses={} retries={} orphan_dials={} idle={} in_use={} waiting={}",
            self.dials,
            self.dial_errors,
            self.requests,
            self.reuses,
            self.retries,
            self.orphan_dials,
            self.idle,
            self.in_use,
            self.waiting
        )?;
        if self.tls_handshakes > 0 {
            write!(
                f,
                " tls_handshakes={} tls_resumptions={}",
                self.tls_handshakes, self.tls_resumptions
            )?;
        }
        for (reason, n) in self.closes_by_reason() {
            write!(f, " closed.{reason}={n}")?;
        }
        Ok(())
    }
}
