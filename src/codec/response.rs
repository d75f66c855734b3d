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

/// Default limit on response head bytes (status line and header section).
///
/// 64 KiB is generous on purpose: real heads are well under 8 KiB, but some servers send large
/// cookies or CSP headers, and a client that rejects a valid response is worse than one that
/// buffers a little more. It sits between Go's `MaxResponseHeaderBytes` default (10 MiB, far
/// more than any sane head) and hyper's 400 KiB buffer cap; what matters is that it is bounded,
/// since the head is buffered whole before it can be parsed.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;

/// Maximum number of header fields parsed in a response head or trailer section (hyper uses
/// 100; 128 leaves headroom). Parsing uses a stack array of this many slots.
pub const MAX_HEADERS: usize = 128;

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
        Err(e) => Err(parse_error(e, window, &config)),
    }
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
/// folded value (holding CR or LF) never comes here. Checking again cost about 1.4k
/// instructions per request for nginx's 9 headers, 6% of a whole request (callgrind, `rt
/// seq`). The test `httparse_and_header_value_accept_the_same_bytes` checks the two sets agree
/// for all 256 bytes, and `http` re-checks in debug builds (panicking on a mismatch), so
/// every debug test run checks every value.
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
/// order: the request asked to close (`RequestClose`); the response asked to close, is HTTP/1.0
/// without keep-alive, switched protocols (101) or opened a CONNECT tunnel (`ResponseClose`:
/// roundtrip does not do upgrades or tunnels); the body is close-delimited (`CloseDelimited`);
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
    } else if response_close || status == StatusCode::SWITCHING_PROTOCOLS || tunnel {
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
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

    /// Parses a complete head after checking that every strict prefix is incomplete, and that
    /// bytes after the head are not consumed.
    fn parse(input: &[u8]) -> ResponseHead {
        for end in 0..input.len() {
            let prefix = &input[..end];
            assert!(
                parse_response_head(prefix, DEFAULT_MAX_HEAD_BYTES)
                    .unwrap()
                    .is_none(),
                "prefix {:?}",
                prefix.escape_ascii().to_string()
            );
        }
        let (head, consumed) = parse_response_head(input, DEFAULT_MAX_HEAD_BYTES)
            .unwrap()
            .unwrap();
        assert_eq!(consumed, input.len());
        let mut more = input.to_vec();
        more.extend_from_slice(b"body bytes\r\n\r\n");
        let (again, consumed) = parse_response_head(&more, DEFAULT_MAX_HEAD_BYTES)
            .unwrap()
            .unwrap();
        assert_eq!(consumed, input.len());
        assert_eq!(again.headers, head.headers);
        head
    }

    fn parse_err(input: &[u8]) -> ProtocolError {
        parse_response_head(input, DEFAULT_MAX_HEAD_BYTES).unwrap_err()
    }

    fn head(
        version: Version,
        status: u16,
        headers: &[(&'static str, &'static str)],
    ) -> ResponseHead {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, HeaderValue::from_static(value));
        }
        ResponseHead {
            version,
            status: StatusCode::from_u16(status).unwrap(),
            reason: Bytes::new(),
            headers: map,
        }
    }

    fn framing(
        status: u16,
        headers: &[(&'static str, &'static str)],
    ) -> Result<ResponseFraming, ProtocolError> {
        response_framing(
            &Method::GET,
            false,
            &head(Version::HTTP_11, status, headers),
        )
    }

    fn framed(
        framing: Framing,
        close: Option<CloseReason>,
        content_length: Option<u64>,
    ) -> ResponseFraming {
        ResponseFraming {
            framing,
            close,
            content_length,
        }
    }

    #[test]
    fn httparse_and_header_value_accept_the_same_bytes() {
        for b in 0..=255u8 {
            let value = [b'a', b, b'a'];
            let mut head = b"HTTP/1.1 200 OK\r\nx: ".to_vec();
            head.extend_from_slice(&value);
            head.extend_from_slice(b"\r\n\r\n");
            let accepted = match parse_response_head(&head, DEFAULT_MAX_HEAD_BYTES) {
                Ok(Some((parsed, _))) => parsed.headers["x"].as_bytes() == value,
                _ => false,
            };
            assert_eq!(
                accepted,
                HeaderValue::from_bytes(&value).is_ok(),
                "byte {b:#04x}"
            );
        }
    }
    #[test]
    fn parses_a_head() {
        let head = parse(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n");
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.reason, "OK");
        assert_eq!(head.headers["content-type"], "text/plain");
        let cookies: Vec<_> = head.headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn parses_lenient_forms() {
        // Missing reason phrase, with and without the space.
        let head = parse(b"HTTP/1.1 400\r\n\r\n");
        assert_eq!(
            (head.status, std::str::from_utf8(&head.reason).unwrap()),
            (StatusCode::BAD_REQUEST, "")
        );
        let head = parse(b"HTTP/1.0 404 \r\n\r\n");
        assert_eq!(
            (head.version, head.status),
            (Version::HTTP_10, StatusCode::NOT_FOUND)
        );
        // Space before the colon, which Go also keeps.
        let head = parse(b"HTTP/1.1 200 OK\r\nFoo : bar\r\n\r\n");
        assert_eq!(head.headers["foo"], "bar");
        // Obsolete line folding becomes spaces.
        let head = parse(b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\tc\r\nY: d\r\n\r\n");
        assert_eq!(head.headers["x-folded"], "a    b   c");
        assert_eq!(unfold(b"a\tb\n \tc\r\n\t\td\te"), b"a\tb   c    d\te");
        assert_eq!(head.headers["y"], "d");
        // Bare LF line endings, empty lines before the status line, obs-text in the reason.
        let head = parse(b"\r\n\nHTTP/1.1 201 Cr\xe9\xe9\nA: 1\n\n");
        assert_eq!(
            (head.status, std::str::from_utf8(&head.reason).unwrap()),
            (StatusCode::CREATED, "")
        );
        assert_eq!(head.headers["a"], "1");
        // Empty and non-ASCII values.
        let head = parse(b"HTTP/1.1 200 OK\r\nEmpty:\r\nLatin: caf\xe9\r\n\r\n");
        assert_eq!(head.headers["empty"], "");
        assert_eq!(head.headers["latin"].as_bytes(), b"caf\xe9");
    }

    #[test]
    fn rejects_other_versions() {
        for line in [
            &b"HTTP/2.0 200 OK\r\n\r\n"[..],
            b"HTTP/2 200\r\n\r\n",
            b"HTTP/1.2 200 OK\r\n\r\n",
            b"HTTP/1.10 200 OK\r\n\r\n",
        ] {
            let error = parse_err(line);
            let ProtocolError::UnsupportedVersion { bytes } = &error else {
                panic!("{error:?}");
            };
            assert_eq!(bytes.as_bytes(), &line[..line.len() - 2]);
        }
        assert!(matches!(
            parse_err(b"HTTP/2"),
            ProtocolError::UnsupportedVersion { .. }
        ));
        assert!(matches!(
            parse_err(b"ICY 200 OK\r\n\r\n"),
            ProtocolError::MalformedHead {
                reason: "not an HTTP/1.x status line",
                ..
            }
        ));
    }

    #[test]
    fn rejects_malformed_heads_quoting_the_line() {
        let cases: [(&[u8], &str, &[u8]); 6] = [
            (
                b"HTTP/1.1 2x0 OK\r\n\r\n",
                "invalid status line",
                b"HTTP/1.1 2x0 OK\r\n",
            ),
            (
                b"HTTP/1.1 099 Low\r\n\r\n",
                "status code out of range",
                b"HTTP/1.1 099 Low\r\n",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: 1\r\nBad Name: x\r\nC: 3\r\n\r\n",
                "invalid header name",
                b"Bad Name: x\r\n",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: 1\r\nB: x\x00y\r\n\r\n",
                "invalid header value",
                b"B: x\x00y\r\n",
            ),
            (
                b"HTTP/1.1 200 OK\r\n Leading: space\r\n\r\n",
                "invalid header name",
                b" Leading: space\r\n",
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: 1\rB: 2\r\n\r\n",
                "invalid header value",
                b"A: 1\rB: 2\r\n",
            ),
        ];
        for (input, want_reason, want_line) in cases {
            match parse_err(input) {
                ProtocolError::MalformedHead { reason, bytes } => {
                    assert_eq!((reason, bytes.as_bytes()), (want_reason, want_line));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn head_size_limit() {
        let input = b"HTTP/1.1 200 OK\r\nA: 1\r\n\r\n";
        let n = input.len();
        assert_eq!(parse_response_head(input, n).unwrap().unwrap().1, n);
        assert_eq!(
            parse_response_head(&input[..n - 1], n)
                .unwrap()
                .map(|h| h.1),
            None
        );
        assert_eq!(
            parse_response_head(&input[..n - 1], n - 1).unwrap_err(),
            ProtocolError::HeadTooLarge { limit: n - 1 }
        );
        assert_eq!(
            parse_response_head(input, n - 1).unwrap_err(),
            ProtocolError::HeadTooLarge { limit: n - 1 }
        );
        // A head that never ends: an error once the limit is buffered, not a wait for more.
        let mut endless = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        endless.resize(DEFAULT_MAX_HEAD_BYTES - 1, b'a');
        assert!(parse_response_head(&endless, DEFAULT_MAX_HEAD_BYTES)
            .unwrap()
            .is_none());
        endless.push(b'a');
        let too_large = ProtocolError::HeadTooLarge {
            limit: DEFAULT_MAX_HEAD_BYTES,
        };
        assert_eq!(
            parse_response_head(&endless, DEFAULT_MAX_HEAD_BYTES).unwrap_err(),
            too_large
        );
        endless.extend_from_slice(&[b'a'; 1000]);
        assert_eq!(
            parse_response_head(&endless, DEFAULT_MAX_HEAD_BYTES).unwrap_err(),
            too_large
        );
        // With no limit to speak of, nothing is ever complete.
        assert_eq!(
            parse_response_head(b"", 0).unwrap_err(),
            ProtocolError::HeadTooLarge { limit: 0 }
        );
    }

    #[test]
    fn too_many_headers() {
        let mut input = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_HEADERS {
            input.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
        }
        input.extend_from_slice(b"\r\n");
        assert_eq!(parse(&input).headers.len(), MAX_HEADERS);
        input.truncate(input.len() - 2);
        input.extend_from_slice(b"one-more: v\r\n\r\n");
        assert_eq!(
            parse_err(&input),
            ProtocolError::TooManyHeaders { limit: MAX_HEADERS }
        );
    }

    #[test]
    fn bodiless_statuses_and_head() {
        for status in [100, 103, 204, 304] {
            let got = framing(
                status,
                &[("content-length", "10"), ("transfer-encoding", "chunked")],
            )
            .unwrap();
            assert_eq!(got, framed(Framing::Empty, None, None), "{status}");
        }
        assert_eq!(
            framing(304, &[("transfer-encoding", "chunked")]).unwrap(),
            framed(Framing::Empty, None, None)
        );
        assert_eq!(
            framing(304, &[("content-length", "7")]).unwrap(),
            framed(Framing::Empty, None, Some(7))
        );
        // A malformed length cannot matter there.
        assert_eq!(
            framing(204, &[("content-length", "x")]).unwrap(),
            framed(Framing::Empty, None, None)
        );

        let ok = head(Version::HTTP_11, 200, &[("content-length", "123")]);
        assert_eq!(
            response_framing(&Method::HEAD, false, &ok).unwrap(),
            framed(Framing::Empty, None, Some(123))
        );
        let chunked = head(Version::HTTP_11, 200, &[("transfer-encoding", "chunked")]);
        assert_eq!(
            response_framing(&Method::HEAD, false, &chunked).unwrap(),
            framed(Framing::Empty, None, None)
        );
    }

    #[test]
    fn upgrades_and_tunnels_close() {
        assert_eq!(
            framing(101, &[("upgrade", "websocket"), ("connection", "upgrade")]).unwrap(),
            framed(Framing::Empty, Some(CloseReason::ResponseClose), None)
        );
        let established = head(Version::HTTP_11, 200, &[("content-length", "5")]);
        assert_eq!(
            response_framing(&Method::CONNECT, false, &established).unwrap(),
            framed(Framing::Empty, Some(CloseReason::ResponseClose), Some(5))
        );
        let refused = head(Version::HTTP_11, 407, &[("content-length", "5")]);
        assert_eq!(
            response_framing(&Method::CONNECT, false, &refused).unwrap(),
            framed(Framing::Length(5), None, Some(5))
        );
    }

    #[test]
    fn transfer_encoding() {
        let chunked = framed(Framing::Chunked, None, None);
        assert_eq!(
            framing(200, &[("transfer-encoding", "chunked")]).unwrap(),
            chunked
        );
        assert_eq!(
            framing(200, &[("transfer-encoding", "gzip, CHUNKED")]).unwrap(),
            chunked
        );
        assert_eq!(
            framing(
                200,
                &[
                    ("transfer-encoding", "gzip"),
                    ("transfer-encoding", " chunked ,")
                ]
            )
            .unwrap(),
            chunked
        );
        let to_eof = framed(
            Framing::CloseDelimited,
            Some(CloseReason::CloseDelimited),
            None,
        );
        assert_eq!(
            framing(200, &[("transfer-encoding", "chunked, gzip")]).unwrap(),
            to_eof
        );
        assert_eq!(
            framing(200, &[("transfer-encoding", "gzip")]).unwrap(),
            to_eof
        );
        assert_eq!(framing(200, &[("transfer-encoding", "")]).unwrap(), to_eof);
        assert_eq!(
            framing(200, &[("transfer-encoding", "chunkedx")]).unwrap(),
            to_eof
        );
        // TE wins over CL, even a broken CL, but the connection is not trusted.
        for cl in ["10", "x", "1, 2"] {
            assert_eq!(
                framing(
                    200,
                    &[("content-length", cl), ("transfer-encoding", "chunked")]
                )
                .unwrap(),
                framed(Framing::Chunked, Some(CloseReason::AmbiguousFraming), None)
            );
        }
        // Transfer-Encoding in HTTP/1.0 is faulty framing (RFC 9112 §6.1).
        let old = head(
            Version::HTTP_10,
            200,
            &[
                ("transfer-encoding", "chunked"),
                ("connection", "keep-alive"),
            ],
        );
        assert_eq!(
            response_framing(&Method::GET, false, &old).unwrap(),
            framed(Framing::Chunked, Some(CloseReason::AmbiguousFraming), None)
        );
    }

    #[test]
    fn content_length() {
        let length = |n| framed(Framing::Length(n), None, Some(n));
        assert_eq!(framing(200, &[("content-length", "0")]).unwrap(), length(0));
        assert_eq!(
            framing(200, &[("content-length", "007")]).unwrap(),
            length(7)
        );
        assert_eq!(
            framing(200, &[("content-length", "5, 5")]).unwrap(),
            length(5)
        );
        assert_eq!(
            framing(200, &[("content-length", "5"), ("content-length", "5")]).unwrap(),
            length(5)
        );
        assert_eq!(
            framing(200, &[("content-length", "18446744073709551615")]).unwrap(),
            length(u64::MAX)
        );
        for bad in [
            "+3",
            "-1",
            "3x",
            "",
            " ",
            "5,",
            "0x10",
            "1 2",
            "18446744073709551616",
            "٣",
        ] {
            let mut map = HeaderMap::new();
            map.insert(
                CONTENT_LENGTH,
                HeaderValue::from_bytes(bad.as_bytes()).unwrap(),
            );
            let response = ResponseHead {
                headers: map,
                ..head(Version::HTTP_11, 200, &[])
            };
            assert_eq!(
                response_framing(&Method::GET, false, &response),
                Err(ProtocolError::InvalidContentLength {
                    value: Excerpt::new(bad.as_bytes())
                }),
                "{bad:?}"
            );
        }
        assert_eq!(
            framing(200, &[("content-length", "5, 6")]),
            Err(ProtocolError::ConflictingContentLength)
        );
        assert_eq!(
            framing(200, &[("content-length", "5"), ("content-length", "6")]),
            Err(ProtocolError::ConflictingContentLength)
        );
    }

    #[test]
    fn close_delimited_without_framing_headers() {
        assert_eq!(
            framing(200, &[]).unwrap(),
            framed(
                Framing::CloseDelimited,
                Some(CloseReason::CloseDelimited),
                None
            )
        );
    }

    #[test]
    fn keep_alive_rules() {
        let chunked = ("transfer-encoding", "chunked");
        // HTTP/1.1: persistent unless `close`.
        assert_eq!(
            framing(200, &[chunked, ("connection", "Keep-Alive, CLOSE")])
                .unwrap()
                .close,
            Some(CloseReason::ResponseClose)
        );
        assert_eq!(
            framing(200, &[chunked, ("connection", "closed")])
                .unwrap()
                .close,
            None
        );
        // HTTP/1.0: persistent only with keep-alive and a self-delimited body.
        let v10 = |headers: &[(&'static str, &'static str)]| {
            response_framing(&Method::GET, false, &head(Version::HTTP_10, 200, headers))
                .unwrap()
                .close
        };
        assert_eq!(
            v10(&[("content-length", "1")]),
            Some(CloseReason::ResponseClose)
        );
        assert_eq!(
            v10(&[("content-length", "1"), ("connection", "keep-alive")]),
            None
        );
        assert_eq!(
            v10(&[("content-length", "1"), ("connection", "keep-alive, close")]),
            Some(CloseReason::ResponseClose)
        );
        assert_eq!(
            v10(&[("connection", "keep-alive")]),
            Some(CloseReason::CloseDelimited)
        );
        assert_eq!(v10(&[]), Some(CloseReason::ResponseClose));
        // The request's close comes first.
        let ok = head(Version::HTTP_11, 200, &[("connection", "close")]);
        assert_eq!(
            response_framing(&Method::GET, true, &ok).unwrap().close,
            Some(CloseReason::RequestClose)
        );
        let ambiguous = head(Version::HTTP_11, 200, &[chunked, ("content-length", "1")]);
        assert_eq!(
            response_framing(&Method::GET, true, &ambiguous)
                .unwrap()
                .close,
            Some(CloseReason::RequestClose)
        );
    }

    #[test]
    fn interim() {
        for code in [100, 102, 103, 199] {
            assert!(is_interim(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [101, 200, 204, 304, 404] {
            assert!(!is_interim(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        // An interim response followed by the final one, in one buffer.
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let mut at = 0;
        let mut statuses = Vec::new();
        loop {
            let (head, consumed) = parse_response_head(&input[at..], DEFAULT_MAX_HEAD_BYTES)
                .unwrap()
                .unwrap();
            at += consumed;
            statuses.push(head.status.as_u16());
            if !is_interim(head.status) {
                break;
            }
        }
        assert_eq!(statuses, [100, 103, 200]);
        assert_eq!(at, input.len());
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"00000000000000000000000000042"), Some(42));
        assert_eq!(parse_decimal(b""), None);
        assert_eq!(parse_decimal(b"99999999999999999999"), None);
        assert_eq!(parse_decimal(b"1/"), None);
        assert_eq!(parse_decimal(b"1:"), None);
    }
}
