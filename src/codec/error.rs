//! Codec errors: what the caller got wrong ([`RequestError`]) and what the server got wrong
//! ([`ProtocolError`]).
//!
//! Neither error ever carries a request header value (those may hold credentials). Offending
//! server bytes are quoted through [`Excerpt`], which bounds and escapes them so that an error
//! message can always be logged safely.

use std::fmt;

/// Bytes quoted in errors are truncated to this many bytes.
pub const MAX_QUOTED_BYTES: usize = 64;

/// A truncated copy of offending bytes, for error messages.
///
/// `Display` shows the bytes escaped like a Rust byte string (`b"HTTP/2 200\r\n"`), followed by
/// `…` when the original was longer than [`MAX_QUOTED_BYTES`]. Non-ASCII and control bytes are
/// shown as escapes, so an excerpt never injects raw control characters into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Excerpt {
    /// At most [`MAX_QUOTED_BYTES`] leading bytes of the original. Written once by `new`.
    bytes: Box<[u8]>,
    /// Whether the original was longer than `bytes`. Written once by `new`.
    truncated: bool,
}

impl Excerpt {
    /// Copies at most [`MAX_QUOTED_BYTES`] leading bytes of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let kept = &bytes[..bytes.len().min(MAX_QUOTED_BYTES)];
        Excerpt {
            bytes: kept.into(),
            truncated: kept.len() < bytes.len(),
        }
    }

    /// The quoted bytes (possibly truncated, unescaped).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.bytes.escape_ascii())?;
        if self.truncated {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The request cannot be sent as given (a caller error). Nothing was sent.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The URI scheme is neither `http` nor `https` (or is `https` in a build without the
    /// `tls` feature).
    #[error("unsupported URL scheme {0:?}: roundtrip speaks http and https")]
    UnsupportedScheme(String),
    /// The URI is relative: it has no scheme.
    #[error("request URI has no scheme: an absolute http:// URI is required")]
    MissingScheme,
    /// The URI has no host.
    #[error("request URI has no host")]
    MissingHost,
    /// The URI cannot be written as a request target: its path or query holds bytes outside
    /// visible ASCII (CR, LF, NUL, other controls, space, DEL, non-ASCII), or its port is not a
    /// number in 0..=65535.
    #[error("request URI cannot be sent as an HTTP/1.1 request target")]
    InvalidUri,
    /// A request header name is not an HTTP token. Holds the name, escaped and truncated.
    #[error("invalid request header name {0}")]
    InvalidHeaderName(String),
    /// A request header value contains CR, LF, NUL or another control byte. The value itself is
    /// deliberately not included: it may hold credentials.
    #[error("invalid value for request header {name:?}")]
    InvalidHeaderValue {
        /// The name of the offending header.
        name: String,
    },
    /// The `Host` header (or the URI host) is empty, repeated, or holds bytes that cannot appear
    /// in `uri-host [":" port]` (whitespace, controls, `/`, `?`, `#`, `@`, non-ASCII, …).
    #[error("invalid Host header or URI host")]
    InvalidHost,
    /// The request's HTTP version is neither HTTP/1.1 nor HTTP/1.0, or it is HTTP/1.0 with a
    /// chunked body (HTTP/1.0 has no chunked transfer coding).
    #[error("unsupported request version: roundtrip sends HTTP/1.1 or HTTP/1.0 (without chunked bodies)")]
    UnsupportedVersion,
}

/// The server's bytes violate HTTP/1.1. The connection must not be reused.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The status line and header section are longer than the configured limit.
    #[error("response head exceeded {limit} bytes")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The status line or a header line cannot be parsed.
    #[error("malformed response head ({reason}) at {bytes}")]
    MalformedHead {
        /// What is wrong, for humans.
        reason: &'static str,
        /// The offending line (or, for a bad header value, the header name).
        bytes: Excerpt,
    },
    /// The response head (or trailer section) has more fields than the parser accepts.
    #[error("response has more than {limit} header fields")]
    TooManyHeaders {
        /// The maximum number of fields.
        limit: usize,
    },
    /// The status line announces a version other than HTTP/1.0 or HTTP/1.1.
    #[error("unsupported response version in status line {bytes}")]
    UnsupportedVersion {
        /// The status line.
        bytes: Excerpt,
    },
    /// A `Content-Length` value is not `1*DIGIT`, or does not fit in a `u64`.
    #[error("invalid Content-Length {value}")]
    InvalidContentLength {
        /// The offending field value.
        value: Excerpt,
    },
    /// Several `Content-Length` values that differ.
    #[error("conflicting Content-Length values")]
    ConflictingContentLength,
    /// A chunk-size line is malformed: the size is not 1 to 16 hex digits, the extension holds
    /// control bytes, or the line does not end in CRLF.
    #[error("invalid chunk-size line {bytes}")]
    InvalidChunkSize {
        /// The line, up to and including the offending byte.
        bytes: Excerpt,
    },
    /// A chunk-size line (with extensions) is longer than the limit.
    #[error("chunk-size line exceeded {limit} bytes")]
    ChunkLineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// Chunk data is not followed by CRLF.
    #[error("chunk data not followed by CRLF: {bytes}")]
    MalformedChunk {
        /// The bytes found where CRLF was expected.
        bytes: Excerpt,
    },
    /// The trailer section is longer than the limit.
    #[error("chunked trailer section exceeded {limit} bytes")]
    TrailersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A trailer field line cannot be parsed.
    #[error("malformed chunked trailer section at {bytes}")]
    MalformedTrailers {
        /// The offending line (or field name).
        bytes: Excerpt,
    },
    /// The connection closed before the body was complete.
    #[error("connection closed after {received} body bytes{}", OfTotal(*.expected))]
    IncompleteBody {
        /// The total body length announced by `Content-Length`; `None` for chunked bodies.
        expected: Option<u64>,
        /// Payload bytes received before the close.
        received: u64,
    },
    /// A `101 Switching Protocols` answered a request that did not ask to switch
    /// (`Connection: upgrade` with an `Upgrade` field): what follows it is not HTTP/1.1 the
    /// client can read.
    #[error("101 Switching Protocols for a request that did not ask for an upgrade")]
    UnrequestedUpgrade,
    /// More interim (1xx) responses than the limit came before the final response (a server
    /// stalling the client with them: Go allows 5 too).
    #[error("more than {limit} interim (1xx) responses")]
    TooManyInterimResponses {
        /// The most interim responses accepted before the final one.
        limit: usize,
    },
}

/// Displays `" of {n}"` for a known total, nothing otherwise.
struct OfTotal(Option<u64>);

impl fmt::Display for OfTotal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, " of {n}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

    #[test]
    fn excerpt_escapes_and_truncates() {
        let e = Excerpt::new(b"HTTP/2 200\r\n\x00\xff\"");
        assert_eq!(e.to_string(), r#"b"HTTP/2 200\r\n\x00\xff\"""#);
        assert_eq!(e.as_bytes(), b"HTTP/2 200\r\n\x00\xff\"");
        assert_eq!(format!("{e:?}"), e.to_string());

        let long = [b'a'; MAX_QUOTED_BYTES + 1];
        let e = Excerpt::new(&long);
        assert_eq!(e.as_bytes(), &long[..MAX_QUOTED_BYTES]);
        assert!(e.to_string().ends_with("\"…"));

        let exact = Excerpt::new(&long[..MAX_QUOTED_BYTES]);
        assert!(exact.to_string().ends_with('"'));
        assert_ne!(e, exact, "truncation is part of the value");
    }

    #[test]
    fn messages() {
        assert_eq!(
            RequestError::UnsupportedScheme("ftp".into()).to_string(),
            "unsupported URL scheme \"ftp\": roundtrip speaks http and https"
        );
        assert_eq!(
            ProtocolError::HeadTooLarge { limit: 10 }.to_string(),
            "response head exceeded 10 bytes"
        );
        let short = ProtocolError::IncompleteBody {
            expected: Some(10),
            received: 3,
        };
        assert_eq!(
            short.to_string(),
            "connection closed after 3 body bytes of 10"
        );
        let chunked = ProtocolError::IncompleteBody {
            expected: None,
            received: 3,
        };
        assert_eq!(chunked.to_string(), "connection closed after 3 body bytes");
        assert_eq!(
            ProtocolError::TooManyInterimResponses { limit: 5 }.to_string(),
            "more than 5 interim (1xx) responses"
        );
        assert_eq!(
            ProtocolError::UnrequestedUpgrade.to_string(),
            "101 Switching Protocols for a request that did not ask for an upgrade"
        );
    }
}
