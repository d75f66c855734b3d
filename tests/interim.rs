//! `Expect: 100-continue`, interim (1xx) responses and their hook, and `101 Switching
//! Protocols` upgrades, against the scripted server. Runs unchanged natively and under
//! wasmtime.

mod common;

use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use common::*;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use roundtrip::{Body, CloseReason, Error, OnInformational, ProtocolError, Transport};

/// A PUT of `body` to `url` with `Expect: 100-continue`.
fn put_expecting(url: &str, body: Body) -> http::Request<Body> {
    http::Request::put(url)
        .header("expect", "100-continue")
        .body(body)
        .unwrap()
}

/// The head the transport writes for [`put_expecting`] with a 4-byte body.
fn put_head(server: &Server) -> String {
    format!(
        "PUT / HTTP/1.1\r\nhost: {}\r\nexpect: 100-continue\r\ncontent-length: 4\r\n{AE}\r\n",
        server.host()
    )
}

/// No wait that a test could end by accident: only the server's answer releases the body.
fn patient() -> Transport {
    Transport::builder()
        .expect_continue_timeout(Some(Duration::from_secs(600)))
        .build()
}

fn one_conn(closed: Vec<(CloseReason, u64)>, idle: u64) -> Want {
    Want {
        dials: 1,
        requests: 1,
        idle,
        closed,
        ..Want::default()
    }
}

type Seen = Arc<Mutex<Vec<(u16, Vec<String>)>>>;

/// A hook that records each interim head's status and `link` fields.
fn recorder() -> (OnInformational, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let hook = OnInformational::new(move |r| {
        let links = r
            .headers()
            .get_all(http::header::LINK)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        log.lock().unwrap().push((r.status().as_u16(), links));
    });
    (hook, seen)
}

#[test]
fn the_body_is_sent_after_100_continue() {
    let server = Server::bind();
    let t = patient();
    run(
        async {
            let mut peer = server.accept().await;
            assert_eq!(peer.read_head().await.unwrap(), put_head(&server));
            // The body is held: nothing follows the head until the `100`.
            assert!(!peer.has_buffered());
            peer.write(b"HTTP/1.1 100 Continue\r\n\r\n").await;
            assert_eq!(peer.read_exact(4).await.unwrap(), b"data");
            peer.respond("stored").await;
            peer.until_eof().await;
        },
        async {
            let req = put_expecting(&server.url("/"), Body::from("data"));
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            assert!(resp.body_mut().take_unsent_body().is_none());
            assert_eq!(resp.body_mut().text().await.unwrap(), "stored");
            assert_stats(&t, &one_conn(vec![], 1), "after the response");
            t.close_idle_connections();
        },
    );
}

/// A final response instead of the `100`: the body is not sent, the caller gets it back, and
/// the connection closes (the server would read the unsent body's place as the next request).
#[test]
fn a_final_response_instead_of_100_hands_the_body_back() {
    for (answer, status, text) in [
        (
            &b"HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\n\r\n"[..],
            417,
            "",
        ),
        (
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 5\r\n\r\nwho?!",
            401,
            "who?!",
        ),
    ] {
        let server = Server::bind();
        let t = patient();
        run(
            async {
                let mut peer = server.accept().await;
                assert_eq!(peer.read_head().await.unwrap(), put_head(&server));
                peer.write(answer).await;
                // Nothing more comes: the client closes without sending the body.
                assert_eq!(show(&peer.until_eof().await), "");
                // The body it got back, sent again as it was.
                let mut peer = server.accept().await;
                let again = peer.read_request().await.unwrap();
                assert_eq!(again.body, b"data");
                peer.respond("stored").await;
                peer.until_eof().await;
            },
            async {
                let reader = futures_lite::io::Cursor::new(b"data".to_vec());
                let req = put_expecting(&server.url("/"), Body::from_reader(reader, Some(4)));
                let mut resp = t.round_trip(req).await.unwrap();
                assert_eq!(resp.status(), status);
                assert_eq!(resp.body_mut().text().await.unwrap(), text);
                let body = resp
                    .body_mut()
                    .take_unsent_body()
                    .expect("the body comes back");
                assert_eq!(body.len(), Some(4));
                assert!(resp.body_mut().take_unsent_body().is_none(), "taken once");
                assert_stats(
                    &t,
                    &one_conn(vec![(CloseReason::EarlyResponse, 1)], 0),
                    &format!("after a {status}"),
                );
                // The caller's reader, untouched: it goes out again as it is.
                let req = http::Request::put(server.url("/")).body(body).unwrap();
                let mut resp = t.round_trip(req).await.unwrap();
                assert_eq!(resp.body_mut().text().await.unwrap(), "stored");
                t.close_idle_connections();
            },
        );
        let want = Want {
            dials: 2,
            requests: 2,
            closed: vec![
                (CloseReason::EarlyResponse, 1),
                (CloseReason::CloseIdleConnections, 1),
            ],
            ..Want::default()
        };
        assert_stats(&t, &want, &format!("after a {status} and the resend"));
    }
}

#[test]
fn the_body_goes_when_the_expect_continue_timeout_expires() {
    let server = Server::bind();
    let t = Transport::builder()
        .expect_continue_timeout(Some(Duration::from_millis(30)))
        .build();
    run(
        async {
            let mut peer = server.accept().await;
            assert_eq!(peer.read_head().await.unwrap(), put_head(&server));
            // A server that never sends `100`: the body comes anyway.
            assert_eq!(peer.read_exact(4).await.unwrap(), b"data");
            peer.respond("ok").await;
            peer.until_eof().await;
        },
        async {
            let req = put_expecting(&server.url("/"), Body::from("data"));
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.body_mut().text().await.unwrap(), "ok");
            assert!(resp.body_mut().take_unsent_body().is_none());
            assert_stats(&t, &one_conn(vec![], 1), "after the response");
            t.close_idle_connections();
        },
    );
}

#[test]
fn without_an_expect_continue_timeout_the_body_follows_the_head() {
    Script::new()
        .transport(Transport::builder().expect_continue_timeout(None))
        .server([conn([
            read(format!(
                "PUT / HTTP/1.1\r\nhost: {{host}}\r\nexpect: 100-continue\r\ncontent-length: 4\r\n{AE}\r\ndata"
            )),
            write(ok("ok")),
        ])])
        .client([Step::Send(
            Req::new(http::Method::PUT, "/")
                .header("expect", "100-continue")
                .body("data")
                .text("ok"),
        )])
        .want(one_conn(vec![], 1))
        .run();
}

#[test]
fn early_hints_and_other_interim_heads_reach_the_hook() {
    let server = Server::bind();
    let t = Transport::new();
    let (hook, seen) = recorder();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(
                b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload; as=style\r\n\
                  link: </app.js>; rel=preload; as=script\r\n\r\n",
            )
            .await;
            peer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n")
                .await;
            peer.respond("page").await;
            peer.until_eof().await;
        },
        async {
            let mut req = get(&server.url("/"));
            req.extensions_mut().insert(hook);
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.body_mut().text().await.unwrap(), "page");
            assert_stats(&t, &one_conn(vec![], 1), "after the response");
            t.close_idle_connections();
        },
    );
    let links = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (
                103,
                links(&[
                    "</style.css>; rel=preload; as=style",
                    "</app.js>; rel=preload; as=script"
                ])
            ),
            (100, vec![]),
            (102, vec![]),
        ]
    );
}

#[test]
fn a_flood_of_interim_responses_is_a_protocol_error() {
    let flood = "HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n".repeat(6);
    Script::new()
        .server([conn([
            read(GET),
            write(format!("{flood}HTTP/1.1 204 No Content\r\n\r\n")),
        ])])
        .client([Step::Send(Req::get("/").fails(|e| {
            matches!(
                e.protocol_error(),
                Some(ProtocolError::TooManyInterimResponses { limit: 5 })
            )
        }))])
        .want(one_conn(vec![(CloseReason::ProtocolError, 1)], 0))
        .run();
}

#[test]
fn an_upgraded_connection_carries_the_new_protocol_both_ways() {
    let server = Server::bind();
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            let head = peer.read_head().await.unwrap();
            assert_eq!(
                head,
                format!(
                    "GET /echo HTTP/1.1\r\nhost: {}\r\nconnection: Upgrade\r\nupgrade: echo\r\n{AE}\r\n",
                    server.host()
                )
            );
            // The first bytes of the new protocol ride with the 101.
            peer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\nhello",
            )
            .await;
            // Echo until the client half-closes.
            loop {
                let got = peer.read_some().await;
                if got.is_empty() {
                    break;
                }
                peer.write(&got).await;
            }
        },
        async {
            let req = http::Request::get(server.url("/echo"))
                .header("connection", "Upgrade")
                .header("upgrade", "echo")
                .body(Body::empty())
                .unwrap();
            let mut resp = t.round_trip(req).await.unwrap();
            assert_eq!(resp.status(), 101);
            let mut stream = roundtrip::upgrade(&mut resp).unwrap();
            assert_stats(
                &t,
                &one_conn(vec![(CloseReason::Upgraded, 1)], 0),
                "once upgraded",
            );
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"hello", "the leftover bytes come first");
            stream.write_all(b"ping").await.unwrap();
            stream.flush().await.unwrap();
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            stream.close().await.unwrap();
            let mut rest = Vec::new();
            stream.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "{rest:?}");
            // Taken once.
            let again = roundtrip::upgrade(&mut resp).unwrap_err();
            assert!(matches!(again, Error::NotUpgraded { status } if status == 101));
        },
    );
    // It never came back to the pool.
    assert_stats(
        &t,
        &one_conn(vec![(CloseReason::Upgraded, 1)], 0),
        "after the upgraded stream closed",
    );
}

#[test]
fn a_101_nobody_asked_for_is_a_protocol_error() {
    Script::new()
        .server([conn([
            read(GET),
            write("HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\n\r\n"),
        ])])
        .client([Step::Send(Req::get("/").fails(|e| {
            matches!(e.protocol_error(), Some(ProtocolError::UnrequestedUpgrade))
        }))])
        .want(one_conn(vec![(CloseReason::ProtocolError, 1)], 0))
        .run();
}

#[test]
fn upgrading_a_response_that_did_not_switch_fails_and_leaves_it_alone() {
    let server = Server::bind();
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.respond("plain").await;
            peer.until_eof().await;
        },
        async {
            let req = http::Request::get(server.url("/"))
                .header("connection", "upgrade")
                .header("upgrade", "echo")
                .body(Body::empty())
                .unwrap();
            let mut resp = t.round_trip(req).await.unwrap();
            let e = roundtrip::upgrade(&mut resp).unwrap_err();
            assert!(
                matches!(e, Error::NotUpgraded { status } if status == 200),
                "{e}"
            );
            assert_eq!(resp.body_mut().text().await.unwrap(), "plain");
            assert_stats(&t, &one_conn(vec![], 1), "after the body");
            t.close_idle_connections();
        },
    );
}

/// Drops the round trip of a request waiting for `100 Continue` after `k` polls, for every
/// `k` until it completes: the connection closes (`CallerGone`) or, completed, is pooled;
/// the accounting is exact either way.
#[test]
fn dropping_an_expect_continue_round_trip_at_every_poll() {
    let mut k = 1;
    loop {
        let server = Server::bind();
        let t = patient();
        let client_done = Signal::new();
        let completed = run(
            async {
                let accepted =
                    futures_lite::future::or(async { Some(server.accept().await) }, async {
                        client_done.wait().await;
                        None
                    })
                    .await;
                let Some(mut peer) = accepted else { return };
                if peer.read_head().await.is_some()
                    && peer.try_write(b"HTTP/1.1 100 Continue\r\n\r\n").await
                    && peer.read_exact(4).await.is_some()
                {
                    let _ = peer.try_write(&ok("ok")).await;
                }
                peer.until_eof().await;
            },
            async {
                let req = put_expecting(&server.url("/"), Body::from("data"));
                let mut fut = Box::pin(t.round_trip(req));
                let mut done = false;
                for _ in 0..k {
                    if let Poll::Ready(resp) = poll_once(&mut fut).await {
                        resp.unwrap();
                        done = true;
                        break;
                    }
                    futures_lite::future::yield_now().await;
                }
                drop(fut);
                t.close_idle_connections();
                client_done.fire();
                done
            },
        );
        let s = balanced(&t);
        assert_eq!((s.in_use, s.idle), (0, 0), "step {k}: {s}");
        if completed {
            assert!(k > 1, "completed at the first poll: no drop was tested");
            assert_stats(
                &t,
                &one_conn(vec![(CloseReason::CloseIdleConnections, 1)], 0),
                &format!("when the round trip completed at poll {k}"),
            );
            break;
        }
        assert_eq!(s.dials, s.closed(CloseReason::CallerGone), "step {k}: {s}");
        k += 1;
        assert!(k < 300, "round trip never completed");
    }
}

/// Drops the round trip of an upgrade request after `k` polls, for every `k` until it
/// completes: closed as `CallerGone` before the `101`, handed over (`Upgraded`) after it,
/// whether or not the caller takes the stream.
#[test]
fn dropping_an_upgrade_round_trip_at_every_poll() {
    let mut k = 1;
    loop {
        let server = Server::bind();
        let t = Transport::new();
        let client_done = Signal::new();
        let completed = run(
            async {
                let accepted =
                    futures_lite::future::or(async { Some(server.accept().await) }, async {
                        client_done.wait().await;
                        None
                    })
                    .await;
                let Some(mut peer) = accepted else { return };
                if peer.read_head().await.is_some() {
                    let _ = peer
                        .try_write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\n\r\nx")
                        .await;
                }
                peer.until_eof().await;
            },
            async {
                let req = http::Request::get(server.url("/"))
                    .header("connection", "upgrade")
                    .header("upgrade", "echo")
                    .body(Body::empty())
                    .unwrap();
                let mut fut = Box::pin(t.round_trip(req));
                let mut done = false;
                for _ in 0..k {
                    if let Poll::Ready(resp) = poll_once(&mut fut).await {
                        let mut resp = resp.unwrap();
                        // Every other time the stream is taken (and dropped), else left in
                        // the response.
                        if k % 2 == 0 {
                            drop(roundtrip::upgrade(&mut resp).unwrap());
                        }
                        done = true;
                        break;
                    }
                    futures_lite::future::yield_now().await;
                }
                drop(fut);
                // Abandons a dial the dropped request started (it would go to the pool).
                t.close_idle_connections();
                client_done.fire();
                done
            },
        );
        let s = balanced(&t);
        assert_eq!((s.in_use, s.idle), (0, 0), "step {k}: {s}");
        if completed {
            assert!(k > 1, "completed at the first poll: no drop was tested");
            assert_stats(
                &t,
                &one_conn(vec![(CloseReason::Upgraded, 1)], 0),
                &format!("when the round trip completed at poll {k}"),
            );
            if k % 2 == 1 {
                // Completed on an odd poll: do the even case too.
                k += 1;
                continue;
            }
            break;
        }
        assert_eq!(s.dials, s.closed(CloseReason::CallerGone), "step {k}: {s}");
        k += 1;
        assert!(k < 300, "round trip never completed");
    }
}
