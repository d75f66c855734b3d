//! The codec's size limits, in one place below the modules that enforce them: the head
//! parser ([`super::response`]), the body decoder ([`super::body`]) and the chunked-coding
//! state machine behind it all read from here, and none imports another's limits.

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

/// Limit on one chunk-size line, including chunk extensions and CRLF.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Limit on the trailer section of a chunked body, including its final empty line.
pub const MAX_TRAILER_BYTES: usize = 16 * 1024;

/// The most interim (1xx other than 101) responses accepted before a final one, as in Go
/// (`max1xxResponses`). Their bytes also count against the head limit, all together.
pub const MAX_INTERIM_RESPONSES: usize = 5;
