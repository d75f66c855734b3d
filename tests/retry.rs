//! Retrying a request whose pooled connection turned out to be dead: which requests are sent
//! again (Go's rule: replayable ones, that is safe methods or an idempotency key, with a body
//! that can be sent again), and `retry_stale_connections(false)`. Against the scripted server;
//! runs unchanged natively and under wasmtime.
//!
//! Each stale connection here is one the server closed just as the next request arrived: it
//! reads the request and hangs up without a byte of response. The idle probe cannot see that
//! coming, so the failure shows only once the request was sent.
//!
//! Not covered here: a request none of whose bytes were written, which Go retries whatever the
//! method. Over real TCP a write into a connection the peer closed succeeds into the kernel's
//! buffer, so that case cannot be provoked reliably on loopback (the transport's in-memory
//! stream tests cover it).

mod common;

use common::*;
use futures_lite::io::Cursor;
use roundtrip::{Body, CloseReason, Error, Transport, TransportBuilder};

#[test]
fn stale_connection_is_retried_for_get_but_not_post() {
    Script::new()
        .server([
            // Connection 1: serves one request, then reads the next and hangs up without a
            // response (the server's keep-alive timer fired just as the request arrived).
            conn([read(GET), write(ok("1")), read(GET), Srv::Close]),
            // The GET is retried on connection 2. The POST is not retried: connection 2 hangs
            // up on it.
            conn([
                read(GET),
                write(ok("2")),
                read(format!(
                    "POST / HTTP/1.1\r\nhost: {{host}}\r\ncontent-length: 4\r\n{AE}\r\ndata"
                )),
                Srv::Close,
            ]),
        ])
        .client([
            Step::Send(Req::get("/").text("1")),
            Step::Send(Req::get("/").text("2").conn(2, false)),
            Step::Send(Req::post("/", "data").fails(Error::is_closed_before_response)),
        ])
        .want(Want {
            dials: 2,
            reuses: 2,
            requests: 4,
            retries: 1,
            // The retried connection was closed by the server while idle: that is what it
            // says. The POST's connection failed mid-exchange.
            closed: vec![
                (CloseReason::ServerClosedIdle, 1),
                (CloseReason::ReadError, 1),
            ],
            ..Want::default()
        })
        .run();
}

/// A POST is not safe to send twice, unless the caller says it is with an idempotency key:
/// then it is retried like a GET, with either header name.
#[test]
fn a_post_with_an_idempotency_key_is_retried() {
    for key in ["idempotency-key", "x-idempotency-key"] {
        let post = format!(
            "POST / HTTP/1.1\r\nhost: {{host}}\r\n{key}: 7f3a\r\ncontent-length: 4\r\n{AE}\r\ndata"
        );
        Script::new()
            .server([
                conn([read(GET), write(ok("1")), read(&post), Srv::Close]),
                // The same request again, on a new connection.
                conn([read(&post), write(ok("2"))]),
            ])
            .client([
                Step::Send(Req::get("/").text("1")),
                Step::Send(
                    Req::post("/", "data")
                        .header(key, "7f3a")
                        .text("2")
                        .conn(2, false),
                ),
            ])
            .want(Want {
                dials: 2,
                reuses: 1,
                requests: 3,
                retries: 1,
                idle: 1,
                closed: vec![(CloseReason::ServerClosedIdle, 1)],
                ..Want::default()
            })
            .run();
    }
}

/// A connection that serves one GET, then reads `sent` (the request `req` makes) and hangs
/// up: `req` must fail with that, unretried, and nothing else is dialed.
#[track_caller]
fn not_retried(transport: TransportBuilder, sent: &str, req: Req) {
    Script::new()
        .transport(transport)
        .server([conn([read(GET), write(ok("1")), read(sent), Srv::Close])])
        .client([
            Step::Send(Req::get("/").text("1")),
            Step::Send(req.fails(Error::is_closed_before_response)),
        ])
        .want(Want {
            dials: 1,
            reuses: 1,
            requests: 2,
            closed: vec![(CloseReason::ReadError, 1)],
            ..Want::default()
        })
        .run();
}

/// The same POST without a key fails with the error, on the same stale connection.
#[test]
fn a_post_without_a_key_is_not_retried() {
    not_retried(
        Transport::builder(),
        &format!("POST / HTTP/1.1\r\nhost: {{host}}\r\ncontent-length: 4\r\n{AE}\r\ndata"),
        Req::post("/", "data"),
    );
}

/// A key does not make a streamed body replayable: it was consumed by the first attempt.
#[test]
fn a_keyed_post_with_a_streamed_body_is_not_retried() {
    not_retried(
        Transport::builder(),
        &format!(
            "POST / HTTP/1.1\r\nhost: {{host}}\r\nidempotency-key: 7f3a\r\ncontent-length: 4\r\n{AE}\r\ndata"
        ),
        Req::post("/", "")
            .header("idempotency-key", "7f3a")
            .body_with(|| Body::from_reader(Cursor::new(b"data".to_vec()), Some(4))),
    );
}

/// With `retry_stale_connections(false)` even a GET on a stale connection fails with the
/// error: nothing is sent again, no second connection is dialed.
#[test]
fn retry_stale_connections_false_returns_the_error() {
    not_retried(
        Transport::builder().retry_stale_connections(false),
        GET,
        Req::get("/"),
    );
}
