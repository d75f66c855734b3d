//! The reactor: a thread-local table of `(pollable, waker)` registrations driven by
//! `wasi:io/poll.poll`, and [`block_on`], the only place that blocks the component.
//!
//! WASI 0.2 has exactly one way to wait: pass a list of pollables to `poll`, which blocks the
//! whole component until at least one is ready. So every future of this module that cannot make
//! progress registers its pollable here together with the waker of the task that polled it,
//! and [`block_on`] polls the root future until it is pending with no wake-up outstanding, then
//! calls `poll` over every registered pollable and wakes the tasks whose pollables are ready.
//!
//! Registrations are one-shot: the reactor removes a registration when it wakes it. A
//! [`Source`] that is no longer registered has therefore *seen readiness* since it last
//! registered, which lets I/O code skip host calls on spurious polls (see
//! [`Source::still_waiting`]).
//!
//! Re-entrancy rule: the reactor's `RefCell` is never borrowed while user code can run. Waking
//! and dropping a waker can run arbitrary code (a dropped waker may drop the last reference to a
//! task, whose future may drop a `TcpStream`, which deregisters), so wakers are always moved out
//! of the table and woken or dropped after the borrow ends.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::mem;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use wasi::clocks::monotonic_clock;
use wasi::io::poll::{poll, Pollable};

thread_local! {
    static REACTOR: RefCell<Reactor> = const { RefCell::new(Reactor::new()) };
    static NEXT_KEY: Cell<u64> = const { Cell::new(0) };
    static POLL_CALLS: Cell<u64> = const { Cell::new(0) };
    static IN_BLOCK_ON: Cell<bool> = const { Cell::new(false) };
}

/// Number of `wasi:io/poll.poll` calls made by [`block_on`] on this thread so far.
///
/// Each call is a host round trip (several thousand instructions in wasmtime) and, unless
/// something is already ready, a suspension of the component. Useful for benchmarks and for
/// tests that assert an operation does not busy-poll.
pub fn poll_calls() -> u64 {
    POLL_CALLS.with(Cell::get)
}

/// One waiter: the pollable it waits on and the waker to wake when that pollable is ready.
struct Registration {
    key: u64,
    pollable: Rc<Pollable>,
    waker: Waker,
}

struct Reactor {
    registrations: Vec<Registration>,
    /// Spare allocation for the `&[&Pollable]` argument of `poll`, recycled across iterations.
    poll_list: Vec<&'static Pollable>,
    /// Spare allocation for marking which registrations `poll` reported ready (indexed like
    /// `registrations`); cleared and refilled by every turn.
    ready_marks: Vec<bool>,
    /// A zero-duration timer, created on first need and kept: once ready it stays ready, so
    /// adding it to a `poll` list makes that call return at once. Not a child of any other
    /// resource, so it may live as long as the thread.
    immediate: Option<Pollable>,
}

impl Reactor {
    const fn new() -> Self {
        Reactor {
            registrations: Vec::new(),
            poll_list: Vec::new(),
            ready_marks: Vec::new(),
            immediate: None,
        }
    }

    fn find(&mut self, key: u64) -> Option<&mut Registration> {
        self.registrations.iter_mut().find(|r| r.key == key)
    }
}

/// Reuses the allocation of a `Vec<&Pollable>` for references of another lifetime, so that
/// [`turn`] does not allocate the `poll` argument on every iteration.
///
/// std collects a `vec::IntoIter` into a `Vec` of an element type with the same size and
/// alignment in place, keeping the allocation (an optimisation, not an API guarantee: at worst
/// this allocates). The closure is never called: the vector is emptied first.
fn recycle<'b>(mut list: Vec<&Pollable>) -> Vec<&'b Pollable> {
    list.clear();
    list.into_iter().map(|_| unreachable!()).collect()
}

/// A pollable owned by a socket, stream or timer, plus this waiter's registration key.
///
/// Dropping a `Source` first deregisters it (the reactor holds a clone of the `Rc<Pollable>`),
/// then drops its pollable handle. Owners must declare their `Source` fields *before* the
/// resource the pollable was created from, so that the pollable is gone before its parent is
/// dropped: wasmtime traps with "resource has children" otherwise.
pub(crate) struct Source {
    key: u64,
    pollable: Rc<Pollable>,
}

impl Source {
    /// Wraps a freshly subscribed pollable.
    pub(crate) fn new(pollable: Pollable) -> Self {
        Source {
            key: next_key(),
            pollable: Rc::new(pollable),
        }
    }

    /// A second waiter on the same pollable, with its own registration (used for concurrent
    /// `accept` calls on one listener). No host call.
    pub(crate) fn waiter(&self) -> Self {
        Source {
            key: next_key(),
            pollable: Rc::clone(&self.pollable),
        }
    }

    /// Asks the reactor to wake `waker` once the pollable is ready, replacing any earlier
    /// registration of this source.
    pub(crate) fn register(&self, waker: &Waker) {
        let old = REACTOR.with_borrow_mut(|r| match r.find(self.key) {
            Some(reg) if reg.waker.will_wake(waker) => None,
            Some(reg) => Some(mem::replace(&mut reg.waker, waker.clone())),
            None => {
                r.registrations.push(Registration {
                    key: self.key,
                    pollable: Rc::clone(&self.pollable),
                    waker: waker.clone(),
                });
                None
            }
        });
        drop(old); // outside the borrow: dropping a waker may run arbitrary code
    }

    /// If this source is still registered (the reactor has not seen its pollable ready since
    /// the last [`register`](Self::register)), updates the waker and returns `true`: the
    /// caller's previous "not ready" answer still stands and it can return `Pending` without a
    /// host call. Returns `false` if the source is not registered.
    pub(crate) fn still_waiting(&self, waker: &Waker) -> bool {
        let (waiting, old) = REACTOR.with_borrow_mut(|r| match r.find(self.key) {
            Some(reg) if reg.waker.will_wake(waker) => (true, None),
            Some(reg) => (true, Some(mem::replace(&mut reg.waker, waker.clone()))),
            None => (false, None),
        });
        drop(old);
        waiting
    }

    /// Blocks the component until the pollable is ready, outside of any reactor. Only for the
    /// synchronous [`TcpListener::bind`](super::TcpListener::bind).
    pub(crate) fn block(&self) {
        self.pollable.block();
    }

    /// Waits until the reactor reports the pollable ready. The first poll always registers
    /// and returns `Pending`; use it where the operation is known not to be ready yet.
    pub(crate) fn wait(&self) -> Wait<'_> {
        Wait {
            source: self,
            registered: false,
        }
    }

    fn deregister(&self) {
        // `try_with`: a `Source` dropped during thread-local destruction has nothing to do.
        let removed = REACTOR
            .try_with(|r| {
                let mut r = r.borrow_mut();
                let i = r.registrations.iter().position(|reg| reg.key == self.key)?;
                Some(r.registrations.swap_remove(i))
            })
            .ok()
            .flatten();
        drop(removed); // outside the borrow: drops a waker
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // Deregister FIRST: the reactor holds a clone of `self.pollable`, and the pollable
        // resource must be dropped now, before the owner drops the parent resource.
        self.deregister();
    }
}

/// Future returned by [`Source::wait`].
pub(crate) struct Wait<'a> {
    source: &'a Source,
    registered: bool,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.registered {
            self.source.register(cx.waker());
            self.registered = true;
            Poll::Pending
        } else if self.source.still_waiting(cx.waker()) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

fn next_key() -> u64 {
    NEXT_KEY.with(|k| {
        let key = k.get();
        k.set(key + 1);
        key
    })
}

/// Calls `wasi:io/poll.poll` once over every registered pollable, removes the registrations
/// that are ready and wakes their wakers.
///
/// Panics if nothing is registered: the caller's future is pending with no wake-up
/// outstanding and nothing that could ever produce one.
fn turn(woken: &mut Vec<Waker>) {
    turn_inner(woken, false);
}

/// Like [`turn`], but never blocks: a zero-duration timer (always ready) rides along in the
/// `poll` list, so the call returns at once with whatever is ready now. Used when the root
/// future was woken while it ran (a task yielded, or woke another), so that such tasks cannot
/// starve I/O: without it, a future that keeps waking itself would never let `poll` run.
/// Does nothing when nothing is registered.
fn turn_nonblocking(woken: &mut Vec<Waker>) {
    turn_inner(woken, true);
}

fn turn_inner(woken: &mut Vec<Waker>, nonblocking: bool) {
    REACTOR.with_borrow_mut(|r| {
        if r.registrations.is_empty() {
            assert!(
                nonblocking,
                "internal error: block_on: future is pending with nothing to wait for (deadlock)"
            );
            return;
        }
        let mut list = recycle(mem::take(&mut r.poll_list));
        list.extend(r.registrations.iter().map(|reg| &*reg.pollable));
        let immediate = r
            .immediate
            .get_or_insert_with(|| monotonic_clock::subscribe_duration(0));
        if nonblocking {
            list.push(immediate);
        }
        let ready = poll(&list);
        r.poll_list = recycle(list);
        POLL_CALLS.with(|c| c.set(c.get() + 1));

        // `ready` holds indices into `registrations` (plus, when non-blocking, the index of
        // the immediate timer, one past the last registration), in no particular order. Mark
        // them, then take the marked registrations out in one ordered pass.
        let mut marks = mem::take(&mut r.ready_marks);
        marks.clear();
        marks.resize(r.registrations.len(), false);
        for i in ready {
            if let Some(mark) = marks.get_mut(i as usize) {
                *mark = true;
            }
        }
        let mut index = 0;
        let taken = r.registrations.extract_if(.., |_| {
            index += 1;
            marks[index - 1]
        });
        // Each registration's pollable is dropped here; the owning `Source` still holds it,
        // so this is only a reference-count decrement, never a resource drop.
        woken.extend(taken.map(|reg| reg.waker));
        r.ready_marks = marks;
    });
    for waker in woken.drain(..) {
        waker.wake();
    }
}

/// The waker of [`block_on`]'s root task: a flag meaning "poll the future again".
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Resets the "inside `block_on`" flag, also when the future panics.
struct Entered;

impl Entered {
    fn enter() -> Self {
        IN_BLOCK_ON.with(|b| {
            assert!(
                !b.replace(true),
                "roundtrip::net::block_on called from inside block_on: nested block_on would \
                 block the component while the outer future's I/O cannot make progress; \
                 use .await instead"
            );
        });
        Entered
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        IN_BLOCK_ON.with(|b| b.set(false));
    }
}

/// Runs a future to completion on this thread, blocking the component in `wasi:io/poll.poll`
/// whenever the future is waiting for I/O or a timer.
///
/// The futures of this module make progress only under this function. It must not be nested.
///
/// # Panics
///
/// Panics if called from inside another `block_on`, and if the future is pending while
/// nothing is registered with the reactor (it could never be woken: a deadlock).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let _entered = Entered::enter();
    let mut fut = pin!(fut);
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(Arc::clone(&flag));
    let mut cx = Context::from_waker(&waker);
    let mut woken = Vec::new();
    loop {
        if let Poll::Ready(output) = fut.as_mut().poll(&mut cx) {
            return output;
        }
        if flag.0.swap(false, Ordering::Relaxed) {
            // Woken while it ran: poll it again, after letting through any I/O that is
            // ready now (see `turn_nonblocking`).
            turn_nonblocking(&mut woken);
            flag.0.store(false, Ordering::Relaxed);
            continue;
        }
        while !flag.0.swap(false, Ordering::Relaxed) {
            turn(&mut woken);
        }
    }
}
