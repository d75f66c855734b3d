//! `101 Switching Protocols`: the connection, handed to the caller as a byte stream.
//!
//! A request that asks to switch (`Connection: upgrade` and an `Upgrade` field, e.g. a
//! WebSocket handshake) and gets a `101` ends its exchange with the verdict `Upgraded`: the
//! lease hands the connection to the response body instead of closing it, and the pool counts
//! it as closed (`CloseReason::Upgraded`; it never comes back). [`upgrade`] takes it from the
//! response; dropping the response without calling it closes the connection.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use http::{Response, StatusCode};

use super::response::ResponseBody;
use crate::conn::stream::Stream;
use crate::conn::Conn;
use crate::error::Error;

/// Takes the connection of a `101 Switching Protocols` response, as a byte stream in the new
/// protocol (Go's `Response.Body` as an `io.ReadWriteCloser` after a 101; hyper's
/// `upgrade::on`).
///
/// The request must have asked for the switch (`Connection: upgrade` and an `Upgrade` field);
/// a `101` to one that did not fails the round trip with
/// [`ProtocolError::UnrequestedUpgrade`](crate::ProtocolError::UnrequestedUpgrade).
/// [`Error::NotUpgraded`] when the response is not a `101`, when its connection was already
/// taken, or when the `101` came while the request body was still being sent (the connection
/// was closed: it cannot be handed over mid-request).
///
/// ```no_run
/// use futures_lite::{AsyncReadExt, AsyncWriteExt};
/// # roundtrip::net::block_on(async {
/// # let transport = roundtrip::Transport::new();
/// let request = http::Request::get("http://127.0.0.1:8080/chat")
///     .header("connection", "upgrade")
///     .header("upgrade", "websocket")
///     .body(roundtrip::Body::empty())?;
/// let mut response = transport.round_trip(request).await?;
/// let mut stream = roundtrip::upgrade(&mut response)?;
/// stream.write_all(b"hello").await?;
/// let mut buf = [0; 5];
/// stream.read_exact(&mut buf).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # });
/// ```
pub fn upgrade(response: &mut Response<ResponseBody>) -> Result<Upgraded, Error> {
    let status = response.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        return Err(Error::NotUpgraded { status });
    }
    let conn = response
        .body_mut()
        .take_upgraded()
        .ok_or(Error::NotUpgraded { status })?;
    Ok(Upgraded {
        conn,
        shut_down: false,
    })
}

/// An upgraded connection: the byte stream after a `101 Switching Protocols`, as futures-io
/// [`AsyncRead`] and [`AsyncWrite`] (the traits futures-lite re-exports; tokio users wrap it
/// with `tokio-util`'s `compat`). Reads first return the bytes the server sent right behind
/// the `101` that were already buffered, then read the connection. `poll_close` flushes and
/// half-closes (for TLS, sends `close_notify`); dropping it closes the connection.
///
/// Single-threaded like the transport (`!Send`); it no longer belongs to the transport and
/// needs none of its polling.
pub struct Upgraded {
    /// The connection, with what the server sent after the 101 in its buffer.
    conn: Conn,
    /// `poll_close` has half-closed the stream. Written only by `poll_close`.
    shut_down: bool,
}

impl AsyncRead for Upgraded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let conn = &mut self.get_mut().conn;
        let buffered = conn.buffered();
        if !buffered.is_empty() {
            let n = buffered.len().min(buf.len());
            buf[..n].copy_from_slice(&buffered[..n]);
            conn.consume(n);
            return Poll::Ready(Ok(n));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        conn.io().poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.get_mut().conn.io().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().conn.io().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.conn.io().poll_flush(cx))?;
        if !this.shut_down {
            this.conn.io().shutdown_write()?;
            this.shut_down = true;
        }
        // What half-closing queued (a TLS close_notify) goes out too.
        this.conn.io().poll_flush(cx)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("connection", &self.conn.id())
            .field("buffered", &self.conn.buffered().len())
            .finish()
    }
}
