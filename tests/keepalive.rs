//! Keep-alive, reuse and `Connection: close`, against the scripted server. Runs unchanged
//! natively and under wasmtime.

mod common;

use common::*;
use roundtrip::{Body, CloseReason, Transport};

#[test]
fn sequential_requests_share_one_connection() {
    let server = Server::bind();
    let host = server.host();
    let url = server.url("/hello?x=1");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            for i in 0..10 {
                let req = peer.read_request().await.expect("request");
                if i == 0 {
                    assert_eq!(
                        req.head,
                        format!("GET /hello?x=1 HTTP/1.1\r\nhost: {host}\r\n\r\n")
                    );
                }
                peer.respond(&format!("reply {i}")).await;
            }
            assert!(peer.read_request().await.is_none(), "no 11th request");
        },
        async {
            for i in 0..10 {
                let mut resp = t.round_trip(get(&url)).await.unwrap();
                let info = resp.body().connection().unwrap();
                assert_eq!((info.id, info.reused), (1, i > 0));
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.body_mut().text().await.unwrap(), format!("reply {i}"));
                // Pooled before the final read returned: idle right away.
                assert_eq!(t.stats().idle, 1);
            }
            let s = balanced(&t);
            assert_eq!((s.dials, s.reuses, s.requests), (1, 9, 10));
            t.close_idle_connections(); // lets the server see EOF
        },
    );
    assert_eq!(t.stats().closed(CloseReason::CloseIdleConnections), 1);
}

#[test]
fn response_connection_close_is_not_reused() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            for _ in 0..2 {
                let mut peer = server.accept().await;
                peer.read_request().await.unwrap();
                peer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok")
                    .await;
                assert!(peer.until_eof().await.is_empty());
            }
        },
        async {
            for _ in 0..2 {
                assert_eq!(fetch(&t, &url).await.1, "ok");
            }
        },
    );
    let s = balanced(&t);
    assert_eq!(s.dials, 2);
    assert_eq!(s.closed(CloseReason::ResponseClose), 2);
}

#[test]
fn request_connection_close_is_sent_once_and_not_reused() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            let req = peer.read_request().await.unwrap();
            assert_eq!(req.head.matches("onnection").count(), 1, "{}", req.head);
            peer.respond("ok").await;
            peer.until_eof().await;
        },
        async {
            let req = http::Request::get(&url)
                .header("connection", "close")
                .body(Body::empty())
                .unwrap();
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.body_mut().text().await.unwrap(), "ok");
        },
    );
    assert_eq!(balanced(&t).closed(CloseReason::RequestClose), 1);
}

#[test]
fn disable_keep_alives_adds_connection_close() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder().disable_keep_alives(true).build();
    run(
        async {
            for _ in 0..2 {
                let mut peer = server.accept().await;
                let req = peer.read_request().await.unwrap();
                assert_eq!(req.header("connection").as_deref(), Some("close"));
                peer.respond("ok").await;
                peer.until_eof().await;
            }
        },
        async {
            fetch(&t, &url).await;
            fetch(&t, &url).await;
        },
    );
    let s = balanced(&t);
    assert_eq!(s.dials, 2);
    assert_eq!(s.idle, 0);
    assert_eq!(s.closed(CloseReason::RequestClose), 2);
}

#[test]
fn http10_server_close_delimited_and_keep_alive() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            // 1.0 with keep-alive and a length: reusable.
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(
                b"HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 3\r\n\r\none",
            )
            .await;
            // 1.0 without keep-alive, body delimited by close.
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.0 200 OK\r\n\r\ntwo, until close").await;
            peer.shutdown_write();
            peer.until_eof().await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "one");
            assert_eq!(fetch(&t, &url).await.1, "two, until close");
        },
    );
    let s = balanced(&t);
    assert_eq!((s.dials, s.reuses), (1, 1));
    assert_eq!(s.closed(CloseReason::ResponseClose), 1);
}

#[test]
fn per_host_idle_limit_closes_the_extra() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder().max_idle_per_host(1).build();
    run(
        async {
            let (mut a, mut b) = (server.accept().await, server.accept().await);
            let (ra, rb) = futures_lite::future::zip(a.read_request(), b.read_request()).await;
            assert!(ra.is_some() && rb.is_some());
            a.respond("a").await;
            b.respond("b").await;
            futures_lite::future::zip(a.until_eof(), b.until_eof()).await;
        },
        async {
            let (x, y) = futures_lite::future::zip(fetch(&t, &url), fetch(&t, &url)).await;
            let mut got = [x.1, y.1];
            got.sort();
            assert_eq!(got, ["a", "b"]);
            let s = balanced(&t);
            assert_eq!((s.dials, s.idle), (2, 1));
            assert_eq!(s.closed(CloseReason::TooManyIdleForHost), 1);
            t.close_idle_connections();
        },
    );
}

#[test]
fn idle_timeout_closes_instead_of_reusing() {
    let server = Server::bind();
    let url = server.url("/");
    let timeout = std::time::Duration::from_millis(50);
    let t = Transport::builder().idle_timeout(Some(timeout)).build();
    run(
        async {
            let mut first = server.accept().await;
            first.read_request().await.unwrap();
            first.respond("1").await;
            let mut second = server.accept().await;
            second.read_request().await.unwrap();
            second.respond("2").await;
            first.until_eof().await;
            second.until_eof().await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "1");
            // The timeout itself is what is under test: let it pass.
            roundtrip::net::sleep(timeout * 2).await;
            assert_eq!(fetch(&t, &url).await.1, "2");
            t.close_idle_connections();
        },
    );
    let s = balanced(&t);
    assert_eq!(s.dials, 2);
    assert_eq!(s.closed(CloseReason::IdleTimeout), 1);
}

#[test]
fn server_closing_an_idle_connection_is_detected_before_reuse() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let closed = Signal::new();
    run(
        async {
            let mut first = server.accept().await;
            first.read_request().await.unwrap();
            first.respond("1").await;
            drop(first); // the server closes the idle connection
            closed.fire();
            let mut second = server.accept().await;
            second.read_request().await.unwrap();
            second.respond("2").await;
            second.until_eof().await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "1");
            closed.wait().await;
            assert_eq!(fetch(&t, &url).await.1, "2");
            t.close_idle_connections();
        },
    );
    let s = balanced(&t);
    assert_eq!((s.dials, s.retries), (2, 0));
    assert_eq!(s.closed(CloseReason::ServerClosedIdle), 1);
}

#[test]
fn unsolicited_408_on_idle_connection_closes_it_quietly() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let sent = Signal::new();
    let got_first = Signal::new();
    run(
        async {
            let mut first = server.accept().await;
            first.read_request().await.unwrap();
            first.respond("1").await;
            // Later, while the connection is idle, the server times it out and says so.
            got_first.wait().await;
            first
                .write(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                .await;
            sent.fire();
            let mut second = server.accept().await;
            second.read_request().await.unwrap();
            second.respond("2").await;
            first.until_eof().await;
            second.until_eof().await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "1");
            got_first.fire();
            sent.wait().await;
            assert_eq!(fetch(&t, &url).await.1, "2");
            t.close_idle_connections();
        },
    );
    assert_eq!(balanced(&t).closed(CloseReason::ServerClosedIdle), 1);
}

#[test]
fn stale_connection_is_retried_for_get_but_not_post() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            // Connection 1: serves one request, then reads the next and hangs up without a
            // response (the server's keep-alive timer fired just as the request arrived).
            let mut first = server.accept().await;
            first.read_request().await.unwrap();
            first.respond("1").await;
            first.read_request().await.unwrap();
            drop(first);
            // The GET is retried on connection 2.
            let mut second = server.accept().await;
            second.read_request().await.unwrap();
            second.respond("2").await;
            // The POST is not retried: connection 2 hangs up on it.
            let req = second.read_request().await.unwrap();
            assert!(req.request_line().starts_with("POST"));
            drop(second);
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "1");
            assert_eq!(fetch(&t, &url).await.1, "2");
            let post = http::Request::post(&url).body(Body::from("data")).unwrap();
            let err = t.round_trip(post).await.unwrap_err();
            assert!(err.is_closed_before_response(), "{err}");
        },
    );
    let s = balanced(&t);
    assert_eq!((s.dials, s.retries, s.requests), (2, 1, 4));
    // The retried connection was closed by the server while idle: that is what it says.
    assert_eq!(s.closed(CloseReason::ServerClosedIdle), 1);
}
