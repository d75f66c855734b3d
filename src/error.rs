//! The one error type of roundtrip.

use std::io;
use std::time::Duration;

pub use crate::codec::error::{Excerpt, ProtocolError, RequestError};

/// Where in a round trip an error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Checking the request before anything was sent (or dialed).
    Request,
    /// Resolving the host name.
    Resolve,
    /// Establishing the TCP connection.
    Connect,
    /// The TLS handshake (`https`).
    Tls,
    /// Writing the request head or body.
    Write,
    /// Waiting for and reading the response head.
    ReadHead,
    /// Reading the response body.
    ReadBody,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Request => "invalid request",
            Phase::Resolve => "resolve",
            Phase::Connect => "connect",
            Phase::Tls => "TLS handshake",
            Phase::Write => "write request",
            Phase::ReadHead => "read response head",
            Phase::ReadBody => "read response body",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a round trip or a response body read failed.
///
/// The `Display` text names the phase and what went wrong; [`Error::phase`] and the `is_*`
/// predicates classify it; `source()` gives the underlying I/O or protocol error. Bad input from
/// the caller ([`Error::Request`]) is reported before anything is dialed or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request cannot be sent as given; nothing was dialed or sent.
    #[error("invalid request: {0}")]
    Request(#[from] RequestError),
    /// The host name did not resolve.
    #[error("resolve {host}: {source}")]
    Resolve {
        /// The name that was looked up.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// The TCP connection could not be established.
    #[error("connect to {target}: {source}")]
    Connect {
        /// `scheme://host:port` that was dialed.
        target: String,
        /// What the socket layer said.
        source: io::Error,
    },
    /// Connecting took longer than the transport's `connect_timeout`.
    #[error("connect to {target}: timed out after {after:?}")]
    ConnectTimeout {
        /// `scheme://host:port` that was dialed.
        target: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The TLS handshake failed: the server's certificate was not trusted (unknown issuer,
    /// not valid for the name, expired, bad signature), the server sent an alert, no common
    /// protocol version, or it chose an application protocol other than `http/1.1`. The
    /// source says which; [`Error::tls_error`] gives rustls's error itself.
    #[error("TLS handshake with {target}: {source}")]
    Tls {
        /// `https://host:port` that was dialed.
        target: String,
        /// What went wrong (its inner error is rustls's, where rustls found it).
        source: io::Error,
    },
    /// TLS settings given to the builder were unusable (a PEM without a certificate, a key
    /// that does not match its certificate, …).
    #[error("TLS configuration: {reason}")]
    TlsConfig {
        /// What was wrong.
        reason: String,
    },
    /// Writing the request to the connection failed.
    #[error("write request: {source}")]
    Write {
        /// What the socket layer said.
        source: io::Error,
    },
    /// The caller's request body failed, or produced a different number of bytes than its
    /// declared length. The connection was closed (the server saw a truncated request).
    #[error("request body: {source}")]
    RequestBody {
        /// The reader's error, or `InvalidData` for a length mismatch.
        source: io::Error,
    },
    /// Reading the response head failed; `UnexpectedEof` when the server closed the
    /// connection before sending a complete head.
    #[error("read response head: {source}")]
    ReadHead {
        /// What the socket layer said.
        source: io::Error,
    },
    /// No response head arrived within the transport's `response_header_timeout` after the
    /// request was written.
    #[error("read response head: timed out after {after:?}")]
    ResponseHeaderTimeout {
        /// The configured timeout.
        after: Duration,
    },
    /// Reading the response body failed.
    #[error("read response body: {source}")]
    ReadBody {
        /// What the socket layer said.
        source: io::Error,
    },
    /// The server's bytes violated HTTP/1.1; the error quotes the offending bytes (truncated).
    #[error("{phase}: protocol error: {source}")]
    Protocol {
        /// Where: [`Phase::ReadHead`] (the head, or its framing) or [`Phase::ReadBody`].
        phase: Phase,
        /// What was wrong.
        source: ProtocolError,
    },
    /// [`ResponseBody::bytes`](crate::ResponseBody::bytes) or `text` found a body longer than
    /// the limit it collects (`max_collect_bytes`); nothing was returned and the connection
    /// was closed (counted as `CallerGone`: the caller stopped reading).
    #[error("read response body: longer than the {limit}-byte limit for collecting it")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The response body was read again after an error ended it; that error was reported by
    /// an earlier read.
    #[error("read response body: the body already failed (reported by an earlier read)")]
    BodyAlreadyFailed,
    /// [`upgrade`](crate::upgrade) was called on a response that did not switch protocols:
    /// its status is not `101`, or the connection could not be handed over (the upgrade was
    /// already taken, or the request body was still being sent when the `101` came, so the
    /// connection was closed).
    #[error("upgrade: the response ({status}) did not switch protocols")]
    NotUpgraded {
        /// The response's status.
        status: http::StatusCode,
    },
    /// The response body's content coding did not decode: corrupt, truncated, or a checksum
    /// that does not match (feature `decompress`). If the body's framing was not over yet, the
    /// connection was closed (counted as a protocol error); if it was, the connection was
    /// already back in the pool, as its framing was intact.
    #[cfg(feature = "decompress")]
    #[error("read response body: {encoding} decoding: {source}")]
    Decompress {
        /// The coding that failed to decode.
        encoding: crate::decompress::ContentEncoding,
        /// What was wrong.
        source: crate::decompress::DecompressError,
    },
}

impl Error {
    /// The phase of the round trip in which this error happened.
    pub fn phase(&self) -> Phase {
        match self {
            Error::Request(_) | Error::TlsConfig { .. } => Phase::Request,
            Error::Tls { .. } => Phase::Tls,
            Error::Resolve { .. } => Phase::Resolve,
            Error::Connect { .. } | Error::ConnectTimeout { .. } => Phase::Connect,
            Error::Write { .. } | Error::RequestBody { .. } => Phase::Write,
            Error::ReadHead { .. } | Error::ResponseHeaderTimeout { .. } => Phase::ReadHead,
            Error::ReadBody { .. } | Error::BodyTooLarge { .. } | Error::BodyAlreadyFailed => {
                Phase::ReadBody
            }
            Error::Protocol { phase, .. } => *phase,
            Error::NotUpgraded { .. } => Phase::ReadHead,
            #[cfg(feature = "decompress")]
            Error::Decompress { .. } => Phase::ReadBody,
        }
    }

    /// A protocol error found in `phase`.
    // Used by the connection layer, which wasm32-unknown-unknown does not build.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    pub(crate) fn protocol(phase: Phase, source: ProtocolError) -> Error {
        Error::Protocol { phase, source }
    }

    /// A timeout expired (connect or response head).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::ConnectTimeout { .. } | Error::ResponseHeaderTimeout { .. } => true,
            Error::Connect { source, .. }
            | Error::Write { source }
            | Error::ReadHead { source }
            | Error::ReadBody { source } => source.kind() == io::ErrorKind::TimedOut,
            _ => false,
        }
    }

    /// No connection could be established (resolve, connect or connect timeout).
    pub fn is_connect(&self) -> bool {
        matches!(self.phase(), Phase::Resolve | Phase::Connect)
    }

    /// The TLS handshake failed (see [`Error::Tls`]).
    pub fn is_tls(&self) -> bool {
        matches!(self, Error::Tls { .. })
    }

    /// rustls's error, when TLS failed on one: in the handshake ([`Error::Tls`]: the
    /// certificate problem, the server's alert, …) or later, while writing the request or
    /// reading the response (an alert mid-response, a record that does not decrypt; a TLS 1.3
    /// server refusing a client certificate answers so after the handshake).
    #[cfg(all(
        feature = "tls",
        not(all(target_arch = "wasm32", target_os = "unknown"))
    ))]
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        match self {
            Error::Tls { source, .. }
            | Error::Write { source }
            | Error::ReadHead { source }
            | Error::ReadBody { source } => source.get_ref()?.downcast_ref::<rustls::Error>(),
            _ => None,
        }
    }

    /// The caller's request was invalid; nothing was sent.
    pub fn is_request(&self) -> bool {
        matches!(self, Error::Request(_))
    }

    /// The server violated the protocol.
    pub fn is_protocol(&self) -> bool {
        matches!(self, Error::Protocol { .. })
    }

    /// The protocol error, if this is one.
    pub fn protocol_error(&self) -> Option<&ProtocolError> {
        match self {
            Error::Protocol { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The server closed the connection before a response head was complete.
    pub fn is_closed_before_response(&self) -> bool {
        matches!(self, Error::ReadHead { source } if source.kind() == io::ErrorKind::UnexpectedEof)
    }

    /// Converts into an `io::Error` (for `AsyncRead` on response bodies), keeping `self` as the
    /// inner error so `Error::from_io` can recover it.
    // Used by the transport, which wasm32-unknown-unknown does not build.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::ReadBody { source } => source.kind(),
            Error::Protocol { .. } | Error::BodyTooLarge { .. } => io::ErrorKind::InvalidData,
            #[cfg(feature = "decompress")]
            Error::Decompress { .. } => io::ErrorKind::InvalidData,
            _ if self.is_timeout() => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// Recovers an `Error` wrapped by a response body's `AsyncRead`, or wraps a foreign
    /// `io::Error` as a body read error.
    pub fn from_io(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(err)) => return *err,
                _ => panic!("internal error: io::Error inner changed type"),
            }
        }
        Error::ReadBody { source: e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

    #[test]
    fn io_round_trip_keeps_the_error() {
        let e = Error::protocol(Phase::ReadHead, ProtocolError::ConflictingContentLength).into_io();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        let back = Error::from_io(e);
        assert!(back.is_protocol());
        assert_eq!(back.phase(), Phase::ReadHead);
    }

    #[test]
    fn predicates() {
        let t = Error::ResponseHeaderTimeout {
            after: Duration::from_secs(1),
        };
        assert!(t.is_timeout());
        assert_eq!(t.phase(), Phase::ReadHead);
        let c = Error::Connect {
            target: "http://x:1".into(),
            source: io::ErrorKind::ConnectionRefused.into(),
        };
        assert!(c.is_connect());
        assert!(!c.is_timeout());
        assert!(c.to_string().starts_with("connect to http://x:1"));
    }
}
