//! The incremental response body decoder.
//!
//! [`BodyDecoder`] turns the bytes after a response head into payload for each
//! [`Framing`]. It is zero-copy: payload is reported as a range of the caller's input and never
//! buffered. A caller keeps a buffer of unconsumed bytes and loops:
//!
//! ```
//! # use roundtrip::codec::body::BodyDecoder;
//! # use roundtrip::codec::response::Framing;
//! # fn main() -> Result<(), roundtrip::codec::error::ProtocolError> {
//! let mut decoder = BodyDecoder::new(Framing::Chunked);
//! let mut buf = b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec(); // as read so far
//! let mut payload = Vec::new();
//! while !decoder.is_done() {
//!     let decoded = decoder.decode(&buf)?;
//!     payload.extend_from_slice(&buf[decoded.data.clone()]);
//!     buf.drain(..decoded.consumed);
//!     if decoded.data.is_empty() && !decoder.is_done() {
//!         break; // `buf` is empty now: read more into it (or call `on_eof`), then go on
//!     }
//! }
//! assert_eq!(payload, b"hello");
//! assert_eq!(buf, b"HTTP/1.1 200 OK\r\n"); // the next response
//! # Ok(())
//! # }
//! ```

use std::ops::Range;

use http::HeaderMap;

use super::chunked::{ChunkedDecoder, Step};
use super::error::ProtocolError;
use super::response::Framing;

pub use super::limits::{MAX_CHUNK_LINE, MAX_TRAILER_BYTES};

/// The result of one [`BodyDecoder::decode`] step.
///
/// Invariant: `data.end == consumed`. `data` is empty exactly when the step produced no
/// payload; then `data == consumed..consumed`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used, from the start of the input, through the end of `data`.
    pub consumed: usize,
    /// Payload: a sub-range of the input, possibly empty.
    pub data: Range<usize>,
}

impl Decoded {
    /// A step that used `consumed` bytes and found no payload.
    fn framing_only(consumed: usize) -> Self {
        Decoded {
            consumed,
            data: consumed..consumed,
        }
    }
}

/// What the decoder is doing.
#[derive(Debug)]
enum State {
    /// Content-Length body with `expected - received` (> 0) bytes to go.
    Length,
    /// Chunked body, not finished.
    Chunked(ChunkedDecoder),
    /// Body delimited by the connection closing; not yet closed.
    CloseDelimited,
    /// The body is complete.
    Done,
    /// `decode` or `on_eof` failed; every later call fails the same way.
    Failed(ProtocolError),
}

/// Incremental response-body decoder: a state machine that never buffers payload.
///
/// Framing bytes (chunk-size lines, CRLFs, the last chunk) are skipped; a partial chunk-size
/// line or trailer section is remembered internally, so input may be split anywhere. After an
/// error the decoder stays failed and returns the same error.
#[derive(Debug)]
pub struct BodyDecoder {
    /// Written by `decode` and `on_eof`; read by every method.
    state: State,
    /// The total payload length when known in advance: `Some(n)` for `Length(n)`, `Some(0)` for
    /// `Empty`, `None` otherwise. Written once by `new`.
    expected: Option<u64>,
    /// Payload bytes reported so far. Written by `decode`; never exceeds `expected`.
    received: u64,
    /// The trailer fields of a finished chunked body, until `take_trailers`. Written by `decode`
    /// when the body ends.
    trailers: Option<HeaderMap>,
}

impl BodyDecoder {
    /// A decoder for a body with this framing. `Empty` and `Length(0)` are done at once.
    pub fn new(framing: Framing) -> Self {
        let (state, expected) = match framing {
            Framing::Empty | Framing::Length(0) => (State::Done, Some(0)),
            Framing::Length(n) => (State::Length, Some(n)),
            Framing::Chunked => (State::Chunked(ChunkedDecoder::new()), None),
            Framing::CloseDelimited => (State::CloseDelimited, None),
        };
        BodyDecoder {
            state,
            expected,
            received: 0,
            trailers: None,
        }
    }

    /// Decodes from the start of `input`.
    ///
    /// Skips framing and returns at most one contiguous payload range, stopping right after it
    /// (`consumed == data.end`). Without payload in reach it goes on through framing as far as
    /// the input allows, so:
    /// - if `data` is empty and the body is not done, all of `input` was consumed and more
    ///   bytes are needed;
    /// - a Content-Length body is done as soon as its last payload byte is returned; a chunked
    ///   body is done once the call that reaches the end of its trailer section returns (so
    ///   after the last chunk's data, one more call, e.g. on `"\r\n0\r\n\r\n"`, finishes it).
    ///
    /// Once done, returns `consumed: 0, data: 0..0`: bytes after the body belong to the next
    /// response.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, ProtocolError> {
        let decoded = match &mut self.state {
            State::Done => Decoded::framing_only(0),
            State::Failed(error) => return Err(error.clone()),
            State::CloseDelimited => Decoded {
                consumed: input.len(),
                data: 0..input.len(),
            },
            State::Length => {
                let remaining = self.remaining_length();
                let take = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                if take as u64 == remaining {
                    self.state = State::Done;
                }
                Decoded {
                    consumed: take,
                    data: 0..take,
                }
            }
            State::Chunked(chunked) => match chunked.decode(input) {
                Ok(Step::Data(data)) => Decoded {
                    consumed: data.end,
                    data,
                },
                Ok(Step::NeedMore) => Decoded::framing_only(input.len()),
                Ok(Step::Done { consumed, trailers }) => {
                    self.trailers = trailers;
                    self.state = State::Done;
                    Decoded::framing_only(consumed)
                }
                Err(error) => {
                    self.state = State::Failed(error.clone());
                    return Err(error);
                }
            },
        };
        // A usize always fits in a u64 on the targets Rust supports.
        self.received += decoded.data.len() as u64;
        Ok(decoded)
    }

    /// Whether the body is complete.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The peer closed the connection (EOF).
    ///
    /// A close-delimited body is thereby complete. Any other body that is not done is
    /// truncated: [`ProtocolError::IncompleteBody`], whose `expected` is the announced
    /// Content-Length (`None` for chunked bodies) and `received` the payload bytes so far.
    pub fn on_eof(&mut self) -> Result<(), ProtocolError> {
        let error = match &self.state {
            State::Done => return Ok(()),
            State::CloseDelimited => {
                self.state = State::Done;
                return Ok(());
            }
            State::Failed(error) => return Err(error.clone()),
            State::Length | State::Chunked(_) => ProtocolError::IncompleteBody {
                expected: self.expected,
                received: self.received,
            },
        };
        self.state = State::Failed(error.clone());
        Err(error)
    }

    /// The trailer fields of a finished chunked body; `None` if there were none, the body is
    /// not chunked or not done, or they were already taken.
    ///
    /// Trailers arrive after the payload and are not authenticated by anything the head said:
    /// callers must keep them apart from the head's fields (RFC 9110 §6.5.1).
    pub fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }

    /// Payload bytes still expected when the length is known in advance (Content-Length, or 0
    /// for `Empty`); `None` for chunked and close-delimited bodies.
    pub fn remaining(&self) -> Option<u64> {
        self.expected.map(|_| self.remaining_length())
    }

    /// Payload bytes delivered so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// `expected - received`, for a body whose length is known.
    fn remaining_length(&self) -> u64 {
        self.expected
            .and_then(|expected| expected.checked_sub(self.received))
            .unwrap_or_else(|| {
                panic!(
                    "internal error: remaining length of {:?} with {} received",
                    self.expected, self.received
                )
            })
    }
}

#[cfg(test)]
mod tests;
