//! [`TcpListener`] over `wasi:sockets/tcp`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::ErrorCode;
use wasi::sockets::tcp::TcpSocket;
use wasi::sockets::tcp_create_socket::create_tcp_socket;

use super::reactor::Source;
use super::{addr, error, TcpStream};

/// A listening TCP socket, for test servers and embedded servers.
///
/// [`accept`](Self::accept) makes progress only under [`block_on`](super::block_on).
pub struct TcpListener {
    // Field order is drop order: `ready` (the socket's pollable) is a child of `socket` and
    // must be dropped first. Its `Source` deregisters from the reactor before dropping the
    // pollable; `accept` futures hold their own registrations, which borrow the listener and
    // are therefore gone before it is dropped.
    /// Subscribed once, used by `bind` and every `accept`.
    ready: Source,
    socket: TcpSocket,
}

impl TcpListener {
    /// Binds to `addr` and listens. Port 0 picks an ephemeral port.
    ///
    /// Synchronous: if the host reports a bind or listen as in progress, blocks the whole
    /// component until it completes.
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let what = || format!("bind {addr}");
        let network = instance_network();
        let socket =
            create_tcp_socket(addr::family(&addr)).map_err(|c| error::sockets(c, what()))?;
        let listener = TcpListener {
            ready: Source::new(socket.subscribe()),
            socket,
        };
        let socket = &listener.socket;
        socket
            .start_bind(&network, addr::to_wasi(addr))
            .map_err(|c| error::sockets(c, what()))?;
        listener.finish(TcpSocket::finish_bind, what)?;
        socket
            .start_listen()
            .map_err(|c| error::sockets(c, format!("listen {addr}")))?;
        listener.finish(TcpSocket::finish_listen, || format!("listen {addr}"))?;
        Ok(listener)
    }

    /// Completes a `start-*`/`finish-*` pair, blocking while the host says it is in progress.
    fn finish(
        &self,
        finish: fn(&TcpSocket) -> Result<(), ErrorCode>,
        what: impl Fn() -> String,
    ) -> io::Result<()> {
        loop {
            match finish(&self.socket) {
                Ok(()) => return Ok(()),
                Err(ErrorCode::WouldBlock) => self.ready.block(),
                Err(code) => return Err(error::sockets(code, what())),
            }
        }
    }

    /// The address the listener is bound to (with the actual port if bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket
            .local_address()
            .map(addr::from_wasi)
            .map_err(|code| error::sockets(code, "local address"))
    }

    /// Waits for and accepts the next connection, returning it with the peer's address.
    ///
    /// Several `accept` calls may wait concurrently; each is woken independently.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        // This call's own registration on the shared pollable.
        let waiter = self.ready.waiter();
        loop {
            match self.socket.accept() {
                Ok((socket, input, output)) => {
                    let stream = TcpStream::from_parts(socket, input, output);
                    let peer = stream.peer_addr()?;
                    return Ok((stream, peer));
                }
                Err(ErrorCode::WouldBlock) => waiter.wait().await,
                Err(code) => return Err(error::sockets(code, "accept")),
            }
        }
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local", &self.local_addr().ok())
            .finish_non_exhaustive()
    }
}
