//! Requests waiting for a connection to a host that is at `max_conns_per_host`.
//!
//! FIFO per host. When capacity appears for a host (a connection goes idle, closes, or a dial
//! fails), the transport asks [`Waiters::wake_ready`] to wake as many of the oldest waiters as
//! there is capacity, minus those already woken and not yet run. A woken waiter leaves the
//! queue when it runs, then takes an idle connection or a dial slot; a waiter that is dropped
//! (its caller went away) leaves the queue too, and if it had been woken, its turn passes on at
//! the next `wake_ready`.
//!
//! This is Go's `connsPerHostWait` queue, with "late binding": a waiter takes whichever comes
//! first, a connection returned to the pool or a free dial slot.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::rc::Rc;
use std::task::Waker;

use crate::fxhash::FastHash;

/// One waiting request. Shared between its queue entry and the future that waits.
#[derive(Default)]
pub(crate) struct Ticket {
    /// Set by `wake_ready` when this waiter may go; read by the waiting future.
    woken: Cell<bool>,
    /// The waiting future's waker; replaced on every poll, taken by `wake_ready`.
    waker: Cell<Option<Waker>>,
}

impl Ticket {
    #[cfg(test)]
    fn is_woken(&self) -> bool {
        self.woken.get()
    }

    /// Consumes a wake-up: true if `wake_ready` chose this waiter since the last call. The
    /// waiter stays in its queue (keeping its place) until its `Turn` is dropped.
    pub(crate) fn take_woken(&self) -> bool {
        self.woken.replace(false)
    }

    pub(crate) fn set_waker(&self, waker: &Waker) {
        self.waker.set(Some(waker.clone()));
    }
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("woken", &self.woken.get())
            .finish_non_exhaustive()
    }
}

/// The queues. Borrowed only for single calls; never wakes under a borrow (it returns the
/// wakers instead).
#[derive(Debug)]
pub(crate) struct Waiters<K> {
    queues: HashMap<K, VecDeque<Rc<Ticket>>, FastHash>,
}

impl<K: Hash + Eq + Clone> Waiters<K> {
    pub(crate) fn new() -> Self {
        Waiters {
            queues: HashMap::default(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Whether requests for `key` are queued (a new request must queue behind them).
    pub(crate) fn has_queue(&self, key: &K) -> bool {
        self.queues.contains_key(key)
    }

    /// Queues a new waiter for `key`.
    pub(crate) fn push(&mut self, key: &K) -> Rc<Ticket> {
        let ticket = Rc::new(Ticket::default());
        self.queues
            .entry(key.clone())
            .or_default()
            .push_back(ticket.clone());
        ticket
    }

    /// Removes `ticket` from `key`'s queue (it ran, or was dropped). Idempotent.
    pub(crate) fn remove(&mut self, key: &K, ticket: &Rc<Ticket>) {
        if let Some(queue) = self.queues.get_mut(key) {
            queue.retain(|t| !Rc::ptr_eq(t, ticket));
            if queue.is_empty() {
                self.queues.remove(key);
            }
        }
    }

    /// Marks as woken as many of the oldest un-woken waiters of each queue as `available(key)`
    /// allows (less those woken already and not yet run), and returns their wakers for the
    /// caller to wake once no borrow is held.
    pub(crate) fn wake_ready(&mut self, available: impl Fn(&K) -> usize) -> Vec<Waker> {
        let mut wakers = Vec::new();
        for (key, queue) in &self.queues {
            let woken = queue.iter().filter(|t| t.woken.get()).count();
            let mut budget = available(key).saturating_sub(woken);
            for ticket in queue.iter().filter(|t| !t.woken.get()) {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                ticket.woken.set(true);
                if let Some(w) = ticket.waker.take() {
                    wakers.push(w);
                }
            }
        }
        wakers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_oldest_first_within_capacity() {
        let mut w = Waiters::new();
        let a = w.push(&"h");
        let b = w.push(&"h");
        let c = w.push(&"h");
        assert!(w.wake_ready(|_| 0).is_empty());
        w.wake_ready(|_| 2);
        assert!(a.is_woken() && b.is_woken() && !c.is_woken());
        // Two woken and not yet run already use the capacity of 2.
        w.wake_ready(|_| 2);
        assert!(!c.is_woken());
        w.remove(&"h", &a);
        w.remove(&"h", &b);
        w.wake_ready(|_| 1);
        assert!(c.is_woken());
        w.remove(&"h", &c);
        assert!(w.is_empty());
    }

    #[test]
    fn a_dropped_woken_waiter_passes_its_turn_on() {
        let mut w = Waiters::new();
        let a = w.push(&"h");
        let b = w.push(&"h");
        w.wake_ready(|_| 1);
        assert!(a.is_woken() && !b.is_woken());
        w.remove(&"h", &a); // dropped without taking its turn
        w.wake_ready(|_| 1);
        assert!(b.is_woken());
    }
}
