//! Keep-alive, reuse and `Connection: close`, against the scripted server. Runs unchanged
//! natively and under wasmtime.

mod common;

use common::*;
use roundtrip::{CloseReason, Transport};

#[test]
fn sequential_requests_share_one_connection() {
    let (mut served, mut client) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let reply = format!("reply {i}");
        served.extend([
            read(format!(
                "GET /hello?x=1 HTTP/1.1\r\nhost: {{host}}\r\n{AE}\r\n"
            )),
            write(ok(&reply)),
        ]);
        // Pooled before the final read returned: idle right away.
        let req = Req::get("/hello?x=1").text(&reply).conn(1, i > 0).idle(1);
        client.push(Step::Send(req));
    }
    client.push(Step::Stats(Want {
        dials: 1,
        reuses: 9,
        requests: 10,
        idle: 1,
        ..Want::default()
    }));
    client.push(Step::CloseIdle);
    // No 11th request: the connection's script ends with the client closing it, silent.
    Script::new()
        .server([conn(served)])
        .client(client)
        .want(Want {
            dials: 1,
            reuses: 9,
            requests: 10,
            closed: vec![(CloseReason::CloseIdleConnections, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn response_connection_close_is_not_reused() {
    let close = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok";
    Script::new()
        .server([
            conn([read(GET), write(close)]),
            conn([read(GET), write(close)]),
        ])
        .client([
            Step::Send(Req::get("/").text("ok").conn(1, false)),
            Step::Send(Req::get("/").text("ok").conn(2, false)),
        ])
        .want(Want {
            dials: 2,
            requests: 2,
            closed: vec![(CloseReason::ResponseClose, 2)],
            ..Want::default()
        })
        .run();
}

#[test]
fn request_connection_close_is_sent_once_and_not_reused() {
    Script::new()
        .server([conn([
            read(format!(
                "GET / HTTP/1.1\r\nhost: {{host}}\r\nconnection: close\r\n{AE}\r\n"
            )),
            write(ok("ok")),
        ])])
        .client([Step::Send(
            Req::get("/").header("connection", "close").text("ok"),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::RequestClose, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn disable_keep_alives_adds_connection_close() {
    let get_close = &format!("GET / HTTP/1.1\r\nhost: {{host}}\r\nconnection: close\r\n{AE}\r\n");
    Script::new()
        .transport(Transport::builder().disable_keep_alives(true))
        .server([
            conn([read(get_close), write(ok("ok"))]),
            conn([read(get_close), write(ok("ok"))]),
        ])
        .client([
            Step::Send(Req::get("/").text("ok").conn(1, false)),
            Step::Send(Req::get("/").text("ok").conn(2, false)),
        ])
        .want(Want {
            dials: 2,
            requests: 2,
            closed: vec![(CloseReason::RequestClose, 2)],
            ..Want::default()
        })
        .run();
}

#[test]
fn http10_server_close_delimited_and_keep_alive() {
    Script::new()
        .server([conn([
            // 1.0 with keep-alive and a length: reusable.
            read(GET),
            write("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 3\r\n\r\none"),
            // 1.0 without keep-alive, body delimited by close.
            read(GET),
            write("HTTP/1.0 200 OK\r\n\r\ntwo, until close"),
            Srv::ShutdownWrite,
        ])])
        .client([
            Step::Send(Req::get("/").text("one").conn(1, false)),
            Step::Send(Req::get("/").text("two, until close").conn(1, true)),
        ])
        .want(Want {
            dials: 1,
            reuses: 1,
            requests: 2,
            closed: vec![(CloseReason::ResponseClose, 1)],
            ..Want::default()
        })
        .run();
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
            let want = Want {
                dials: 2,
                requests: 2,
                idle: 1,
                closed: vec![(CloseReason::TooManyIdleForHost, 1)],
                ..Want::default()
            };
            assert_stats(&t, &want, "after both responses");
            t.close_idle_connections();
        },
    );
}

#[test]
fn idle_timeout_closes_instead_of_reusing() {
    let timeout = std::time::Duration::from_millis(50);
    Script::new()
        .transport(Transport::builder().idle_timeout(Some(timeout)))
        .server([
            conn([read(GET), write(ok("1"))]),
            conn([read(GET), write(ok("2"))]),
        ])
        .client([
            Step::Send(Req::get("/").text("1")),
            // The timeout itself is what is under test: let it pass.
            Step::Sleep(timeout * 2),
            Step::Send(Req::get("/").text("2").conn(2, false)),
        ])
        .want(Want {
            dials: 2,
            requests: 2,
            idle: 1,
            closed: vec![(CloseReason::IdleTimeout, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn server_closing_an_idle_connection_is_detected_before_reuse() {
    // The server closes the connection while it is idle, before the next request: the probe
    // sees it, no retry is needed.
    while_idle([vec![Srv::Close]])
        .want(Want {
            dials: 2,
            requests: 2,
            idle: 1,
            closed: vec![(CloseReason::ServerClosedIdle, 1)],
            ..Want::default()
        })
        .run();
}
