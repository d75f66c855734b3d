//! What both backends' `TcpStream::connect` share: the hosts that need no name lookup, and
//! trying each resolved address in turn. Each backend supplies the lookup and the connection
//! attempt to one address.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The addresses of `host` if they are known without a name lookup, in the order to try them.
///
/// - An IP literal, IPv6 with or without the brackets of URL syntax (`http::Uri::host` keeps
///   them): that address alone.
/// - `localhost`, in any letter case: `[::1]:port`, then `127.0.0.1:port`. RFC 6761 §6.3 asks
///   resolvers to answer loopback for it without asking anyone, and this order is that of
///   RFC 6724's default policy (`::1` has the highest precedence), which is what getaddrinfo
///   returns where `/etc/hosts` lists both, as most distributions ship it. Where the hosts file
///   lists only `127.0.0.1` (some containers), getaddrinfo would have returned that alone; here
///   a server listening only on `127.0.0.1` costs one refused loopback attempt on `::1` first
///   (or an immediate "address not available" without IPv6), and one listening only on `::1`
///   is now reached too.
///
/// `None` for any other host: it needs a lookup.
pub(crate) fn known_addresses(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(vec![
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), port),
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        ]);
    }
    parse_literal(host).map(|ip| vec![SocketAddr::new(ip, port)])
}

/// An IP literal, IPv6 with or without the brackets of URL syntax.
fn parse_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Tries `connect` on each of `addrs` in order, one at a time, and returns the first success,
/// or the error of the last attempt. With no addresses at all: an
/// [`io::ErrorKind::NotFound`] error saying that `host` resolved to none.
///
/// Dropping the returned future drops the attempt in progress and makes no further ones.
pub(crate) async fn connect_each<T, F, Fut>(
    host: &str,
    addrs: impl IntoIterator<Item = SocketAddr>,
    mut connect: F,
) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut last_error = None;
    for addr in addrs {
        match connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("resolve {host}: no addresses"),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn literals_and_localhost_need_no_lookup() {
        let one = |s: &str| Some(vec![addr(s)]);
        assert_eq!(known_addresses("127.0.0.1", 80), one("127.0.0.1:80"));
        assert_eq!(known_addresses("::1", 80), one("[::1]:80"));
        assert_eq!(known_addresses("[::1]", 80), one("[::1]:80"));
        assert_eq!(known_addresses("[fe80::1]", 8), one("[fe80::1]:8"));
        let loopback = Some(vec![addr("[::1]:8080"), addr("127.0.0.1:8080")]);
        assert_eq!(known_addresses("localhost", 8080), loopback);
        assert_eq!(known_addresses("LocalHost", 8080), loopback);
        for name in [
            "example.com",
            "localhost.example",
            "[127.0.0.1",
            "::1]",
            "",
            "[]",
        ] {
            assert_eq!(known_addresses(name, 80), None, "{name:?}");
        }
    }

    /// A connect function that fails with `ConnectionRefused` except on port `ok`, and
    /// records every address it was asked for.
    fn fake(ok: u16, tried: &mut Vec<SocketAddr>) -> impl FnMut(SocketAddr) -> FakeAttempt + '_ {
        move |a| {
            tried.push(a);
            std::future::ready(if a.port() == ok {
                Ok(a)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    a.to_string(),
                ))
            })
        }
    }

    type FakeAttempt = std::future::Ready<io::Result<SocketAddr>>;

    #[test]
    fn connect_each_stops_at_the_first_success() {
        let addrs = [addr("[::1]:1"), addr("127.0.0.1:2"), addr("127.0.0.1:3")];
        let mut tried = Vec::new();
        let got = block_on(connect_each("h", addrs, fake(2, &mut tried))).unwrap();
        assert_eq!(got, addrs[1]);
        assert_eq!(tried, addrs[..2]);
    }

    #[test]
    fn connect_each_returns_the_last_error() {
        let addrs = [addr("[::1]:1"), addr("127.0.0.1:2")];
        let mut tried = Vec::new();
        let err = block_on(connect_each("h", addrs, fake(0, &mut tried))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(err.to_string(), "127.0.0.1:2");
        assert_eq!(tried, addrs);
    }

    #[test]
    fn connect_each_without_addresses_is_not_found() {
        let mut tried = Vec::new();
        let err = block_on(connect_each("h.example", [], fake(0, &mut tried))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.to_string(), "resolve h.example: no addresses");
        assert!(tried.is_empty());
    }
}
