//! Name resolution (`wasi:sockets/ip-name-lookup`) and connection establishment.

use std::io;
use std::net::{IpAddr, SocketAddr};

use wasi::sockets::instance_network::instance_network;
use wasi::sockets::ip_name_lookup::{resolve_addresses, ResolveAddressStream};
use wasi::sockets::network::{ErrorCode, Network};
use wasi::sockets::tcp::TcpSocket;
use wasi::sockets::tcp_create_socket::create_tcp_socket;

use super::reactor::Source;
use super::{addr, error, TcpStream};
use crate::net::connect::{connect_each, known_addresses};

/// See [`TcpStream::connect`].
pub(crate) async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    // Declared first, so it outlives the lookup and the sockets that borrow it.
    let network = instance_network();
    let addrs = match known_addresses(host, port) {
        Some(addrs) => addrs,
        None => lookup(&network, host)
            .await?
            .into_iter()
            .map(|ip| SocketAddr::new(ip, port))
            .collect(),
    };
    connect_each(host, addrs, |remote| connect_addr(&network, remote)).await
}

/// A name lookup in progress.
struct Lookup {
    // Field order is drop order: `ready` is a child of `stream` and must be dropped first (its
    // `Source` deregisters from the reactor, then drops the pollable).
    ready: Source,
    stream: ResolveAddressStream,
}

/// Resolves `name` to all its addresses, in the resolver's order of preference.
async fn lookup(network: &Network, name: &str) -> io::Result<Vec<IpAddr>> {
    let what = || format!("resolve {name}");
    let stream = resolve_addresses(network, name).map_err(|c| error::sockets(c, what()))?;
    let lookup = Lookup {
        ready: Source::new(stream.subscribe()),
        stream,
    };
    let mut ips = Vec::new();
    loop {
        match lookup.stream.resolve_next_address() {
            Ok(Some(ip)) => ips.push(addr::ip_from_wasi(ip)),
            Ok(None) => return Ok(ips),
            Err(ErrorCode::WouldBlock) => lookup.ready.wait().await,
            Err(code) => return Err(error::sockets(code, what())),
        }
    }
}

/// A connection attempt in progress.
struct Connecting {
    // Field order is drop order: `ready` is a child of `socket` and must be dropped first.
    ready: Source,
    socket: TcpSocket,
}

/// Connects to one address.
async fn connect_addr(network: &Network, remote: SocketAddr) -> io::Result<TcpStream> {
    let what = || format!("connect {remote}");
    let socket = create_tcp_socket(addr::family(&remote)).map_err(|c| error::sockets(c, what()))?;
    socket
        .start_connect(network, addr::to_wasi(remote))
        .map_err(|c| error::sockets(c, what()))?;
    let connecting = Connecting {
        ready: Source::new(socket.subscribe()),
        socket,
    };
    loop {
        // A connection takes at least a network round trip, so wait before every
        // `finish-connect` instead of spending a host call on a certain `would-block`.
        connecting.ready.wait().await;
        match connecting.socket.finish_connect() {
            Ok((input, output)) => {
                let Connecting { ready, socket } = connecting;
                drop(ready); // the socket's pollable: a child of `socket`, and no longer needed
                return Ok(TcpStream::from_parts(socket, input, output));
            }
            Err(ErrorCode::WouldBlock) => {}
            Err(code) => return Err(error::sockets(code, what())),
        }
    }
}
