//! The connection layer: one HTTP/1.1 connection and the exchanges that run over it.
//!
//! - [`stream`]: the seam, a byte stream with what a pooled client needs beyond
//!   `AsyncRead`/`AsyncWrite` (the idle probe, flush without waiting and with it, the
//!   read-readiness hint, half-close, addresses). TCP implements it; TLS and proxy tunnels will.
//! - [`connection`]: a [`Conn`], the stream and its read buffer, and the idle probe.
//! - [`exchange`] and `read_body`: one request/response on a connection, its read and write
//!   tasks in one state enum each, and [`Exchange::fate`], the one verdict on the connection.
//! - [`write`]: the write task (which can hold the body for a `100 Continue`).
//! - `scripted` (tests only): an in-memory [`Stream`] that plays a server's bytes
//!   deterministically, for byte-exact unit tests of everything above it.
//!
//! Nothing here knows about the pool: an exchange takes the connection by reference, and its
//! owner (the transport's lease) acts on the verdict.

pub(crate) mod connection;
pub(crate) mod exchange;
mod read_body;
#[cfg(test)]
pub(crate) mod scripted;
pub(crate) mod stream;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod write;

pub(crate) use connection::Conn;
pub(crate) use exchange::{Exchange, Fate, Limits, Resend};
pub(crate) use stream::Io;
pub(crate) use write::WriteTask;

#[cfg(test)]
mod tests;
