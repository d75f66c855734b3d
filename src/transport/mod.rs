//! The transport layer: `round_trip`, the pool's owner, and everything a request meets
//! between the caller and a connection.
//!
//! - [`builder`]: configuration ([`TransportBuilder`]) and the runtime settings.
//! - [`shared`]: the core every handle, lease and dial shares: pool, waiters, dials.
//! - [`connect`]: how a request gets a connection; [`waiters`]: the per-host queues;
//!   [`dial`]: dials owned by the transport, which outlive their requests.
//! - [`lease`]: a checked-out connection and the exchange in flight on it.
//! - [`response`]: the response body, the rest of the exchange in the caller's hands.
//! - [`upgrade`]: `101 Switching Protocols`, the connection handed to the caller.
//! - `tls` (feature `tls`): trust and client-certificate settings, and the rustls
//!   configuration every `https` connection shares.

use std::fmt;
use std::future::Future;
use std::rc::Rc;

use futures_lite::future::poll_fn;
use http::{HeaderMap, Method, Request, Response};

mod builder;
mod connect;
mod dial;
mod lease;
mod response;
mod shared;
#[cfg(test)]
mod tests;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;
mod waiters;

pub use builder::{
    TransportBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_EXPECT_CONTINUE_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_COLLECT_BYTES, DEFAULT_MAX_IDLE_PER_HOST,
    DEFAULT_MAX_IDLE_TOTAL,
};
pub use response::ResponseBody;
pub use upgrade::{upgrade, Upgraded};

use crate::body::Body;
use crate::codec::request::write_request_head;
use crate::codec::response::ResponseHead;
use crate::conn::exchange::Extras;
use crate::conn::{Exchange, Limits, Resend, WriteTask};
use crate::error::Error;
use crate::informational::OnInformational;
use crate::pool::Pool;
use crate::stats::PoolStats;
use lease::InFlight;
use shared::Shared;

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
}

impl Default for Transport {
    fn default() -> Self {
        Transport::new()
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("config", &self.shared.config)
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
    ///
    /// Dials in progress that no request waits for any more are abandoned too: they would
    /// only have become idle connections.
    pub fn close_idle_connections(&self) {
        self.shared.close_idle();
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
    /// Dropping the returned future at any point closes the connection it was using, and the
    /// pool accounting stays exact. A dial it started goes on (as in Go): its connection goes
    /// to the next request for the host, or to the pool, when the transport is next used.
    pub fn round_trip(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<Response<ResponseBody>, Error>> + '_ {
        self.round_trip_inner(req)
    }

    async fn round_trip_inner(&self, req: Request<Body>) -> Result<Response<ResponseBody>, Error> {
        let (parts, body) = req.into_parts();
        let target = self.shared.key_for(&parts.uri)?;
        let keep_alive = !self.shared.keep_alives_disabled();
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
        let config = &self.shared.config;
        #[cfg(feature = "decompress")]
        let decode = config.decompress && wants_decoding(&parts.method, &parts.headers);
        #[cfg(not(feature = "decompress"))]
        let decode = false;
        let write_head = |head: &mut Vec<u8>| {
            let info = write_head(head)?;
            if decode {
                append_field(head, ACCEPT_ENCODING);
            }
            Ok::<_, Error>(info)
        };
        let mut head = Vec::with_capacity(256);
        let info = write_head(&mut head)?;
        let limits = Limits {
            max_head: config.max_response_head_bytes,
            header_timeout: config.response_header_timeout,
        };
        let replayable = is_replayable(&parts.method, &parts.headers);
        // The rare parts: a lookup in an empty `Extensions` is a null check.
        let on_informational = parts.extensions.get::<OnInformational>().cloned();
        let continue_after = config
            .expect_continue_timeout
            .filter(|_| info.expects_continue);
        let mut body = body;
        loop {
            if head.is_empty() {
                // A resend: the head went to the failed attempt's write task.
                write_head(&mut head)?;
            }
            let lease = connect::connect(&self.shared, &target).await?;
            let reused = lease.info().reused;
            // Keep a copy of the body only when a resend after a partial write is possible:
            // a reused connection and a replayable request with an in-memory body. (A body
            // none of which was written comes back from the write task itself.)
            let copy = (reused && config.retry_stale && replayable)
                .then(|| body.try_clone())
                .flatten();
            let resend = Resend {
                enabled: config.retry_stale,
                replayable: copy.is_some(),
            };
            self.shared.with_pool(Pool::note_request);
            let write = WriteTask::new(std::mem::take(&mut head), body, continue_after.is_some());
            let extras = (info.upgrade || on_informational.is_some() || continue_after.is_some())
                .then(|| {
                    Box::new(Extras {
                        upgrade: info.upgrade,
                        on_informational: on_informational.clone(),
                        continue_after,
                        continue_timer: None,
                    })
                });
            let exchange = Exchange::new(write, limits, &parts.method, info.wants_close, extras);
            // Boxed once, here: the body keeps this box (the exchange is large, and each move
            // of it was a copy).
            let mut in_flight = Box::new(InFlight::new(lease, exchange, resend));
            let error = match poll_fn(|cx| in_flight.poll_head(cx)).await {
                Ok(resp_head) => return Ok(self.make_response(in_flight, resp_head, decode)),
                Err(e) => e,
            };
            let fate = in_flight.finish();
            body = match fate.resend {
                true => in_flight.take_unsent_body().or(copy).unwrap_or_else(|| {
                    panic!("internal error: a resend was allowed without a body to send")
                }),
                false => return Err(error),
            };
            self.shared.with_pool(Pool::note_retry);
        }
    }

    /// Builds the response from its head; a bodiless response releases the connection (to the
    /// pool, when clean) before it is returned.
    ///
    /// `decode`: the transport asked for compression; a body in a coding it decodes is then
    /// decoded (a bodiless response keeps its headers: they describe the representation).
    fn make_response(
        &self,
        mut in_flight: Box<InFlight>,
        head: ResponseHead,
        decode: bool,
    ) -> Response<ResponseBody> {
        // A body held for a `100 Continue` that a final response overtook goes back.
        let unsent = in_flight.take_held_body();
        // Complete already (no body, or all of it came with the head). One that failed behind
        // the head goes through the body, whose first read reports the error. A `101` hands
        // its connection over, when the verdict says so.
        let mut body = if in_flight.exchange().is_done() {
            let info = in_flight.info();
            let upgraded = in_flight.finish_or_hand_over();
            ResponseBody::bodiless(info, upgraded)
        } else {
            ResponseBody::streaming(in_flight, self.shared.config.max_collect_bytes)
        };
        if let Some(unsent) = unsent {
            body.set_unsent_body(unsent);
        }
        let mut response = Response::new(body);
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        #[cfg(feature = "decompress")]
        if decode && !response.body().is_end_stream() {
            start_decoding(&mut response);
        }
        #[cfg(not(feature = "decompress"))]
        let _ = decode;
        response
    }
}

/// The field the transport adds to ask for compressed bodies.
#[cfg_attr(not(feature = "decompress"), allow(dead_code))]
const ACCEPT_ENCODING: &[u8] = b"accept-encoding: gzip, deflate\r\n";

/// Go's rule for asking for compression itself: the caller did not set `Accept-Encoding`,
/// did not ask for a `Range` (ranges of an encoded representation are not ranges of the
/// decoded one), and the method is not HEAD (no body to decode).
#[cfg(feature = "decompress")]
fn wants_decoding(method: &Method, headers: &HeaderMap) -> bool {
    *method != Method::HEAD
        && !headers.contains_key(http::header::ACCEPT_ENCODING)
        && !headers.contains_key(http::header::RANGE)
}

/// Decodes the body if `Content-Encoding` names one coding the transport decodes: then that
/// header and `Content-Length` (the encoded length) are removed and the response is marked
/// [`Decompressed`](crate::Decompressed). A response without `Content-Encoding` costs one
/// header lookup here.
#[cfg(feature = "decompress")]
fn start_decoding(response: &mut Response<ResponseBody>) {
    use crate::decompress::{ContentEncoding, Decompressed};
    let headers = response.headers_mut();
    let mut values = headers.get_all(http::header::CONTENT_ENCODING).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return;
    };
    let Some(encoding) = ContentEncoding::from_field(value.as_bytes()) else {
        return;
    };
    headers.remove(http::header::CONTENT_ENCODING);
    headers.remove(http::header::CONTENT_LENGTH);
    response.body_mut().decode(encoding);
    response.extensions_mut().insert(Decompressed(encoding));
}

/// Adds `field` (a complete `name: value\r\n` line) to a request head the codec wrote, before
/// its final empty line.
#[cfg_attr(not(feature = "decompress"), allow(dead_code))]
fn append_field(head: &mut Vec<u8>, field: &[u8]) {
    if !head.ends_with(b"\r\n\r\n") {
        panic!("internal error: a request head that does not end in an empty line");
    }
    head.truncate(head.len() - 2);
    head.extend_from_slice(field);
    head.extend_from_slice(b"\r\n");
}

/// Go's `isReplayable`: safe methods, or an idempotency key.
fn is_replayable(method: &Method, headers: &HeaderMap) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) || headers.contains_key("idempotency-key")
        || headers.contains_key("x-idempotency-key")
}
