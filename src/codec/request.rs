//! The request side of the codec: where a request goes ([`Target`]) and its bytes on the wire
//! (the head, and the chunk frames of a streamed body).
//!
//! Everything a caller hands in is validated before it can reach the wire: a header value with
//! CR or LF would let a caller (or whoever controls a header value) smuggle a second request
//! onto a pooled connection. `http`'s types already reject most bad input, but
//! `HeaderValue::from_maybe_shared_unchecked` exists, so the writer checks again; the cost is a
//! byte scan of data that is about to be copied anyway.

use std::fmt;

use http::uri::Scheme;
use http::{header, HeaderMap, HeaderName, Method, Uri, Version};

use super::error::{Excerpt, RequestError};
use super::fields;

/// The port of `http` URIs that do not name one.
const HTTP_PORT: u16 = 80;
const HTTPS_PORT: u16 = 443;

/// Where a request goes: the pool key and the address to dial.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    /// `http` or `https`: the same HTTP/1.1 on the wire, over TCP or over TLS.
    pub scheme: Scheme,
    /// The host: a lowercase DNS name or IPv4 address, or an IPv6 address without brackets
    /// (an RFC 6874 zone such as `%25eth0` is kept, verbatim, for dialing).
    pub host: String,
    /// The port; the scheme's (80 or 443) when the URI names none.
    pub port: u16,
}

impl Target {
    /// The target of an absolute `http` or `https` URI (the scheme is matched
    /// case-insensitively).
    ///
    /// User information (`user:password@`) in the URI is ignored: it is never sent.
    pub fn from_uri(uri: &Uri) -> Result<Target, RequestError> {
        let authority = Authority::of(uri)?;
        let host = authority.host;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        // Lowercase the host, but not an IPv6 zone: interface names are case-sensitive.
        let zone = host.find('%').unwrap_or(host.len());
        let mut lower = host.to_owned();
        lower[..zone].make_ascii_lowercase();
        Ok(Target {
            scheme: if authority.tls {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
            host: lower,
            port: authority.port,
        })
    }

    /// Whether the connection is TLS (`https`).
    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::HTTPS
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// The authority of an absolute `http` or `https` URI, validated and borrowed from it.
struct Authority<'a> {
    /// The host as written in the URI: brackets around IP literals, original case.
    host: &'a str,
    /// The port; the scheme's default when absent or empty (`http://host:/`).
    port: u16,
    /// The scheme is `https`.
    tls: bool,
}

impl<'a> Authority<'a> {
    /// Checks the scheme and extracts host and port. `http` does not validate the port (its
    /// `port_u16()` silently returns `None` for `:99999`), so it is parsed here.
    fn of(uri: &'a Uri) -> Result<Self, RequestError> {
        let scheme = uri.scheme_str().ok_or(RequestError::MissingScheme)?;
        let tls = if scheme.eq_ignore_ascii_case("http") {
            false
        } else if scheme.eq_ignore_ascii_case("https") {
            true
        } else {
            return Err(RequestError::UnsupportedScheme(scheme.to_owned()));
        };
        let default_port = if tls { HTTPS_PORT } else { HTTP_PORT };
        let authority = uri.authority().ok_or(RequestError::MissingHost)?.as_str();
        // `[userinfo@]host[:port]`, already checked by `http` for its character set; split
        // as `Authority::host` does, in one pass.
        let host_port = match authority.bytes().rposition(|b| b == b'@') {
            Some(at) => &authority[at + 1..],
            None => authority,
        };
        let host_end = if host_port.starts_with('[') {
            host_port.find(']').map_or(host_port.len(), |i| i + 1)
        } else {
            host_port.find(':').unwrap_or(host_port.len())
        };
        let (host, after_host) = host_port.split_at(host_end);
        if host.is_empty() {
            return Err(RequestError::MissingHost);
        }
        let port = match after_host.strip_prefix(':') {
            None if after_host.is_empty() => default_port,
            Some("") => default_port,
            Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                digits.parse().map_err(|_| RequestError::InvalidUri)?
            }
            _ => return Err(RequestError::InvalidUri),
        };
        if !is_uri_host(host.as_bytes()) {
            return Err(RequestError::InvalidHost);
        }
        Ok(Authority { host, port, tls })
    }

    /// The host for the `Host` header and the authority-form: an IPv6 zone is removed, as
    /// RFC 6874 §4 requires (it only means something on this machine).
    fn host_for_wire(&self) -> (&'a str, bool) {
        match self.host.find('%') {
            Some(zone) if self.host.starts_with('[') => (&self.host[..zone], true),
            _ => (self.host, false),
        }
    }

    /// Appends `host[:port]`; the port is written when `always_port` or it is not the
    /// scheme's default.
    fn write(&self, always_port: bool, out: &mut Vec<u8>) {
        let (host, zone_removed) = self.host_for_wire();
        out.extend_from_slice(host.as_bytes());
        if zone_removed {
            out.push(b']');
        }
        let default_port = if self.tls { HTTPS_PORT } else { HTTP_PORT };
        if always_port || self.port != default_port {
            out.push(b':');
            push_decimal(u64::from(self.port), out);
        }
    }
}

/// Whether `b` may appear in a `uri-host` other than inside brackets: unreserved, sub-delims
/// and `%` (RFC 3986 §3.2.2).
#[inline]
fn is_host_byte(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\''
        | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'%')
}

/// Whether `host` is a bracketed IP literal or a reg-name/IPv4 address (RFC 3986 §3.2.2).
fn is_uri_host(host: &[u8]) -> bool {
    match host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        Some(literal) => {
            !literal.is_empty() && literal.iter().all(|&b| b == b':' || is_host_byte(b))
        }
        None => !host.is_empty() && host.iter().all(|&b| is_host_byte(b)),
    }
}

/// Whether a caller's `Host` value is `uri-host [":" port]` (RFC 9112 §3.2).
fn is_host_header(value: &[u8]) -> bool {
    let (host, port) = if value.starts_with(b"[") {
        match value.iter().position(|&b| b == b']') {
            Some(end) => value.split_at(end + 1),
            None => return false,
        }
    } else {
        let colon = value.iter().position(|&b| b == b':').unwrap_or(value.len());
        value.split_at(colon)
    };
    let port_ok = match port.split_first() {
        None => true,
        Some((b':', digits)) => digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    is_uri_host(host) && port_ok
}

/// How the request body is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyLength {
    /// No body. `content-length: 0` is still sent for POST, PUT and PATCH, like Go does, since
    /// some servers insist on a length for those methods.
    Empty,
    /// Exactly this many bytes follow the head (`content-length`).
    Known(u64),
    /// A body of unknown length, sent with `transfer-encoding: chunked` via [`write_chunk`] and
    /// [`LAST_CHUNK`]. HTTP/1.1 only.
    Chunked,
}

/// What the head writer decided; the connection layer needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    /// The request as written carries `Connection: close`: the caller's header, or the one
    /// added because `keep_alive` was false. The connection must be closed after the response.
    pub wants_close: bool,
    /// The method is HEAD: the response has no body whatever its headers say.
    pub is_head: bool,
    /// The request carries `Expect: 100-continue` (the token, ASCII case-insensitive), is
    /// HTTP/1.1 and has a body: the body should wait for the server's `100 Continue` (Go's
    /// `expectsContinue`, with its conditions for waiting).
    pub expects_continue: bool,
    /// The request asks to switch protocols: `Connection` has an `upgrade` token and an
    /// `Upgrade` field is present (RFC 9110 §7.8). Only then may a `101` answer it.
    pub upgrade: bool,
}

/// The last-chunk and empty trailer section that end a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Validates and appends the request head (request line, headers, blank line) to `out`.
///
/// The head is, in order:
/// - `METHOD SP request-target SP HTTP/1.x CRLF`, where the target is the origin-form
///   (`/path?query`, `/` when the path is empty), or for CONNECT the authority-form
///   (`host:port`);
/// - `host`: the caller's `Host` header if present, else the URI's host (IPv6 in brackets,
///   zone removed) with `:port` unless the port is 80 (always, for CONNECT);
/// - the caller's headers in `HeaderMap` iteration order, except `host`, `content-length` and
///   `transfer-encoding` (the codec owns framing);
/// - the framing header chosen from `body` (see [`BodyLength`]);
/// - `connection: close` if `!keep_alive` and the caller did not send a `close` token; or, for an
///   HTTP/1.0 request with `keep_alive`, `connection: keep-alive` unless the caller sent
///   `keep-alive` or `close` (HTTP/1.0 connections are not persistent by default). An
///   upgrade request (see [`RequestInfo::upgrade`]) gets neither: its `Connection: upgrade`
///   stands, and the connection leaves the pool anyway if the server switches (Go does the
///   same);
/// - the empty line.
///
/// Names the codec adds are lowercase, like those `HeaderMap` yields.
///
/// On error `out` is left exactly as it was: nothing may be sent.
pub fn write_request_head(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    body: BodyLength,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<RequestInfo, RequestError> {
    let start = out.len();
    let result = write_head(method, uri, version, headers, body, keep_alive, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// [`write_request_head`] without the rollback.
fn write_head(
    method: &Method,
    uri: &Uri,
    version: Version,
    headers: &HeaderMap,
    body: BodyLength,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<RequestInfo, RequestError> {
    let version_bytes: &[u8] = match (version, body) {
        (Version::HTTP_11, _) => b"HTTP/1.1",
        (Version::HTTP_10, BodyLength::Chunked) => return Err(RequestError::UnsupportedVersion),
        (Version::HTTP_10, _) => b"HTTP/1.0",
        _ => return Err(RequestError::UnsupportedVersion),
    };
    let authority = Authority::of(uri)?;
    let estimate: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    out.reserve(estimate + 128);

    // Request line. `Method` cannot hold anything but a token, so it needs no check.
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    if method == Method::CONNECT {
        authority.write(true, out);
    } else {
        let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
        if !target.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RequestError::InvalidUri);
        }
        if target.starts_with('?') {
            out.push(b'/');
        }
        out.extend_from_slice(target.as_bytes());
    }
    out.push(b' ');
    out.extend_from_slice(version_bytes);
    out.extend_from_slice(b"\r\n");

    // Host first: some servers (and RFC 9112 §3.2's SHOULD) expect it there.
    out.extend_from_slice(b"host: ");
    let mut caller_hosts = headers.get_all(header::HOST).iter();
    match (caller_hosts.next(), caller_hosts.next()) {
        (Some(host), None) if is_host_header(host.as_bytes()) => {
            out.extend_from_slice(host.as_bytes());
        }
        (Some(_), _) => return Err(RequestError::InvalidHost),
        (None, _) => authority.write(method == Method::CONNECT, out),
    }
    out.extend_from_slice(b"\r\n");

    for (name, value) in headers {
        if name == header::HOST
            || name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
        {
            continue;
        }
        check_field(name, value.as_bytes())?;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    match body {
        BodyLength::Known(n) => {
            out.extend_from_slice(b"content-length: ");
            push_decimal(n, out);
            out.extend_from_slice(b"\r\n");
        }
        BodyLength::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        BodyLength::Empty => {
            if method == Method::POST || method == Method::PUT || method == Method::PATCH {
                out.extend_from_slice(b"content-length: 0\r\n");
            }
        }
    }

    let caller_close = fields::has_token(headers.get_all(header::CONNECTION), "close");
    let upgrade = is_upgrade(headers);
    if upgrade {
        // Go's `isClientUpgradeRequest`: no `Connection: close` beside `Connection: upgrade`.
    } else if !keep_alive && !caller_close {
        out.extend_from_slice(b"connection: close\r\n");
    } else if version == Version::HTTP_10
        && keep_alive
        && !caller_close
        && !fields::has_token(headers.get_all(header::CONNECTION), "keep-alive")
    {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");

    Ok(RequestInfo {
        wants_close: caller_close || (!keep_alive && !upgrade),
        is_head: method == Method::HEAD,
        expects_continue: version == Version::HTTP_11
            && body != BodyLength::Empty
            && expects_continue(headers),
        upgrade,
    })
}

/// `Expect` has a `100-continue` element. Checked only when an `Expect` field is present:
/// one map lookup per request otherwise.
fn expects_continue(headers: &HeaderMap) -> bool {
    fields::has_token(headers.get_all(header::EXPECT), "100-continue")
}

/// `Connection: upgrade` and an `Upgrade` field (RFC 9110 §7.8).
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && fields::has_token(headers.get_all(header::CONNECTION), "upgrade")
}

/// Checks one caller header (see [`fields::is_token`], [`fields::is_field_value`]).
fn check_field(name: &HeaderName, value: &[u8]) -> Result<(), RequestError> {
    let name = name.as_str();
    if !fields::is_token(name.as_bytes()) {
        let quoted = Excerpt::new(name.as_bytes()).to_string();
        return Err(RequestError::InvalidHeaderName(quoted));
    }
    if !fields::is_field_value(value) {
        return Err(RequestError::InvalidHeaderValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Appends one chunk frame: `{len:x}\r\n`, `data`, `\r\n`. An empty `data` appends nothing,
/// since an empty chunk would end the body.
pub fn write_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    // A usize always fits in a u64 on the targets Rust supports.
    push_hex(data.len() as u64, out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal, without going through `fmt`.
fn push_decimal(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20]; // u64::MAX has 20 digits.
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Appends `n` in lowercase hex, without going through `fmt`.
fn push_hex(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 16]; // u64::MAX has 16 hex digits.
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests;
