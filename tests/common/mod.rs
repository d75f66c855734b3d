//! A scripted raw-socket HTTP server that runs as a cooperative task beside the client, in
//! the test process, on both targets (natively and as a wasm32-wasip2 component).
//!
//! Each test writes the server side as an `async` block: accept, read the request (parsed
//! just enough to find its end), write exact response bytes, close or half-close. The test
//! then runs server and client together with [`run`].
#![allow(dead_code)] // each test binary uses a different subset

pub mod exchange;
#[allow(unused_imports)] // not every test binary scripts its exchanges
pub use exchange::*;

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use roundtrip::net::{TcpListener, TcpStream};
use roundtrip::{Body, Transport};

/// Runs the server and client futures together to completion on this thread and returns the
/// client's output. The server future must finish too (so its assertions run).
pub fn run<S, C, T>(server: S, client: C) -> T
where
    S: Future<Output = ()>,
    C: Future<Output = T>,
{
    roundtrip::net::block_on(async {
        let (_, out) = join(server, client).await;
        out
    })
}

/// Runs two futures concurrently, polling each one only when *its own* waker fired (unlike
/// `futures_lite::future::zip`, which polls both on any wake-up), so poll counts measured on
/// one side are not inflated by the other side's activity.
pub async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut out_a, mut out_b) = (None, None);
    let flags = [
        Arc::new(SideWaker::default()),
        Arc::new(SideWaker::default()),
    ];
    future::poll_fn(|cx| {
        for (i, flag) in flags.iter().enumerate() {
            *flag.parent.lock().unwrap() = Some(cx.waker().clone());
            let first = !flag.started.swap(true, Ordering::Relaxed);
            if !(first || flag.woken.swap(false, Ordering::Relaxed)) {
                continue;
            }
            let waker = Waker::from(flag.clone());
            let mut side_cx = Context::from_waker(&waker);
            if i == 0 && out_a.is_none() {
                if let Poll::Ready(v) = a.as_mut().poll(&mut side_cx) {
                    out_a = Some(v);
                }
            } else if i == 1 && out_b.is_none() {
                if let Poll::Ready(v) = b.as_mut().poll(&mut side_cx) {
                    out_b = Some(v);
                }
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

#[derive(Default)]
struct SideWaker {
    started: AtomicBool,
    woken: AtomicBool,
    parent: Mutex<Option<Waker>>,
}

impl std::task::Wake for SideWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
        if let Some(w) = self.parent.lock().unwrap().as_ref() {
            w.wake_by_ref();
        }
    }
}

/// A listening test server on an ephemeral loopback port.
pub struct Server {
    listener: TcpListener,
    pub addr: SocketAddr,
}

impl Server {
    pub fn bind() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        Server { listener, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The `host` header value the client is expected to send.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub async fn accept(&self) -> Peer {
        let (stream, _) = self.listener.accept().await.expect("accept");
        Peer {
            stream,
            buf: Vec::new(),
        }
    }
}

/// One accepted connection, seen from the server.
pub struct Peer {
    pub stream: TcpStream,
    /// Bytes read and not yet consumed.
    buf: Vec<u8>,
}

/// A request as the server received it.
#[derive(Debug)]
pub struct RawRequest {
    /// The head exactly as received, including the final CRLF CRLF.
    pub head: String,
    /// The body bytes exactly as received (chunked framing included).
    pub raw_body: Vec<u8>,
    /// The decoded body.
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

impl Peer {
    /// Reads more bytes; returns false at EOF.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        let n = self.stream.read(&mut chunk).await.unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn take_until(&mut self, pat: &[u8]) -> Option<Vec<u8>> {
        loop {
            if let Some(i) = self.buf.windows(pat.len()).position(|w| w == pat) {
                return Some(self.buf.drain(..i + pat.len()).collect());
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    async fn take_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    /// Reads one request head (through its final CRLF CRLF) and leaves the body unread;
    /// `None` if the client closed the connection first.
    pub async fn read_head(&mut self) -> Option<String> {
        Some(String::from_utf8(self.take_until(b"\r\n\r\n").await?).unwrap())
    }

    /// Reads one request; `None` if the client closed the connection first.
    pub async fn read_request(&mut self) -> Option<RawRequest> {
        let head = String::from_utf8(self.take_until(b"\r\n\r\n").await?).unwrap();
        let mut req = RawRequest {
            head,
            raw_body: Vec::new(),
            body: Vec::new(),
        };
        if req
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let line = self.take_until(b"\r\n").await?;
                req.raw_body.extend_from_slice(&line);
                let text = std::str::from_utf8(&line).unwrap().trim_end();
                let size = usize::from_str_radix(text.split(';').next().unwrap(), 16).unwrap();
                if size == 0 {
                    let end = self.take_until(b"\r\n").await?;
                    req.raw_body.extend_from_slice(&end);
                    break;
                }
                let data = self.take_exact(size + 2).await?;
                req.raw_body.extend_from_slice(&data);
                req.body.extend_from_slice(&data[..size]);
            }
        } else if let Some(len) = req.header("content-length") {
            let data = self.take_exact(len.parse().unwrap()).await?;
            req.raw_body = data.clone();
            req.body = data;
        }
        Some(req)
    }

    /// Reads exactly `n` bytes (after the ones already buffered); `None` at EOF first.
    pub async fn read_exact(&mut self, n: usize) -> Option<Vec<u8>> {
        self.take_exact(n).await
    }

    /// Whether bytes read and not yet consumed are waiting (without reading more).
    pub fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    pub async fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("server write");
        self.stream.flush().await.expect("server flush");
    }

    /// Writes `bytes`; returns false if the client has gone away (reset or closed).
    pub async fn try_write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok() && self.stream.flush().await.is_ok()
    }

    /// Writes a 200 response with `body` and a Content-Length.
    pub async fn respond(&mut self, body: &str) {
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{}",
            body.len(),
            body
        );
        self.write(resp.as_bytes()).await;
    }

    /// The bytes read and not yet consumed, or else the next bytes that arrive; empty at EOF.
    pub async fn read_some(&mut self) -> Vec<u8> {
        if self.buf.is_empty() {
            self.fill().await;
        }
        std::mem::take(&mut self.buf)
    }

    /// Waits until the client closes the connection (EOF); returns the bytes it sent meanwhile.
    pub async fn until_eof(&mut self) -> Vec<u8> {
        while self.fill().await {}
        std::mem::take(&mut self.buf)
    }

    pub fn shutdown_write(&mut self) {
        self.stream.shutdown_write().expect("shutdown");
    }
}

/// A GET request with an empty body.
pub fn get(url: &str) -> http::Request<Body> {
    http::Request::get(url).body(Body::empty()).unwrap()
}

/// Sends a GET and reads the whole body as text.
pub async fn fetch(t: &Transport, url: &str) -> (http::StatusCode, String) {
    let mut resp = t.round_trip(get(url)).await.expect("round trip");
    let text = resp.body_mut().text().await.expect("body");
    (resp.status(), text)
}

/// A one-shot signal from one task to another (both on this thread).
#[derive(Clone, Default)]
pub struct Signal {
    state: Rc<(Cell<bool>, Cell<Option<Waker>>)>,
}

impl Signal {
    pub fn new() -> Signal {
        Signal::default()
    }

    pub fn fire(&self) {
        self.state.0.set(true);
        if let Some(w) = self.state.1.take() {
            w.wake();
        }
    }

    pub async fn wait(&self) {
        future::poll_fn(|cx| {
            if self.state.0.get() {
                Poll::Ready(())
            } else {
                self.state.1.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

/// Wraps a future and counts how many times it is polled.
pub struct CountPolls<F> {
    pub inner: Pin<Box<F>>,
    pub polls: Rc<Cell<u32>>,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.inner.as_mut().poll(cx)
    }
}

/// Polls `fut` exactly once and returns it (for drop-at-a-step tests).
pub async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Skips the calling test `name` loudly, or fails it when `ROUNDTRIP_FULL_TEST` is set (the
/// test script sets it: there nothing may be skipped). The note goes straight to the
/// process's stderr, past the test harness's output capture, so it shows in `cargo test`
/// output.
pub fn skip(name: &str, why: &str) {
    assert!(
        std::env::var_os("ROUNDTRIP_FULL_TEST").is_none(),
        "{name}: ROUNDTRIP_FULL_TEST is set, and this test cannot run: {why}"
    );
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {why}");
}

/// Asserts the pool accounting identity and returns the stats.
pub fn balanced(t: &Transport) -> roundtrip::PoolStats {
    let s = t.stats();
    assert!(s.is_balanced(), "unbalanced accounting: {s}");
    s
}
