//! [`Sleep`]: timers over `wasi:clocks/monotonic-clock` pollables.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use wasi::clocks::monotonic_clock::subscribe_duration;

use super::reactor::Source;

/// A future that completes at a deadline. Created by [`sleep`] and [`sleep_until`].
///
/// Makes progress only under [`block_on`](super::block_on). Once complete it stays complete
/// (polling again returns `Ready`) until [`reset`](Self::reset).
#[must_use = "futures do nothing unless polled"]
pub struct Sleep {
    /// The clock pollable, subscribed by the first poll that has to wait. `None` before that
    /// and after a `reset`. It has no parent resource; dropping the `Source` deregisters it
    /// from the reactor before dropping the pollable.
    ready: Option<Source>,
    deadline: Instant,
}

/// A [`Sleep`] that completes after `duration`.
pub fn sleep(duration: Duration) -> Sleep {
    sleep_until(crate::net::deadline_after(duration))
}

/// A [`Sleep`] that completes at `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        ready: None,
        deadline,
    }
}

impl Sleep {
    /// The instant at which this timer completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Changes the deadline. The timer must be polled again for the new deadline to wake the
    /// task.
    pub fn reset(&mut self, deadline: Instant) {
        self.ready = None; // deregisters and drops the old clock pollable
        self.deadline = deadline;
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(ready) = &this.ready {
            // The reactor removes a registration once the clock pollable is ready, and a
            // clock pollable stays ready: no host call is needed to decide.
            return if ready.still_waiting(cx.waker()) {
                Poll::Pending
            } else {
                Poll::Ready(())
            };
        }
        let remaining = this.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Poll::Ready(());
        }
        // The host measures `remaining` from its own, later, "now": the timer never fires
        // early.
        let nanos = u64::try_from(remaining.as_nanos()).unwrap_or(u64::MAX);
        this.ready
            .insert(Source::new(subscribe_duration(nanos)))
            .register(cx.waker());
        Poll::Pending
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}
