//! Bad input from the caller or the server becomes a typed error that says what was wrong.
//! Runs unchanged natively and under wasmtime.

mod common;

use common::*;
use roundtrip::codec::error::{ProtocolError, RequestError};
use roundtrip::{Body, CloseReason, Error, Phase, Transport};

/// Serves one raw response to one request and returns the client's error.
fn error_for(raw: &'static [u8]) -> (Error, Transport) {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder().max_response_head_bytes(1024).build();
    let err = run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(raw).await;
            peer.shutdown_write();
            peer.until_eof().await;
        },
        async {
            match t.round_trip(get(&url)).await {
                Err(e) => e,
                Ok(mut resp) => resp.body_mut().bytes().await.expect_err("body should fail"),
            }
        },
    );
    balanced(&t);
    (err, t)
}

#[test]
fn malformed_status_line() {
    let (err, t) = error_for(b"HTTP/1.1 OK 200\r\n\r\n");
    assert!(err.is_protocol(), "{err}");
    assert_eq!(err.phase(), Phase::ReadHead); // a protocol error says where it was
    assert!(
        err.to_string().contains("HTTP/1.1 OK"),
        "quotes the bytes: {err}"
    );
    assert_eq!(t.stats().closed(CloseReason::ProtocolError), 1);
}

#[test]
fn conflicting_content_lengths() {
    let (err, _) =
        error_for(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd");
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::ConflictingContentLength)
        ),
        "{err}"
    );
}

#[test]
fn signed_content_length() {
    let (err, _) = error_for(b"HTTP/1.1 200 OK\r\ncontent-length: +3\r\n\r\nabc");
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::InvalidContentLength { .. })
        ),
        "{err}"
    );
}

#[test]
fn head_too_large() {
    let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..100 {
        raw.extend_from_slice(format!("x-filler-{i}: 0123456789\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let (err, _) = error_for(Box::leak(raw.into_boxed_slice()));
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::HeadTooLarge { limit: 1024 })
        ),
        "{err}"
    );
}

#[test]
fn bad_chunk_size() {
    let (err, _) = error_for(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n");
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::InvalidChunkSize { .. })
        ),
        "{err}"
    );
}

#[test]
fn truncated_body() {
    let (err, t) = error_for(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::IncompleteBody { received: 3, .. })
        ),
        "{err}"
    );
    assert_eq!(t.stats().closed(CloseReason::ProtocolError), 1);
}

#[test]
fn closed_before_response() {
    let (err, _) = error_for(b"");
    assert!(err.is_closed_before_response(), "{err}");
    assert_eq!(err.phase(), Phase::ReadHead);
}

/// Which request error a case expects.
type Expect = fn(&RequestError) -> bool;

#[test]
fn invalid_requests_fail_before_anything_is_dialed() {
    let t = Transport::new();
    roundtrip::net::block_on(async {
        assert!(http::HeaderValue::from_bytes(b"a\r\nx-evil: 1").is_err());
        let cases: Vec<(http::Request<Body>, Expect)> = vec![
            (get("https://127.0.0.1:1/"), |e| {
                matches!(e, RequestError::UnsupportedScheme(_))
            }),
            (get("/relative"), |e| {
                matches!(e, RequestError::MissingScheme | RequestError::MissingHost)
            }),
            (
                {
                    let mut r = get("http://127.0.0.1:1/");
                    // http's HeaderValue refuses CR LF (the codec re-checks anyway, see its unit
                    // tests); a Host with a space and a path is legal for HeaderValue, not HTTP.
                    r.headers_mut()
                        .insert("host", http::HeaderValue::from_static("a b/c"));
                    r
                },
                |e| matches!(e, RequestError::InvalidHost),
            ),
        ];
        for (req, want) in cases {
            match t.round_trip(req).await {
                Err(Error::Request(e)) => assert!(want(&e), "unexpected {e}"),
                other => panic!("expected a request error, got {other:?}"),
            }
        }
    });
    let s = t.stats();
    assert_eq!((s.dials, s.dial_errors, s.requests), (0, 0, 0));
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
    assert!(err.is_connect(), "{err}");
    assert_eq!(err.phase(), Phase::Connect);
    assert_eq!(t.stats().dial_errors, 1);
}

#[test]
fn endless_interim_responses_hit_the_head_limit() {
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(100);
    let mut raw = interim;
    raw.extend_from_slice(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    let (err, _) = error_for(Box::leak(raw.into_boxed_slice()));
    assert!(
        matches!(
            err.protocol_error(),
            Some(ProtocolError::HeadTooLarge { limit: 1024 })
        ),
        "{err}"
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
    assert_eq!(balanced(&t).closed(CloseReason::ProtocolError), 1);
}

#[test]
fn an_unlimited_head_size_is_clamped_not_a_panic() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder()
        .max_response_head_bytes(usize::MAX)
        .build();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            let big = format!(
                "HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 2\r\n\r\nok",
                "a".repeat(20_000)
            );
            peer.write(big.as_bytes()).await;
            peer.until_eof().await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "ok");
            t.close_idle_connections();
        },
    );
}
