//! Mapping of `wasi:sockets` error codes and `wasi:io` stream errors to `std::io::Error`.

use std::fmt;
use std::io;

use wasi::io::streams::StreamError;
use wasi::sockets::network::ErrorCode;

/// The `io::ErrorKind` closest to a `wasi:sockets/network.error-code`.
pub(crate) fn kind(code: ErrorCode) -> io::ErrorKind {
    use io::ErrorKind as K;
    match code {
        ErrorCode::AccessDenied => K::PermissionDenied,
        ErrorCode::NotSupported => K::Unsupported,
        ErrorCode::InvalidArgument | ErrorCode::DatagramTooLarge => K::InvalidInput,
        ErrorCode::OutOfMemory => K::OutOfMemory,
        ErrorCode::Timeout => K::TimedOut,
        ErrorCode::ConcurrencyConflict => K::ResourceBusy,
        ErrorCode::WouldBlock => K::WouldBlock,
        ErrorCode::AddressNotBindable => K::AddrNotAvailable,
        ErrorCode::AddressInUse => K::AddrInUse,
        ErrorCode::RemoteUnreachable => K::HostUnreachable,
        ErrorCode::ConnectionRefused => K::ConnectionRefused,
        ErrorCode::ConnectionReset => K::ConnectionReset,
        ErrorCode::ConnectionAborted => K::ConnectionAborted,
        ErrorCode::NameUnresolvable => K::NotFound,
        ErrorCode::Unknown
        | ErrorCode::NotInProgress
        | ErrorCode::InvalidState
        | ErrorCode::NewSocketLimit
        | ErrorCode::TemporaryResolverFailure
        | ErrorCode::PermanentResolverFailure => K::Other,
    }
}

/// An `io::Error` for a failed `wasi:sockets` call. The message names the operation (with its
/// address, if any) and the WIT name of the code, e.g. `connect 127.0.0.1:1: connection-refused`.
pub(crate) fn sockets(code: ErrorCode, what: impl fmt::Display) -> io::Error {
    io::Error::new(kind(code), format!("{what}: {}", code.name()))
}

/// An `io::Error` for a stream operation that failed with `last-operation-failed`.
///
/// WASI 0.2 does not give the guest a stable error code for stream failures (the
/// `network-error-code` function is unstable and absent from the bindings), only a debug string.
/// The kind is a best-effort guess from that string, so that the common transport failures
/// (`ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `TimedOut`) can be told apart; anything
/// else is `Other`. The debug string is kept as the message.
pub(crate) fn stream_failed(err: &wasi::io::error::Error, what: &str) -> io::Error {
    let debug = err.to_debug_string();
    let squashed: String = debug
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let kind = if squashed.contains("reset") {
        io::ErrorKind::ConnectionReset
    } else if squashed.contains("aborted") {
        io::ErrorKind::ConnectionAborted
    } else if squashed.contains("brokenpipe") || squashed.contains("connectionbroken") {
        io::ErrorKind::BrokenPipe
    } else if squashed.contains("timedout") || squashed.contains("timeout") {
        io::ErrorKind::TimedOut
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, format!("{what}: {debug}"))
}

/// An `io::Error` for a failed write, flush or `check-write`. `closed` on an output stream means
/// the connection can no longer be written to (the peer reset it, or we shut it down).
pub(crate) fn write(err: StreamError) -> io::Error {
    match err {
        StreamError::Closed => io::Error::new(io::ErrorKind::BrokenPipe, "output stream closed"),
        StreamError::LastOperationFailed(e) => stream_failed(&e, "write failed"),
    }
}
