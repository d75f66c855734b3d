//! Requests waiting for a connection: Go's `wantConn` and its per-host queue.
//!
//! A request that finds no idle connection queues a [`Want`] for its host and, if
//! `max_conns_per_host` allows, starts a dial for it. From then on it takes whichever comes
//! first (late binding):
//! - a connection another request hands back (released clean: it goes to the oldest waiting
//!   request of its host instead of the idle pool);
//! - its own dial, or another request's dial whose request has left;
//! - a dial error of its own dial.
//!
//! A request over the limit queues without a dial; when a slot frees up, the oldest such
//! request gets a dial started for it. Delivery removes a want from its queue, so the queues
//! hold exactly the requests still waiting, in arrival order. Dropping the waiting request
//! leaves the queue; a connection delivered to it but not yet taken goes back (see
//! [`super::connect`]).

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::task::Waker;

use super::shared::Key;
use crate::conn::Conn;
use crate::error::Error;
use crate::fxhash::FastHash;

/// One waiting request. Shared between its queue entry, the future that waits, and (weakly)
/// the dial started for it.
#[derive(Default)]
pub(crate) struct Want {
    /// What was delivered: set once by `deliver` (which also dequeues the want), taken by the
    /// waiting future.
    delivered: RefCell<Option<Result<Conn, Error>>>,
    /// Set by `deliver`; never cleared. A delivered want takes nothing more.
    served: Cell<bool>,
    /// A dial was started for this request (it holds a dial slot). Set by the transport when
    /// it starts the dial; read by the queue to find requests that still need one.
    dialing: Cell<bool>,
    /// The waiting future's waker; replaced on every poll, taken by `deliver`.
    waker: Cell<Option<Waker>>,
}

impl Want {
    /// Hands `result` to this request and returns its waker, for the caller to wake once no
    /// borrow is held. Precondition: not served yet.
    fn deliver(&self, result: Result<Conn, Error>) -> Option<Waker> {
        if self.served.replace(true) {
            panic!("internal error: a connection delivered twice to one request");
        }
        *self.delivered.borrow_mut() = Some(result);
        self.waker.take()
    }

    /// Takes what was delivered (a connection or an error), if anything was and it was not
    /// taken yet.
    pub(crate) fn take(&self) -> Option<Result<Conn, Error>> {
        self.delivered.borrow_mut().take()
    }

    pub(crate) fn is_served(&self) -> bool {
        self.served.get()
    }

    pub(crate) fn is_dialing(&self) -> bool {
        self.dialing.get()
    }

    pub(crate) fn set_dialing(&self) {
        self.dialing.set(true);
    }

    /// A copy of the waiting future's waker, if it was polled.
    pub(crate) fn waker(&self) -> Option<Waker> {
        let w = self.waker.take();
        self.waker.set(w.clone());
        w
    }

    pub(crate) fn set_waker(&self, waker: &Waker) {
        let old = self.waker.take();
        match old {
            Some(w) if w.will_wake(waker) => self.waker.set(Some(w)),
            _ => self.waker.set(Some(waker.clone())),
        }
    }
}

impl std::fmt::Debug for Want {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Want")
            .field("served", &self.served.get())
            .field("dialing", &self.dialing.get())
            .finish_non_exhaustive()
    }
}

/// The per-host queues. Borrowed only for single calls; never wakes under a borrow (it
/// returns the wakers instead).
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    /// Oldest first. Invariant: every want here is unserved, and no key maps to an empty
    /// queue.
    queues: HashMap<Key, VecDeque<Rc<Want>>, FastHash>,
}

impl Waiters {
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Whether requests for `key` are waiting (a new request queues behind them).
    pub(crate) fn has_queue(&self, key: &Key) -> bool {
        self.queues.contains_key(key)
    }

    /// Queues a new request for `key`.
    pub(crate) fn push(&mut self, key: &Key) -> Rc<Want> {
        let want = Rc::new(Want::default());
        self.queues
            .entry(key.clone())
            .or_default()
            .push_back(want.clone());
        want
    }

    /// Removes `want` from `key`'s queue, if it is there (it may have been served).
    pub(crate) fn remove(&mut self, key: &Key, want: &Rc<Want>) {
        if let Some(queue) = self.queues.get_mut(key) {
            queue.retain(|w| !Rc::ptr_eq(w, want));
            if queue.is_empty() {
                self.queues.remove(key);
            }
        }
    }

    /// Delivers `result` to `want`, dequeuing it, and returns its waker (wake it outside the
    /// borrow). Precondition: `want` is not served yet.
    pub(crate) fn deliver_to(
        &mut self,
        key: &Key,
        want: &Rc<Want>,
        result: Result<Conn, Error>,
    ) -> Option<Waker> {
        self.remove(key, want);
        want.deliver(result)
    }

    /// Delivers `conn` to the oldest request waiting for `key`, dequeuing it: `Ok(waker)`, or
    /// the connection back if nobody waits.
    pub(crate) fn deliver_first(&mut self, key: &Key, conn: Conn) -> Result<Option<Waker>, Conn> {
        let Some(queue) = self.queues.get_mut(key) else {
            return Err(conn);
        };
        let want = queue
            .pop_front()
            .unwrap_or_else(|| panic!("internal error: an empty wait queue"));
        if queue.is_empty() {
            self.queues.remove(key);
        }
        Ok(want.deliver(Ok(conn)))
    }

    /// The oldest request for `key` without a dial of its own, if any.
    pub(crate) fn first_without_dial(&self, key: &Key) -> Option<Rc<Want>> {
        self.queues
            .get(key)?
            .iter()
            .find(|w| !w.dialing.get())
            .cloned()
    }

    /// Hosts with requests that have no dial of their own.
    pub(crate) fn keys_without_dial(&self) -> Vec<Key> {
        self.queues
            .iter()
            .filter(|(_, q)| q.iter().any(|w| !w.dialing.get()))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Requests waiting for a slot under `max_conns_per_host` (queued, no dial of their own):
    /// `PoolStats::waiting`.
    pub(crate) fn waiting_for_slot(&self) -> u64 {
        self.queues
            .values()
            .flatten()
            .filter(|w| !w.dialing.get())
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::request::Target;

    fn key(host: &str) -> Key {
        Rc::new(Target::from_uri(&format!("http://{host}/").parse().unwrap()).unwrap())
    }

    #[test]
    fn queues_are_fifo_and_delivery_dequeues() {
        let mut w = Waiters::default();
        let k = key("h");
        let a = w.push(&k);
        let b = w.push(&k);
        assert_eq!(w.waiting_for_slot(), 2);
        a.set_dialing();
        assert_eq!(w.waiting_for_slot(), 1);
        assert!(Rc::ptr_eq(&w.first_without_dial(&k).unwrap(), &b));
        assert_eq!(w.keys_without_dial(), vec![k.clone()]);
        // An error delivered to `a` dequeues it; `b` stays.
        assert!(w
            .deliver_to(&k, &a, Err(Error::BodyAlreadyFailed))
            .is_none());
        assert!(a.is_served() && a.take().unwrap().is_err());
        assert!(w.has_queue(&k));
        w.remove(&k, &b);
        assert!(w.is_empty());
    }
}
