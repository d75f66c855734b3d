//! Request bodies.

use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures_io::AsyncRead;

use crate::codec::request::BodyLength;

/// The body of a request.
///
/// - [`Body::empty`] (also `Body::default()` and `()`): no body.
/// - From bytes (`Vec<u8>`, `String`, `&'static str`, `&'static [u8]`, [`Bytes`]): sent with a
///   `Content-Length`. Such a body is *replayable*: if a pooled connection turns out to be dead
///   before any response byte arrives, an idempotent request is retried on another connection.
/// - [`Body::from_reader`]: streamed from any futures-io `AsyncRead`; with a known length it is
///   sent with `Content-Length` (a reader that ends early or runs long fails the request and
///   closes the connection), without one it is sent chunked. Never retried.
///
/// ```
/// use roundtrip::Body;
/// assert_eq!(Body::from("hello").len(), Some(5));
/// assert_eq!(Body::empty().len(), Some(0));
/// let streamed = Body::from_reader(futures_lite::io::Cursor::new(vec![1, 2, 3]), None);
/// assert_eq!(streamed.len(), None);
/// ```
pub struct Body {
    pub(crate) kind: Kind,
}

pub(crate) enum Kind {
    Empty,
    Bytes(Bytes),
    Reader {
        reader: Pin<Box<dyn AsyncRead>>,
        len: Option<u64>,
    },
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A body streamed from `reader`. `len`: the exact number of bytes it will produce, if
    /// known (sent as `Content-Length`); `None` sends it with chunked transfer-coding.
    pub fn from_reader(reader: impl AsyncRead + 'static, len: Option<u64>) -> Body {
        Body {
            kind: Kind::Reader {
                reader: Box::pin(reader),
                len,
            },
        }
    }

    /// The body's length, if known before it is sent.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Bytes(b) => Some(b.len() as u64),
            Kind::Reader { len, .. } => *len,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// How the codec frames this body on the wire.
    pub(crate) fn framing(&self) -> BodyLength {
        match &self.kind {
            Kind::Empty => BodyLength::Empty,
            Kind::Bytes(b) if b.is_empty() => BodyLength::Empty,
            Kind::Bytes(b) => BodyLength::Known(b.len() as u64),
            Kind::Reader { len: Some(n), .. } => BodyLength::Known(*n),
            Kind::Reader { len: None, .. } => BodyLength::Chunked,
        }
    }

    /// A copy for a retry, if the body can be sent again (it is not a stream).
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            Kind::Empty => Some(Body::empty()),
            Kind::Bytes(b) => Some(Body {
                kind: Kind::Bytes(b.clone()),
            }),
            Kind::Reader { .. } => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Kind::Reader { len, .. } => write!(f, "Body::Reader(len: {len:?})"),
        }
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body {
            kind: Kind::Bytes(b),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Body::from(Bytes::from_static(s))
    }
}
