//! An in-memory [`Stream`] that plays a server's side from a script (tests only).
//!
//! Deterministic: no sockets, no timers, no threads. The test holds a [`Script`] handle to the
//! same state as the stream: it queues what reads return ([`Script::push`], [`Script::eof`],
//! [`Script::error`], [`Script::pending`]), limits or fails writes, and afterwards checks the
//! exact bytes written and whether the stream was closed. [`drive`] runs a future to
//! completion and panics if it stalls (pending with no wake-up to come), so a test can never
//! hang.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::stream::{Io, Stream};

/// What the next read returns.
#[derive(Debug)]
enum Step {
    Data(Vec<u8>),
    /// End of stream, for this and every later read.
    Eof,
    Error(io::ErrorKind),
    /// One `Pending`, with an immediate wake-up (a spurious wait).
    Pending,
}

#[derive(Debug, Default)]
struct State {
    reads: VecDeque<Step>,
    /// Everything written, in order.
    written: Vec<u8>,
    /// Writes succeed until `written` reaches this many bytes, then fail with the kind.
    fail_writes_at: Option<(usize, io::ErrorKind)>,
    /// Largest write accepted in one call (to split writes); `None`: no limit.
    max_write: Option<usize>,
    /// Waker of a read that found the script empty; woken by the next `push`/`eof`/`error`.
    read_waker: Option<Waker>,
    /// Data that becomes readable once `written` reaches the given length (a server that
    /// answers only after reading the whole request).
    reply_after: Option<(usize, Vec<u8>)>,
    shutdown: bool,
    /// The stream was dropped: the client closed the connection.
    closed: bool,
}

/// The stream side, owned by the connection under test.
#[derive(Debug)]
pub(crate) struct Scripted {
    state: Rc<RefCell<State>>,
}

/// The test's handle on a scripted stream.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    state: Rc<RefCell<State>>,
}

/// A new scripted stream, boxed for a `Conn`, and its script.
pub(crate) fn pair() -> (Io, Script) {
    let state = Rc::new(RefCell::new(State::default()));
    (
        Io::Scripted(Scripted {
            state: state.clone(),
        }),
        Script { state },
    )
}

impl Script {
    fn queue(&self, step: Step) -> &Self {
        let waker = {
            let mut s = self.state.borrow_mut();
            s.reads.push_back(step);
            s.read_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        self
    }

    /// The next read returns (a prefix of) `bytes`.
    pub(crate) fn push(&self, bytes: impl AsRef<[u8]>) -> &Self {
        self.queue(Step::Data(bytes.as_ref().to_vec()))
    }

    /// Once `n` bytes have been written, the next read returns (a prefix of) `bytes`.
    pub(crate) fn reply_after(&self, n: usize, bytes: impl AsRef<[u8]>) -> &Self {
        self.state.borrow_mut().reply_after = Some((n, bytes.as_ref().to_vec()));
        self
    }

    /// Reads reach end of stream once the queued data is read.
    pub(crate) fn eof(&self) -> &Self {
        self.queue(Step::Eof)
    }

    /// The next read fails with `kind`.
    pub(crate) fn error(&self, kind: io::ErrorKind) -> &Self {
        self.queue(Step::Error(kind))
    }

    /// The next read is a spurious `Pending` (woken at once).
    pub(crate) fn pending(&self) -> &Self {
        self.queue(Step::Pending)
    }

    /// Writes fail with `kind` once `n` bytes have been written (0: the first write fails).
    pub(crate) fn fail_writes_at(&self, n: usize, kind: io::ErrorKind) -> &Self {
        self.state.borrow_mut().fail_writes_at = Some((n, kind));
        self
    }

    /// Each write call accepts at most `n` bytes.
    pub(crate) fn max_write(&self, n: usize) -> &Self {
        self.state.borrow_mut().max_write = Some(n);
        self
    }

    /// The bytes written so far, as text (lossy).
    pub(crate) fn written(&self) -> String {
        String::from_utf8_lossy(&self.state.borrow().written).into_owned()
    }

    /// Whether the client dropped the stream (closed the connection).
    pub(crate) fn is_closed(&self) -> bool {
        self.state.borrow().closed
    }
}

impl State {
    /// One read step into `buf`: `None` when the script has nothing (yet).
    fn read(&mut self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self.reads.pop_front()? {
            Step::Data(mut data) => {
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                if n < data.len() {
                    self.reads.push_front(Step::Data(data.split_off(n)));
                }
                Some(Ok(n))
            }
            Step::Eof => {
                self.reads.push_front(Step::Eof);
                Some(Ok(0))
            }
            Step::Error(kind) => Some(Err(kind.into())),
            Step::Pending => None,
        }
    }
}

impl Stream for Scripted {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut s = self.state.borrow_mut();
        let spurious = matches!(s.reads.front(), Some(Step::Pending));
        match s.read(buf) {
            Some(result) => Poll::Ready(result),
            None if spurious => {
                drop(s);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            None => {
                s.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let mut s = self.state.borrow_mut();
        if s.shutdown {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut n = buf.len().min(s.max_write.unwrap_or(usize::MAX));
        if let Some((at, kind)) = s.fail_writes_at {
            if s.written.len() >= at {
                return Poll::Ready(Err(kind.into()));
            }
            n = n.min(at - s.written.len());
        }
        s.written.extend_from_slice(&buf[..n]);
        let due = s
            .reply_after
            .as_ref()
            .is_some_and(|(at, _)| s.written.len() >= *at);
        if due {
            let (_, data) = s.reply_after.take().unwrap_or_default();
            s.reads.push_back(Step::Data(data));
            if let Some(w) = s.read_waker.take() {
                drop(s);
                w.wake();
            }
        }
        Poll::Ready(Ok(n))
    }

    fn start_flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn try_read_now(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let mut s = self.state.borrow_mut();
        if matches!(s.reads.front(), Some(Step::Pending)) {
            return Ok(None);
        }
        s.read(buf).transpose()
    }

    fn wait_before_next_read(&mut self) {}

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.state.borrow_mut().shutdown = true;
        Ok(())
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 40000)))
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 80)))
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.state.borrow_mut().closed = true;
    }
}

/// A waker that records that it was woken.
#[derive(Default)]
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls `fut` until it completes. Panics if it returns `Pending` without having arranged a
/// wake-up: with scripted streams that is a stall (the script ran out), never a wait.
pub(crate) fn drive<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    for _ in 0..100_000 {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        if !flag.0.swap(false, Ordering::SeqCst) {
            panic!("stalled: the future is pending and nothing will wake it (script exhausted?)");
        }
    }
    panic!("the future did not complete in 100,000 polls");
}

/// Polls `fut` once with a waker that records wake-ups; returns the result and whether it was
/// woken during the poll.
pub(crate) fn poll_once<F: Future + Unpin>(fut: &mut F) -> (Poll<F::Output>, bool) {
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let out = std::pin::Pin::new(fut).poll(&mut cx);
    (out, flag.0.load(Ordering::SeqCst))
}
