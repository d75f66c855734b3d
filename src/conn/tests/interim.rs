//! Unit tests of interim responses, `Expect: 100-continue`, 101 and the write budget, over
//! the scripted stream.

use std::sync::{Arc, Mutex};

use super::*;
use crate::codec::error::ProtocolError;
use crate::codec::limits::MAX_INTERIM_RESPONSES;
use crate::conn::exchange::Extras;
use crate::informational::OnInformational;

const PUT: &str =
    "PUT / HTTP/1.1\r\nhost: a.test\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n";

/// Runs one exchange with `extras` (the write holds its body when they say
/// `continue_after`), reading the body 7 bytes at a time. Returns the outcome, the held body
/// taken after the head (if any) and the exchange.
fn run(
    head: &str,
    body: Body,
    extras: Extras,
    script: impl FnOnce(&Script),
) -> (Outcome, Option<Body>, Exchange) {
    let (stream, s) = pair();
    script(&s);
    let mut conn = Conn::new(stream, 1);
    let hold = extras.continue_after.is_some();
    let mut ex = Exchange::new(
        WriteTask::new(head.into(), body, hold),
        LIMITS,
        &Method::PUT,
        false,
        Some(Box::new(extras)),
    );
    let mut out = Outcome {
        status: None,
        body: Vec::new(),
        error: None,
        fate: pooled(),
        trailers: None,
        written: String::new(),
    };
    let mut held = None;
    match drive(poll_fn(|cx| ex.poll_head(cx, &mut conn))) {
        Ok(h) => {
            out.status = Some(h.status.as_u16());
            held = ex.take_held_body();
            let mut buf = [0u8; 7];
            while !ex.is_done() && !ex.is_failed() {
                match drive(poll_fn(|cx| ex.poll_read_body(cx, &mut conn, &mut buf))) {
                    Ok(0) => break,
                    Ok(n) => out.body.extend_from_slice(&buf[..n]),
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                }
            }
        }
        Err(e) => out.error = Some(e),
    }
    out.fate = ex.fate(&conn, RESEND);
    out.written = s.written();
    (out, held, ex)
}

fn waits(after_ms: u64) -> Extras {
    Extras {
        upgrade: false,
        on_informational: None,
        continue_after: Some(std::time::Duration::from_millis(after_ms)),
        continue_timer: None,
    }
}

fn plain() -> Extras {
    Extras {
        continue_after: None,
        ..waits(0)
    }
}

/// Records each interim head the hook sees: status and its `link` fields.
type Seen = Arc<Mutex<Vec<(u16, Vec<String>)>>>;

fn recorder() -> (OnInformational, Seen) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let hook = OnInformational::new(move |r: &http::Response<()>| {
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

fn body_bytes(body: Body) -> Vec<u8> {
    match body.kind {
        crate::body::Kind::Bytes(b) => b.to_vec(),
        _ => panic!("not an in-memory body"),
    }
}

#[test]
fn the_body_follows_100_continue() {
    // The `100` and the final response come only once the head is written, together: the
    // body goes between them, and the connection stays reusable.
    let response = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (out, held, _) = run(PUT, Body::from("data"), waits(60_000), |s| {
        s.reply_after(PUT.len(), response);
    });
    assert!(held.is_none());
    assert_eq!(out.written, format!("{PUT}data"));
    assert_eq!(
        (out.status, out.body.as_slice(), out.fate),
        (Some(200), &b"ok"[..], pooled())
    );
}

#[test]
fn a_body_waiting_for_100_is_not_written_before_it() {
    // The server answers `100` only once it has the head, then the final response only once
    // it has the body: the exchange completes, so the body followed the `100`.
    let (stream, s) = pair();
    s.reply_after(PUT.len(), "HTTP/1.1 100 Continue\r\n\r\n");
    let mut conn = Conn::new(stream, 1);
    let mut ex = Exchange::new(
        WriteTask::new(PUT.into(), Body::from("data"), true),
        LIMITS,
        &Method::PUT,
        false,
        Some(Box::new(waits(60_000))),
    );
    let mut head = std::pin::pin!(poll_fn(|cx| ex.poll_head(cx, &mut conn)));
    // First poll: the head is written, the `100` read, the body written; the final head
    // has not come.
    let (first, _) = super::scripted::poll_once(&mut head);
    assert!(first.is_pending());
    assert_eq!(s.written(), format!("{PUT}data"));
    s.push("HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(drive(head).unwrap().status, 204);
    assert_eq!(ex.fate(&conn, RESEND), pooled());
}

#[test]
fn a_final_response_instead_of_100_keeps_the_body_and_closes() {
    for (response, status, fate) in [
        (
            "HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\n\r\n",
            417,
            closed(CloseReason::EarlyResponse),
        ),
        (
            "HTTP/1.1 401 Unauthorized\r\ncontent-length: 3\r\n\r\nno!",
            401,
            closed(CloseReason::EarlyResponse),
        ),
        (
            "HTTP/1.1 413 Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            413,
            closed(CloseReason::ResponseClose),
        ),
    ] {
        let (out, held, _) = run(PUT, Body::from("data"), waits(60_000), |s| {
            s.reply_after(PUT.len(), response);
        });
        assert_eq!(out.status, Some(status), "{response}");
        assert_eq!(out.written, PUT, "{response}: the body was sent");
        assert_eq!(out.fate, fate, "{response}");
        let held = held.unwrap_or_else(|| panic!("{response}: the body is lost"));
        assert_eq!(body_bytes(held), b"data");
    }
}

#[test]
fn a_streamed_body_held_for_100_comes_back_untouched() {
    let reader = futures_lite::io::Cursor::new(b"streamed".to_vec());
    let head = "PUT / HTTP/1.1\r\nhost: a.test\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\n\r\n";
    let (out, held, _) = run(head, Body::from_reader(reader, None), waits(60_000), |s| {
        s.reply_after(
            head.len(),
            "HTTP/1.1 417 Expectation Failed\r\ncontent-length: 0\r\n\r\n",
        );
    });
    assert_eq!((out.status, out.written.as_str()), (Some(417), head));
    let held = held.expect("the body comes back");
    assert_eq!(held.len(), None);
    let mut reader = match held.kind {
        crate::body::Kind::Reader { reader, .. } => reader,
        _ => panic!("not the caller's reader"),
    };
    let mut all = Vec::new();
    drive(futures_lite::AsyncReadExt::read_to_end(
        &mut reader,
        &mut all,
    ))
    .unwrap();
    assert_eq!(all, b"streamed", "nothing of the body was read");
}

#[test]
fn interim_heads_reach_the_hook_in_order() {
    let (hook, seen) = recorder();
    let response = "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\
        link: </app.js>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    for i in 1..response.len() {
        seen.lock().unwrap().clear();
        let extras = Extras {
            on_informational: Some(hook.clone()),
            ..plain()
        };
        let (out, _, _) = run(GET, Body::empty(), extras, |s| {
            s.push(&response[..i]).push(&response[i..]);
        });
        assert_eq!((out.status, out.fate), (Some(200), pooled()), "split {i}");
        assert_eq!(
            *seen.lock().unwrap(),
            [
                (
                    103,
                    vec![
                        "</style.css>; rel=preload".to_string(),
                        "</app.js>; rel=preload".to_string()
                    ]
                ),
                (100, vec![]),
                (102, vec![]),
            ],
            "split {i}"
        );
    }
}

#[test]
fn more_interim_responses_than_the_limit_fail_the_exchange() {
    let interim = "HTTP/1.1 103 Early Hints\r\n\r\n";
    let last = "HTTP/1.1 204 No Content\r\n\r\n";
    let (hook, seen) = recorder();
    let at_limit = format!("{}{last}", interim.repeat(MAX_INTERIM_RESPONSES));
    let extras = Extras {
        on_informational: Some(hook.clone()),
        ..plain()
    };
    let (out, _, _) = run(GET, Body::empty(), extras, |s| {
        s.push(&at_limit);
    });
    assert_eq!((out.status, out.fate), (Some(204), pooled()));
    assert_eq!(seen.lock().unwrap().len(), MAX_INTERIM_RESPONSES);

    let flood = format!("{}{last}", interim.repeat(MAX_INTERIM_RESPONSES + 1));
    let (out, _, _) = run(GET, Body::empty(), plain(), |s| {
        s.push(&flood);
    });
    let e = out.error.expect("a flood is an error");
    assert_eq!(
        e.protocol_error(),
        Some(&ProtocolError::TooManyInterimResponses {
            limit: MAX_INTERIM_RESPONSES
        }),
        "{e}"
    );
    assert_eq!(out.fate, closed(CloseReason::ProtocolError));
}

#[test]
fn a_101_hands_the_connection_over_only_when_asked() {
    let switching =
        "HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\nleftover";
    let asked = Extras {
        upgrade: true,
        ..plain()
    };
    let (out, _, ex) = run(GET, Body::empty(), asked, |s| {
        s.push(switching);
    });
    assert_eq!(
        (out.status, out.fate),
        (Some(101), closed(CloseReason::Upgraded))
    );
    assert!(ex.is_done());

    let (out, _, _) = run(GET, Body::empty(), plain(), |s| {
        s.push(switching);
    });
    let e = out.error.expect("an unrequested 101 is an error");
    assert_eq!(e.protocol_error(), Some(&ProtocolError::UnrequestedUpgrade));
    assert_eq!(out.fate, closed(CloseReason::ProtocolError));
}

#[test]
fn a_101_before_the_request_is_written_is_not_handed_over() {
    let head = "POST / HTTP/1.1\r\nhost: a.test\r\nconnection: upgrade\r\nupgrade: echo\r\ntransfer-encoding: chunked\r\n\r\n";
    let asked = Extras {
        upgrade: true,
        ..plain()
    };
    let (out, _, _) = run(head, Body::from_reader(super::Stalled, None), asked, |s| {
        s.push("HTTP/1.1 101 Switching Protocols\r\n\r\n");
    });
    assert_eq!(
        (out.status, out.fate),
        (Some(101), closed(CloseReason::EarlyResponse))
    );
}

/// The write task's budget (16 steps a poll) can be spent exactly on the request's last
/// write; a bodiless response read in that same poll must find the request complete. With
/// one byte a write and a request of a multiple of 16 bytes, that happens at the last poll.
#[test]
fn a_request_whose_last_write_spends_the_budget_is_complete() {
    let body = "x".repeat(11);
    let post = "POST / HTTP/1.1\r\nhost: a.test\r\ncontent-length: 11\r\n\r\n";
    for (method, head, body) in [
        (Method::GET, GET, Body::empty()),
        (Method::POST, post, Body::from(body.clone())),
    ] {
        let total = head.len() + body.len().unwrap() as usize;
        for max in [1, 2] {
            assert_eq!(
                total % (16 * max),
                0,
                "the case needs a multiple of the budget"
            );
            let (out, _) = exchange(
                method.clone(),
                head,
                body.try_clone().unwrap(),
                false,
                RESEND,
                |s| {
                    s.max_write(max)
                        .reply_after(total, "HTTP/1.1 204 No Content\r\n\r\n");
                },
            );
            assert_eq!(out.written.len(), total);
            assert_eq!(out.fate, pooled(), "{method} in writes of {max}");
        }
    }
}
