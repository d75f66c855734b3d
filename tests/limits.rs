//! `max_conns_per_host`: requests over the limit wait in FIFO order for a pooled connection or
//! a free slot. Runs unchanged natively and under wasmtime.

mod common;

use std::future::Future;
use std::task::Poll;

use common::*;
use roundtrip::Transport;

/// Serves requests on one connection until the client closes it.
async fn serve_all(mut peer: Peer, tag: &str) -> usize {
    let mut n = 0;
    while peer.read_request().await.is_some() {
        n += 1;
        peer.respond(tag).await;
    }
    n
}

#[test]
fn five_concurrent_requests_share_two_connections() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder().max_conns_per_host(Some(2)).build();
    run(
        async {
            let (a, b) = (server.accept().await, server.accept().await);
            let (na, nb) = join(serve_all(a, "a"), serve_all(b, "b")).await;
            assert_eq!(na + nb, 5);
        },
        async {
            let mut all = Vec::new();
            for _ in 0..5 {
                all.push(Box::pin(fetch(&t, &url)));
            }
            // Start them all: two dial, three queue.
            for f in &mut all {
                assert!(poll_once(f).await.is_pending());
            }
            assert_eq!(t.stats().waiting, 3);
            for f in all {
                assert_eq!(f.await.0, 200);
            }
            let want = Want {
                dials: 2,
                reuses: 3,
                requests: 5,
                idle: 2,
                ..Want::default()
            };
            assert_stats(&t, &want, "after the five requests");
            t.close_idle_connections();
        },
    );
}

#[test]
fn a_dropped_waiter_leaves_the_queue() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder().max_conns_per_host(Some(1)).build();
    let go = Signal::new();
    run(
        async {
            let mut peer = server.accept().await;
            peer.read_request().await.unwrap();
            go.wait().await;
            peer.respond("first").await;
            peer.read_request().await.unwrap();
            peer.respond("third").await;
            peer.until_eof().await;
        },
        async {
            let mut first = Box::pin(fetch(&t, &url));
            assert!(poll_once(&mut first).await.is_pending());
            let mut second = Box::pin(fetch(&t, &url));
            assert!(poll_once(&mut second).await.is_pending());
            assert_eq!(t.stats().waiting, 1);
            drop(second);
            assert_eq!(t.stats().waiting, 0);
            go.fire();
            assert_eq!(first.await.1, "first");
            // The slot and the connection are free: the next request reuses it at once.
            assert_eq!(fetch(&t, &url).await.1, "third");
            let want = Want {
                dials: 1,
                reuses: 1,
                requests: 2,
                idle: 1,
                ..Want::default()
            };
            assert_stats(&t, &want, "after the first and third requests");
            t.close_idle_connections();
        },
    );
}

#[test]
fn a_failed_dial_frees_its_slot() {
    let addr = {
        let l = roundtrip::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        l.local_addr().unwrap()
    };
    let t = Transport::builder().max_conns_per_host(Some(1)).build();
    roundtrip::net::block_on(async {
        for _ in 0..3 {
            let err = t
                .round_trip(get(&format!("http://{addr}/")))
                .await
                .unwrap_err();
            assert!(err.is_connect(), "{err}");
        }
    });
    let want = Want {
        dial_errors: 3,
        ..Want::default()
    };
    assert_stats(&t, &want, "after the three failed dials");
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::builder().max_conns_per_host(Some(1)).build();
    run(
        async {
            let peer = server.accept().await;
            serve_all(peer, "x").await;
        },
        async {
            let order = std::cell::RefCell::new(Vec::new());
            let make = |i: usize| {
                let (t, url, order) = (&t, &url, &order);
                Box::pin(async move {
                    fetch(t, url).await;
                    order.borrow_mut().push(i);
                })
            };
            let mut futs: Vec<_> = (0..4).map(make).collect();
            for f in &mut futs {
                assert!(poll_once(f).await.is_pending());
            }
            futures_lite::future::poll_fn(|cx| {
                futs.retain_mut(|f| f.as_mut().poll(cx).is_pending());
                if futs.is_empty() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            })
            .await;
            assert_eq!(*order.borrow(), [0, 1, 2, 3]);
            let want = Want {
                dials: 1,
                reuses: 3,
                requests: 4,
                idle: 1,
                ..Want::default()
            };
            assert_stats(&t, &want, "after the four requests");
            t.close_idle_connections();
        },
    );
}
