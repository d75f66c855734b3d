//! Why a connection was closed (or refused by the idle pool).
//!
//! "May this connection be reused?" is answered everywhere in roundtrip by an
//! `Option<CloseReason>`: `None` means reusable, `Some(reason)` says why not. Every close of a
//! connection records exactly one reason in the pool statistics, so a user can always see why
//! connections churn.

use std::fmt;

/// Why a connection was closed, or why the idle pool refused to keep it.
///
/// The variants mirror the reasons Go's `net/http.Transport` records (`errKeepAlivesDisabled`,
/// `errTooManyIdleHost`, `errServerClosedIdle`, …), plus the ones an HTTP/1.1 message itself
/// carries (`Connection: close`, close-delimited bodies, ambiguous framing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum CloseReason {
    /// The transport is configured with `disable_keep_alives`.
    KeepAlivesDisabled,
    /// The idle pool was full across all hosts (`max_idle_total`); the oldest idle connection
    /// was closed.
    TooManyIdle,
    /// The idle pool for this host was full (`max_idle_per_host`).
    TooManyIdleForHost,
    /// The connection sat idle longer than `idle_timeout`.
    IdleTimeout,
    /// The server closed the connection while it was idle in the pool (EOF, or an
    /// unsolicited `408 Request Timeout`).
    ServerClosedIdle,
    /// The server sent bytes on an idle connection that were not a `408` response.
    UnsolicitedResponse,
    /// `close_idle_connections()` was called.
    CloseIdleConnections,
    /// The caller dropped the round-trip future or the response body before the exchange was
    /// complete and the rest of the response was not already buffered.
    CallerGone,
    /// Reading from the connection failed (including EOF in the middle of a response).
    ReadError,
    /// Writing to the connection failed.
    WriteError,
    /// The response carried `Connection: close` (or is HTTP/1.0 without keep-alive).
    ResponseClose,
    /// The request carried `Connection: close`.
    RequestClose,
    /// The response body is delimited by the connection closing.
    CloseDelimited,
    /// The response used both `Transfer-Encoding` and `Content-Length`; it was read as chunked
    /// but the connection is not trusted for reuse (RFC 9112 §6.3).
    AmbiguousFraming,
    /// The response answered before the request body was completely written (or, for a
    /// request with `Expect: 100-continue`, instead of the `100`: the body was not sent).
    EarlyResponse,
    /// The server violated HTTP/1.1 framing or sent an unparsable response (a body whose
    /// `Content-Encoding` does not decode included).
    ProtocolError,
    /// A timeout (response header timeout) expired while the exchange was in flight.
    Timeout,
    /// The server switched protocols (`101 Switching Protocols`) and the connection was
    /// handed to the caller (`roundtrip::upgrade`): it left the pool for good.
    Upgraded,
}

impl CloseReason {
    /// Every reason, in declaration order (for statistics tables).
    pub const ALL: [CloseReason; 18] = [
        CloseReason::KeepAlivesDisabled,
        CloseReason::TooManyIdle,
        CloseReason::TooManyIdleForHost,
        CloseReason::IdleTimeout,
        CloseReason::ServerClosedIdle,
        CloseReason::UnsolicitedResponse,
        CloseReason::CloseIdleConnections,
        CloseReason::CallerGone,
        CloseReason::ReadError,
        CloseReason::WriteError,
        CloseReason::ResponseClose,
        CloseReason::RequestClose,
        CloseReason::CloseDelimited,
        CloseReason::AmbiguousFraming,
        CloseReason::EarlyResponse,
        CloseReason::ProtocolError,
        CloseReason::Timeout,
        CloseReason::Upgraded,
    ];

    /// A short, stable, snake_case name (used in statistics output).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::KeepAlivesDisabled => "keep_alives_disabled",
            CloseReason::TooManyIdle => "too_many_idle",
            CloseReason::TooManyIdleForHost => "too_many_idle_for_host",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::ServerClosedIdle => "server_closed_idle",
            CloseReason::UnsolicitedResponse => "unsolicited_response",
            CloseReason::CloseIdleConnections => "close_idle_connections",
            CloseReason::CallerGone => "caller_gone",
            CloseReason::ReadError => "read_error",
            CloseReason::WriteError => "write_error",
            CloseReason::ResponseClose => "response_close",
            CloseReason::RequestClose => "request_close",
            CloseReason::CloseDelimited => "close_delimited",
            CloseReason::AmbiguousFraming => "ambiguous_framing",
            CloseReason::EarlyResponse => "early_response",
            CloseReason::ProtocolError => "protocol_error",
            CloseReason::Timeout => "timeout",
            CloseReason::Upgraded => "upgraded",
        }
    }

    /// Index of this reason in [`CloseReason::ALL`].
    // Used by the transport, which wasm32-unknown-unknown does not build.
    #[cfg_attr(all(target_arch = "wasm32", target_os = "unknown"), allow(dead_code))]
    pub(crate) fn index(self) -> usize {
        CloseReason::ALL
            .iter()
            .position(|r| *r == self)
            .unwrap_or_else(|| panic!("internal error: {self:?} missing from CloseReason::ALL"))
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    use wasm_bindgen_test::wasm_bindgen_test as test; // there, run by wasm-bindgen-test in node

    #[test]
    fn all_is_complete_and_indexed() {
        for (i, r) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let mut names: Vec<_> = CloseReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CloseReason::ALL.len());
    }
}
