//! Sans-IO HTTP/1.1 codec: no async, no sockets, no clocks.
//!
//! Everything here works on byte slices and plain values so that it can be tested byte-exactly,
//! with input split at every position, on any target (including wasm32-unknown-unknown).
//!
//! - [`request`]: validates a request and writes its head (request line and headers), plus the
//!   chunked-encoding frames for streamed bodies; [`request::Target`] is the pool key.
//! - [`response`]: parses a response head with httparse and decides its body framing and whether
//!   the connection may be reused (RFC 9112 §6.3, §9.3).
//! - [`body`]: the incremental, zero-copy body decoder (Content-Length, chunked with trailers,
//!   close-delimited).
//! - [`limits`]: every size limit the codec enforces.
//! - [`error`]: [`error::RequestError`] (the caller's mistakes, detected before anything is
//!   sent) and [`error::ProtocolError`] (the server's).
//!
//! Private helpers: `chunked` (the chunked-coding state machine behind [`body`]) and `fields`
//! (token, field-value and list syntax shared by both directions).

pub mod body;
mod chunked;
pub mod error;
mod fields;
pub mod limits;
pub mod request;
pub mod response;
