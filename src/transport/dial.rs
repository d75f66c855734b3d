//! In-flight dials: tasks owned by the transport, not by the request that started them.
//!
//! As in Go, a dial outlives its request. The request that needed a connection starts one and
//! waits; if it leaves, or another connection reaches it first, the dial goes on and its
//! connection goes to the next waiting request for the host, or to the idle pool (counted in
//! [`PoolStats::orphan_dials`](crate::PoolStats::orphan_dials)).
//!
//! Nothing is spawned: the dials are futures in the transport's shared state, polled by
//! [`Dials::poll_all`] from whichever transport future or response body the caller polls
//! (nothing runs when nothing is polled). Each dial is polled with a waker of its own, a
//! [`WakerSet`] that wakes every task that polled it since its last wake-up, so the dial makes
//! progress as long as any of them is still being polled.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_lite::FutureExt;

use super::shared::Key;
use super::waiters::Want;
use crate::codec::request::Target;
use crate::conn::Io;
use crate::error::Error;
use crate::net::{sleep, TcpStream};

/// A dial in progress.
type DialFuture = Pin<Box<dyn Future<Output = io::Result<Io>>>>;

/// Opens a stream to a target: TCP by default; scripted streams in unit tests, and TLS and
/// proxy tunnels wrap it.
pub(crate) type Connector = Rc<dyn Fn(&Target) -> DialFuture>;

/// TLS settings for `https`, when the crate has the `tls` feature.
#[cfg(feature = "tls")]
type TlsConfig = Option<std::sync::Arc<rustls::ClientConfig>>;
/// Without the `tls` feature there are none (https is refused before anything is dialed).
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) struct TlsConfig(());

#[cfg(not(feature = "tls"))]
impl TlsConfig {
    pub(crate) const NONE: TlsConfig = TlsConfig(());
}

/// The default connector: a TCP connection (name lookup included), and for `https` the TLS
/// handshake over it, with the host as the server name (SNI, none for an IP literal, which
/// is verified against the certificate's IP addresses).
pub(crate) fn default_connector(tls: TlsConfig) -> Connector {
    Rc::new(move |target: &Target| {
        let (host, port, https) = (target.host.clone(), target.port, target.is_tls());
        let tls = tls.clone();
        Box::pin(async move {
            let tcp = TcpStream::connect(&host, port).await?;
            if !https {
                return Ok(Io::Tcp(tcp));
            }
            handshake(tcp, host, tls).await
        })
    })
}

#[cfg(feature = "tls")]
async fn handshake(tcp: TcpStream, host: String, tls: TlsConfig) -> io::Result<Io> {
    let config = tls.unwrap_or_else(|| panic!("internal error: https dialed without TLS settings"));
    let failed = |e: io::Error| io::Error::new(e.kind(), HandshakeFailed(e));
    let name = rustls::pki_types::ServerName::try_from(host)
        .map_err(|e| failed(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
    let stream = crate::conn::tls::TlsStream::connect(tcp, config, name)
        .await
        .map_err(failed)?;
    Ok(Io::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn handshake(_: TcpStream, _: String, _: TlsConfig) -> io::Result<Io> {
    panic!("internal error: https dialed without the tls feature")
}

/// Marks an error of the TLS handshake (as opposed to the TCP connect before it).
#[derive(Debug)]
struct HandshakeFailed(io::Error);

impl std::fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HandshakeFailed {}

/// A dial's future, errors typed, the connect timeout included.
pub(crate) type DialResult = Pin<Box<dyn Future<Output = Result<Io, Error>>>>;

/// Opens a dial to `key` through `connector`, within `timeout` (the future is created, not
/// polled).
pub(crate) fn open(connector: &Connector, key: &Key, timeout: Option<Duration>) -> DialResult {
    let dial = connector(key);
    let target = key.clone();
    let future = async move { dial.await.map_err(|source| dial_error(&target, source)) };
    match timeout {
        None => Box::pin(future),
        Some(after) => {
            let target = key.to_string();
            Box::pin(future.or(async move {
                sleep(after).await;
                Err(Error::ConnectTimeout { target, after })
            }))
        }
    }
}

/// One dial task.
struct Dial {
    key: Key,
    /// The request that started it. If it is gone or was served by another connection when
    /// the dial finishes, the connection goes to the pool.
    want: Weak<Want>,
    future: DialResult,
    wakers: Arc<WakerSet>,
}

/// A finished dial, to be handled once no borrow is held.
pub(crate) struct Finished {
    pub(crate) key: Key,
    pub(crate) want: Weak<Want>,
    pub(crate) result: Result<Io, Error>,
}

/// The dials in progress. Owned by the transport's shared state; borrowed only for single
/// calls, and a dial future is polled only after it was taken out (see `Shared::drive_dials`).
#[derive(Default)]
pub(crate) struct Dials {
    tasks: Vec<Dial>,
}

impl Dials {
    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Adds the dial `future` for `want` (created by [`open`], not yet polled).
    pub(crate) fn push(&mut self, key: &Key, want: &Rc<Want>, future: DialResult) {
        want.set_dialing();
        self.tasks.push(Dial {
            key: key.clone(),
            want: Rc::downgrade(want),
            future,
            wakers: Arc::new(WakerSet::new()),
        });
    }

    /// Hands the dial started for `from` to `to` (which then holds its slot).
    pub(crate) fn retarget(&mut self, from: &Rc<Want>, to: &Rc<Want>) -> bool {
        let from = Rc::downgrade(from);
        match self.tasks.iter_mut().find(|d| Weak::ptr_eq(&d.want, &from)) {
            Some(d) => {
                d.want = Rc::downgrade(to);
                to.set_dialing();
                true
            }
            None => false,
        }
    }

    /// Takes every task out, to be polled with no borrow held.
    pub(crate) fn take_all(&mut self) -> Vec<DialTask> {
        std::mem::take(&mut self.tasks)
            .into_iter()
            .map(DialTask)
            .collect()
    }

    /// Puts back tasks that are still running (before any started meanwhile).
    pub(crate) fn put_back(&mut self, running: Vec<DialTask>) {
        let started = std::mem::take(&mut self.tasks);
        self.tasks = running.into_iter().map(|t| t.0).collect();
        self.tasks.extend(started);
    }

    /// Removes the dials whose request is gone or was served (`close_idle_connections`: they
    /// would only become idle connections), returning them to be dropped with no borrow held.
    /// A dial for a host where `needs(key)` names a request waiting without a dial of its own
    /// is handed to that request instead.
    pub(crate) fn take_orphans(
        &mut self,
        needs: impl Fn(&Key) -> Option<Rc<Want>>,
    ) -> Vec<(Key, DialTask)> {
        let mut orphans = Vec::new();
        for dial in std::mem::take(&mut self.tasks) {
            let orphaned = dial.want.upgrade().is_none_or(|w| w.is_served());
            match (orphaned, orphaned.then(|| needs(&dial.key)).flatten()) {
                (false, _) => self.tasks.push(dial),
                (true, Some(heir)) => {
                    heir.set_dialing();
                    self.tasks.push(Dial {
                        want: Rc::downgrade(&heir),
                        ..dial
                    });
                }
                (true, None) => orphans.push((dial.key.clone(), DialTask(dial))),
            }
        }
        orphans
    }
}

/// A dial taken out of [`Dials`] to be polled.
pub(crate) struct DialTask(Dial);

impl DialTask {
    /// Polls the dial if it was woken since its last poll (or never polled), registering
    /// `cx`'s task to be woken when it can progress. `Err(task)`: still running.
    pub(crate) fn poll(mut self, cx: &mut Context<'_>) -> Result<Finished, DialTask> {
        let dial = &mut self.0;
        dial.wakers.register(cx.waker());
        if !dial.wakers.take_woken() {
            return Err(self);
        }
        let waker = Waker::from(dial.wakers.clone());
        match dial.future.as_mut().poll(&mut Context::from_waker(&waker)) {
            Poll::Pending => Err(self),
            Poll::Ready(result) => Ok(Finished {
                key: dial.key.clone(),
                want: dial.want.clone(),
                result,
            }),
        }
    }
}

/// The waker a dial is polled with: wakes every task that polled the dial since its last
/// wake-up. `Send + Sync` as `Waker` requires; only ever used on one thread.
struct WakerSet {
    /// Set by a wake-up (and initially: a new dial must be polled once); cleared by the poll
    /// it causes.
    woken: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
}

impl WakerSet {
    fn new() -> Self {
        WakerSet {
            woken: AtomicBool::new(true),
            wakers: Mutex::new(Vec::new()),
        }
    }

    fn register(&self, waker: &Waker) {
        let mut wakers = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    fn take_woken(&self) -> bool {
        self.woken.swap(false, Ordering::AcqRel)
    }
}

impl Wake for WakerSet {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in wakers {
            w.wake();
        }
    }
}

fn dial_error(target: &Target, source: io::Error) -> Error {
    if source.get_ref().is_some_and(|e| e.is::<HandshakeFailed>()) {
        let inner = source.into_inner().map(|e| e.downcast::<HandshakeFailed>());
        let Some(Ok(failed)) = inner else {
            panic!("internal error: a handshake error changed type");
        };
        return Error::Tls {
            target: target.to_string(),
            source: failed.0,
        };
    }
    if source.kind() == io::ErrorKind::NotFound {
        Error::Resolve {
            host: target.host.clone(),
            source,
        }
    } else {
        Error::Connect {
            target: target.to_string(),
            source,
        }
    }
}
