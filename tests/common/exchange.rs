//! Byte-exact client tests as data (after hyper's `tests/client.rs` `test!`).
//!
//! A [`Script`] says, for one transport:
//! - what each server connection must receive, byte for byte (`{host}` stands for the
//!   server's `host` header value), and what it answers ([`Srv`] steps, one list per
//!   connection, in accept order);
//! - what the client does ([`Step`]s): requests ([`Req`]) with the response or error each
//!   must get, rendezvous with the server ([`Step::Sync`]), waits, pool calls;
//! - the exact pool accounting at the end ([`Want`]: every counter, every close reason).
//!
//! ```ignore
//! Script::new()
//!     .server([
//!         conn([read(GET), write(ok("1")), Srv::Close, Srv::Sync(1)]),
//!         conn([read(GET), write(ok("2"))]),
//!     ])
//!     .client([
//!         Step::Send(Req::get("/").text("1")),
//!         Step::Sync(1),
//!         Step::Send(Req::get("/").text("2").conn(2, false)),
//!     ])
//!     .want(Want { dials: 2, requests: 2, idle: 1, closed: vec![(ServerClosedIdle, 1)], ..Want::default() })
//!     .run();
//! ```
//!
//! Each connection's script runs as its own task, so a connection may stay open while later
//! ones are served. A connection whose script does not end in [`Srv::Close`], [`Srv::Eof`] or
//! [`Srv::Drain`] ends with `Srv::Eof(nothing)`: the client closes it, having sent nothing
//! more. After the client's last step the accounting is checked, then the transport is
//! dropped, which closes what is still idle. A watchdog fails a script that does not finish
//! in time (a request that never comes, a dial that never happens) and says where each side
//! stood.
//!
//! Under wasmtime the server's sockets run Nagle's algorithm (WASI 0.2 has no `TCP_NODELAY`
//! and wasmtime does not set it): a small write that follows a small response the client has
//! not acknowledged yet stays in the server's kernel until the client's delayed ACK, 40 ms or
//! more later. A connection's first response is acknowledged at once, so bytes that a test
//! sends on an idle connection for the client's non-blocking probe to find are sent only
//! after a connection's first response; after a later one the probe could miss them.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_lite::future;
use roundtrip::{Body, CloseReason, Error, PoolStats, Transport, TransportBuilder};

use super::{join, RawRequest, Server};

/// `GET /` as the transport writes it (asking for compressed bodies: feature `decompress`).
#[cfg(feature = "decompress")]
pub const GET: &str = "GET / HTTP/1.1\r\nhost: {host}\r\naccept-encoding: gzip, deflate\r\n\r\n";
#[cfg(not(feature = "decompress"))]
pub const GET: &str = "GET / HTTP/1.1\r\nhost: {host}\r\n\r\n";

/// The field the transport adds last to a request head, unless the caller set its own
/// `Accept-Encoding` or it is a HEAD (feature `decompress`; empty without it).
pub const AE: &str = if cfg!(feature = "decompress") {
    "accept-encoding: gzip, deflate\r\n"
} else {
    ""
};

/// A `200 OK` response with `body` and its `content-length`.
pub fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A script of requests to `/`, each on a new connection because of something the server did
/// while the previous one sat idle in the pool: connection `i` serves response `i`, then,
/// once the client has read it, the server does `events[i - 1]` on it (closes it, sends
/// bytes) and the client's next request must see that and dial connection `i + 1`. The last
/// connection serves the last request and stays idle. Add the transport and `want`.
pub fn while_idle(events: impl IntoIterator<Item = Vec<Srv>>) -> Script {
    let (mut conns, mut steps) = (Vec::new(), Vec::new());
    for (i, event) in (1..).zip(events) {
        let mut script = vec![read(GET), write(ok(&i.to_string())), Srv::Sync(2 * i - 1)];
        script.extend(event);
        script.push(Srv::Sync(2 * i));
        conns.push(conn(script));
        steps.extend([
            Step::Send(Req::get("/").text(&i.to_string()).conn(u64::from(i), false)),
            Step::Sync(2 * i - 1),
            Step::Sync(2 * i),
        ]);
    }
    let last = u32::try_from(conns.len()).unwrap() + 1;
    conns.push(conn([read(GET), write(ok(&last.to_string()))]));
    steps.push(Step::Send(
        Req::get("/")
            .text(&last.to_string())
            .conn(u64::from(last), false),
    ));
    Script::new().server(conns).client(steps)
}

/// One server-side step on a connection.
pub enum Srv {
    /// Read one request (or only its head) whose head is exactly `head`: see [`read`],
    /// [`read_decoded`], [`read_head`].
    Read {
        head: String,
        body: BodyWant,
        at: &'static Location<'static>,
    },
    /// Write these bytes (one `write_all`).
    Write(Vec<u8>),
    /// Rendezvous `n` with the client's `Step::Sync(n)`: each side waits for the other.
    Sync(u32),
    /// Half-close (send FIN), keep reading.
    ShutdownWrite,
    /// Drop the connection now. Only `Sync` steps may follow.
    Close,
    /// Wait until the client closes the connection; exactly these bytes arrive first (usually
    /// none). Only `Sync` steps may follow.
    Eof(Vec<u8>),
    /// Wait until the client closes the connection, whatever it sends meanwhile. Only `Sync`
    /// steps may follow.
    Drain,
}

/// What a [`Srv::Read`] wants of the request body.
pub enum BodyWant {
    /// Exactly these bytes as they came over the wire (chunked framing included).
    Raw(Vec<u8>),
    /// Exactly these bytes once decoded (chunked or sized).
    Decoded(Vec<u8>),
    /// Nothing: the body, if any, is left unread.
    Unread,
}

/// Reads one request that must be exactly `raw`: head, then the body bytes as sent (chunked
/// framing included).
#[track_caller]
pub fn read(raw: impl AsRef<[u8]>) -> Srv {
    let raw = raw.as_ref();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an expected request has a head that ends in CRLF CRLF")
        + 4;
    Srv::Read {
        head: String::from_utf8(raw[..end].to_vec()).expect("a request head is text"),
        body: BodyWant::Raw(raw[end..].to_vec()),
        at: Location::caller(),
    }
}

/// Reads one request whose head is exactly `head` and whose decoded body is `body` (for a
/// chunked body whose chunk sizes are the transport's business).
#[track_caller]
pub fn read_decoded(head: &str, body: impl Into<Vec<u8>>) -> Srv {
    Srv::Read {
        head: head.to_string(),
        body: BodyWant::Decoded(body.into()),
        at: Location::caller(),
    }
}

/// Reads a request head that is exactly `head`; the body stays unread.
#[track_caller]
pub fn read_head(head: &str) -> Srv {
    Srv::Read {
        head: head.to_string(),
        body: BodyWant::Unread,
        at: Location::caller(),
    }
}

/// Writes `bytes`.
pub fn write(bytes: impl AsRef<[u8]>) -> Srv {
    Srv::Write(bytes.as_ref().to_vec())
}

/// The steps of one server connection.
pub struct Conn(Vec<Srv>);

/// One server connection's script (connections are accepted in order).
pub fn conn(steps: impl IntoIterator<Item = Srv>) -> Conn {
    Conn(steps.into_iter().collect())
}

/// A client step.
#[allow(clippy::large_enum_variant)] // test data, made once per step: boxing buys nothing
pub enum Step {
    /// Send a request and check what comes back.
    Send(Req),
    /// Rendezvous `n` with the server's `Srv::Sync(n)`.
    Sync(u32),
    /// Wait (only where time passing is the behaviour under test).
    Sleep(Duration),
    /// `Transport::close_idle_connections`.
    CloseIdle,
    /// `Transport::prune_idle`.
    PruneIdle,
    /// The accounting now, exactly.
    Stats(Want),
}

/// Checks an error; the test's own closure.
pub type Check = fn(&Error) -> bool;

enum Outcome {
    Response,
    /// `round_trip` itself fails.
    Fails(Check),
    /// `round_trip` succeeds, reading the body fails.
    BodyFails(Check),
}

/// A request and what it must get.
pub struct Req {
    method: http::Method,
    path: String,
    server: usize,
    headers: Vec<(String, String)>,
    body: Box<dyn Fn() -> Body>,
    outcome: Outcome,
    status: u16,
    want_headers: Vec<(String, String)>,
    absent_headers: Vec<String>,
    /// `None`: drop the body unread.
    want_body: Option<Vec<u8>>,
    /// Read only this much of the body (it must be exactly this), then drop it.
    prefix: Option<Vec<u8>>,
    trailers: Vec<(String, String)>,
    end_stream: bool,
    conn: Option<(u64, bool)>,
    idle: Option<u64>,
    at: &'static Location<'static>,
}

impl Req {
    /// A request to the first server; by default it must get a `200` with an empty body.
    #[track_caller]
    pub fn new(method: http::Method, path: &str) -> Req {
        Req {
            method,
            path: path.to_string(),
            server: 0,
            headers: Vec::new(),
            body: Box::new(Body::empty),
            outcome: Outcome::Response,
            status: 200,
            want_headers: Vec::new(),
            absent_headers: Vec::new(),
            want_body: Some(Vec::new()),
            prefix: None,
            trailers: Vec::new(),
            end_stream: false,
            conn: None,
            idle: None,
            at: Location::caller(),
        }
    }

    #[track_caller]
    pub fn get(path: &str) -> Req {
        Req::new(http::Method::GET, path)
    }

    /// A POST with an in-memory body.
    #[track_caller]
    pub fn post(path: &str, body: impl Into<Vec<u8>>) -> Req {
        Req::new(http::Method::POST, path).body(body)
    }

    /// Send to the `i`-th server of the script (in `Script::server` order).
    pub fn on(mut self, i: usize) -> Req {
        self.server = i;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// An in-memory (replayable) body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        let body = body.into();
        self.body = Box::new(move || Body::from(body.clone()));
        self
    }

    /// A body made when the request is sent (a streamed one, say).
    pub fn body_with(mut self, make: impl Fn() -> Body + 'static) -> Req {
        self.body = Box::new(make);
        self
    }

    /// The response status must be `status`.
    pub fn status(mut self, status: u16) -> Req {
        self.status = status;
        self
    }

    /// The response must carry `name: value`.
    pub fn has_header(mut self, name: &str, value: &str) -> Req {
        self.want_headers
            .push((name.to_string(), value.to_string()));
        self
    }

    /// The response must not carry `name`.
    pub fn no_header(mut self, name: &str) -> Req {
        self.absent_headers.push(name.to_string());
        self
    }

    /// The body, read to the end, must be exactly `body`.
    pub fn body_is(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.want_body = Some(body.into());
        self
    }

    /// The body, read to the end, must be exactly `text`.
    pub fn text(self, text: &str) -> Req {
        self.body_is(text)
    }

    /// Read the first bytes of the body, which must be `prefix`, then drop it.
    pub fn prefix(mut self, prefix: impl Into<Vec<u8>>) -> Req {
        self.prefix = Some(prefix.into());
        self.want_body = None;
        self
    }

    /// Drop the body without reading it.
    pub fn unread(mut self) -> Req {
        self.want_body = None;
        self.prefix = None;
        self
    }

    /// After the body, the trailers must include `name: value`.
    pub fn trailer(mut self, name: &str, value: &str) -> Req {
        self.trailers.push((name.to_string(), value.to_string()));
        self
    }

    /// The body must be complete (the connection released) when the response is returned;
    /// `idle` is then checked at that point too.
    pub fn end_stream(mut self) -> Req {
        self.end_stream = true;
        self
    }

    /// The response must have come on connection `id`, reused from the pool or not.
    pub fn conn(mut self, id: u64, reused: bool) -> Req {
        self.conn = Some((id, reused));
        self
    }

    /// After the body, exactly `n` connections must be idle.
    pub fn idle(mut self, n: u64) -> Req {
        self.idle = Some(n);
        self
    }

    /// `round_trip` must fail with an error that passes `check`.
    pub fn fails(mut self, check: Check) -> Req {
        self.outcome = Outcome::Fails(check);
        self
    }

    /// `round_trip` must succeed and reading the body fail with an error that passes `check`.
    pub fn body_fails(mut self, check: Check) -> Req {
        self.outcome = Outcome::BodyFails(check);
        self
    }
}

/// The exact accounting: every counter of `PoolStats` (`in_use` and `waiting` must be 0),
/// and every close reason with a non-zero count (all others must be 0).
#[derive(Clone, Debug, Default)]
pub struct Want {
    pub dials: u64,
    pub dial_errors: u64,
    pub reuses: u64,
    pub requests: u64,
    pub retries: u64,
    pub idle: u64,
    pub tls_handshakes: u64,
    pub tls_resumptions: u64,
    pub closed: Vec<(CloseReason, u64)>,
}

impl Want {
    fn stats(&self) -> PoolStats {
        let mut s = PoolStats {
            dials: self.dials,
            dial_errors: self.dial_errors,
            reuses: self.reuses,
            requests: self.requests,
            retries: self.retries,
            idle: self.idle,
            tls_handshakes: self.tls_handshakes,
            tls_resumptions: self.tls_resumptions,
            ..PoolStats::default()
        };
        for &(reason, n) in &self.closed {
            let i = CloseReason::ALL.iter().position(|r| *r == reason).unwrap();
            s.closes[i] += n;
        }
        s
    }
}

/// Asserts that `t`'s accounting is exactly `want` (and balanced).
#[track_caller]
pub fn assert_stats(t: &Transport, want: &Want, when: &str) {
    let got = t.stats();
    let want = want.stats();
    assert!(
        got == want,
        "accounting {when}:\n  want {want}\n  got  {got}"
    );
    assert!(got.is_balanced(), "unbalanced accounting {when}: {got}");
}

/// A client test: servers, client steps, accounting.
pub struct Script {
    transport: TransportBuilder,
    servers: Vec<Vec<Conn>>,
    client: Vec<Step>,
    want: Option<Want>,
    watchdog: Duration,
}

impl Default for Script {
    fn default() -> Self {
        Script::new()
    }
}

impl Script {
    pub fn new() -> Script {
        Script {
            transport: Transport::builder(),
            servers: Vec::new(),
            client: Vec::new(),
            want: None,
            watchdog: Duration::from_secs(20),
        }
    }

    /// The transport's configuration (default: `Transport::builder()`).
    pub fn transport(mut self, builder: TransportBuilder) -> Script {
        self.transport = builder;
        self
    }

    /// Adds a server (requests go to the first one unless `Req::on` says otherwise) with its
    /// connections in accept order.
    pub fn server(mut self, conns: impl IntoIterator<Item = Conn>) -> Script {
        self.servers.push(conns.into_iter().collect());
        self
    }

    pub fn client(mut self, steps: impl IntoIterator<Item = Step>) -> Script {
        self.client.extend(steps);
        self
    }

    /// The accounting after the last client step. Required.
    pub fn want(mut self, want: Want) -> Script {
        self.want = Some(want);
        self
    }

    /// Runs the script on this thread (natively and under wasmtime alike).
    #[track_caller]
    pub fn run(self) {
        let at = Location::caller();
        let want = self
            .want
            .unwrap_or_else(|| panic!("script at {at}: no `want` (the accounting to check)"));
        let servers: Vec<Server> = self.servers.iter().map(|_| Server::bind()).collect();
        let hosts: Vec<String> = servers.iter().map(Server::host).collect();
        let shared = Shared::default();
        *shared.accepted.borrow_mut() = vec![0; servers.len()];
        let mut tasks: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
        for (s, conns) in self.servers.into_iter().enumerate() {
            for (k, script) in conns.into_iter().enumerate() {
                let (server, host, shared) = (&servers[s], hosts[s].as_str(), &shared);
                tasks.push(Box::pin(serve(server, s, k, host, script, shared)));
            }
        }
        let server_side = join_all(tasks);
        let client_side = drive(self.transport, self.client, &servers, want, &shared);
        let watchdog = async {
            roundtrip::net::sleep(self.watchdog).await;
            panic!(
                "script at {at} did not finish within {:?}:\n{}",
                self.watchdog,
                shared.progress()
            );
        };
        roundtrip::net::block_on(future::or(
            async {
                join(server_side, client_side).await;
            },
            watchdog,
        ));
    }
}

/// State shared by the two sides of a script.
#[derive(Default)]
struct Shared {
    /// Per server, connections accepted so far (accepts happen in script order).
    accepted: RefCell<Vec<usize>>,
    server_synced: RefCell<BTreeSet<u32>>,
    client_synced: RefCell<BTreeSet<u32>>,
    /// Where each side is, for the watchdog.
    server_at: RefCell<Vec<(String, String)>>,
    client_at: RefCell<String>,
    wakers: RefCell<Vec<Waker>>,
}

impl Shared {
    fn changed(&self) {
        for w in self.wakers.borrow_mut().drain(..) {
            w.wake();
        }
    }

    async fn until(&self, mut cond: impl FnMut() -> bool) {
        future::poll_fn(|cx| {
            if cond() {
                Poll::Ready(())
            } else {
                self.wakers.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }

    fn server_note(&self, who: &str, what: String) {
        let mut at = self.server_at.borrow_mut();
        match at.iter_mut().find(|(w, _)| w == who) {
            Some(entry) => entry.1 = what,
            None => at.push((who.to_string(), what)),
        }
    }

    fn progress(&self) -> String {
        let mut out = String::new();
        for (who, what) in self.server_at.borrow().iter() {
            let _ = writeln!(out, "  server {who}: {what}");
        }
        let _ = writeln!(out, "  client: {}", self.client_at.borrow());
        out
    }
}

async fn join_all(mut tasks: Vec<Pin<Box<dyn Future<Output = ()> + '_>>>) {
    future::poll_fn(|cx| {
        tasks.retain_mut(|t| t.as_mut().poll(cx).is_pending());
        if tasks.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Escaped and shortened bytes, for messages.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 300;
    let mut s: String = bytes
        .iter()
        .take(MAX)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > MAX {
        let _ = write!(s, "... ({} bytes)", bytes.len());
    }
    s
}

fn diff(want: &[u8], got: &[u8]) -> String {
    let at = want
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(want.len().min(got.len()));
    format!(
        "\n  want: {}\n  got:  {}\n  first difference at byte {at}",
        show(want),
        show(got)
    )
}

async fn serve(server: &Server, s: usize, k: usize, host: &str, script: Conn, shared: &Shared) {
    let who = format!("{s} conn {}", k + 1);
    let sub = |text: &str| text.replace("{host}", host);
    shared.server_note(&who, "waiting for its turn to accept".into());
    shared.until(|| shared.accepted.borrow()[s] == k).await;
    shared.server_note(&who, "accepting".into());
    let peer = server.accept().await;
    shared.accepted.borrow_mut()[s] += 1;
    shared.changed();
    let mut steps = script.0;
    if !steps
        .iter()
        .any(|s| matches!(s, Srv::Close | Srv::Eof(_) | Srv::Drain))
    {
        steps.push(Srv::Eof(Vec::new()));
    }
    let mut open = Some(peer);
    for (j, step) in steps.into_iter().enumerate() {
        let here = format!("step {}", j + 1);
        if let Srv::Sync(n) = step {
            shared.server_note(&who, format!("{here}: at sync {n}, waiting for the client"));
            shared.server_synced.borrow_mut().insert(n);
            shared.changed();
            shared
                .until(|| shared.client_synced.borrow().contains(&n))
                .await;
            continue;
        }
        let Some(peer) = open.as_mut() else {
            panic!("server {who} {here}: only `Srv::Sync` may follow the connection's end");
        };
        match step {
            Srv::Read { head, body, at } => {
                let head = sub(&head);
                let here = format!("server {who} {here} ({at})");
                shared.server_note(&who, format!("{here}: reading `{}`", show(head.as_bytes())));
                let closed = || -> ! {
                    panic!(
                        "{here}: the client closed the connection instead of sending `{}`",
                        show(head.as_bytes())
                    )
                };
                let req = match body {
                    BodyWant::Unread => RawRequest {
                        head: peer.read_head().await.unwrap_or_else(|| closed()),
                        raw_body: Vec::new(),
                        body: Vec::new(),
                    },
                    _ => peer.read_request().await.unwrap_or_else(|| closed()),
                };
                let (want, got) = match &body {
                    BodyWant::Raw(body) => (
                        [head.as_bytes(), body].concat(),
                        [req.head.as_bytes(), &req.raw_body].concat(),
                    ),
                    _ => (head.clone().into_bytes(), req.head.clone().into_bytes()),
                };
                assert!(want == got, "{here}: request differs{}", diff(&want, &got));
                if let BodyWant::Decoded(body) = &body {
                    assert!(
                        *body == req.body,
                        "{here}: decoded request body differs{}",
                        diff(body, &req.body)
                    );
                    if req.header("transfer-encoding").is_some() {
                        // The transport ends a chunked body with a bare last chunk: no
                        // extension, no trailers.
                        let end = &req.raw_body[req.raw_body.len().saturating_sub(7)..];
                        assert!(
                            end.ends_with(b"\r\n0\r\n\r\n") || req.raw_body == b"0\r\n\r\n",
                            "{here}: the chunked body ends in `{}`",
                            show(end)
                        );
                    }
                }
            }
            Srv::Write(bytes) => {
                shared.server_note(&who, format!("{here}: writing `{}`", show(&bytes)));
                peer.write(&bytes).await;
            }
            Srv::Sync(_) => unreachable!(),
            Srv::ShutdownWrite => peer.shutdown_write(),
            Srv::Close => open = None,
            Srv::Eof(want) => {
                let want = String::from_utf8(want).expect("bytes expected before EOF are text");
                let want = sub(&want).into_bytes();
                shared.server_note(&who, format!("{here}: waiting for the client to close"));
                // Fails as soon as something unexpected arrives (an extra request, say).
                let mut got = Vec::new();
                loop {
                    let more = peer.read_some().await;
                    got.extend_from_slice(&more);
                    assert!(
                        want.starts_with(&got),
                        "server {who} {here}: the client sent more than it should have on this connection{}",
                        diff(&want, &got)
                    );
                    if more.is_empty() {
                        break;
                    }
                }
                assert!(
                    want == got,
                    "server {who} {here}: before closing the connection the client sent{}",
                    diff(&want, &got)
                );
                open = None;
            }
            Srv::Drain => {
                shared.server_note(&who, format!("{here}: draining until the client closes"));
                peer.until_eof().await;
                open = None;
            }
        }
    }
    drop(open);
    shared.server_note(&who, "done".into());
}

async fn drive(
    builder: TransportBuilder,
    steps: Vec<Step>,
    servers: &[Server],
    want: Want,
    shared: &Shared,
) {
    let t = builder.build();
    for (i, step) in steps.into_iter().enumerate() {
        let here = format!("client step {}", i + 1);
        match step {
            Step::Send(req) => {
                *shared.client_at.borrow_mut() =
                    format!("{here}: {} {} ({})", req.method, req.path, req.at);
                send(&t, req, servers, &here).await;
            }
            Step::Sync(n) => {
                *shared.client_at.borrow_mut() =
                    format!("{here}: at sync {n}, waiting for the server");
                shared.client_synced.borrow_mut().insert(n);
                shared.changed();
                shared
                    .until(|| shared.server_synced.borrow().contains(&n))
                    .await;
            }
            Step::Sleep(d) => {
                *shared.client_at.borrow_mut() = format!("{here}: sleeping {d:?}");
                roundtrip::net::sleep(d).await;
            }
            Step::CloseIdle => t.close_idle_connections(),
            Step::PruneIdle => t.prune_idle(),
            Step::Stats(want) => assert_stats(&t, &want, &format!("at {here}")),
        }
    }
    assert_stats(&t, &want, "after the last client step");
    *shared.client_at.borrow_mut() = "done (transport dropped)".into();
    drop(t);
}

async fn send(t: &Transport, req: Req, servers: &[Server], here: &str) {
    let at = req.at;
    let url = servers[req.server].url(&req.path);
    let mut builder = http::Request::builder()
        .method(req.method.clone())
        .uri(&url);
    for (name, value) in &req.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let request = builder.body((req.body)()).expect("a valid request");
    let result = t.round_trip(request).await;
    let mut resp = match (result, &req.outcome) {
        (Err(e), Outcome::Fails(check)) => {
            assert!(check(&e), "{here} ({at}): unexpected error: {e} ({e:?})");
            return;
        }
        (Err(e), _) => panic!("{here} ({at}): round trip failed: {e} ({e:?})"),
        (Ok(resp), Outcome::Fails(_)) => panic!(
            "{here} ({at}): round trip succeeded ({}), an error was expected",
            resp.status()
        ),
        (Ok(resp), _) => resp,
    };
    if let Outcome::BodyFails(check) = req.outcome {
        match resp.body_mut().bytes().await {
            Err(e) => assert!(
                check(&e),
                "{here} ({at}): unexpected body error: {e} ({e:?})"
            ),
            Ok(b) => panic!(
                "{here} ({at}): body read succeeded ({}), an error was expected",
                show(&b)
            ),
        }
        return;
    }
    assert_eq!(resp.status(), req.status, "{here} ({at}): status");
    for (name, value) in &req.want_headers {
        let got = resp.headers().get(name.as_str());
        assert!(
            got.is_some_and(|v| v == value.as_str()),
            "{here} ({at}): header {name}: want {value:?}, got {got:?}"
        );
    }
    for name in &req.absent_headers {
        assert!(
            !resp.headers().contains_key(name.as_str()),
            "{here} ({at}): header {name} should be absent: {:?}",
            resp.headers()
        );
    }
    if let Some((id, reused)) = req.conn {
        let info = resp.body().connection().expect("connection info");
        assert_eq!(
            (info.id, info.reused),
            (id, reused),
            "{here} ({at}): (connection id, reused)"
        );
    }
    if req.end_stream {
        assert!(
            resp.body().is_end_stream(),
            "{here} ({at}): the body should be complete when the response is returned"
        );
        if let Some(n) = req.idle {
            assert_eq!(
                t.stats().idle,
                n,
                "{here} ({at}): idle connections when the response was returned"
            );
        }
    }
    let Some(want) = req.want_body else {
        if let Some(prefix) = &req.prefix {
            let mut got = vec![0; prefix.len()];
            let mut n = 0;
            while n < got.len() {
                match futures_lite::AsyncReadExt::read(resp.body_mut(), &mut got[n..]).await {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) => panic!("{here} ({at}): body read failed: {e}"),
                }
            }
            assert!(
                *prefix == got[..n],
                "{here} ({at}): the body starts differently{}",
                diff(prefix, &got[..n])
            );
        }
        drop(resp);
        if let Some(n) = req.idle {
            assert_eq!(
                t.stats().idle,
                n,
                "{here} ({at}): idle connections after dropping the body"
            );
        }
        return;
    };
    assert!(
        resp.body().trailers().is_none(),
        "{here} ({at}): trailers before the body was read"
    );
    let got = match resp.body_mut().bytes().await {
        Ok(b) => b,
        Err(e) => panic!("{here} ({at}): body read failed: {e} ({e:?})"),
    };
    assert!(
        want == got,
        "{here} ({at}): response body differs{}",
        diff(&want, &got)
    );
    for (name, value) in &req.trailers {
        let got = resp.body().trailers().and_then(|t| t.get(name.as_str()));
        assert!(
            got.is_some_and(|v| v == value.as_str()),
            "{here} ({at}): trailer {name}: want {value:?}, got {got:?}"
        );
    }
    if let Some(n) = req.idle {
        assert_eq!(
            t.stats().idle,
            n,
            "{here} ({at}): idle connections after the body"
        );
    }
}
