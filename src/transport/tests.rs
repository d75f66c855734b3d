//! Unit tests of the transport over scripted connections: the resend rule end to end, dials
//! that outlive their request, late binding and the wait queue, each with exact accounting.
//! Deterministic: no sockets, no timers; every dial completes when the test opens its gate.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use futures_lite::future::poll_fn;

use super::dial::Connector;
use super::*;
use crate::close::CloseReason;
use crate::conn::scripted::{drive, pair, poll_once, Script};

/// A dial's gate: the dial completes once it is open.
#[derive(Clone, Default)]
struct Gate(Rc<(Cell<bool>, Cell<Option<Waker>>)>);

impl Gate {
    fn open(&self) {
        self.0 .0.set(true);
        if let Some(w) = self.0 .1.take() {
            w.wake();
        }
    }

    async fn wait(self) {
        poll_fn(|cx| {
            if self.0 .0.get() {
                Poll::Ready(())
            } else {
                self.0 .1.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// The connections the connector hands out, in dial order.
#[derive(Default)]
struct Net {
    ready: RefCell<VecDeque<(Gate, crate::conn::Io)>>,
    dials: Cell<usize>,
}

impl Net {
    /// Queues the next connection: its gate (open unless `gated`) and its script.
    fn add(&self, gated: bool) -> (Gate, Script) {
        let (stream, script) = pair();
        let gate = Gate::default();
        if !gated {
            gate.open();
        }
        self.ready.borrow_mut().push_back((gate.clone(), stream));
        (gate, script)
    }
}

fn transport(builder: TransportBuilder) -> (Transport, Rc<Net>) {
    let net = Rc::new(Net::default());
    let n = net.clone();
    let connector: Connector = Rc::new(move |_| {
        n.dials.set(n.dials.get() + 1);
        let next = n.ready.borrow_mut().pop_front();
        Box::pin(async move {
            let (gate, stream) =
                next.ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
            gate.wait().await;
            Ok(stream)
        })
    });
    (builder.build_with(connector), net)
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
#[cfg(feature = "decompress")]
const GET_HEAD: &str = "GET / HTTP/1.1\r\nhost: a.test\r\naccept-encoding: gzip, deflate\r\n\r\n";
#[cfg(not(feature = "decompress"))]
const GET_HEAD: &str = "GET / HTTP/1.1\r\nhost: a.test\r\n\r\n";
/// The field the transport adds last (feature `decompress`).
const AE: &str = if cfg!(feature = "decompress") {
    "accept-encoding: gzip, deflate\r\n"
} else {
    ""
};

fn get() -> Request<Body> {
    Request::get("http://a.test/").body(Body::empty()).unwrap()
}

async fn text(t: &Transport, req: Request<Body>) -> Result<String, Error> {
    let mut resp = t.round_trip(req).await?;
    resp.body_mut().text().await
}

fn balanced(t: &Transport) -> PoolStats {
    let s = t.stats();
    assert!(s.is_balanced(), "unbalanced: {s}");
    s
}

/// A POST with a streamed body (never replayable) on a pooled connection that turns out to be
/// dead before any of it was written is sent again, whole, on a new connection.
#[test]
fn a_post_none_of_whose_bytes_were_written_is_resent() {
    let (t, net) = transport(Transport::builder());
    let (_, first) = net.add(false);
    first.push(OK);
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    // Dead while idle, in a way the probe cannot see (it finds nothing to read): the first
    // write fails, then the read finds the end.
    first
        .fail_writes_at(GET_HEAD.len(), io::ErrorKind::BrokenPipe)
        .pending()
        .eof();
    let (_, second) = net.add(false);
    let head = format!("POST / HTTP/1.1\r\nhost: a.test\r\ntransfer-encoding: chunked\r\n{AE}\r\n");
    second.reply_after(head.len() + 18, OK);
    let reader = futures_lite::io::Cursor::new(b"the upload".to_vec());
    let post = Request::post("http://a.test/")
        .body(Body::from_reader(reader, None))
        .unwrap();
    assert_eq!(drive(text(&t, post)).unwrap(), "ok");
    assert_eq!(
        first.written(),
        GET_HEAD,
        "nothing of the POST reached the dead connection"
    );
    assert_eq!(
        second.written(),
        format!("{head}a\r\nthe upload\r\n0\r\n\r\n")
    );
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.requests, s.retries, s.reuses),
        (2, 3, 1, 1),
        "{s}"
    );
    assert_eq!(s.closed(CloseReason::ServerClosedIdle), 1, "{s}");
}

#[test]
fn with_retries_off_the_same_failure_is_the_callers() {
    let (t, net) = transport(Transport::builder().retry_stale_connections(false));
    let (_, first) = net.add(false);
    first.push(OK);
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    first.pending().eof(); // the probe finds nothing; the exchange finds the end
    let err = drive(text(&t, get())).unwrap_err();
    assert!(err.is_closed_before_response(), "{err}");
    let s = balanced(&t);
    assert_eq!((s.dials, s.retries), (1, 0), "{s}");
    assert_eq!(s.closed(CloseReason::ReadError), 1, "{s}");
}

/// A request that leaves while its dial is in flight: the dial goes on, and its connection
/// serves the next request; that request's own dial, finished later, is pooled.
#[test]
fn a_dial_outlives_the_request_that_started_it() {
    let (t, net) = transport(Transport::builder());
    let (gate_a, conn_a) = net.add(true);
    let (gate_b, conn_b) = net.add(true);
    let mut a = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut a).0.is_pending());
    drop(a);
    assert_eq!(
        (t.stats().dials, net.dials.get()),
        (0, 1),
        "A's dial is in flight"
    );
    // B starts its own dial, then A's finishes first and reaches B.
    let mut b = Box::pin(text(&t, get()));
    assert!(poll_once(&mut b).0.is_pending());
    assert_eq!(net.dials.get(), 2);
    conn_a.reply_after(GET_HEAD.len(), OK);
    gate_a.open();
    assert_eq!(drive(b).unwrap(), "ok");
    assert_eq!(conn_a.written(), GET_HEAD);
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.orphan_dials, s.idle, s.in_use),
        (1, 1, 1, 0),
        "{s}"
    );
    // B's own dial finishes while the next request runs (on the idle connection): pooled.
    gate_b.open();
    conn_a.reply_after(2 * GET_HEAD.len(), OK);
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    assert_eq!(conn_b.written(), "", "B's dial carried no request");
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.orphan_dials, s.idle, s.reuses, s.requests),
        (2, 2, 2, 1, 2),
        "{s}"
    );
}

/// A request that is dialing takes a connection that another request hands back first.
#[test]
fn a_dialing_request_takes_a_connection_handed_back_first() {
    let (t, net) = transport(Transport::builder());
    let (_, conn_1) = net.add(false);
    let (gate_2, conn_2) = net.add(true);
    // A: in flight on connection 1, its response not yet sent.
    let mut a = Box::pin(text(&t, get()));
    assert!(poll_once(&mut a).0.is_pending());
    // B: no idle connection, dials connection 2 (gated).
    let mut b = Box::pin(text(&t, get()));
    assert!(poll_once(&mut b).0.is_pending());
    assert_eq!(net.dials.get(), 2);
    // A completes: connection 1 goes straight to B, without the pool.
    conn_1.push(OK);
    conn_1.reply_after(2 * GET_HEAD.len(), OK);
    assert_eq!(drive(a).unwrap(), "ok");
    assert_eq!(t.stats().idle, 0, "handed to B, not pooled");
    assert_eq!(drive(b).unwrap(), "ok");
    assert_eq!(conn_1.written(), format!("{GET_HEAD}{GET_HEAD}"));
    let s = balanced(&t);
    assert_eq!((s.dials, s.reuses, s.idle), (1, 1, 1), "{s}");
    // Connection 2's dial is still in flight; it is pooled when it finishes.
    gate_2.open();
    conn_1.reply_after(3 * GET_HEAD.len(), OK);
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    assert_eq!(conn_2.written(), "");
    let s = balanced(&t);
    assert_eq!((s.dials, s.orphan_dials, s.idle), (2, 1, 2), "{s}");
    // Abandoned dials: none left; close_idle_connections closes both.
    t.close_idle_connections();
    let s = balanced(&t);
    assert_eq!(s.closed(CloseReason::CloseIdleConnections), 2, "{s}");
    assert!(conn_1.is_closed() && conn_2.is_closed());
}

/// `max_conns_per_host`: waiters are served in arrival order by handed-back connections; a
/// waiter that leaves with a connection delivered to it passes it on.
#[test]
fn waiters_are_served_in_order_and_a_leaving_waiter_passes_its_connection_on() {
    let (t, net) = transport(Transport::builder().max_conns_per_host(Some(1)));
    let (_, conn) = net.add(false);
    type Call<'a> = Pin<Box<dyn Future<Output = Result<String, Error>> + 'a>>;
    let mut futs: Vec<Call> = (0..3).map(|_| Box::pin(text(&t, get())) as Call).collect();
    for f in &mut futs {
        assert!(poll_once(f).0.is_pending());
    }
    assert_eq!(t.stats().waiting, 2, "one dialed, two wait for the slot");
    // The first completes: the connection is delivered to the second, which is dropped
    // before it runs: the connection passes to the third.
    conn.push(OK);
    let first = futs.remove(0);
    assert_eq!(drive(first).unwrap(), "ok");
    drop(futs.remove(0));
    assert_eq!(t.stats().waiting, 0);
    conn.reply_after(2 * GET_HEAD.len(), OK);
    assert_eq!(drive(futs.remove(0)).unwrap(), "ok");
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.reuses, s.idle, net.dials.get()),
        (1, 1, 1, 1),
        "{s}"
    );
}

/// A dial error goes to the request that started it, and frees the slot for the next.
#[test]
fn a_dial_error_reaches_its_request_and_frees_the_slot() {
    let (t, net) = transport(Transport::builder().max_conns_per_host(Some(1)));
    // No connection queued for the first dial: it is refused.
    let err = drive(text(&t, get())).unwrap_err();
    assert!(err.is_connect(), "{err}");
    let (_, conn) = net.add(false);
    conn.push(OK);
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    let s = balanced(&t);
    assert_eq!((s.dials, s.dial_errors, s.waiting), (1, 1, 0), "{s}");
}

/// Issue 11: `max_conns_per_host(Some(0))` means no limit (as in Go), not 1.
#[test]
fn max_conns_per_host_zero_means_no_limit() {
    let (t, net) = transport(Transport::builder().max_conns_per_host(Some(0)));
    let conns: Vec<_> = (0..3).map(|_| net.add(false).1).collect();
    let mut futs: Vec<_> = (0..3).map(|_| Box::pin(text(&t, get()))).collect();
    for f in &mut futs {
        assert!(poll_once(f).0.is_pending());
    }
    assert_eq!((t.stats().waiting, net.dials.get()), (0, 3));
    for (f, c) in futs.into_iter().zip(&conns) {
        c.push(OK);
        assert_eq!(drive(f).unwrap(), "ok");
    }
    let s = balanced(&t);
    assert_eq!((s.dials, s.idle), (3, 3), "{s}");
}

// ---- review reproducers ----

/// R1: close_idle_connections while a request is in flight; the response then completes
/// cleanly and the connection is offered to the pool (which refuses it).
#[test]
fn close_idle_during_flight_then_clean_end() {
    let (t, net) = transport(Transport::builder());
    let (_, conn) = net.add(false);
    let mut a = Box::pin(text(&t, get()));
    assert!(poll_once(&mut a).0.is_pending());
    t.close_idle_connections();
    conn.push(OK);
    assert_eq!(drive(a).unwrap(), "ok");
    let s = balanced(&t);
    assert_eq!(s.closed(CloseReason::CloseIdleConnections), 1, "{s}");
}

/// R1b: max_idle_per_host(0): every clean end is refused by the pool.
#[test]
fn max_idle_per_host_zero() {
    let (t, net) = transport(Transport::builder().max_idle_per_host(0));
    let (_, conn) = net.add(false);
    conn.push(OK);
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    balanced(&t);
}

/// R2: the write budget ends exactly after the body's last write (state Flushing); the
/// server's complete reply is read in the same poll: the connection is closed as
/// EarlyResponse although the whole request was written.
#[test]
fn budget_edge_flushing_is_not_an_early_response() {
    let (t, net) = transport(Transport::builder());
    let (_, conn) = net.add(false);
    const M: usize = 2048;
    let body = vec![b'x'; 14 * M];
    let head = format!(
        "POST / HTTP/1.1\r\nhost: a.test\r\ncontent-length: {}\r\n{AE}\r\n",
        body.len()
    );
    assert!(head.len() <= M);
    conn.max_write(M);
    conn.reply_after(head.len() + body.len(), "HTTP/1.1 204 No Content\r\n\r\n");
    let post = Request::post("http://a.test/")
        .body(Body::from(body))
        .unwrap();
    let resp = drive(t.round_trip(post)).unwrap();
    assert_eq!(resp.status(), 204);
    let s = balanced(&t);
    assert_eq!(s.closed(CloseReason::EarlyResponse), 0, "{s}");
    assert_eq!(s.idle, 1, "{s}");
}

/// R3: a dial started by `start_waiting_dials` during a waiting request's first poll is
/// never polled: the request stored no waker yet, so nobody is woken. With nothing else
/// polling the transport, the request hangs (`drive` reports the stall).
#[test]
fn dial_started_during_first_poll_is_driven() {
    let gate = Gate::default();
    let (stream, script) = pair();
    script.reply_after(GET_HEAD.len(), OK);
    let plan: Rc<RefCell<VecDeque<Option<crate::conn::Io>>>> =
        Rc::new(RefCell::new(VecDeque::from([None, Some(stream)])));
    let (g, p) = (gate.clone(), plan.clone());
    let connector: Connector = Rc::new(move |_| {
        let next = p.borrow_mut().pop_front().flatten();
        let g = g.clone();
        Box::pin(async move {
            match next {
                // The first dial fails, once its gate opens.
                None => {
                    g.wait().await;
                    Err(io::Error::from(io::ErrorKind::ConnectionRefused))
                }
                Some(s) => Ok(s),
            }
        })
    });
    let t = Transport::builder()
        .max_conns_per_host(Some(1))
        .build_with(connector);
    let mut a = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut a).0.is_pending());
    drop(a); // A leaves; its dial holds the only slot
    gate.open(); // the dial's failure is ready, nobody polled it yet
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    balanced(&t);
}

/// A waker that counts its wake-ups.
#[derive(Default)]
struct Count(std::sync::atomic::AtomicUsize);
impl std::task::Wake for Count {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// R4: a waiter behind a request whose dial it will inherit is never woken when that dial
/// finishes: it is registered only on the dials that existed when it last polled.
#[test]
fn waiter_is_woken_when_an_inherited_dial_finishes() {
    let (t, net) = transport(Transport::builder().max_conns_per_host(Some(1)));
    let (_, conn1) = net.add(false);
    let (gate2, conn2) = net.add(true);
    let mut r1 = Box::pin(text(&t, get()));
    assert!(poll_once(&mut r1).0.is_pending());
    let mut w = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut w).0.is_pending());
    let mut x = Box::pin(text(&t, get()));
    let count = std::sync::Arc::new(Count::default());
    let xw = Waker::from(count.clone());
    assert!(x
        .as_mut()
        .poll(&mut std::task::Context::from_waker(&xw))
        .is_pending());
    assert_eq!(t.stats().waiting, 2);
    // R1's response closes its connection: the slot goes to W, which dials.
    conn1.push("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    assert_eq!(drive(r1).unwrap(), "ok");
    assert!(poll_once(&mut w).0.is_pending());
    drop(w); // W leaves; its dial goes on, for X
    conn2.reply_after(GET_HEAD.len(), OK);
    gate2.open(); // the dial can finish now
    let woken = count.0.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        woken > 0,
        "X is never woken: under a real executor it hangs"
    );
    assert_eq!(drive(x).unwrap(), "ok");
}

/// R1c: disable_keep_alives, and a dial that outlives its request: the orphan connection is
/// offered to `put`, which refuses it.
#[test]
fn orphan_dial_with_keep_alives_disabled() {
    let (t, net) = transport(Transport::builder().disable_keep_alives(true));
    let (gate_a, _conn_a) = net.add(true);
    let mut a = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut a).0.is_pending());
    drop(a);
    gate_a.open();
    // The next request's poll drives the orphan dial to completion.
    let (_, conn_b) = net.add(false);
    conn_b.push("HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
    assert_eq!(drive(text(&t, get())).unwrap(), "ok");
    balanced(&t);
}

/// R5: a connection pooled by an orphan dial (it never carried a request) that the server
/// closes while idle is not treated as reused: the GET fails instead of being resent (Go
/// marks every connection put in the idle pool as reused), and stats.reuses counts a reuse
/// that the response's ConnectionInfo denies.
#[test]
fn pooled_orphan_connection_is_reused_for_the_resend_rule() {
    let (t, net) = transport(Transport::builder());
    let (gate_a, conn_a) = net.add(true);
    let mut a = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut a).0.is_pending());
    drop(a);
    gate_a.open();
    // Drive the orphan dial into the pool: close_idle is not used (it would abandon it);
    // a request to another host polls it.
    let (_, other) = net.add(false);
    other.push(OK);
    let req = Request::get("http://b.test/").body(Body::empty()).unwrap();
    assert_eq!(drive(text(&t, req)).unwrap(), "ok");
    assert_eq!(t.stats().idle, 2);
    // The server closed conn_a while idle; the probe cannot see it yet.
    conn_a.pending().eof();
    let (_, fresh) = net.add(false);
    fresh.push(OK);
    let r = drive(text(&t, get()));
    let s = balanced(&t);
    assert!(r.is_ok(), "not resent: {:?} {s}", r.err());
}

/// Sound: the transport dropped with dials in flight, one finished unpolled, one delivered.
#[test]
fn transport_dropped_with_dials_in_flight() {
    let (t, net) = transport(Transport::builder());
    let (gate_a, conn_a) = net.add(true);
    let (_gate_b, conn_b) = net.add(true);
    let mut a = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut a).0.is_pending());
    let mut b = Box::pin(t.round_trip(get()));
    assert!(poll_once(&mut b).0.is_pending());
    drop(a);
    gate_a.open();
    drop(b);
    drop(t);
    assert!(conn_a.is_closed() && conn_b.is_closed());
}

/// R1d: close_idle_connections while a request is in flight and another waits for the host's
/// only slot; the first completes cleanly and its connection is offered to the waiter.
#[test]
fn close_idle_with_a_waiter_then_clean_end() {
    // `close_idle_connections` while a request waits, then a clean end: as in Go's
    // `tryPutIdleConn`, the connection goes to the waiting request (it is not idle), and
    // only an idle connection would be refused. No second dial, no churn.
    let (t, net) = transport(Transport::builder().max_conns_per_host(Some(1)));
    let (_, conn) = net.add(false);
    let mut a = Box::pin(text(&t, get()));
    assert!(poll_once(&mut a).0.is_pending());
    let mut b = Box::pin(text(&t, get()));
    assert!(poll_once(&mut b).0.is_pending());
    t.close_idle_connections();
    conn.push(OK);
    conn.reply_after(2 * GET_HEAD.len(), OK);
    assert_eq!(drive(a).unwrap(), "ok");
    assert_eq!(drive(b).unwrap(), "ok");
    let s = balanced(&t);
    assert_eq!((s.dials, s.reuses, net.dials.get()), (1, 1, 1), "{s}");
    // The flag still refuses the put after B: no request took an idle connection since.
    assert_eq!(s.closed(CloseReason::CloseIdleConnections), 1, "{s}");
}
