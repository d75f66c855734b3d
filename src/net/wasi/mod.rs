//! The wasm32-wasip2 backend: `wasi:sockets`, `wasi:io` and `wasi:clocks`, driven by a small
//! single-threaded reactor over `wasi:io/poll` ([`block_on`]).
//!
//! Resource lifetimes follow one rule throughout: a child resource (a pollable, a stream) is
//! dropped before its parent (a stream, a socket), and a pollable is deregistered from the
//! reactor before it is dropped. Structs holding both declare the child first, since fields are
//! dropped in declaration order.

mod addr;
mod error;
mod listener;
mod reactor;
mod resolve;
mod tcp;
mod time;

pub use listener::TcpListener;
pub use reactor::{block_on, poll_calls};
pub use tcp::TcpStream;
pub use time::{sleep, sleep_until, Sleep};
