//! Body framing both ways, bodyless responses, interim responses and trailers, against the
//! scripted server. Runs unchanged natively and under wasmtime.

mod common;

use common::*;
use futures_lite::io::Cursor;
use roundtrip::{Body, CloseReason, Transport};

#[test]
fn chunked_response_with_extensions_and_trailers() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n")
                .await;
            peer.write(b"5;ext=1\r\nhello\r\n").await;
            peer.write(b"6\r\n world\r\n0\r\nx-sum: 11\r\n\r\n").await;
            peer.until_eof().await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let body = resp.body_mut();
            assert!(body.trailers().is_none());
            assert_eq!(body.text().await.unwrap(), "hello world");
            assert_eq!(body.trailers().unwrap()["x-sum"], "11");
            assert_eq!(t.stats().idle, 1);
            t.close_idle_connections();
        },
    );
}

#[test]
fn streamed_request_body_of_unknown_length_is_chunked() {
    let server = Server::bind();
    let url = server.url("/upload");
    let host = server.host();
    let t = Transport::new();
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let expected = payload.clone();
    run(
        async {
            let mut peer = server.accept().await;
            let req = peer.read_request().await.unwrap();
            assert_eq!(
                req.head,
                format!(
                    "PUT /upload HTTP/1.1\r\nhost: {host}\r\ntransfer-encoding: chunked\r\n\r\n"
                )
            );
            assert_eq!(req.body, expected);
            assert!(req.raw_body.ends_with(b"\r\n0\r\n\r\n"));
            peer.respond("stored").await;
            peer.until_eof().await;
        },
        async {
            let body = Body::from_reader(Cursor::new(payload), None);
            let req = http::Request::put(&url).body(body).unwrap();
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.body_mut().text().await.unwrap(), "stored");
            assert_eq!(t.stats().idle, 1);
            t.close_idle_connections();
        },
    );
}

#[test]
fn sized_request_bodies_send_content_length() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let big = vec![b'x'; 100_000];
    let big2 = big.clone();
    run(
        async {
            let mut peer = server.accept().await;
            let req = peer.read_request().await.unwrap();
            assert_eq!(req.header("content-length").as_deref(), Some("5"));
            assert_eq!(req.body, b"hello");
            peer.respond("1").await;
            let req = peer.read_request().await.unwrap();
            assert_eq!(req.header("content-length").as_deref(), Some("100000"));
            assert_eq!(req.body, big2);
            peer.respond("2").await;
            let req = peer.read_request().await.unwrap();
            assert_eq!(req.header("content-length").as_deref(), Some("3"));
            assert_eq!(req.body, b"abc");
            peer.respond("3").await;
            let req = peer.read_request().await.unwrap();
            assert_eq!(req.header("content-length").as_deref(), Some("0"));
            peer.respond("4").await;
            peer.until_eof().await;
        },
        async {
            let post = |body: Body| http::Request::post(&url).body(body).unwrap();
            for (body, want) in [
                (Body::from("hello"), "1"),
                (Body::from(big), "2"),
                (
                    Body::from_reader(Cursor::new(b"abc".to_vec()), Some(3)),
                    "3",
                ),
                (Body::empty(), "4"),
            ] {
                let mut resp = t.round_trip(post(body)).await.unwrap();
                assert_eq!(resp.body_mut().text().await.unwrap(), want);
            }
            assert_eq!(balanced(&t).dials, 1);
            t.close_idle_connections();
        },
    );
}

#[test]
fn request_body_shorter_than_declared_fails_and_closes() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.until_eof().await;
        },
        async {
            let body = Body::from_reader(Cursor::new(b"abc".to_vec()), Some(10));
            let req = http::Request::post(&url).body(body).unwrap();
            let err = t.round_trip(req).await.unwrap_err();
            assert!(matches!(err, roundtrip::Error::RequestBody { .. }), "{err}");
        },
    );
    let s = balanced(&t);
    assert_eq!(s.closed(CloseReason::WriteError), 1);
}

#[test]
fn bodyless_responses_are_pooled_before_they_are_returned() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            // HEAD: Content-Length describes the GET body; nothing follows.
            peer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 123\r\n\r\n")
                .await;
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.1 204 No Content\r\n\r\n").await;
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n")
                .await;
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
            peer.until_eof().await;
        },
        async {
            let head = http::Request::head(&url).body(Body::empty()).unwrap();
            let resp = t.round_trip(head).await.unwrap();
            assert_eq!(resp.headers()["content-length"], "123");
            assert!(resp.body().is_end_stream());
            let info = resp.body().connection().unwrap();
            assert_eq!((info.id, info.reused), (1, false));
            assert_eq!(
                t.stats().idle,
                1,
                "pooled before the response was handed over"
            );
            for status in [204, 304, 200] {
                let resp = t.round_trip(get(&url)).await.unwrap();
                assert_eq!(resp.status(), status);
                assert!(resp.body().is_end_stream());
                let info = resp.body().connection().unwrap();
                assert_eq!((info.id, info.reused), (1, true));
                assert_eq!(t.stats().idle, 1);
            }
            assert_eq!(balanced(&t).dials, 1);
            t.close_idle_connections();
        },
    );
}

#[test]
fn interim_100_and_103_are_skipped() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.1 100 Continue\r\n\r\n").await;
            peer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n")
                .await;
            peer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 4\r\nx-final: yes\r\n\r\ndone")
                .await;
            peer.until_eof().await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            assert_eq!(resp.status(), 201);
            assert_eq!(resp.headers()["x-final"], "yes");
            assert!(!resp.headers().contains_key("link"));
            assert_eq!(resp.body_mut().text().await.unwrap(), "done");
            t.close_idle_connections();
        },
    );
}

#[test]
fn transfer_encoding_with_content_length_reads_chunked_and_does_not_reuse() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(
                b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            )
            .await;
            peer.until_eof().await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "abc");
        },
    );
    assert_eq!(balanced(&t).closed(CloseReason::AmbiguousFraming), 1);
}

#[test]
fn large_body_streams_across_many_reads() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let n = 3 * 1024 * 1024;
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n").as_bytes())
                .await;
            let block = vec![7u8; 64 * 1024];
            for _ in 0..n / block.len() {
                peer.write(&block).await;
            }
            peer.until_eof().await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let body = resp.body_mut().bytes().await.unwrap();
            assert_eq!(body.len(), n);
            assert!(body.iter().all(|b| *b == 7));
            assert_eq!(t.stats().idle, 1);
            t.close_idle_connections();
        },
    );
}
