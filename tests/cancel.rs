//! Dropping the round-trip future or the response body at every step: nothing blocks or
//! leaks, the connection is closed or pooled only when provably clean, and the accounting stays
//! exact. Runs unchanged natively and under wasmtime.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::task::Poll;

use common::*;
use roundtrip::{CloseReason, Transport};

/// Drops the round-trip future after it has been polled `k` times, for every `k` until it
/// completes on its own. The server answers at once, and the client lets it run between polls,
/// so the drop lands at every stage: dialing, writing, waiting, parsing.
#[test]
fn dropping_the_round_trip_future_at_every_poll_closes_the_connection() {
    let mut k = 1;
    loop {
        let server = Server::bind();
        let url = server.url("/");
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
                // The client may give up before its connection reaches the listener.
                let Some(mut peer) = accepted else { return };
                if peer.read_request().await.is_some() {
                    peer.respond("ok").await;
                }
                // Either the client dropped the exchange, or it completed and closed its idle
                // connection: both end in EOF here.
                peer.until_eof().await;
            },
            async {
                let mut fut = Box::pin(t.round_trip(get(&url)));
                let mut done = false;
                for _ in 0..k {
                    if let Poll::Ready(resp) = poll_once(&mut fut).await {
                        resp.unwrap();
                        done = true;
                        break;
                    }
                    // Let the server make progress between polls.
                    futures_lite::future::yield_now().await;
                }
                drop(fut);
                t.close_idle_connections();
                client_done.fire();
                done
            },
        );
        let s = balanced(&t);
        if completed {
            let want = Want {
                dials: 1,
                requests: 1,
                closed: vec![(CloseReason::CloseIdleConnections, 1)],
                ..Want::default()
            };
            assert_stats(
                &t,
                &want,
                &format!("when the round trip completed at poll {k}"),
            );
            break;
        }
        assert_eq!(s.in_use, 0, "step {k}: {s}");
        assert_eq!(s.idle, 0, "step {k}: {s}");
        assert_eq!(s.dials, s.closed(CloseReason::CallerGone), "step {k}: {s}");
        k += 1;
        assert!(k < 200, "round trip never completed");
    }
}

/// Drops a chunked response body after `k` polls, for every `k` until it is read to the end.
/// Whatever the step, the connection is either pooled (the rest of the body was already
/// buffered) or closed as `CallerGone`, and the accounting balances.
#[test]
fn dropping_the_body_at_every_poll_pools_or_closes_cleanly() {
    let mut k = 0;
    loop {
        let server = Server::bind();
        let url = server.url("/");
        let t = Transport::new();
        let client_done = Signal::new();
        let finished = run(
            async {
                let mut peer = server.accept().await;
                peer.read_request().await.unwrap();
                peer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                    .await;
                for piece in [&b"4\r\nabcd\r\n"[..], b"4\r\nefgh\r", b"\n0\r\n", b"\r\n"] {
                    futures_lite::future::yield_now().await;
                    if !peer.try_write(piece).await {
                        break; // the client dropped the body and closed the connection
                    }
                }
                client_done.wait().await;
                peer.until_eof().await;
            },
            async {
                let mut resp = t.round_trip(get(&url)).await.unwrap();
                let mut got = Vec::new();
                let mut finished = false;
                let mut buf = [0u8; 3];
                for _ in 0..k {
                    let mut read = futures_lite::future::poll_fn(|cx| {
                        Poll::Ready(resp.body_mut().poll_read_body(cx, &mut buf))
                    });
                    match poll_once(&mut read).await {
                        Poll::Ready(Poll::Ready(Ok(0))) => {
                            finished = true;
                            break;
                        }
                        Poll::Ready(Poll::Ready(Ok(n))) => got.extend_from_slice(&buf[..n]),
                        Poll::Ready(Poll::Ready(Err(e))) => panic!("{e}"),
                        _ => futures_lite::future::yield_now().await,
                    }
                }
                assert!(b"abcdefgh".starts_with(&got));
                drop(resp);
                let s = balanced(&t);
                assert!(
                    (s.idle, s.closed_total()) == (1, 0)
                        || (s.idle, s.closed(CloseReason::CallerGone)) == (0, 1),
                    "step {k}: {s}"
                );
                t.close_idle_connections();
                client_done.fire();
                finished
            },
        );
        balanced(&t);
        if finished {
            break;
        }
        k += 1;
        assert!(k < 200, "body never finished");
    }
}

#[test]
fn dropping_a_body_early_closes_unless_it_is_fully_buffered() {
    Script::new()
        .server([conn([
            // 1: a body whose rest is already buffered when dropped: pooled.
            read(GET),
            write(ok("small and complete")),
            // 2: same connection, a body that is still streaming when dropped: closed.
            read(GET),
            write("HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\npartial"),
        ])])
        .client([
            Step::Send(Req::get("/").unread().idle(1)),
            Step::Stats(Want {
                dials: 1,
                requests: 1,
                idle: 1,
                ..Want::default()
            }),
            Step::Send(Req::get("/").prefix("part").conn(1, true).idle(0)),
        ])
        .want(Want {
            dials: 1,
            reuses: 1,
            requests: 2,
            closed: vec![(CloseReason::CallerGone, 1)],
            ..Want::default()
        })
        .run();
}

/// A body dropped early whose buffered rest turns out to be malformed: the connection closes
/// as the server's fault (`ProtocolError`), not as `CallerGone`.
#[test]
fn dropping_a_body_whose_buffered_rest_is_malformed_records_a_protocol_error() {
    Script::new()
        .server([conn([
            read(GET),
            // One write, so the whole response is buffered together: a good chunk, then a
            // chunk size that is not hex.
            write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\nzz\r\n"),
        ])])
        .client([Step::Send(Req::get("/").prefix("ab"))])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::ProtocolError, 1)],
            ..Want::default()
        })
        .run();
}

/// While the server is thinking, the client's future is not polled at all: an idle wait
/// costs zero polls. (The window starts once the request was fully sent and its write
/// completions were delivered, and ends before the server answers.)
#[test]
fn waiting_for_a_slow_server_costs_no_polls() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let polls = Rc::new(Cell::new(0));
    let window = Rc::new(Cell::new((0, 0)));
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            let think = std::time::Duration::from_millis(100);
            roundtrip::net::sleep(think).await;
            let start = polls.get();
            roundtrip::net::sleep(think).await;
            window.set((start, polls.get()));
            peer.respond("slow").await;
            peer.until_eof().await;
        },
        async {
            let fut = CountPolls {
                inner: Box::pin(t.round_trip(get(&url))),
                polls: polls.clone(),
            };
            let mut resp = fut.await.unwrap();
            assert_eq!(resp.body_mut().text().await.unwrap(), "slow");
            t.close_idle_connections();
        },
    );
    let want = Want {
        dials: 1,
        requests: 1,
        closed: vec![(CloseReason::CloseIdleConnections, 1)],
        ..Want::default()
    };
    assert_stats(&t, &want, "after the slow response");
    let (start, end) = window.get();
    assert!(start > 0);
    assert_eq!(
        end - start,
        0,
        "the client was polled while it had nothing to do"
    );
}

#[test]
fn response_header_timeout_closes_and_says_timeout() {
    Script::new()
        .transport(
            Transport::builder()
                .response_header_timeout(Some(std::time::Duration::from_millis(50))),
        )
        // The server never answers; it sees the client close.
        .server([conn([read(GET)])])
        .client([Step::Send(Req::get("/").fails(|e| {
            e.is_timeout() && e.phase() == roundtrip::Phase::ReadHead
        }))])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::Timeout, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn body_read_after_a_failed_read_is_canceled() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            peer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc")
                .await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let err = resp.body_mut().bytes().await.unwrap_err();
            assert!(err.is_protocol(), "{err}");
            let again = resp.body_mut().bytes().await.unwrap_err();
            assert!(
                matches!(again, roundtrip::Error::BodyAlreadyFailed),
                "{again}"
            );
        },
    );
    let want = Want {
        dials: 1,
        requests: 1,
        closed: vec![(CloseReason::ProtocolError, 1)],
        ..Want::default()
    };
    assert_stats(&t, &want, "after the failed body");
}
