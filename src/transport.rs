//! The transport: `round_trip` and the user-facing configuration.

use std::fmt;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use futures_lite::future::{poll_fn, FutureExt};
use http::{Method, Request, Response};

use crate::body::Body;
use crate::close::CloseReason;
use crate::codec::request::{write_request_head, Target};
use crate::codec::response::{response_framing, Framing, ResponseHead, DEFAULT_MAX_HEAD_BYTES};
use crate::conn::Conn;
use crate::error::Error;
use crate::exchange::Exchange;
use crate::lease::{Key, Lease, Shared, Turn};
use crate::net::{sleep, TcpStream};
use crate::pool::{Pool, PoolConfig};
use crate::response::ResponseBody;
use crate::stats::{ConnectionInfo, PoolStats};
use crate::write::WriteTask;

/// Default `max_idle_per_host`. Go's default of 2 makes any burst of more than two concurrent
/// requests to one host dial, then close, the extra connections every time (churn and
/// TIME_WAIT build-up, golang/go#13801). A component usually talks to few hosts, so keeping
/// up to 64 warm per host costs little (an idle connection holds ~8 KiB of buffer).
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 64;
/// Default `max_idle_total`, across all hosts.
pub const DEFAULT_MAX_IDLE_TOTAL: usize = 256;
/// Default `idle_timeout` (Go and hyper use 90 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures a [`Transport`].
///
/// ```
/// use std::time::Duration;
/// let transport = roundtrip::Transport::builder()
///     .max_idle_per_host(8)
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .response_header_timeout(Some(Duration::from_secs(10)))
///     .build();
/// assert_eq!(transport.stats().dials, 0);
/// ```
#[derive(Clone, Debug)]
pub struct TransportBuilder {
    pool: PoolConfig,
    connect_timeout: Option<Duration>,
    response_header_timeout: Option<Duration>,
    max_response_head_bytes: usize,
    retry_stale: bool,
}

impl Default for TransportBuilder {
    fn default() -> Self {
        TransportBuilder {
            pool: PoolConfig {
                max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
                max_idle_total: DEFAULT_MAX_IDLE_TOTAL,
                idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                disable_keep_alives: false,
                max_conns_per_host: None,
            },
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            response_header_timeout: None,
            max_response_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            retry_stale: true,
        }
    }
}

impl TransportBuilder {
    /// Idle connections kept per `(scheme, host, port)`; 0 disables pooling. Default
    /// [`DEFAULT_MAX_IDLE_PER_HOST`].
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.pool.max_idle_per_host = n;
        self
    }

    /// Idle connections kept across all hosts; over it, the one idle longest is closed.
    /// Default [`DEFAULT_MAX_IDLE_TOTAL`].
    pub fn max_idle_total(mut self, n: usize) -> Self {
        self.pool.max_idle_total = n;
        self
    }

    /// How long a connection may sit idle before it is closed instead of reused; `None`: no
    /// limit. Expiry is checked whenever the transport is used (there is no background task);
    /// [`Transport::prune_idle`] closes expired connections on demand. Default 90 s.
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.pool.idle_timeout = t;
        self
    }

    /// Limit on connections per `(scheme, host, port)`, counting those being dialed, in use
    /// and idle; `None` (the default): no limit. Requests over the limit wait in FIFO order
    /// for a connection to come back to the pool or for a slot to free up (see
    /// [`PoolStats::waiting`]). Dropping a waiting request leaves the queue.
    ///
    /// As with any FIFO queue (tokio's `Semaphore` too), a request future that was woken for
    /// its turn holds that turn until it is polled or dropped: a future kept aside unpolled
    /// (say, the loser of a `select`) makes later requests to the host wait behind it. Drop
    /// round-trip futures you stop polling.
    pub fn max_conns_per_host(mut self, n: Option<usize>) -> Self {
        self.pool.max_conns_per_host = n.map(|n| n.max(1));
        self
    }

    /// Send `Connection: close` on every request and never pool. Default false.
    pub fn disable_keep_alives(mut self, yes: bool) -> Self {
        self.pool.disable_keep_alives = yes;
        self
    }

    /// Limit on establishing a connection (name lookup plus TCP connect). Default 30 s.
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Limit on waiting for the response head once the request is fully written. Default:
    /// none.
    pub fn response_header_timeout(mut self, t: Option<Duration>) -> Self {
        self.response_header_timeout = t;
        self
    }

    /// Limit on the size of a response head (status line and headers), interim `1xx` heads
    /// included. Clamped to 64 B ..= 1 GiB. Default
    /// [`DEFAULT_MAX_HEAD_BYTES`](crate::codec::response::DEFAULT_MAX_HEAD_BYTES).
    pub fn max_response_head_bytes(mut self, n: usize) -> Self {
        self.max_response_head_bytes = n.clamp(64, 1 << 30);
        self
    }

    /// Retry a replayable request (GET, HEAD, OPTIONS, TRACE, or any method with an
    /// `Idempotency-Key` / `X-Idempotency-Key` header, with an in-memory body) once per
    /// reused connection that fails before any response byte arrives: the server closed it
    /// while it was idle. A freshly dialed connection is never retried. Default true.
    pub fn retry_stale_connections(mut self, yes: bool) -> Self {
        self.retry_stale = yes;
        self
    }

    /// Builds the transport.
    pub fn build(self) -> Transport {
        Transport {
            shared: Rc::new(Shared::new(self.pool.clone())),
            config: Rc::new(self),
        }
    }
}

/// A pooled HTTP/1.1 client transport.
///
/// Cloning is cheap and shares the pool. Single-threaded (`!Send`); no task is spawned: each
/// connection's read and write work runs inside the futures and bodies this transport hands
/// out, whenever the caller polls them, under any executor (on wasm32-wasip2, under
/// [`crate::net::block_on`]).
///
/// ```no_run
/// # roundtrip::net::block_on(async {
/// let transport = roundtrip::Transport::new();
/// let request = http::Request::get("http://127.0.0.1:8080/").body(roundtrip::Body::empty())?;
/// let mut response = transport.round_trip(request).await?;
/// println!("{} {}", response.status(), response.body_mut().text().await?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// ```
#[derive(Clone)]
pub struct Transport {
    shared: Rc<Shared>,
    config: Rc<TransportBuilder>,
}

impl Default for Transport {
    fn default() -> Self {
        Transport::new()
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Transport {
    /// A transport with the default configuration.
    pub fn new() -> Transport {
        TransportBuilder::default().build()
    }

    /// A builder for a configured transport.
    pub fn builder() -> TransportBuilder {
        TransportBuilder::default()
    }

    /// A snapshot of the pool statistics.
    pub fn stats(&self) -> PoolStats {
        self.shared.stats()
    }

    /// Closes every idle connection. Connections in use are not touched, but ones that finish
    /// before the next request starts are closed too instead of pooled (as in Go).
    pub fn close_idle_connections(&self) {
        self.shared
            .with_pool(|pool| pool.close_idle(CloseReason::CloseIdleConnections));
    }

    /// Closes idle connections whose idle timeout has passed, now.
    pub fn prune_idle(&self) {
        self.shared
            .with_pool(|pool| pool.prune(std::time::Instant::now()));
    }

    /// Sends a GET for `uri` (a convenience over [`Transport::round_trip`]).
    pub async fn get(&self, uri: &str) -> Result<Response<ResponseBody>, Error> {
        let uri: http::Uri = uri
            .parse()
            .map_err(|_| Error::Request(crate::error::RequestError::InvalidUri))?;
        let mut req = Request::new(Body::empty());
        *req.uri_mut() = uri;
        self.round_trip(req).await
    }

    /// Sends one request and returns its response, or the error that prevented it.
    ///
    /// The request is checked first (scheme, host, header bytes); an invalid one fails with
    /// [`Error::Request`] before anything is dialed. Then a pooled connection to the target is
    /// reused (most recently used first, after a non-blocking check that the server has not
    /// closed it) or a new one is dialed, the request is written and the response head read.
    /// The body streams; see [`ResponseBody`].
    ///
    /// Dropping the returned future at any point closes the connection it was using; nothing
    /// is left running and the pool accounting stays exact.
    pub fn round_trip(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<Response<ResponseBody>, Error>> + '_ {
        self.round_trip_inner(req)
    }

    async fn round_trip_inner(&self, req: Request<Body>) -> Result<Response<ResponseBody>, Error> {
        let (parts, body) = req.into_parts();
        let target = self.shared.key_for(&parts.uri)?;
        let keep_alive = !self.config.pool.disable_keep_alives;
        let framing = body.framing();
        let write_head = |head: &mut Vec<u8>| {
            write_request_head(
                &parts.method,
                &parts.uri,
                parts.version,
                &parts.headers,
                framing,
                keep_alive,
                head,
            )
        };
        let mut head = Vec::with_capacity(256);
        let info = write_head(&mut head)?;
        let replayable = is_replayable(&parts.method, &parts.headers);
        let mut body = Some(body);
        loop {
            if head.is_empty() {
                // A retry: the head went to the failed attempt's write task.
                write_head(&mut head)?;
            }
            let lease = self.connect(&target).await?;
            let reused = lease.is_reused();
            let this_body = body
                .take()
                .unwrap_or_else(|| panic!("internal error: request body consumed twice"));
            // Keep a copy of the body only when a retry is possible: on a reused connection,
            // with a body that can be sent again. (The head is written again for a retry, the
            // rare path, rather than copied for every request.)
            let retry_body = if reused && self.config.retry_stale {
                this_body.try_clone()
            } else {
                None
            };
            self.shared.with_pool(Pool::note_request);
            let mut exchange = Exchange::new(
                lease,
                WriteTask::new(std::mem::take(&mut head), this_body),
                self.config.max_response_head_bytes,
                self.config.response_header_timeout,
            );
            match poll_fn(|cx| exchange.poll_head(cx)).await {
                Ok(resp_head) => {
                    return Self::make_response(
                        exchange,
                        &parts.method,
                        info.wants_close,
                        resp_head,
                    );
                }
                Err(e) => {
                    // Go's rule: a request the server answered no byte of may be sent again
                    // if it is replayable (safe method or idempotency key), or if no byte of
                    // it was written (the server cannot have acted on it), whatever the method.
                    let retryable = exchange.nothing_received()
                        && (replayable || !exchange.write.wrote_any)
                        && !matches!(
                            e,
                            Error::RequestBody { .. } | Error::ResponseHeaderTimeout { .. }
                        );
                    match retry_body {
                        Some(b) if retryable => {
                            // The server closed the connection while it sat idle and the
                            // probe could not tell yet: that, not a network fault, is why it
                            // goes.
                            exchange.lease.poison(CloseReason::ServerClosedIdle);
                            drop(exchange);
                            self.shared.with_pool(Pool::note_retry);
                            body = Some(b);
                        }
                        _ => return Err(e),
                    }
                }
            }
        }
    }

    /// A pooled connection to `target`, or a new one; at `max_conns_per_host`, waits in FIFO
    /// order for whichever comes first: a connection returned to the pool, or a free slot.
    async fn connect(&self, target: &Key) -> Result<Lease, Error> {
        let mut turn: Option<Turn> = None;
        let reservation = loop {
            // A new request queues behind waiting ones; a waiter that was woken tries.
            if turn.is_some() || !self.shared.has_waiters(target) {
                if let Some(lease) = self.shared.checkout(target) {
                    return Ok(lease);
                }
                if let Some(r) = self.shared.reserve(target) {
                    break r;
                }
            }
            turn.get_or_insert_with(|| self.shared.enqueue(target))
                .wait()
                .await;
        };
        drop(turn);
        let connect = async {
            TcpStream::connect(&target.host, target.port)
                .await
                .map_err(|source| dial_error(target, source))
        };
        let result = match self.config.connect_timeout {
            None => connect.await,
            Some(after) => {
                connect
                    .or(async {
                        sleep(after).await;
                        Err(Error::ConnectTimeout {
                            target: target.to_string(),
                            after,
                        })
                    })
                    .await
            }
        };
        match result {
            Ok(io) => Ok(reservation.dialed(Conn::new(io, self.shared.next_id()))),
            Err(e) => {
                reservation.failed();
                Err(e)
            }
        }
    }

    /// Builds the response from its head; a bodyless response releases the connection (to the
    /// pool, when clean) before it is returned.
    fn make_response(
        exchange: Exchange,
        method: &Method,
        request_wants_close: bool,
        head: ResponseHead,
    ) -> Result<Response<ResponseBody>, Error> {
        let framing = match response_framing(method, request_wants_close, &head) {
            Ok(f) => f,
            Err(e) => {
                exchange.lease.release(Some(CloseReason::ProtocolError));
                return Err(e.into());
            }
        };
        let body = if framing.framing == Framing::Empty {
            let info = ConnectionInfo {
                id: exchange.lease.conn_id(),
                reused: exchange.lease.is_reused(),
            };
            let verdict = framing
                .close
                .or_else(|| (!exchange.write_ok()).then_some(CloseReason::EarlyResponse));
            exchange.lease.release(verdict);
            ResponseBody::bodiless(info)
        } else {
            ResponseBody::streaming(exchange, framing.framing, framing.close)
        };
        let mut response = Response::new(body);
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        Ok(response)
    }
}

/// Go's `isReplayable`: safe methods, or an idempotency key.
fn is_replayable(method: &Method, headers: &http::HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}

fn dial_error(target: &Target, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::NotFound {
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
