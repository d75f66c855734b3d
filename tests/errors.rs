//! Bad input from the caller or the server becomes a typed error that says what was wrong.
//! Runs unchanged natively and under wasmtime.

mod common;

use common::*;
use roundtrip::codec::error::{ProtocolError, RequestError};
use roundtrip::{Body, CloseReason, Error, Phase, Transport};

/// One GET, answered by `raw` and a half-close, under a 1 KiB head limit: `req` says which
/// call fails and how; the connection is closed as `closed`.
#[track_caller]
fn answered_by(raw: impl AsRef<[u8]>, req: Req, closed: CloseReason) {
    Script::new()
        .transport(Transport::builder().max_response_head_bytes(1024))
        .server([conn([read(GET), write(raw), Srv::ShutdownWrite])])
        .client([Step::Send(req)])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(closed, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn malformed_status_line() {
    answered_by(
        "HTTP/1.1 OK 200\r\n\r\n",
        Req::get("/").fails(|e| {
            e.is_protocol()
                && e.phase() == Phase::ReadHead // a protocol error says where it was
                // It quotes the bytes.
                && e.to_string().contains("HTTP/1.1 OK")
        }),
        CloseReason::ProtocolError,
    );
}

#[test]
fn conflicting_content_lengths() {
    answered_by(
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd",
        Req::get("/").fails(|e| {
            matches!(
                e.protocol_error(),
                Some(ProtocolError::ConflictingContentLength)
            )
        }),
        CloseReason::ProtocolError,
    );
}

#[test]
fn signed_content_length() {
    answered_by(
        "HTTP/1.1 200 OK\r\ncontent-length: +3\r\n\r\nabc",
        Req::get("/").fails(|e| {
            matches!(
                e.protocol_error(),
                Some(ProtocolError::InvalidContentLength { .. })
            )
        }),
        CloseReason::ProtocolError,
    );
}

fn head_too_large_for_1024(e: &Error) -> bool {
    matches!(
        e.protocol_error(),
        Some(ProtocolError::HeadTooLarge { limit: 1024 })
    )
}

#[test]
fn head_too_large() {
    let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..100 {
        raw.extend_from_slice(format!("x-filler-{i}: 0123456789\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    answered_by(
        raw,
        Req::get("/").fails(head_too_large_for_1024),
        CloseReason::ProtocolError,
    );
}

/// A framing error that came with the head is reported by the first body read.
#[test]
fn bad_chunk_size() {
    answered_by(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n",
        Req::get("/").body_fails(|e| {
            matches!(
                e.protocol_error(),
                Some(ProtocolError::InvalidChunkSize { .. })
            )
        }),
        CloseReason::ProtocolError,
    );
}

#[test]
fn truncated_body() {
    answered_by(
        "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc",
        Req::get("/").body_fails(|e| {
            matches!(
                e.protocol_error(),
                Some(ProtocolError::IncompleteBody { received: 3, .. })
            )
        }),
        CloseReason::ProtocolError,
    );
}

#[test]
fn closed_before_response() {
    answered_by(
        "",
        Req::get("/").fails(|e| e.is_closed_before_response() && e.phase() == Phase::ReadHead),
        CloseReason::ReadError,
    );
}

/// Which request error a case expects.
type Expect = fn(&RequestError) -> bool;

#[test]
fn invalid_requests_fail_before_anything_is_dialed() {
    let t = Transport::new();
    roundtrip::net::block_on(async {
        let mut cases: Vec<(http::Request<Body>, Expect)> = vec![
            (get("ftp://127.0.0.1:1/"), |e| {
                matches!(e, RequestError::UnsupportedScheme(_))
            }),
            (get("/relative"), |e| {
                matches!(e, RequestError::MissingScheme | RequestError::MissingHost)
            }),
            (
                {
                    let mut r = get("http://127.0.0.1:1/");
                    // A header with CR LF cannot be made here: http's HeaderValue refuses it
                    // (the codec re-checks anyway, see its unit tests). A Host with a space and
                    // a path is legal for HeaderValue, not for HTTP.
                    r.headers_mut()
                        .insert("host", http::HeaderValue::from_static("a b/c"));
                    r
                },
                |e| matches!(e, RequestError::InvalidHost),
            ),
        ];
        // Without TLS, https is refused before anything is dialed too.
        if cfg!(not(feature = "tls")) {
            cases.push((get("https://127.0.0.1:1/"), |e| {
                matches!(e, RequestError::UnsupportedScheme(_))
            }));
        }
        for (req, want) in cases {
            match t.round_trip(req).await {
                Err(Error::Request(e)) => assert!(want(&e), "unexpected {e}"),
                other => panic!("expected a request error, got {other:?}"),
            }
        }
    });
    assert_stats(&t, &Want::default(), "after the invalid requests");
}

#[test]
fn connection_refused_is_a_connect_error() {
    // Bind, note the port, close: nothing listens there now.
    let addr = {
        let l = roundtrip::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        l.local_addr().unwrap()
    };
    let t = Transport::new();
    let err = roundtrip::net::block_on(t.round_trip(get(&format!("http://{addr}/")))).unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(err.is_connect() && !err.is_timeout(), "{err}");
    assert_eq!(err.phase(), Phase::Connect);
    let want = Want {
        dial_errors: 1,
        ..Want::default()
    };
    assert_stats(&t, &want, "after the refused dial");
}

/// A loopback listener that never accepts, with an accept queue of `backlog`. The socket
/// closes when the returned guard is dropped. (`roundtrip::net::TcpListener::bind` takes no
/// backlog, so the socket is made here, with the host's own API.)
#[cfg(not(target_os = "wasi"))]
fn backlogged_listener(backlog: u32) -> (impl Sized, std::net::SocketAddr) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&loopback.into()).unwrap();
    socket.listen(backlog as i32).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}

/// The same over `wasi:sockets`, whose host (wasmtime) passes the backlog on to `listen(2)`.
/// The size must be set before the bind: wasmtime accepts it only on a fresh socket.
#[cfg(target_os = "wasi")]
fn backlogged_listener(backlog: u32) -> (impl Sized, std::net::SocketAddr) {
    use wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};
    use wasi::sockets::tcp::TcpSocket;
    let network = wasi::sockets::instance_network::instance_network();
    let socket =
        wasi::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4).unwrap();
    socket.set_listen_backlog_size(backlog.into()).unwrap();
    let finish = |step: fn(&TcpSocket) -> Result<(), ErrorCode>| loop {
        match step(&socket) {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            done => break done.unwrap(),
        }
    };
    let loopback = IpSocketAddress::Ipv4(Ipv4SocketAddress {
        port: 0,
        address: (127, 0, 0, 1),
    });
    socket.start_bind(&network, loopback).unwrap();
    finish(TcpSocket::finish_bind);
    socket.start_listen().unwrap();
    finish(TcpSocket::finish_listen);
    let IpSocketAddress::Ipv4(local) = socket.local_address().unwrap() else {
        unreachable!("bound to an IPv4 address")
    };
    let (a, b, c, d) = local.address;
    let addr = std::net::SocketAddr::from(([a, b, c, d], local.port));
    (socket, addr)
}

/// A connect that the listener never completes: its accept queue is full, so the kernel drops
/// further SYNs (on Linux a queue of backlog `b` holds `b + 1` connections) and the connect
/// hangs until `connect_timeout`. Everything stays on loopback.
#[test]
fn connect_timeout_is_a_timeout_and_a_connect_error() {
    use std::time::Duration;
    let (_listener, addr) = backlogged_listener(1);
    let t = Transport::builder()
        .connect_timeout(Some(Duration::from_millis(200)))
        // Should the connect complete after all, fail with a different error instead of hanging.
        .response_header_timeout(Some(Duration::from_secs(2)))
        .build();
    let err = roundtrip::net::block_on(async {
        // Fill the queue with connections that complete (nobody accepts them).
        let fill = async {
            let mut held = Vec::new();
            for _ in 0..2 {
                held.push(
                    roundtrip::net::TcpStream::connect("127.0.0.1", addr.port())
                        .await
                        .expect("a connect into the accept queue"),
                );
            }
            held
        };
        let held = futures_lite::future::or(fill, async {
            roundtrip::net::sleep(Duration::from_secs(10)).await;
            panic!("the accept queue took fewer than 2 connections");
        })
        .await;
        let dial = t.round_trip(get(&format!("http://{addr}/")));
        let err = futures_lite::future::or(async { dial.await.unwrap_err() }, async {
            roundtrip::net::sleep(Duration::from_secs(10)).await;
            panic!("the connect did not time out");
        })
        .await;
        drop(held);
        err
    });
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err}");
    assert!(err.is_timeout() && err.is_connect(), "{err}");
    assert_eq!(err.phase(), Phase::Connect);
    let want = Want {
        dial_errors: 1,
        ..Want::default()
    };
    assert_stats(&t, &want, "after the timed-out dial");
}

/// Interim heads count against the head limit all together (each is well under it). Five,
/// the most accepted by count (`endless_interim_responses_hit_the_count_limit`), so the bytes
/// are what is tested.
#[test]
fn interim_responses_hit_the_head_limit_together() {
    let interim = format!(
        "HTTP/1.1 103 Early Hints\r\nlink: <{}>\r\n\r\n",
        "a".repeat(200)
    );
    let mut raw = interim.repeat(5).into_bytes();
    assert!(raw.len() > 1024 && interim.len() < 1024);
    raw.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    answered_by(
        raw,
        Req::get("/").fails(head_too_large_for_1024),
        CloseReason::ProtocolError,
    );
}

/// Endless tiny interim heads (100 of them fit in the head limit): Go's count limit, 5.
#[test]
fn endless_interim_responses_hit_the_count_limit() {
    let mut raw = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(100);
    raw.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    answered_by(
        raw,
        Req::get("/").fails(|e| {
            matches!(
                e.protocol_error(),
                Some(ProtocolError::TooManyInterimResponses { limit: 5 })
            )
        }),
        CloseReason::ProtocolError,
    );
}

/// Good payload before a framing error is delivered; the error comes with the next read.
#[test]
fn payload_before_a_framing_error_is_delivered_first() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n",
            )
            .await;
            peer.until_eof().await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 3];
            let err = loop {
                match futures_lite::future::poll_fn(|cx| {
                    resp.body_mut().poll_read_body(cx, &mut buf)
                })
                .await
                {
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => break e,
                }
            };
            assert_eq!(got, b"hello");
            assert!(
                matches!(
                    err.protocol_error(),
                    Some(ProtocolError::InvalidChunkSize { .. })
                ),
                "{err}"
            );
        },
    );
    let want = Want {
        dials: 1,
        requests: 1,
        closed: vec![(CloseReason::ProtocolError, 1)],
        ..Want::default()
    };
    assert_stats(&t, &want, "after the framing error");
}

#[test]
fn an_unlimited_head_size_is_clamped_not_a_panic() {
    let big = format!(
        "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 2\r\n\r\nok",
        "a".repeat(20_000)
    );
    Script::new()
        .transport(Transport::builder().max_response_head_bytes(usize::MAX))
        .server([conn([read(GET), write(big)])])
        .client([Step::Send(Req::get("/").text("ok"))])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}
