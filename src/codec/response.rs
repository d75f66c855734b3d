//! The response side of the codec: parsing a response head, then deciding how its body is
//! framed (RFC 9112 §6.3) and whether the connection may be reused afterwards (RFC 9112 §9.3).

use std::mem::MaybeUninit;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use httparse::{ParserConfig, Status};

use super::error::{Excerpt, ProtocolError};
use super::fields;
use crate::close::CloseReason;

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// `HTTP/1.1` or `HTTP/1.0` (the parser rejects every other version).
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase as sent: empty when missing, and also when it is not UTF-8 (httparse
    /// drops such a phrase rather than fail the response). Shares its allocation with the
    /// header values.
    pub reason: Bytes,
    /// The header fields. Obsolete line folding has been replaced by spaces (RFC 9112 §5.2).
    pub headers: HeaderMap,
}

pub use super::limits::{DEFAULT_MAX_HEAD_BYTES, MAX_HEADERS};

/// The parser's leniencies, all limited to what browsers and Go accept from servers:
/// whitespace between a field name and the colon (`Foo : bar`, which Go keeps), and obsolete
/// line folding (replaced by spaces when converted, as RFC 9112 §5.2 allows). Bare LF line
/// endings are accepted by httparse itself (RFC 9112 §2.2 allows it).
fn parser_config() -> ParserConfig {
    let mut config = ParserConfig::default();
    config
        .allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true);
    config
}

/// Parses one response head from the start of `buf`.
///
/// Returns `Ok(None)` when the head is incomplete and more bytes are needed, and
/// `Ok(Some((head, consumed)))` when complete: `buf[consumed..]` is the start of the body (or
/// of whatever follows). Empty lines before the status line are skipped (RFC 9112 §2.2) and
/// counted in `consumed`.
///
/// At most `max_head_bytes` of `buf` are examined: a head that does not end within them is
/// [`ProtocolError::HeadTooLarge`] as soon as `buf` holds `max_head_bytes` bytes (it can only
/// end later), so the caller never needs to buffer more than that.
pub fn parse_response_head(
    buf: &[u8],
    max_head_bytes: usize,
) -> Result<Option<(ResponseHead, usize)>, ProtocolError> {
    let window = &buf[..buf.len().min(max_head_bytes)];
    let config = parser_config();
    // Uninitialised slots: filling 128 empty headers cost more than parsing a typical head.
    let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut []);
    match config.parse_response_with_uninit_headers(&mut parsed, window, &mut slots) {
        Ok(Status::Complete(consumed)) => {
            Ok(Some((convert(&parsed, &window[..consumed])?, consumed)))
        }
        Ok(Status::Partial) if window.len() == max_head_bytes => Err(ProtocolError::HeadTooLarge {
            limit: max_head_bytes,
        }),
        Ok(Status::Partial) => Ok(None),
        Err(e) => parse_again(e, window, max_head_bytes, &config),
    }
}

/// The rare heads httparse refuses that are valid all the same, parsed again; any other
/// error is mapped to a [`ProtocolError`].
///
/// - The limit is the head's bytes, as in Go (`MaxResponseHeaderBytes`), not a count of
///   fields: a head with more fields than the stack slots (201 `Set-Cookie` fields, say) is
///   parsed again with one slot per line it can hold.
/// - RFC 9112 §2.3: a higher minor version is processed as HTTP/1.1 (Go accepts it too);
///   httparse refuses it, so a copy of the head that says 1.1 is parsed.
#[cold]
fn parse_again(
    error: httparse::Error,
    window: &[u8],
    max_head_bytes: usize,
    config: &ParserConfig,
) -> Result<Option<(ResponseHead, usize)>, ProtocolError> {
    let again = match error {
        httparse::Error::TooManyHeaders => {
            let lines = window.iter().filter(|&&b| b == b'\n').count() + 1;
            let mut slots: Vec<_> = (0..lines).map(|_| MaybeUninit::uninit()).collect();
            parse_in(window, max_head_bytes, config, &mut slots)
        }
        httparse::Error::Version => match higher_minor_version(window) {
            Some(at) => {
                let mut copy = window.to_vec();
                copy[at] = b'1';
                let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
                parse_in(&copy, max_head_bytes, config, &mut slots)
            }
            None => Err(error),
        },
        _ => Err(error),
    };
    again.map_err(|e| parse_error(e, window, config))?
}

/// One parse of `window` into `slots`: `Err` is httparse's, `Ok(Err)` a conversion error.
fn parse_in<'b>(
    window: &'b [u8],
    max_head_bytes: usize,
    config: &ParserConfig,
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Result<Option<(ResponseHead, usize)>, ProtocolError>, httparse::Error> {
    let mut parsed = httparse::Response::new(&mut []);
    Ok(
        match config.parse_response_with_uninit_headers(&mut parsed, window, slots)? {
            Status::Complete(consumed) => {
                convert(&parsed, &window[..consumed]).map(|head| Some((head, consumed)))
            }
            Status::Partial if window.len() == max_head_bytes => Err(ProtocolError::HeadTooLarge {
                limit: max_head_bytes,
            }),
            Status::Partial => Ok(None),
        },
    )
}

/// Where the minor version digit of `HTTP/1.x` is, when `x` is 2 to 9 (a higher minor version
/// of HTTP/1), after the empty lines httparse skips; also when the input ends right after the
/// digit (then the copy parses as incomplete).
fn higher_minor_version(window: &[u8]) -> Option<usize> {
    let start = window.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let line = &window[start..];
    let minor = *line.get(7)?;
    let ends_there = matches!(line.get(8), None | Some(b' '));
    (line.starts_with(b"HTTP/1.") && (b'2'..=b'9').contains(&minor) && ends_there)
        .then_some(start + 7)
}

/// Converts httparse's borrowed result into owned `http` types.
/// `window` is exactly the head (status line through the empty line).
fn convert(
    parsed: &httparse::Response<'_, '_>,
    window: &[u8],
) -> Result<ResponseHead, ProtocolError> {
    let status_line = || Excerpt::new(line_at(window, 0));
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => {
            return Err(ProtocolError::UnsupportedVersion {
                bytes: status_line(),
            })
        }
    };
    let status = parsed
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| ProtocolError::MalformedHead {
            reason: "status code out of range",
            bytes: status_line(),
        })?;
    // One copy of the head; the header values and the reason are slices of it (no
    // allocation per field).
    let shared = Bytes::copy_from_slice(window);
    let slice = |part: &[u8]| match part_of(window, part) {
        Some(range) => shared.slice(range),
        None => Bytes::copy_from_slice(part),
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    for field in parsed.headers.iter() {
        let malformed = |reason| ProtocolError::MalformedHead {
            reason,
            bytes: Excerpt::new(field.name.as_bytes()),
        };
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| malformed("invalid header name"))?;
        let value = if field.value.contains(&b'\n') {
            HeaderValue::from_bytes(&unfold(field.value))
        } else {
            Ok(value_checked_by_httparse(slice(field.value)))
        };
        headers.append(name, value.map_err(|_| malformed("invalid header value"))?);
    }
    Ok(ResponseHead {
        version,
        status,
        reason: parsed
            .reason
            .map_or_else(Bytes::new, |r| slice(r.as_bytes())),
        headers,
    })
}

/// A header value from bytes httparse has already checked, without checking them again.
///
/// httparse accepts exactly HTAB, SP to `~` and obs-text (0x80 to 0xFF) in a field value,
/// which is exactly the set `HeaderValue` accepts (`b >= 32 && b != 127 || b == b'\t'`); a
/// folded value (holding CR or LF) never comes here. Checking again cost 8% of a whole
/// request (21.7k → 19.9k instructions per request natively for nginx's 9 headers; callgrind,
/// `rt seq`, bench/README.md). The test `httparse_and_header_value_accept_the_same_bytes`
/// checks the two sets agree for all 256 bytes, against the httparse version in use: every
/// `cargo test` runs it, and `scripts/test.sh` (CI) runs it on all three targets on every
/// run. Cargo.toml pins httparse to `~1.10`, the minor version it verified. `http` also
/// re-checks in debug builds (panicking on a mismatch), so every debug test run checks every
/// value.
///
/// This is the crate's only `unsafe` (see `lib.rs`).
#[allow(unsafe_code)]
fn value_checked_by_httparse(bytes: Bytes) -> HeaderValue {
    // SAFETY: `from_maybe_shared_unchecked` requires valid header value bytes; see above.
    unsafe { HeaderValue::from_maybe_shared_unchecked(bytes) }
}

/// Where `part`, a sub-slice of `window` as httparse returns them, lies in `window`, so the
/// same range of a copy of `window` can be taken. `None` for a slice that is not inside
/// `window` (an empty one may point anywhere); the caller copies those.
fn part_of(window: &[u8], part: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(window.as_ptr() as usize)?;
    (start + part.len() <= window.len()).then(|| start..start + part.len())
}

/// Replaces each obsolete line folding (CRLF or LF, then SP or HTAB) in a field value with as
/// many spaces (RFC 9112 §5.2); other tabs are kept.
fn unfold(value: &[u8]) -> Vec<u8> {
    let mut in_fold = false;
    value
        .iter()
        .map(|&b| {
            in_fold = matches!(b, b'\r' | b'\n') || (in_fold && matches!(b, b' ' | b'\t'));
            if in_fold {
                b' '
            } else {
                b
            }
        })
        .collect()
}

/// Maps an httparse error to a [`ProtocolError`] quoting the offending line.
fn parse_error(error: httparse::Error, window: &[u8], config: &ParserConfig) -> ProtocolError {
    let reason = match error {
        httparse::Error::TooManyHeaders => {
            return ProtocolError::TooManyHeaders { limit: MAX_HEADERS }
        }
        httparse::Error::Version => "not an HTTP/1.x status line",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token",
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
    };
    let line = line_at(window, failure_offset(window, config));
    if error == httparse::Error::Version && line.starts_with(b"HTTP/") {
        return ProtocolError::UnsupportedVersion {
            bytes: Excerpt::new(line),
        };
    }
    ProtocolError::MalformedHead {
        reason,
        bytes: Excerpt::new(line),
    }
}

/// The offset of the byte at which parsing `window` fails (`window` must fail to parse).
///
/// httparse does not report where it failed, but failure is monotonic in the input: if a
/// prefix fails, so does every longer one, while prefixes that end before the bad byte are
/// merely incomplete. So the shortest failing prefix is found by bisection, in O(n log n) on
/// this (once per connection) error path.
fn failure_offset(window: &[u8], config: &ParserConfig) -> usize {
    let fails = |len: usize| {
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut []);
        config
            .parse_response_with_uninit_headers(&mut parsed, &window[..len], &mut slots)
            .is_err()
    };
    // Invariant: the prefix of length `ok` does not fail (the empty one never does), the one
    // of length `bad` does.
    let (mut ok, mut bad) = (0, window.len());
    while bad - ok > 1 {
        let mid = ok + (bad - ok) / 2;
        if fails(mid) {
            bad = mid;
        } else {
            ok = mid;
        }
    }
    bad.saturating_sub(1)
}

/// The line containing `buf[at]`, with its line ending, ignoring the empty lines httparse skips
/// before a status line. Used to quote bytes in errors.
fn line_at(buf: &[u8], at: usize) -> &[u8] {
    let leading = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let at = at.max(leading).min(buf.len());
    let start = buf[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let end = buf[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(buf.len(), |i| at + i + 1);
    &buf[start..end]
}

/// How a response body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: the response ends with its head.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// The body ends when the server closes the connection.
    CloseDelimited,
}

/// The body framing of a response and the fate of its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseFraming {
    /// How the body is delimited.
    pub framing: Framing,
    /// `None` if the connection may be reused after this message; otherwise why not.
    pub close: Option<CloseReason>,
    /// `Content-Length` as announced, also when the body is empty anyway (a response to HEAD,
    /// 204, 304). `None` when absent, when `Transfer-Encoding` overrides it, or when it is
    /// malformed on a response that has no body (there it cannot affect framing, so it is
    /// ignored rather than rejected, like hyper does).
    pub content_length: Option<u64>,
}

/// Decides the body framing of `head` (RFC 9112 §6.3) and whether the connection may be reused
/// afterwards (RFC 9112 §9.3).
///
/// Framing, in precedence order:
/// 1. a response to HEAD, a 1xx, 204 or 304 response, or a 2xx response to CONNECT: `Empty`,
///    whatever its framing headers say;
/// 2. `Transfer-Encoding` whose final coding is `chunked`: `Chunked`; any other
///    `Transfer-Encoding`: `CloseDelimited`. A `Content-Length` alongside is ignored;
/// 3. `Content-Length`: `Length`. Every value (across repeated fields and comma lists) must be
///    `1*DIGIT`, fit a `u64` and agree, else [`ProtocolError::InvalidContentLength`] or
///    [`ProtocolError::ConflictingContentLength`]; `5, 5` is fine;
/// 4. otherwise `CloseDelimited`.
///
/// Reuse: an HTTP/1.1 response allows it unless `Connection` has a `close` token; an HTTP/1.0
/// one only with a `keep-alive` token (and no `close`). The reason recorded, in precedence
/// order: the request asked to close (`RequestClose`); the response switched protocols (101:
/// `Upgraded`, the connection is no longer HTTP/1.1 and belongs to whoever takes it over);
/// the response asked to close, is HTTP/1.0 without keep-alive or opened a CONNECT tunnel
/// (`ResponseClose`: roundtrip does not do tunnels); the body is close-delimited (`CloseDelimited`);
/// the framing was dubious — `Transfer-Encoding` with `Content-Length`, or in an HTTP/1.0
/// message — so it was read as chunked but is not trusted (`AmbiguousFraming`, §6.1, §6.3).
pub fn response_framing(
    request_method: &Method,
    request_wants_close: bool,
    head: &ResponseHead,
) -> Result<ResponseFraming, ProtocolError> {
    let status = head.status;
    let fields = FramingFields::scan(&head.headers);
    let tunnel = request_method == Method::CONNECT && status.is_success();
    let bodiless = request_method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || tunnel;

    let (framing, content_length, ambiguous) = if bodiless {
        let announced = if fields.transfer_encoding {
            None
        } else {
            fields.content_length.ok().flatten()
        };
        (Framing::Empty, announced, false)
    } else if fields.transfer_encoding {
        let framing = if fields.chunked_last {
            Framing::Chunked
        } else {
            Framing::CloseDelimited
        };
        let ambiguous = fields.content_length_present || head.version != Version::HTTP_11;
        (framing, None, ambiguous)
    } else {
        match fields.content_length? {
            Some(n) => (Framing::Length(n), Some(n), false),
            None => (Framing::CloseDelimited, None, false),
        }
    };

    let response_close = if head.version == Version::HTTP_11 {
        fields.close
    } else {
        fields.close || !fields.keep_alive
    };
    let close = if request_wants_close {
        Some(CloseReason::RequestClose)
    } else if status == StatusCode::SWITCHING_PROTOCOLS {
        Some(CloseReason::Upgraded)
    } else if response_close || tunnel {
        Some(CloseReason::ResponseClose)
    } else if framing == Framing::CloseDelimited {
        Some(CloseReason::CloseDelimited)
    } else if ambiguous {
        Some(CloseReason::AmbiguousFraming)
    } else {
        None
    };
    Ok(ResponseFraming {
        framing,
        close,
        content_length,
    })
}

/// What the framing-related fields of a head say, gathered in one pass over the fields
/// (no lookups by name: each costs a hash).
struct FramingFields {
    /// A `Transfer-Encoding` field is present.
    transfer_encoding: bool,
    /// The last transfer coding, across all `Transfer-Encoding` lines, is `chunked`.
    chunked_last: bool,
    /// A `Content-Length` field is present (valid or not).
    content_length_present: bool,
    /// The `Content-Length` after checking every value in order: every element (across
    /// repeated lines and comma lists) must be `1*DIGIT`, fit a `u64` and agree. The first
    /// problem found is kept.
    content_length: Result<Option<u64>, ProtocolError>,
    /// `Connection` has a `close` token (ASCII case-insensitive).
    close: bool,
    /// `Connection` has a `keep-alive` token.
    keep_alive: bool,
}

impl FramingFields {
    fn scan(headers: &HeaderMap) -> FramingFields {
        let mut seen = FramingFields {
            transfer_encoding: false,
            chunked_last: false,
            content_length_present: false,
            content_length: Ok(None),
            close: false,
            keep_alive: false,
        };
        for (name, value) in headers {
            let bytes = value.as_bytes();
            if name == CONTENT_LENGTH {
                seen.content_length_present = true;
                if let Ok(found) = seen.content_length {
                    seen.content_length = content_length_line(found, bytes);
                }
            } else if name == TRANSFER_ENCODING {
                seen.transfer_encoding = true;
                if let Some(last) = fields::elements(bytes).filter(|c| !c.is_empty()).last() {
                    seen.chunked_last = last.eq_ignore_ascii_case(b"chunked");
                }
            } else if name == CONNECTION {
                for token in fields::elements(bytes) {
                    seen.close |= token.eq_ignore_ascii_case(b"close");
                    seen.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        seen
    }
}

/// Folds one `Content-Length` line into the value found so far (see [`FramingFields`]).
fn content_length_line(mut found: Option<u64>, value: &[u8]) -> Result<Option<u64>, ProtocolError> {
    for element in fields::elements(value) {
        let n = parse_decimal(element).ok_or_else(|| ProtocolError::InvalidContentLength {
            value: Excerpt::new(value),
        })?;
        match found {
            Some(previous) if previous != n => return Err(ProtocolError::ConflictingContentLength),
            _ => found = Some(n),
        }
    }
    Ok(found)
}

/// Parses `1*DIGIT` into a `u64`; no sign, no whitespace, no overflow.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d < 10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// True for 1xx responses other than 101, which the client must skip before the final
/// response (100 Continue, 103 Early Hints, …). 101 Switching Protocols is final.
pub fn is_interim(status: StatusCode) -> bool {
    status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS
}

#[cfg(test)]
mod tests;
