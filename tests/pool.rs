//! The idle pool through the `Transport`: `prune_idle`, `max_idle_total` across hosts, and
//! what a server's bytes on an idle connection do (a `408` closes it quietly; anything else
//! closes it with a warning, logged once per transport). Against the scripted server; runs
//! unchanged natively and under wasmtime.

mod common;

use std::sync::{Mutex, Once};
use std::thread::ThreadId;
use std::time::Duration;

use common::*;
use roundtrip::{CloseReason, Transport};

/// Records what the library logs, with the thread it logged on (tests run in parallel, one
/// thread each natively; the transport logs on the thread that polls it).
struct Capture;

static RECORDS: Mutex<Vec<(ThreadId, log::Level, String)>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        let entry = (
            std::thread::current().id(),
            record.level(),
            record.args().to_string(),
        );
        RECORDS.lock().unwrap().push(entry);
    }
    fn flush(&self) {}
}

/// Installs the capturing logger (once) and returns a mark: [`warnings`] reports what was
/// logged after it. A mark, not only the thread: natively each test runs on a thread of its
/// own, but under wasmtime every test of the binary runs on the one thread there is.
fn capture_logs() -> usize {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&Capture).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
    RECORDS.lock().unwrap().len()
}

/// Warnings and errors logged on this thread since `mark` (from [`capture_logs`]).
fn warnings_since(mark: usize) -> Vec<String> {
    let me = std::thread::current().id();
    RECORDS.lock().unwrap()[mark..]
        .iter()
        .filter(|(thread, level, _)| *thread == me && *level <= log::Level::Warn)
        .map(|(_, _, text)| text.clone())
        .collect()
}

#[test]
fn prune_idle_closes_expired_connections_without_a_request() {
    let timeout = Duration::from_millis(200);
    Script::new()
        .transport(Transport::builder().idle_timeout(Some(timeout)))
        .server([conn([
            read(GET),
            write(ok("1")),
            // The connection closes with no further request.
            Srv::Eof(Vec::new()),
            Srv::Sync(1),
        ])])
        .client([
            Step::Send(Req::get("/").text("1").idle(1)),
            // Not expired yet: nothing to prune.
            Step::PruneIdle,
            Step::Stats(Want {
                dials: 1,
                requests: 1,
                idle: 1,
                ..Want::default()
            }),
            // The timeout passing is what is under test.
            Step::Sleep(timeout),
            Step::PruneIdle,
            Step::Stats(Want {
                dials: 1,
                requests: 1,
                closed: vec![(CloseReason::IdleTimeout, 1)],
                ..Want::default()
            }),
            // And the server saw the socket close.
            Step::Sync(1),
        ])
        .want(Want {
            dials: 1,
            requests: 1,
            closed: vec![(CloseReason::IdleTimeout, 1)],
            ..Want::default()
        })
        .run();
}

/// `max_idle_total` counts idle connections across hosts: pooling one for a second host
/// closes the first host's, which has been idle longest.
#[test]
fn max_idle_total_evicts_the_oldest_idle_connection_of_any_host() {
    Script::new()
        .transport(Transport::builder().max_idle_total(1))
        // Server 0: its connection is evicted (the client closes it, having sent nothing more).
        .server([conn([read(GET), write(ok("a"))])])
        .server([conn([
            read(GET),
            write(ok("b")),
            read(GET),
            write(ok("b again")),
        ])])
        .client([
            Step::Send(Req::get("/").text("a").conn(1, false).idle(1)),
            Step::Send(Req::get("/").on(1).text("b").conn(2, false).idle(1)),
            Step::Stats(Want {
                dials: 2,
                requests: 2,
                idle: 1,
                closed: vec![(CloseReason::TooManyIdle, 1)],
                ..Want::default()
            }),
            // The survivor is the second host's.
            Step::Send(Req::get("/").on(1).text("b again").conn(2, true).idle(1)),
        ])
        .want(Want {
            dials: 2,
            reuses: 1,
            requests: 3,
            idle: 1,
            closed: vec![(CloseReason::TooManyIdle, 1)],
            ..Want::default()
        })
        .run();
}

/// A connection on which the server sent something other than a `408` while it was idle: the
/// next request does not use it (those bytes would be read as its response), it is closed as
/// `UnsolicitedResponse`, and a new connection is dialed. Two kinds of bytes: a response
/// nobody asked for, and garbage.
#[test]
fn unsolicited_bytes_on_an_idle_connection_close_it() {
    while_idle([
        vec![write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")],
        vec![write("not even http\r\n")],
    ])
    .want(Want {
        dials: 3,
        requests: 3,
        idle: 1,
        closed: vec![(CloseReason::UnsolicitedResponse, 2)],
        ..Want::default()
    })
    .run();
}

/// The transport warns about unsolicited bytes once: here each of two such connections is
/// found while another idle connection is behind it (reuse is most recently used first), so
/// the request goes out on that one; only the first is logged.
///
/// Each connection that gets unsolicited bytes has served one response only (see the note on
/// Nagle's algorithm in `common::exchange`).
#[test]
fn unsolicited_bytes_are_logged_once_per_transport() {
    let mark = capture_logs();
    let server = Server::bind();
    let url = server.url("/");
    let t = Transport::new();
    let (pooled, sent1, got5, sent2) = (Signal::new(), Signal::new(), Signal::new(), Signal::new());
    run(
        async {
            let mut peers = Vec::new();
            for tag in ["a", "b", "c", "d"] {
                let mut peer = server.accept().await;
                peer.read_request().await.unwrap();
                peer.respond(tag).await;
                peers.push(peer);
            }
            let [mut a, mut b, mut c, mut d] = <[Peer; 4]>::try_from(peers).ok().unwrap();
            // Idle, most recent first: a, b, c, d.
            pooled.wait().await;
            a.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
            sent1.fire();
            b.read_request().await.unwrap();
            b.respond("5").await;
            // b is in use (its response unread): idle c, d.
            got5.wait().await;
            c.write(b"garbage\r\n").await;
            sent2.fire();
            d.read_request().await.unwrap();
            d.respond("6").await;
            for mut peer in [a, b, c, d] {
                assert!(peer.until_eof().await.is_empty());
            }
        },
        async {
            // Four connections in use at once (bodies unread), then pooled d, c, b, a.
            let mut responses = Vec::new();
            for _ in 0..4 {
                responses.push(t.round_trip(get(&url)).await.unwrap());
            }
            for (mut resp, tag) in responses.into_iter().zip(["a", "b", "c", "d"]).rev() {
                assert_eq!(resp.body_mut().text().await.unwrap(), tag);
            }
            assert_eq!(t.stats().idle, 4);
            pooled.fire();
            sent1.wait().await;
            let mut five = t.round_trip(get(&url)).await.unwrap();
            assert_eq!(five.body().connection().unwrap().id, 2, "a was passed over");
            let logged = warnings_since(mark);
            assert_eq!(logged.len(), 1, "{logged:?}");
            assert!(
                logged[0].contains("unsolicited response") && logged[0].contains("connection 1"),
                "{logged:?}"
            );
            got5.fire();
            sent2.wait().await;
            let mut six = t.round_trip(get(&url)).await.unwrap();
            assert_eq!(six.body().connection().unwrap().id, 4, "c was passed over");
            assert_eq!(
                warnings_since(mark).len(),
                1,
                "logged again: {:?}",
                warnings_since(mark)
            );
            assert_eq!(six.body_mut().text().await.unwrap(), "6");
            assert_eq!(five.body_mut().text().await.unwrap(), "5");
            let want = Want {
                dials: 4,
                reuses: 2,
                requests: 6,
                idle: 2,
                closed: vec![(CloseReason::UnsolicitedResponse, 2)],
                ..Want::default()
            };
            assert_stats(&t, &want, "after both unsolicited connections");
            t.close_idle_connections();
        },
    );
}

/// The warning also comes when the connection with unsolicited bytes was the host's only
/// idle one (the request then dials), and a new transport warns again.
///
/// This failed before the middle-layer redesign: `Shared::checkout` returned early with `?`
/// when the pool handed out no connection, before it called `warn_unsolicited`, so the
/// warning was only logged when another live idle connection was found behind the
/// unsolicited one.
#[test]
fn unsolicited_bytes_on_the_only_idle_connection_are_logged() {
    let mark = capture_logs();
    let script = || {
        while_idle([vec![write("HTTP/1.1 204 No Content\r\n\r\n")]]).want(Want {
            dials: 2,
            requests: 2,
            idle: 1,
            closed: vec![(CloseReason::UnsolicitedResponse, 1)],
            ..Want::default()
        })
    };
    script().run();
    let logged = warnings_since(mark);
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("unsolicited response"), "{logged:?}");
    // Once per transport, not per process.
    script().run();
    assert_eq!(
        warnings_since(mark).len(),
        2,
        "a new transport warns again: {:?}",
        warnings_since(mark)
    );
}

/// An unsolicited `408` on an idle connection is the server saying it timed the connection
/// out: closed as `ServerClosedIdle`, without a warning.
#[test]
fn unsolicited_408_on_idle_connection_closes_it_quietly() {
    let mark = capture_logs();
    // The server times the connection out and says so.
    while_idle([vec![write(
        "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
    )]])
    .want(Want {
        dials: 2,
        requests: 2,
        idle: 1,
        closed: vec![(CloseReason::ServerClosedIdle, 1)],
        ..Want::default()
    })
    .run();
    let logged = warnings_since(mark);
    assert!(
        logged.is_empty(),
        "a 408 is not worth a warning: {logged:?}"
    );
}
