//! Body framing both ways, bodyless responses, interim responses, trailers and responses that
//! come before the request body was sent, against the scripted server. Runs unchanged natively
//! and under wasmtime.

mod common;

use common::*;
use futures_lite::io::{AsyncReadExt, Cursor};
use http::Method;
use roundtrip::{Body, CloseReason, Error};

#[test]
fn chunked_response_with_extensions_and_trailers() {
    Script::new()
        .server([conn([
            read(GET),
            write("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n"),
            write("5;ext=1\r\nhello\r\n"),
            write("6\r\n world\r\n0\r\nx-sum: 11\r\n\r\n"),
        ])])
        .client([Step::Send(
            Req::get("/")
                .text("hello world")
                .trailer("x-sum", "11")
                .idle(1),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

#[test]
fn streamed_request_body_of_unknown_length_is_chunked() {
    let payload: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    let sent = payload.clone();
    Script::new()
        .server([conn([
            read_decoded(
                &format!("PUT /upload HTTP/1.1\r\nhost: {{host}}\r\ntransfer-encoding: chunked\r\n{AE}\r\n"),
                payload,
            ),
            write(ok("stored")),
        ])])
        .client([Step::Send(
            Req::new(Method::PUT, "/upload")
                .body_with(move || Body::from_reader(Cursor::new(sent.clone()), None))
                .text("stored")
                .idle(1),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

#[test]
fn sized_request_bodies_send_content_length() {
    let post = |len: usize| {
        format!("POST / HTTP/1.1\r\nhost: {{host}}\r\ncontent-length: {len}\r\n{AE}\r\n")
    };
    let big = vec![b'x'; 100_000];
    Script::new()
        .server([conn([
            read(post(5) + "hello"),
            write(ok("1")),
            read([post(100_000).as_bytes(), &big].concat()),
            write(ok("2")),
            read(post(3) + "abc"),
            write(ok("3")),
            read(post(0)),
            write(ok("4")),
        ])])
        .client([
            Step::Send(Req::post("/", "hello").text("1")),
            // Larger than what is copied behind the head: written from the caller's bytes.
            Step::Send(Req::post("/", big).text("2")),
            Step::Send(
                Req::new(Method::POST, "/")
                    .body_with(|| Body::from_reader(Cursor::new(b"abc".to_vec()), Some(3)))
                    .text("3"),
            ),
            Step::Send(Req::new(Method::POST, "/").text("4")),
        ])
        .want(Want {
            dials: 1,
            reuses: 3,
            requests: 4,
            idle: 1,
            ..Want::default()
        })
        .run();
}

#[test]
fn request_body_shorter_than_declared_fails_and_closes() {
    Script::new()
        .server([conn([Srv::Eof(
            format!("POST / HTTP/1.1\r\nhost: {{host}}\r\ncontent-length: 10\r\n{AE}\r\nabc")
                .into_bytes(),
        )])])
        .client([Step::Send(
            Req::new(Method::POST, "/")
                .body_with(|| Body::from_reader(Cursor::new(b"abc".to_vec()), Some(10)))
                .fails(|e| matches!(e, Error::RequestBody { .. })),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::WriteError, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn bodyless_responses_are_pooled_before_they_are_returned() {
    Script::new()
        .server([conn([
            // HEAD: Content-Length describes the GET body; nothing follows.
            read("HEAD / HTTP/1.1\r\nhost: {host}\r\n\r\n"),
            write("HTTP/1.1 200 OK\r\ncontent-length: 123\r\n\r\n"),
            read(GET),
            write("HTTP/1.1 204 No Content\r\n\r\n"),
            read(GET),
            write("HTTP/1.1 304 Not Modified\r\ntransfer-encoding: chunked\r\n\r\n"),
            read(GET),
            write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"),
        ])])
        .client([
            Step::Send(
                Req::new(Method::HEAD, "/")
                    .has_header("content-length", "123")
                    .end_stream()
                    .conn(1, false)
                    .idle(1),
            ),
            Step::Send(Req::get("/").status(204).end_stream().conn(1, true).idle(1)),
            Step::Send(Req::get("/").status(304).end_stream().conn(1, true).idle(1)),
            Step::Send(Req::get("/").status(200).end_stream().conn(1, true).idle(1)),
        ])
        .want(Want {
            dials: 1,
            reuses: 3,
            requests: 4,
            idle: 1,
            ..Want::default()
        })
        .run();
}

#[test]
fn interim_100_and_103_are_skipped() {
    Script::new()
        .server([conn([
            read(GET),
            write("HTTP/1.1 100 Continue\r\n\r\n"),
            write("HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"),
            write("HTTP/1.1 201 Created\r\ncontent-length: 4\r\nx-final: yes\r\n\r\ndone"),
        ])])
        .client([Step::Send(
            Req::get("/")
                .status(201)
                .has_header("x-final", "yes")
                .no_header("link")
                .text("done"),
        )])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

#[test]
fn transfer_encoding_with_content_length_reads_chunked_and_does_not_reuse() {
    Script::new()
        .server([conn([
            read(GET),
            write(
                "HTTP/1.1 200 OK\r\ncontent-length: 100\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ),
        ])])
        .client([Step::Send(Req::get("/").text("abc"))])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::AmbiguousFraming, 1)],
            ..Want::default()
        })
        .run();
}

#[test]
fn large_body_streams_across_many_reads() {
    let n = 3 * 1024 * 1024;
    let body = vec![7u8; n];
    let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n");
    Script::new()
        .server([conn([read(GET), write(head), write(&body)])])
        .client([Step::Send(Req::get("/").body_is(body.clone()).idle(1))])
        .want(Want {
            dials: 1,
            requests: 1,
            idle: 1,
            ..Want::default()
        })
        .run();
}

/// A request body larger than every socket buffer on the way, so the server can answer
/// before it has all arrived.
const UPLOAD: u64 = 64 << 20;

/// A 64 MiB POST, streamed, that the server answers with `response` after reading only its
/// head (Go's and RFC 9112 §9.6's early response); `req` says what the caller gets. Whatever
/// it does with the response, the connection, whose request was cut short, is closed as
/// `EarlyResponse`, never pooled.
#[track_caller]
fn answered_early(response: &str, req: impl FnOnce(Req) -> Req) {
    let upload = Req::new(Method::POST, "/upload")
        .body_with(|| Body::from_reader(futures_lite::io::repeat(b'x').take(UPLOAD), Some(UPLOAD)));
    let head =
        format!("POST /upload HTTP/1.1\r\nhost: {{host}}\r\ncontent-length: {UPLOAD}\r\n{AE}\r\n");
    Script::new()
        .server([conn([
            read_head(&head),
            // One write: head and body arrive together.
            write(response),
            // The rest of the upload that made it into the socket buffers, then the close.
            Srv::Drain,
        ])])
        .client([Step::Send(req(upload).idle(0))])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::EarlyResponse, 1)],
            ..Want::default()
        })
        .run();
}

/// The caller reads the early response's body.
#[test]
fn an_early_response_is_delivered_and_its_connection_closed() {
    answered_early("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", |r| {
        r.text("ok")
    });
}

/// An early response without a body, both kinds: an empty `Content-Length` body and a status
/// that has none (`204`), which take different paths: the connection is closed before the
/// response is returned.
#[test]
fn a_bodyless_early_response_closes_before_it_is_returned() {
    answered_early(
        "HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\n\r\n",
        |r| r.status(413).end_stream(),
    );
    answered_early("HTTP/1.1 204 No Content\r\n\r\n", |r| {
        r.status(204).end_stream()
    });
}

/// An early response whose body came with its head, dropped unread: the body was complete,
/// so the close is not the caller's doing (`CallerGone`); the request was not.
#[test]
fn an_early_response_dropped_with_its_body_buffered_is_still_early() {
    answered_early(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        Req::unread,
    );
}
