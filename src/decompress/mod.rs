//! Content decoding of response bodies (feature `decompress`): `gzip` and `deflate`.
//!
//! Two parts:
//! - [`Decoder`], sans-IO: compressed bytes in, decoded bytes out, into the caller's buffer.
//!   gzip (RFC 1952) is parsed here (member header, trailer with CRC-32 and length, several
//!   members in a row); the DEFLATE data itself goes to miniz_oxide's streaming `inflate`.
//!   `deflate` is zlib-wrapped (RFC 9110 §8.4.1.2, with its Adler-32) or, as some servers send
//!   it, raw DEFLATE: told apart by the first two bytes, as browsers and curl do.
//! - [`Decoding`], the adapter over a poll-based source of compressed bytes (the response
//!   body as it comes off the connection), with its own input buffer.
//!
//! **What ends a stream.** After the last gzip member, or the end of a deflate stream, bytes
//! that do not start another gzip member (`1f 8b`) are read and ignored (as Chromium does;
//! Go's gzip reader reports them as a header error): the decoded data is complete and correct
//! by its checksum, and the connection stays reusable because the source is still read to its
//! end. A body with no bytes at all decodes to nothing (as in Go). A stream that ends
//! anywhere else is [`DecompressError::Truncated`].
// The transport uses it; wasm32-unknown-unknown builds the codec alone.
#![cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]

use std::fmt;
use std::task::{ready, Context, Poll};

use miniz_oxide::inflate::stream::{inflate, InflateState};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

use crate::error::Error;

mod header;
#[cfg(test)]
mod tests;

use header::Header;

/// A content coding roundtrip decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentEncoding {
    /// `gzip` (and its alias `x-gzip`), RFC 1952, one member or several in a row.
    Gzip,
    /// `deflate`: zlib-wrapped DEFLATE (RFC 1950), or raw DEFLATE (RFC 1951).
    Deflate,
}

impl ContentEncoding {
    /// The coding's name, as in `Content-Encoding`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Deflate => "deflate",
        }
    }

    /// The coding a `Content-Encoding` field value names, if it is exactly one coding this
    /// module decodes (case-insensitive, surrounding whitespace ignored). `identity`, `br`,
    /// stacked codings (`gzip, gzip`) and anything else: `None`, and the body is delivered as
    /// it came.
    pub(crate) fn from_field(value: &[u8]) -> Option<ContentEncoding> {
        let value = value.trim_ascii();
        if value.eq_ignore_ascii_case(b"gzip") || value.eq_ignore_ascii_case(b"x-gzip") {
            Some(ContentEncoding::Gzip)
        } else if value.eq_ignore_ascii_case(b"deflate") {
            Some(ContentEncoding::Deflate)
        } else {
            None
        }
    }
}

impl fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response extension: the transport decoded the body from this coding, and removed
/// `Content-Encoding` and `Content-Length` from the headers (they described the bytes on the
/// wire). Go's `Response.Uncompressed`.
///
/// ```no_run
/// # roundtrip::net::block_on(async {
/// # let transport = roundtrip::Transport::new();
/// let response = transport.get("http://127.0.0.1:8080/page.html").await?;
/// if let Some(roundtrip::Decompressed(coding)) = response.extensions().get() {
///     println!("decoded from {coding}");
/// }
/// # Ok::<(), roundtrip::Error>(())
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decompressed(pub ContentEncoding);

/// What was wrong with a compressed response body (inside [`Error::Decompress`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecompressError {
    /// A gzip member header was invalid: the message says how.
    #[error("invalid gzip header: {0}")]
    GzipHeader(&'static str),
    /// The DEFLATE data was invalid.
    #[error("invalid deflate data")]
    Corrupt,
    /// The zlib stream's Adler-32 checksum did not match its data.
    #[error("zlib checksum (Adler-32) mismatch")]
    Adler32,
    /// A gzip member's CRC-32 did not match its data.
    #[error("gzip checksum (CRC-32) mismatch")]
    Crc32,
    /// A gzip member's length field did not match its data.
    #[error("gzip length mismatch")]
    Length,
    /// The body ended before the compressed stream did.
    #[error("the compressed stream ended early")]
    Truncated,
}

/// How far [`Decoder::decode`] got: it consumed the first `consumed` input bytes and wrote
/// `produced` bytes of output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) consumed: usize,
    pub(crate) produced: usize,
}

/// Where in the stream the decoder is.
enum Stage {
    /// gzip: reading a member header.
    GzHeader(Header),
    /// deflate: waiting for two bytes to tell zlib from raw DEFLATE.
    DeflateStart,
    /// Inflating DEFLATE data.
    Inflate,
    /// gzip: reading a member's 8-byte trailer (CRC-32, length mod 2^32, little-endian).
    GzTrailer { got: [u8; 8], len: usize },
    /// gzip: a member ended: another one follows (`1f 8b`), or nothing, or ignored bytes.
    GzNext,
    /// The stream ended; what follows is ignored (see the module doc).
    Ignore,
}

/// A sans-IO `gzip` / `deflate` decoder.
///
/// Contract of [`Decoder::decode`]: it consumes a prefix of its input; bytes it did not
/// consume (at most one: it needed two at once) must be offered again, followed by more. At
/// the end of the input, [`Decoder::finish`] says whether the stream was complete.
pub(crate) struct Decoder {
    encoding: ContentEncoding,
    /// Written only by `decode`.
    stage: Stage,
    /// miniz_oxide's inflater (its 32 KiB window inside): reset for each gzip member.
    inflate: Box<InflateState>,
    /// gzip: CRC-32 and length (mod 2^32) of the current member's output so far.
    crc: crc32fast::Hasher,
    size: u32,
}

impl Decoder {
    pub(crate) fn new(encoding: ContentEncoding) -> Decoder {
        Decoder {
            encoding,
            stage: match encoding {
                ContentEncoding::Gzip => Stage::GzHeader(Header::new()),
                ContentEncoding::Deflate => Stage::DeflateStart,
            },
            inflate: InflateState::new_boxed(DataFormat::Raw),
            crc: crc32fast::Hasher::new(),
            size: 0,
        }
    }

    /// Decodes from `input` into `out`. Returns with output as soon as there is some; with
    /// none when all the input it can use is consumed (it needs more).
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut [u8]) -> Result<Step, DecompressError> {
        let mut at = 0;
        let step = |consumed, produced| Ok(Step { consumed, produced });
        loop {
            let rest = &input[at..];
            match &mut self.stage {
                Stage::GzHeader(header) => {
                    let (used, done) = header.feed(rest)?;
                    at += used;
                    if !done {
                        return step(at, 0);
                    }
                    self.stage = Stage::Inflate;
                }
                Stage::DeflateStart => {
                    let [first, second, ..] = *rest else {
                        return step(at, 0);
                    };
                    if is_zlib_header(first, second) {
                        self.inflate.reset(DataFormat::Zlib);
                    }
                    self.stage = Stage::Inflate;
                }
                Stage::Inflate => {
                    if out.is_empty() {
                        return step(at, 0);
                    }
                    let (used, produced) = self.inflate_some(rest, out)?;
                    at += used;
                    if produced > 0 || matches!(self.stage, Stage::Inflate) {
                        return step(at, produced);
                    }
                }
                Stage::GzTrailer { got, len } => {
                    let take = (8 - *len).min(rest.len());
                    got[*len..*len + take].copy_from_slice(&rest[..take]);
                    *len += take;
                    at += take;
                    if *len < 8 {
                        return step(at, 0);
                    }
                    let [c0, c1, c2, c3, s0, s1, s2, s3] = *got;
                    if u32::from_le_bytes([c0, c1, c2, c3]) != self.crc.clone().finalize() {
                        return Err(DecompressError::Crc32);
                    }
                    if u32::from_le_bytes([s0, s1, s2, s3]) != self.size {
                        return Err(DecompressError::Length);
                    }
                    self.stage = Stage::GzNext;
                }
                Stage::GzNext => match *rest {
                    [] | [0x1f] => return step(at, 0),
                    [0x1f, 0x8b, ..] => {
                        self.inflate.reset(DataFormat::Raw);
                        self.crc = crc32fast::Hasher::new();
                        self.size = 0;
                        self.stage = Stage::GzHeader(Header::new());
                    }
                    _ => self.ignore_rest(),
                },
                Stage::Ignore => return step(input.len(), 0),
            }
        }
    }

    /// One call of miniz_oxide's `inflate`: the input it used and the output it wrote.
    /// Moves on from `Inflate` at the end of the DEFLATE stream.
    fn inflate_some(
        &mut self,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(usize, usize), DecompressError> {
        let result = inflate(&mut self.inflate, input, out, MZFlush::None);
        let produced = result.bytes_written;
        if self.encoding == ContentEncoding::Gzip {
            self.crc.update(&out[..produced]);
            // ISIZE is the length modulo 2^32 (RFC 1952 §2.3.1): the truncation is the rule.
            self.size = self.size.wrapping_add(produced as u32);
        }
        match result.status {
            Ok(MZStatus::StreamEnd) => {
                self.stage = match self.encoding {
                    ContentEncoding::Gzip => Stage::GzTrailer {
                        got: [0; 8],
                        len: 0,
                    },
                    ContentEncoding::Deflate => {
                        self.ignore_rest();
                        Stage::Ignore
                    }
                };
            }
            // `Buf`: no progress without more input (or, with all of it used, none needed).
            Ok(_) | Err(MZError::Buf) => {}
            Err(_) => {
                return Err(match self.inflate.last_status() {
                    TINFLStatus::Adler32Mismatch => DecompressError::Adler32,
                    _ => DecompressError::Corrupt,
                })
            }
        }
        Ok((result.bytes_consumed, produced))
    }

    /// The stream is over: what follows is ignored.
    fn ignore_rest(&mut self) {
        if !matches!(self.stage, Stage::Ignore) {
            log::debug!(
                "ignoring what follows the end of the {} stream",
                self.encoding
            );
        }
        self.stage = Stage::Ignore;
    }

    /// The input ended, with `rest` not consumed: whether the stream was complete. An input
    /// with no bytes at all is an empty body.
    pub(crate) fn finish(&self, rest: &[u8]) -> Result<(), DecompressError> {
        match &self.stage {
            Stage::GzHeader(header) if header.is_untouched() && rest.is_empty() => Ok(()),
            Stage::DeflateStart if rest.is_empty() => Ok(()),
            Stage::GzNext | Stage::Ignore => Ok(()),
            _ => Err(DecompressError::Truncated),
        }
    }
}

/// Whether two bytes start a zlib stream (RFC 1950 §2.2): compression method 8 (DEFLATE), a
/// window of at most 32 KiB, and the check bits (`CMF * 256 + FLG` a multiple of 31). To look
/// like this, raw DEFLATE data would have to start with a non-final stored block whose padding
/// bits are not zero, which encoders do not write.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && ((u16::from(cmf) << 8) | u16::from(flg)) % 31 == 0
}

/// Size of [`Decoding`]'s input buffer: the connection's read buffer, so that a large read of
/// a sized body goes from the socket straight into it.
const INPUT: usize = 8 * 1024;

/// A [`Decoder`] over a poll-based source of compressed bytes, with its input buffer.
///
/// The source is read to its end (its `Ok(0)`) before the decoded body reports its own end,
/// so the exchange underneath always sees the end of its framing: the connection goes back
/// to the pool as it would without decoding.
pub(crate) struct Decoding {
    decoder: Decoder,
    /// Invariant: `input[start..end]` are bytes from the source the decoder has not consumed.
    input: Box<[u8]>,
    start: usize,
    end: usize,
    /// The source reported its end.
    eof: bool,
}

impl Decoding {
    pub(crate) fn new(encoding: ContentEncoding) -> Decoding {
        Decoding {
            decoder: Decoder::new(encoding),
            input: vec![0; INPUT].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    pub(crate) fn encoding(&self) -> ContentEncoding {
        self.decoder.encoding
    }

    /// Reads decoded bytes into `out`; `Ok(0)` once the stream and the source have ended.
    /// `source` reads compressed bytes (`Ok(0)` at its end); its errors pass through as they
    /// are, the decoder's become [`Error::Decompress`].
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
        mut source: impl FnMut(&mut Context<'_>, &mut [u8]) -> Poll<Result<usize, Error>>,
    ) -> Poll<Result<usize, Error>> {
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let encoding = self.encoding();
        let failed = |source| Error::Decompress { encoding, source };
        loop {
            let step = self
                .decoder
                .decode(&self.input[self.start..self.end], out)
                .map_err(failed)?;
            self.start += step.consumed;
            if step.produced > 0 {
                return Poll::Ready(Ok(step.produced));
            }
            if step.consumed > 0 {
                continue;
            }
            // No progress: the decoder needs more input.
            let rest = &self.input[self.start..self.end];
            if self.eof {
                self.decoder.finish(rest).map_err(failed)?;
                return Poll::Ready(Ok(0));
            }
            self.input.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.input.len() {
                panic!("internal error: the decoder made no progress on a full input buffer");
            }
            match ready!(source(cx, &mut self.input[self.end..])) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}
