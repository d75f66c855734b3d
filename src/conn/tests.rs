//! Unit tests of the exchange over the scripted stream: byte-exact, deterministic, no sockets
//! and no timers. Each response is also fed split at every position.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::future::poll_fn;
use http::Method;

use super::scripted::{drive, pair, Script};
use super::*;
use crate::body::Body;
use crate::close::CloseReason;
use crate::error::Error;

const GET: &str = "GET / HTTP/1.1\r\nhost: a.test\r\n\r\n";
const LIMITS: Limits = Limits {
    max_head: 1024,
    header_timeout: None,
};
const RESEND: Resend = Resend {
    enabled: true,
    replayable: true,
};

/// What one exchange came to.
#[derive(Debug)]
struct Outcome {
    status: Option<u16>,
    body: Vec<u8>,
    error: Option<Error>,
    fate: Fate,
    trailers: Option<http::HeaderMap>,
    written: String,
}

/// Runs one exchange of `head` + `body` over a fresh scripted connection set up by `script`
/// (`reused`: it already served an exchange), reading the body 7 bytes at a time.
fn exchange(
    method: Method,
    head: &str,
    body: Body,
    reused: bool,
    resend: Resend,
    script: impl FnOnce(&Script),
) -> (Outcome, Exchange) {
    let (stream, s) = pair();
    script(&s);
    let mut conn = Conn::new(stream, 1);
    if reused {
        conn.end_exchange();
    }
    let mut ex = Exchange::new(
        WriteTask::new(head.into(), body, false),
        LIMITS,
        &method,
        false,
        None,
    );
    let mut out = Outcome {
        status: None,
        body: Vec::new(),
        error: None,
        fate: Fate {
            close: None,
            resend: false,
        },
        trailers: None,
        written: String::new(),
    };
    match drive(poll_fn(|cx| ex.poll_head(cx, &mut conn))) {
        Ok(h) => {
            out.status = Some(h.status.as_u16());
            let mut buf = [0u8; 7];
            while !ex.is_failed() {
                match drive(poll_fn(|cx| ex.poll_read_body(cx, &mut conn, &mut buf))) {
                    Ok(0) => break,
                    Ok(n) => out.body.extend_from_slice(&buf[..n]),
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                }
            }
            if out.error.is_none() {
                out.error = ex.take_unreported_error();
            }
        }
        Err(e) => out.error = Some(e),
    }
    out.fate = ex.fate(&conn, resend);
    out.trailers = ex.take_trailers();
    out.written = s.written();
    (out, ex)
}

fn pooled() -> Fate {
    Fate {
        close: None,
        resend: false,
    }
}

fn closed(reason: CloseReason) -> Fate {
    Fate {
        close: Some(reason),
        resend: false,
    }
}

/// Feeds `response` in two reads split at every position, and checks each run with `check`.
fn at_every_split(response: &[u8], check: impl Fn(usize, Outcome)) {
    for i in 1..response.len() {
        let (out, _) = exchange(Method::GET, GET, Body::empty(), false, RESEND, |s| {
            s.push(&response[..i]).push(&response[i..]);
        });
        check(i, out);
    }
}

#[test]
fn sized_response_at_every_split() {
    at_every_split(
        b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello, world",
        |i, out| {
            assert_eq!(out.written, GET, "split {i}");
            assert_eq!(out.status, Some(200), "split {i}");
            assert_eq!(out.body, b"hello, world", "split {i}");
            assert_eq!(out.fate, pooled(), "split {i}");
        },
    );
}

#[test]
fn interim_then_chunked_with_trailers_at_every_split() {
    let response = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n\
        HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-sum: 42\r\n\r\n";
    at_every_split(response, |i, out| {
        assert_eq!(out.status, Some(200), "split {i}");
        assert_eq!(out.body, b"hello, world", "split {i}");
        assert_eq!(out.fate, pooled(), "split {i}");
        let trailers = out
            .trailers
            .unwrap_or_else(|| panic!("split {i}: no trailers"));
        assert_eq!(trailers["x-sum"], "42", "split {i}");
    });
}

#[test]
fn bodiless_and_close_delimited_responses() {
    let (out, _) = exchange(Method::HEAD, GET, Body::empty(), false, RESEND, |s| {
        s.push("HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n");
    });
    assert_eq!(
        (out.status, out.body.len(), out.fate),
        (Some(200), 0, pooled())
    );
    let (out, _) = exchange(Method::GET, GET, Body::empty(), false, RESEND, |s| {
        s.push("HTTP/1.1 200 OK\r\n\r\nuntil the end").eof();
    });
    assert_eq!(out.body, b"until the end");
    assert_eq!(out.fate, closed(CloseReason::CloseDelimited));
}

#[test]
fn bytes_beyond_the_response_are_unsolicited() {
    let (out, _) = exchange(Method::GET, GET, Body::empty(), false, RESEND, |s| {
        s.push("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n");
    });
    assert_eq!(out.status, Some(204));
    assert_eq!(out.fate, closed(CloseReason::UnsolicitedResponse));
}

#[test]
fn request_bytes_are_exact_whatever_the_write_sizes() {
    let head = "POST / HTTP/1.1\r\nhost: a.test\r\ntransfer-encoding: chunked\r\n\r\n";
    for max in [1, 2, 3, 7, 64] {
        let reader = futures_lite::io::Cursor::new(b"streamed".to_vec());
        let want = format!("{head}8\r\nstreamed\r\n0\r\n\r\n");
        let (out, _) = exchange(
            Method::POST,
            head,
            Body::from_reader(reader, None),
            false,
            RESEND,
            |s| {
                s.max_write(max)
                    .reply_after(want.len(), "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            },
        );
        assert_eq!(out.written, want, "max write {max}");
        assert_eq!(out.fate, pooled(), "max write {max}");
    }
}

/// A request body that never produces anything (and never wakes).
struct Stalled;

impl futures_io::AsyncRead for Stalled {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
}

#[test]
fn a_response_before_the_request_body_is_sent_is_an_early_response() {
    let head = "POST / HTTP/1.1\r\nhost: a.test\r\ncontent-length: 100\r\n\r\n";
    let (out, _) = exchange(
        Method::POST,
        head,
        Body::from_reader(Stalled, Some(100)),
        false,
        RESEND,
        |s| {
            s.push("HTTP/1.1 413 Too Large\r\ncontent-length: 2\r\n\r\nno");
        },
    );
    assert_eq!((out.status, out.body.as_slice()), (Some(413), &b"no"[..]));
    assert_eq!(out.written, head, "only the head went out");
    assert_eq!(out.fate, closed(CloseReason::EarlyResponse));
}

/// The failure table: what the server does, whether the connection was reused, what the
/// request allows; and the verdict.
#[test]
fn the_verdict_on_failures_and_the_resend_rule() {
    let resend_fate = Fate {
        close: Some(CloseReason::ServerClosedIdle),
        resend: true,
    };
    let no = Resend::default();
    let not_replayable = Resend {
        enabled: true,
        replayable: false,
    };
    type Setup = fn(&Script);
    let eof: Setup = |s| {
        s.eof();
    };
    let reset: Setup = |s| {
        s.error(io::ErrorKind::ConnectionReset);
    };
    let partial_head: Setup = |s| {
        s.push("HTTP/1.1 2").eof();
    };
    let nothing_written: Setup = |s| {
        s.fail_writes_at(0, io::ErrorKind::BrokenPipe).eof();
    };
    let cut_mid_head: Setup = |s| {
        s.fail_writes_at(5, io::ErrorKind::BrokenPipe).eof();
    };
    let garbage: Setup = |s| {
        s.push("SMTP ready\r\n\r\n");
    };
    let cases: [(&str, bool, Resend, Setup, Fate); 10] = [
        ("stale pooled GET: EOF", true, RESEND, eof, resend_fate),
        ("stale pooled GET: reset", true, RESEND, reset, resend_fate),
        (
            "fresh connection: never resent",
            false,
            RESEND,
            eof,
            closed(CloseReason::ReadError),
        ),
        (
            "retries disabled",
            true,
            no,
            eof,
            closed(CloseReason::ReadError),
        ),
        (
            "not replayable, written",
            true,
            not_replayable,
            eof,
            closed(CloseReason::ReadError),
        ),
        (
            "not replayable, nothing written",
            true,
            not_replayable,
            nothing_written,
            resend_fate,
        ),
        (
            "not replayable, cut mid-head",
            true,
            not_replayable,
            cut_mid_head,
            closed(CloseReason::WriteError),
        ),
        (
            "a response byte arrived",
            true,
            RESEND,
            partial_head,
            closed(CloseReason::ReadError),
        ),
        (
            "a protocol error",
            true,
            RESEND,
            garbage,
            closed(CloseReason::ProtocolError),
        ),
        (
            "a protocol error, fresh",
            false,
            RESEND,
            garbage,
            closed(CloseReason::ProtocolError),
        ),
    ];
    for (name, reused, resend, setup, want) in cases {
        let (out, _) = exchange(Method::GET, GET, Body::empty(), reused, resend, setup);
        assert!(out.error.is_some(), "{name}: no error");
        assert_eq!(out.fate, want, "{name}: {:?}", out.error);
    }
}

#[test]
fn a_request_that_was_never_written_gives_its_body_back_untouched() {
    let head = "POST / HTTP/1.1\r\nhost: a.test\r\ncontent-length: 5\r\n\r\n";
    let reader = futures_lite::io::Cursor::new(b"whole".to_vec());
    let (out, mut ex) = exchange(
        Method::POST,
        head,
        Body::from_reader(reader, Some(5)),
        true,
        Resend {
            enabled: true,
            replayable: false,
        },
        |s| {
            s.fail_writes_at(0, io::ErrorKind::BrokenPipe).eof();
        },
    );
    assert!(
        matches!(out.error, Some(Error::Write { .. })),
        "{:?}",
        out.error
    );
    assert!(out.fate.resend);
    let body = ex.take_unsent_body().expect("the body comes back");
    assert_eq!(body.len(), Some(5));
    // The streamed body was not read from: all of it is still there.
    let mut rest = Vec::new();
    let Body {
        kind: crate::body::Kind::Reader { mut reader, .. },
    } = body
    else {
        panic!("not the reader body");
    };
    drive(futures_lite::AsyncReadExt::read_to_end(
        &mut reader,
        &mut rest,
    ))
    .unwrap();
    assert_eq!(rest, b"whole");
    assert!(ex.take_unsent_body().is_none(), "given back once");
}

#[test]
fn a_body_error_is_the_callers_and_never_resent() {
    struct Failing;
    impl futures_io::AsyncRead for Failing {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Err(io::ErrorKind::Other.into()))
        }
    }
    let head = "POST / HTTP/1.1\r\nhost: a.test\r\ntransfer-encoding: chunked\r\n\r\n";
    let (out, _) = exchange(
        Method::POST,
        head,
        Body::from_reader(Failing, None),
        true,
        RESEND,
        |_| {},
    );
    assert!(
        matches!(out.error, Some(Error::RequestBody { .. })),
        "{:?}",
        out.error
    );
    assert_eq!(out.fate, closed(CloseReason::WriteError));
}

#[test]
fn abandoning_mid_body_pools_only_when_the_rest_is_buffered() {
    for (rest_buffered, want) in [(true, pooled()), (false, closed(CloseReason::CallerGone))] {
        let (stream, s) = pair();
        let rest = if rest_buffered { "0123456789" } else { "0123" };
        s.push(format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{rest}"
        ));
        let mut conn = Conn::new(stream, 1);
        let mut ex = Exchange::new(
            WriteTask::new(GET.into(), Body::empty(), false),
            LIMITS,
            &Method::GET,
            false,
            None,
        );
        drive(poll_fn(|cx| ex.poll_head(cx, &mut conn))).unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(
            drive(poll_fn(|cx| ex.poll_read_body(cx, &mut conn, &mut buf))).unwrap(),
            2
        );
        ex.drain_buffered(&mut conn);
        assert_eq!(
            ex.fate(&conn, RESEND),
            want,
            "rest buffered: {rest_buffered}"
        );
    }
}

#[test]
fn a_malformed_rest_found_while_draining_is_the_servers_fault() {
    let (stream, s) = pair();
    s.push("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\nzz\r\n");
    let mut conn = Conn::new(stream, 1);
    let mut ex = Exchange::new(
        WriteTask::new(GET.into(), Body::empty(), false),
        LIMITS,
        &Method::GET,
        false,
        None,
    );
    drive(poll_fn(|cx| ex.poll_head(cx, &mut conn))).unwrap();
    ex.drain_buffered(&mut conn);
    assert_eq!(ex.fate(&conn, RESEND), closed(CloseReason::ProtocolError));
}

/// A request body that produces `first`, then is pending once (waking at once), then fails.
struct FailsLater {
    first: Option<&'static [u8]>,
    waited: bool,
}

impl futures_io::AsyncRead for FailsLater {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(first) = self.first.take() {
            buf[..first.len()].copy_from_slice(first);
            return Poll::Ready(Ok(first.len()));
        }
        if !std::mem::replace(&mut self.waited, true) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Err(io::Error::other("producer failed")))
    }
}

/// Issue 11: a request body that fails after the server has answered must not throw the
/// answer away. The server's 14 bytes are delivered; the connection closes afterwards.
#[test]
fn a_request_body_failing_after_the_response_keeps_the_response() {
    let head = "POST / HTTP/1.1\r\nhost: a.test\r\ntransfer-encoding: chunked\r\n\r\n";
    let reader = FailsLater {
        first: Some(b"part"),
        waited: false,
    };
    let response = "HTTP/1.1 400 Bad Request\r\ncontent-length: 14\r\nconnection: close\r\n\r\n\
                    bad request!!!";
    let (out, _) = exchange(
        Method::POST,
        head,
        Body::from_reader(reader, None),
        false,
        RESEND,
        |s| {
            s.push(response);
        },
    );
    assert!(out.error.is_none(), "{:?}", out.error);
    assert_eq!(
        (out.status, out.body.as_slice()),
        (Some(400), &b"bad request!!!"[..])
    );
    assert_eq!(out.written, format!("{head}4\r\npart\r\n"));
    assert_eq!(out.fate, closed(CloseReason::ResponseClose));
    // Without `Connection: close` it is still closed: the request was cut short.
    let reader = FailsLater {
        first: Some(b"part"),
        waited: false,
    };
    let (out, _) = exchange(
        Method::POST,
        head,
        Body::from_reader(reader, None),
        false,
        RESEND,
        |s| {
            s.push("HTTP/1.1 413 Too Large\r\ncontent-length: 2\r\n\r\nno");
        },
    );
    assert_eq!((out.status, out.body.as_slice()), (Some(413), &b"no"[..]));
    assert_eq!(out.fate, closed(CloseReason::EarlyResponse));
}

mod interim;
