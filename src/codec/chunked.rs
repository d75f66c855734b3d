//! The chunked transfer coding decoder (RFC 9112 §7.1), used by
//! [`BodyDecoder`](super::body::BodyDecoder).
//!
//! A byte-at-a-time state machine for the framing and a bulk copy-free path for chunk data: the
//! decoder never holds payload. It does keep two small things across calls, so input may be
//! split anywhere: the first bytes of the current chunk-size line (only to quote it in errors)
//! and, if there are trailer fields, the trailer section (bounded by [`MAX_TRAILER_BYTES`]).
//!
//! Strictness: every line must end in CRLF (a bare LF is an error, unlike the lenient reading
//! RFC 9112 §2.2 allows) because chunked framing is where request smuggling lives, and hyper is
//! equally strict. Whitespace between the chunk size and `;` or the line end is tolerated (the
//! `BWS` of §7.1.1). Chunk extensions are checked for control bytes, otherwise ignored.

use std::ops::Range;

use http::{HeaderMap, HeaderName, HeaderValue};
use httparse::Status;

use super::error::{Excerpt, ProtocolError, MAX_QUOTED_BYTES};
use super::limits::{MAX_CHUNK_LINE, MAX_HEADERS, MAX_TRAILER_BYTES};

/// One chunk-size line has at most this many hex digits: enough for any `u64`.
const MAX_SIZE_DIGITS: u8 = 16;

/// The outcome of one [`ChunkedDecoder::decode`] call.
#[derive(Debug)]
pub(crate) enum Step {
    /// Chunk data at this non-empty range of the input; the input was consumed through its end.
    Data(Range<usize>),
    /// All the input was consumed and more is needed.
    NeedMore,
    /// The body ended after `consumed` input bytes; `trailers` holds its trailer fields, if any.
    Done {
        /// Input bytes used, through the end of the trailer section.
        consumed: usize,
        /// The trailer fields, `None` when there were none.
        trailers: Option<HeaderMap>,
    },
}

/// Where the decoder is within the chunked body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the hex digits of a chunk size: `size` is their value so far, `digits` their count.
    Size { size: u64, digits: u8 },
    /// In whitespace after the size digits.
    SizeWs { size: u64 },
    /// In chunk extensions (ignored).
    Extension { size: u64 },
    /// After the CR that ends a chunk-size line; LF must follow.
    SizeLf { size: u64 },
    /// In chunk data, with `remaining` (> 0) bytes to go.
    Data { remaining: u64 },
    /// After chunk data; CR must follow.
    DataCr,
    /// After chunk data and CR; LF must follow.
    DataLf,
    /// In the trailer section; the current, incomplete line starts at `trailer_buf[line_start]`.
    Trailers { line_start: usize },
}

/// Progress through the trailer section, from [`ChunkedDecoder::trailer_bytes`].
enum Trailers {
    /// This many input bytes were used; the section goes on.
    Used(usize),
    /// The section ended after this many input bytes; its fields, if any.
    Ended(usize, Option<HeaderMap>),
}

/// Incremental decoder of one chunked body. Once [`Step::Done`] or an error has been returned,
/// it must not be used again ([`BodyDecoder`](super::body::BodyDecoder) guarantees this).
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    /// Written and read by `decode` and its helpers only.
    state: State,
    /// Length of the current chunk-size line so far, CRLF included. Reset when a line starts.
    line_len: usize,
    /// The first bytes of the current chunk-size line (one more than is quoted, so that the
    /// excerpt knows it was truncated), for errors. Valid up to `line_len`.
    line_quote: [u8; MAX_QUOTED_BYTES + 1],
    /// The trailer section so far, once it holds anything but the final empty line. Empty for
    /// the usual body without trailers, which therefore never allocates.
    trailer_buf: Vec<u8>,
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub(crate) fn new() -> Self {
        ChunkedDecoder {
            state: State::Size { size: 0, digits: 0 },
            line_len: 0,
            line_quote: [0; MAX_QUOTED_BYTES + 1],
            trailer_buf: Vec::new(),
        }
    }

    /// Decodes from the start of `input` until chunk data is found, the input is exhausted or
    /// the body ends, whichever comes first.
    pub(crate) fn decode(&mut self, input: &[u8]) -> Result<Step, ProtocolError> {
        let mut pos = 0;
        while pos < input.len() {
            let byte = input[pos];
            match self.state {
                State::Data { remaining } => {
                    let available = input.len() - pos;
                    let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    // `take` <= `remaining`, and a usize always fits in a u64.
                    let left = remaining - take as u64;
                    self.state = match left {
                        0 => State::DataCr,
                        _ => State::Data { remaining: left },
                    };
                    return Ok(Step::Data(pos..pos + take));
                }
                State::DataCr if byte == b'\r' => self.state = State::DataLf,
                State::DataLf if byte == b'\n' => {
                    self.state = State::Size { size: 0, digits: 0 };
                    self.line_len = 0;
                }
                State::DataCr => return Err(malformed_chunk(&[byte])),
                State::DataLf => return Err(malformed_chunk(&[b'\r', byte])),
                State::Trailers { line_start } => {
                    match self.trailer_bytes(&input[pos..], line_start)? {
                        Trailers::Used(used) => pos += used,
                        Trailers::Ended(used, trailers) => {
                            return Ok(Step::Done {
                                consumed: pos + used,
                                trailers,
                            })
                        }
                    }
                    continue;
                }
                State::Size { .. }
                | State::SizeWs { .. }
                | State::Extension { .. }
                | State::SizeLf { .. } => self.size_line_byte(byte)?,
            }
            pos += 1;
        }
        Ok(Step::NeedMore)
    }

    /// Advances through one byte of a chunk-size line.
    fn size_line_byte(&mut self, byte: u8) -> Result<(), ProtocolError> {
        if let Some(slot) = self.line_quote.get_mut(self.line_len) {
            *slot = byte;
        }
        self.line_len += 1;
        if self.line_len > MAX_CHUNK_LINE {
            return Err(ProtocolError::ChunkLineTooLong {
                limit: MAX_CHUNK_LINE,
            });
        }
        let is_ws = byte == b' ' || byte == b'\t';
        self.state = match self.state {
            State::Size { size, digits } => match (hex_value(byte), digits) {
                (Some(_), MAX_SIZE_DIGITS) => return Err(self.invalid_size()),
                (Some(value), _) => State::Size {
                    size: (size << 4) | u64::from(value),
                    digits: digits + 1,
                },
                (None, 0) => return Err(self.invalid_size()),
                (None, _) if is_ws => State::SizeWs { size },
                (None, _) if byte == b';' => State::Extension { size },
                (None, _) if byte == b'\r' => State::SizeLf { size },
                (None, _) => return Err(self.invalid_size()),
            },
            State::SizeWs { size } if is_ws => State::SizeWs { size },
            State::SizeWs { size } if byte == b';' => State::Extension { size },
            State::SizeWs { size } | State::Extension { size } if byte == b'\r' => {
                State::SizeLf { size }
            }
            State::Extension { size } if byte == b'\t' || (byte >= b' ' && byte != 0x7f) => {
                State::Extension { size }
            }
            State::SizeLf { size: 0 } if byte == b'\n' => State::Trailers { line_start: 0 },
            State::SizeLf { size } if byte == b'\n' => State::Data { remaining: size },
            State::SizeWs { .. } | State::Extension { .. } | State::SizeLf { .. } => {
                return Err(self.invalid_size())
            }
            State::Data { .. } | State::DataCr | State::DataLf | State::Trailers { .. } => {
                panic!("internal error: chunk-size byte in state {:?}", self.state)
            }
        };
        Ok(())
    }

    /// The error for a malformed chunk-size line, quoting it through the offending byte.
    fn invalid_size(&self) -> ProtocolError {
        let quoted = self.line_len.min(self.line_quote.len());
        ProtocolError::InvalidChunkSize {
            bytes: Excerpt::new(&self.line_quote[..quoted]),
        }
    }

    /// Consumes trailer-section bytes from the start of `input` (which is not empty), at most
    /// through the end of one line.
    fn trailer_bytes(
        &mut self,
        input: &[u8],
        line_start: usize,
    ) -> Result<Trailers, ProtocolError> {
        // The usual case: no trailer fields, and the empty line arrives whole.
        if self.trailer_buf.is_empty() && input.starts_with(b"\r\n") {
            return Ok(Trailers::Ended(2, None));
        }
        let newline = input.iter().position(|&b| b == b'\n');
        let piece = &input[..newline.map_or(input.len(), |i| i + 1)];
        if self.trailer_buf.len() + piece.len() > MAX_TRAILER_BYTES {
            return Err(ProtocolError::TrailersTooLarge {
                limit: MAX_TRAILER_BYTES,
            });
        }
        self.trailer_buf.extend_from_slice(piece);
        if newline.is_none() {
            return Ok(Trailers::Used(piece.len()));
        }
        let line = &self.trailer_buf[line_start..];
        let malformed = || ProtocolError::MalformedTrailers {
            bytes: Excerpt::new(line),
        };
        if !line.ends_with(b"\r\n") {
            return Err(malformed());
        }
        if line.len() == 2 {
            return Ok(Trailers::Ended(
                piece.len(),
                parse_trailers(&self.trailer_buf)?,
            ));
        }
        // Check the field line now, so that an error quotes it. On its own, a good line is an
        // incomplete header section.
        let mut slots = [httparse::EMPTY_HEADER; 1];
        if httparse::parse_headers(line, &mut slots) != Ok(Status::Partial) {
            return Err(malformed());
        }
        self.state = State::Trailers {
            line_start: self.trailer_buf.len(),
        };
        Ok(Trailers::Used(piece.len()))
    }
}

/// Parses a complete trailer section (field lines, each already checked, and the empty line).
fn parse_trailers(section: &[u8]) -> Result<Option<HeaderMap>, ProtocolError> {
    let malformed = |bytes: &[u8]| ProtocolError::MalformedTrailers {
        bytes: Excerpt::new(bytes),
    };
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let fields = match httparse::parse_headers(section, &mut slots) {
        Ok(Status::Complete((len, fields))) if len == section.len() => fields,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ProtocolError::TooManyHeaders { limit: MAX_HEADERS })
        }
        _ => return Err(malformed(section)),
    };
    if fields.is_empty() {
        return Ok(None);
    }
    let mut trailers = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes());
        let value = HeaderValue::from_bytes(field.value);
        match (name, value) {
            (Ok(name), Ok(value)) => trailers.append(name, value),
            _ => return Err(malformed(field.name.as_bytes())),
        };
    }
    Ok(Some(trailers))
}

/// The value of an ASCII hex digit.
fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The error for chunk data not followed by CRLF.
fn malformed_chunk(found: &[u8]) -> ProtocolError {
    ProtocolError::MalformedChunk {
        bytes: Excerpt::new(found),
    }
}

#[cfg(test)]
mod tests {
    //! The decoder's behaviour on split input is tested through `BodyDecoder` in `body.rs`;
    //! these pin down the `Step` protocol itself.
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

    #[test]
    fn steps() {
        let mut decoder = ChunkedDecoder::new();
        let input = b"3;x=y\r\nabc\r\n1\r\nd";
        let Ok(Step::Data(data)) = decoder.decode(input) else {
            panic!("expected data");
        };
        assert_eq!(&input[data.clone()], b"abc");
        let rest = &input[data.end..];
        let Ok(Step::Data(data)) = decoder.decode(rest) else {
            panic!("expected data");
        };
        assert_eq!(&rest[data.clone()], b"d");
        assert!(matches!(decoder.decode(b""), Ok(Step::NeedMore)));
        assert!(matches!(decoder.decode(b"\r\n0\r"), Ok(Step::NeedMore)));
        let Ok(Step::Done { consumed, trailers }) = decoder.decode(b"\n\r\nnext") else {
            panic!("expected the end");
        };
        assert_eq!((consumed, trailers), (3, None));
    }

    #[test]
    fn size_digits() {
        let mut decoder = ChunkedDecoder::new();
        assert!(matches!(
            decoder.decode(b"FFFFFFFFFFFFFFFF\r\nx"),
            Ok(Step::Data(data)) if data == (18..19)
        ));
        assert_eq!(
            decoder.state,
            State::Data {
                remaining: u64::MAX - 1
            }
        );
        let mut decoder = ChunkedDecoder::new();
        assert_eq!(
            decoder.decode(b"10000000000000000\r\n").unwrap_err(),
            ProtocolError::InvalidChunkSize {
                bytes: Excerpt::new(b"10000000000000000")
            }
        );
        assert_eq!(
            (0..=255u8).filter_map(hex_value).count(),
            22,
            "0-9, a-f, A-F"
        );
        assert_eq!(hex_value(b'a'), Some(10));
        assert_eq!(hex_value(b'F'), Some(15));
    }
}
