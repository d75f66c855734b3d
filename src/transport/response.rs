//! Response bodies: the rest of an exchange, owned by the caller.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_io::AsyncRead;
use futures_lite::future::poll_fn;
use http::HeaderMap;

use super::builder::DEFAULT_MAX_COLLECT_BYTES;
use super::lease::InFlight;
use crate::body::Body;
use crate::conn::Conn;
use crate::error::Error;
use crate::stats::ConnectionInfo;

/// The body of a response.
///
/// Read it as a futures-io [`AsyncRead`], or collect it with [`ResponseBody::bytes`] /
/// [`ResponseBody::text`] (up to the transport's `max_collect_bytes`). Reading it to the end
/// returns its connection to the pool **before** the read that reports the end (or that
/// delivers the last bytes, when the end is already buffered) returns, so the next request
/// reuses it. Dropping it early closes the connection, unless the rest of the body is already
/// buffered, in which case it is pooled.
///
/// Chunked trailers are available from [`ResponseBody::trailers`] once the body was read to
/// the end.
///
/// If the server answered before the request body was fully sent, the rest of the request body
/// is sent while this body is read: nothing runs in the background, so a caller that waits for
/// something else before reading (for example for its own request-body producer) stalls the
/// upload too. Read the body, or drop it.
pub struct ResponseBody {
    state: State,
    /// Which connection served the response; `None` for [`ResponseBody::empty`]. Set once at
    /// construction.
    connection: Option<ConnectionInfo>,
    /// The most `bytes` and `text` collect (decoded bytes, when decoding). Set once at
    /// construction.
    collect_limit: usize,
    /// What few responses carry: `None` for most (boxed, so the body stays small).
    rare: Option<Box<Rare>>,
}

/// A response's rare parts, each taken at most once by the caller.
#[derive(Default)]
struct Rare {
    /// The request body, not sent: a final response overtook the `100 Continue` it waited
    /// for. Set by the transport; taken by [`ResponseBody::take_unsent_body`].
    unsent: Option<Body>,
    /// The connection of a `101 Switching Protocols`, already out of the pool's accounting
    /// (closed as `Upgraded`). Taken by [`crate::upgrade`].
    upgraded: Option<Conn>,
    /// The content decoder, for a body the transport decodes (feature `decompress`). Set
    /// when the response is made; dropped when the decoded body ends or fails. While it is
    /// `Some`, `ResponseBody::state` is its source of compressed bytes.
    #[cfg(feature = "decompress")]
    decoding: Option<crate::decompress::Decoding>,
}

enum State {
    /// The body is complete (or was empty); the connection is already released.
    Done { trailers: Option<HeaderMap> },
    /// Reading from the connection.
    Streaming(Box<InFlight>),
    /// An error ended the body; its connection was closed. Holds the error until a read
    /// reports it (an error found ahead of the caller); reads after that get
    /// [`Error::BodyAlreadyFailed`].
    Failed(Option<Error>),
}

impl ResponseBody {
    /// A body with nothing to read, for a response served by `connection`; `upgraded`: the
    /// connection, handed over after a `101`.
    pub(crate) fn bodiless(connection: ConnectionInfo, upgraded: Option<Conn>) -> ResponseBody {
        ResponseBody {
            state: State::Done { trailers: None },
            connection: Some(connection),
            collect_limit: DEFAULT_MAX_COLLECT_BYTES,
            rare: upgraded.map(|conn| {
                Box::new(Rare {
                    upgraded: Some(conn),
                    ..Rare::default()
                })
            }),
        }
    }

    /// Keeps the request body that was not sent, for [`ResponseBody::take_unsent_body`].
    pub(crate) fn set_unsent_body(&mut self, body: Body) {
        self.rare.get_or_insert_with(Box::default).unsent = Some(body);
    }

    /// The request body, if it was not sent: the request said `Expect: 100-continue` and the
    /// server answered with a final response (a `417`, `401`, `413`, …) before its `100
    /// Continue`. Nothing of the body was read or sent, so a streamed one can be sent again
    /// as it is (say, with credentials the `401` asked for). `None` when the body was sent,
    /// or already taken.
    pub fn take_unsent_body(&mut self) -> Option<Body> {
        self.rare.as_mut()?.unsent.take()
    }

    /// The connection a `101` handed over, once.
    pub(crate) fn take_upgraded(&mut self) -> Option<Conn> {
        self.rare.as_mut()?.upgraded.take()
    }

    /// The body of a response whose exchange is still reading it.
    pub(crate) fn streaming(in_flight: Box<InFlight>, collect_limit: usize) -> ResponseBody {
        let mut body = ResponseBody {
            connection: Some(in_flight.info()),
            state: State::Streaming(in_flight),
            collect_limit,
            rare: None,
        };
        // The whole body, or a framing error, may have arrived with the head.
        body.state.settle();
        body
    }

    /// Decode this body from `encoding` as it is read.
    #[cfg(feature = "decompress")]
    pub(crate) fn decode(&mut self, encoding: crate::decompress::ContentEncoding) {
        self.rare.get_or_insert_with(Box::default).decoding =
            Some(crate::decompress::Decoding::new(encoding));
    }

    /// Whether the body is being decoded.
    #[cfg(feature = "decompress")]
    fn is_decoding(&self) -> bool {
        self.rare
            .as_ref()
            .is_some_and(|rare| rare.decoding.is_some())
    }

    /// The decoded body ended, or failed: the decoder goes.
    #[cfg(feature = "decompress")]
    fn stop_decoding(&mut self) {
        if let Some(rare) = &mut self.rare {
            rare.decoding = None;
        }
    }

    /// An empty body.
    pub fn empty() -> ResponseBody {
        ResponseBody {
            state: State::Done { trailers: None },
            connection: None,
            collect_limit: DEFAULT_MAX_COLLECT_BYTES,
            rare: None,
        }
    }

    /// Which connection served the response: its id and whether it was reused from the
    /// idle pool. `None` only for a body made with [`ResponseBody::empty`].
    ///
    /// It lives here rather than in the response's extensions because inserting into
    /// `http::Extensions` costs three allocations per response.
    ///
    /// ```no_run
    /// # roundtrip::net::block_on(async {
    /// # let transport = roundtrip::Transport::new();
    /// let response = transport.get("http://127.0.0.1:8080/").await?;
    /// let info = response.body().connection().unwrap();
    /// println!("connection {} (reused: {})", info.id, info.reused);
    /// # Ok::<(), roundtrip::Error>(())
    /// # });
    /// ```
    pub fn connection(&self) -> Option<ConnectionInfo> {
        self.connection
    }

    /// Whether the body has been read to its end (its connection is released).
    pub fn is_end_stream(&self) -> bool {
        #[cfg(feature = "decompress")]
        if self.is_decoding() {
            return false;
        }
        matches!(self.state, State::Done { .. })
    }

    /// Chunked trailers, once the body was read to the end (`None` before, or if there were
    /// none).
    pub fn trailers(&self) -> Option<&HeaderMap> {
        match &self.state {
            State::Done { trailers } => trailers.as_ref(),
            _ => None,
        }
    }

    /// Reads the rest of the body into memory, up to the transport's `max_collect_bytes`
    /// (default 16 MiB); past it, [`Error::BodyTooLarge`] and the connection is closed.
    pub async fn bytes(&mut self) -> Result<Bytes, Error> {
        self.bytes_limited(self.collect_limit).await
    }

    /// [`ResponseBody::bytes`] with a limit of `limit` bytes instead of the transport's.
    ///
    /// ```no_run
    /// # roundtrip::net::block_on(async {
    /// # let transport = roundtrip::Transport::new();
    /// let mut response = transport.get("http://127.0.0.1:8080/big").await?;
    /// match response.body_mut().bytes_limited(1024).await {
    ///     Ok(body) => println!("{} bytes", body.len()),
    ///     Err(roundtrip::Error::BodyTooLarge { limit }) => println!("over {limit} bytes"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), roundtrip::Error>(())
    /// # });
    /// ```
    pub async fn bytes_limited(&mut self, limit: usize) -> Result<Bytes, Error> {
        let mut out = Vec::new();
        loop {
            // Done (the connection already went back with the last bytes): no need for a
            // read that reports the end.
            if self.is_end_stream() {
                return Ok(out.into());
            }
            // Read straight into `out`, sized by what is known to come (the rest of a
            // Content-Length body) and by the limit plus one byte, which tells "too long".
            let start = out.len();
            let room = limit.saturating_sub(start).saturating_add(1);
            out.resize(start + self.read_size_hint().min(room), 0);
            let n = poll_fn(|cx| self.poll_read_body(cx, &mut out[start..])).await;
            out.truncate(start + *n.as_ref().unwrap_or(&0));
            if n? == 0 {
                return Ok(out.into());
            }
            if out.len() > limit {
                // Closes the connection: the rest of the body is not read.
                self.state = State::Failed(None);
                #[cfg(feature = "decompress")]
                self.stop_decoding();
                return Err(Error::BodyTooLarge { limit });
            }
        }
    }

    fn read_size_hint(&self) -> usize {
        // The decoded size is unknown.
        #[cfg(feature = "decompress")]
        if self.is_decoding() {
            return 16 * 1024;
        }
        match &self.state {
            State::Streaming(s) => s.read_size_hint(),
            _ => 1,
        }
    }

    /// Reads the rest of the body as text (invalid UTF-8 is replaced with U+FFFD), within the
    /// same limit as [`ResponseBody::bytes`].
    pub async fn text(&mut self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(match String::from_utf8(bytes.into()) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads body bytes into `buf`; `Ok(0)` at the end. The typed form of `AsyncRead`.
    pub fn poll_read_body(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Error>> {
        #[cfg(feature = "decompress")]
        if let Some(decoding) = self.rare.as_mut().and_then(|rare| rare.decoding.as_mut()) {
            let state = &mut self.state;
            let result = std::task::ready!(
                decoding.poll_read(cx, buf, |cx, raw| { state.poll_read(cx, raw) })
            );
            return Poll::Ready(match result {
                Ok(0) => {
                    self.stop_decoding();
                    Ok(0)
                }
                Ok(n) => Ok(n),
                // The source's own errors already ended the exchange.
                Err(e @ Error::Decompress { .. }) => {
                    self.stop_decoding();
                    Err(self.state.fail_content(e))
                }
                Err(e) => {
                    self.stop_decoding();
                    Err(e)
                }
            });
        }
        self.state.poll_read(cx, buf)
    }
}

impl State {
    /// Reads the body's bytes as they come off the connection (before any decoding).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Error>> {
        let in_flight = match self {
            State::Done { .. } => return Poll::Ready(Ok(0)),
            State::Failed(e) => {
                return Poll::Ready(Err(e.take().unwrap_or(Error::BodyAlreadyFailed)))
            }
            State::Streaming(s) => s,
        };
        let result = in_flight.poll_read_body(cx, buf);
        self.settle();
        result
    }

    /// The content decoder failed with `e`: the body ends with it. If the exchange was still
    /// reading the body, it fails and its verdict closes the connection; if it was complete,
    /// its connection was already released, clean.
    #[cfg(feature = "decompress")]
    fn fail_content(&mut self, e: Error) -> Error {
        let e = match self {
            State::Streaming(in_flight) => {
                let e = in_flight.fail_content(e);
                self.settle();
                e
            }
            _ => e,
        };
        if matches!(self, State::Done { .. }) {
            *self = State::Failed(None);
        }
        e
    }

    /// If the exchange is over, release its connection now (pooled when clean) and record
    /// how the body ended.
    fn settle(&mut self) {
        let State::Streaming(in_flight) = self else {
            return;
        };
        if !in_flight.is_over() {
            return;
        }
        let trailers = in_flight.take_trailers();
        let unreported = in_flight.take_unreported_error();
        let failed = in_flight.exchange().is_failed();
        in_flight.finish();
        *self = if failed {
            State::Failed(unreported)
        } else {
            State::Done { trailers }
        };
    }
}

impl AsyncRead for ResponseBody {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_read_body(cx, buf)
            .map_err(Error::into_io)
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            #[cfg(feature = "decompress")]
            _ if self.is_decoding() => "decoding",
            State::Done { .. } => "done",
            State::Streaming(_) => "streaming",
            State::Failed(_) => "failed",
        };
        f.debug_struct("ResponseBody")
            .field("state", &state)
            .field("connection", &self.connection)
            .finish()
    }
}
