//! roundtrip: a pooled HTTP/1.1 client transport for WebAssembly components.
#![forbid(unsafe_code)]

pub mod close;
pub mod codec;
pub mod net;

pub use close::CloseReason;
