//! HTTPS against an in-process TLS server (rustls's server side over the crate's own
//! `TcpStream`), with certificates made at test time by rcgen. Runs unchanged natively and
//! under wasmtime. Feature `tls` (a default).
#![cfg(feature = "tls")]

mod common;

use std::sync::Arc;

use common::*;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::rustls::pki_types::pem::PemObject;
use futures_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use futures_rustls::rustls::server::WebPkiClientVerifier;
use futures_rustls::rustls::{self, RootCertStore, ServerConfig};
use futures_rustls::server::TlsStream;
use futures_rustls::TlsAcceptor;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use roundtrip::net::TcpStream;
use roundtrip::{CloseReason, Transport};

/// A throwaway certificate authority.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Ca {
    /// A CA named `name`: two CAs with one subject would let a verifier build the chain to
    /// the wrong one (and report a bad signature instead of an unknown issuer).
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("roundtrip test CA {name}"),
        );
        let cert = params.self_signed(&key).unwrap();
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server (or client) certificate for `names` (DNS names or IP addresses).
    fn issue(
        &self,
        names: &[&str],
        expired: bool,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        (vec![cert.der().clone()], key)
    }

    /// `issue` as PEM: (certificate chain, private key).
    fn issue_pem(&self, names: &[&str]) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration for `cert`, offering `alpn`.
fn server_config(
    cert: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
    alpn: &[&str],
) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(cert.0, cert.1)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(config)
}

/// Accepts one TCP connection and runs the server handshake; `None` if it fails.
async fn accept(server: &Server, config: &Arc<ServerConfig>) -> Option<TlsStream<TcpStream>> {
    let peer = server.accept().await;
    TlsAcceptor::from(config.clone())
        .accept(peer.stream)
        .await
        .ok()
}

/// Reads one request head (these tests send no bodies); `false` at the end of the stream.
async fn read_head(tls: &mut TlsStream<TcpStream>) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tls.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

async fn respond(tls: &mut TlsStream<TcpStream>, body: &str) {
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(resp.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
}

/// Serves `n` requests on one TLS connection, then waits for the client to close it.
async fn serve(server: &Server, config: &Arc<ServerConfig>, n: usize) {
    let mut tls = accept(server, config).await.expect("handshake");
    for i in 0..n {
        assert!(read_head(&mut tls).await, "request {i}");
        respond(&mut tls, &format!("reply {i}")).await;
    }
    assert!(!read_head(&mut tls).await, "no more requests");
}

fn trusting(ca: &Ca) -> Transport {
    Transport::builder()
        .add_root_certificates(ca.pem.as_bytes())
        .unwrap()
        .build()
}

fn url(server: &Server, host: &str) -> String {
    format!("https://{host}:{}/", server.addr.port())
}

#[test]
fn requests_over_one_tls_connection_and_one_handshake() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    run(serve(&server, &config, 5), async {
        for i in 0..5 {
            assert_eq!(fetch(&t, &url).await.1, format!("reply {i}"));
        }
        t.close_idle_connections();
    });
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.reuses, s.tls_handshakes, s.tls_resumptions),
        (1, 4, 1, 0),
        "{s}"
    );
}

#[test]
fn a_redial_resumes_the_session() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    run(
        async {
            serve(&server, &config, 1).await;
            serve(&server, &config, 1).await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "reply 0");
            t.close_idle_connections();
            assert_eq!(fetch(&t, &url).await.1, "reply 0");
            t.close_idle_connections();
        },
    );
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.tls_handshakes, s.tls_resumptions),
        (2, 2, 1),
        "{s}"
    );
}

#[test]
fn an_ip_literal_is_verified_against_the_certificates_ip_addresses() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["127.0.0.1"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "127.0.0.1");
    run(serve(&server, &config, 1), async {
        assert_eq!(fetch(&t, &url).await.1, "reply 0");
        t.close_idle_connections();
    });
    assert_eq!(balanced(&t).tls_handshakes, 1);
}

/// Runs one request against a server with `config` and returns the client's error; the
/// server's handshake is expected to fail too.
fn handshake_error(t: &Transport, config: Arc<ServerConfig>, host: &str) -> roundtrip::Error {
    let before = t.stats();
    let server = Server::bind();
    let url = url(&server, host);
    let err = run(
        async {
            assert!(
                accept(&server, &config).await.is_none(),
                "the server's handshake failed too"
            );
        },
        async { t.round_trip(get(&url)).await.unwrap_err() },
    );
    let s = balanced(t);
    let grew = |now: u64, then: u64| now - then;
    assert_eq!(
        (
            grew(s.dials, before.dials),
            grew(s.dial_errors, before.dial_errors),
            grew(s.tls_handshakes, before.tls_handshakes)
        ),
        (0, 1, 0),
        "{s}"
    );
    assert!(err.is_tls(), "{err}");
    assert_eq!(err.phase(), roundtrip::Phase::Tls);
    err
}

#[test]
fn certificate_problems_are_named() {
    let ca = Ca::new("a");
    let t = trusting(&ca);
    use rustls::CertificateError as C;
    let cert_error = |e: &roundtrip::Error| match e.tls_error() {
        Some(rustls::Error::InvalidCertificate(c)) => Some(c.clone()),
        _ => None,
    };
    // Signed by another CA.
    let other = Ca::new("other");
    let e = handshake_error(
        &t,
        server_config(other.issue(&["localhost"], false), &[]),
        "localhost",
    );
    assert_eq!(cert_error(&e), Some(C::UnknownIssuer), "{e}");
    // Not for this name.
    let e = handshake_error(
        &t,
        server_config(ca.issue(&["other.test"], false), &[]),
        "localhost",
    );
    assert!(
        matches!(
            cert_error(&e),
            Some(C::NotValidForName | C::NotValidForNameContext { .. })
        ),
        "{e}"
    );
    // Expired.
    let e = handshake_error(
        &t,
        server_config(ca.issue(&["localhost"], true), &[]),
        "localhost",
    );
    assert!(
        matches!(cert_error(&e), Some(C::Expired | C::ExpiredContext { .. })),
        "{e}"
    );
    // An IP literal the certificate does not name.
    let e = handshake_error(
        &t,
        server_config(ca.issue(&["localhost"], false), &[]),
        "127.0.0.1",
    );
    assert!(
        matches!(
            cert_error(&e),
            Some(C::NotValidForName | C::NotValidForNameContext { .. })
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("TLS handshake with https://127.0.0.1:"),
        "{e}"
    );
}

#[test]
fn a_server_that_speaks_no_http_11_is_refused() {
    // roundtrip offers only http/1.1: a server with only h2 refuses the handshake. (This
    // server drops the connection without flushing its alert, so the client sees the end of
    // the stream mid-handshake; a server that picked an unoffered protocol would be refused
    // by rustls, and one that picked another offered one by roundtrip.)
    let ca = Ca::new("a");
    let t = trusting(&ca);
    let config = server_config(ca.issue(&["localhost"], false), &["h2"]);
    let e = handshake_error(&t, config, "localhost");
    assert!(e.to_string().starts_with("TLS handshake with"), "{e}");
}

#[test]
fn danger_accept_invalid_certs_accepts_an_unknown_issuer() {
    let other = Ca::new("other");
    let config = server_config(other.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = Transport::builder()
        .danger_accept_invalid_certs(true)
        .build();
    let url = url(&server, "localhost");
    run(serve(&server, &config, 1), async {
        assert_eq!(fetch(&t, &url).await.1, "reply 0");
        t.close_idle_connections();
    });
    assert_eq!(balanced(&t).tls_handshakes, 1);
}

#[test]
fn mutual_tls() {
    let ca = Ca::new("a");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .unwrap();
    let (chain, key) = ca.issue(&["localhost"], false);
    let config = Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    // Without a client certificate the server refuses it. In TLS 1.3 the client's side of
    // the handshake is over before the server judges the client's certificate, so the
    // refusal reaches the request while it waits for its response: it fails, and nothing was
    // pooled.
    let t = trusting(&ca);
    let server = Server::bind();
    let to = url(&server, "localhost");
    let err = run(
        async {
            assert!(accept(&server, &config).await.is_none(), "refused");
        },
        async { t.round_trip(get(&to)).await.unwrap_err() },
    );
    assert!(
        err.is_tls() || err.phase() == roundtrip::Phase::ReadHead,
        "{err}"
    );
    let s = balanced(&t);
    assert_eq!(
        (s.idle, s.in_use, s.tls_handshakes + s.dial_errors),
        (0, 0, 1),
        "{s}"
    );
    // With one it accepts.
    let (cert_pem, key_pem) = ca.issue_pem(&["client"]);
    let t = Transport::builder()
        .add_root_certificates(ca.pem.as_bytes())
        .unwrap()
        .client_certificate(cert_pem.as_bytes(), key_pem.as_bytes())
        .unwrap()
        .build();
    let server = Server::bind();
    let url = url(&server, "localhost");
    run(serve(&server, &config, 1), async {
        assert_eq!(fetch(&t, &url).await.1, "reply 0");
        t.close_idle_connections();
    });
    assert_eq!(balanced(&t).tls_handshakes, 1);
}

/// The server's `close_notify` on an idle connection is seen by the probe at checkout: the
/// next request dials instead of writing into a closed connection.
#[test]
fn close_notify_on_an_idle_connection_is_seen_at_checkout() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    let closed = Signal::new();
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            assert!(read_head(&mut tls).await);
            respond(&mut tls, "1").await;
            tls.close().await.unwrap(); // close_notify, then FIN
            closed.fire();
            serve(&server, &config, 1).await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "1");
            closed.wait().await;
            assert_eq!(fetch(&t, &url).await.1, "reply 0");
            t.close_idle_connections();
        },
    );
    let s = balanced(&t);
    assert_eq!((s.dials, s.retries), (2, 0), "{s}");
    assert_eq!(s.closed(CloseReason::ServerClosedIdle), 1, "{s}");
}

/// A close-delimited body whose TCP stream ends without `close_notify` may have been cut by
/// an attacker: an error, never a short body.
#[test]
fn a_body_truncated_below_tls_is_an_error() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            assert!(read_head(&mut tls).await);
            tls.write_all(b"HTTP/1.1 200 OK\r\n\r\npart of a body")
                .await
                .unwrap();
            tls.flush().await.unwrap();
            // FIN without close_notify.
            let (tcp, _) = tls.get_mut();
            tcp.shutdown_write().unwrap();
            let mut rest = Vec::new();
            let _ = tls.get_mut().0.read_to_end(&mut rest).await;
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let err = resp.body_mut().text().await.unwrap_err();
            assert_eq!(err.phase(), roundtrip::Phase::ReadBody, "{err}");
        },
    );
    assert_eq!(balanced(&t).closed(CloseReason::ReadError), 1);
}

#[test]
fn bad_tls_settings_are_typed_errors() {
    let err = Transport::builder()
        .add_root_certificates(b"not a pem")
        .unwrap_err();
    assert!(matches!(err, roundtrip::Error::TlsConfig { .. }), "{err}");
    let ca = Ca::new("a");
    let (cert, _) = ca.issue_pem(&["client"]);
    let (_, other_key) = ca.issue_pem(&["client"]);
    let err = Transport::builder()
        .client_certificate(cert.as_bytes(), other_key.as_bytes())
        .unwrap_err();
    assert!(matches!(err, roundtrip::Error::TlsConfig { .. }), "{err}");
}

/// Drops the round-trip future after `k` polls, for every `k` until it completes on its own,
/// so the drop lands at every step of the TLS handshake too: nothing leaks, a dial left
/// behind is abandoned by `close_idle_connections`, and the accounting stays exact.
#[test]
fn dropping_the_round_trip_at_every_poll_of_the_handshake() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    for k in 1.. {
        assert!(k < 200, "the round trip never completed");
        let server = Server::bind();
        let t = trusting(&ca);
        let url = url(&server, "localhost");
        let client_done = Signal::new();
        let completed = run(
            async {
                let accepted = futures_lite::future::or(
                    async { Some(accept(&server, &config).await) },
                    async {
                        client_done.wait().await;
                        None
                    },
                )
                .await;
                // The client may give up before or during the handshake.
                let Some(Some(mut tls)) = accepted else {
                    return;
                };
                if read_head(&mut tls).await {
                    // The client may be gone by now: a failed write is its leaving.
                    let resp = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if tls.write_all(resp).await.is_err() || tls.flush().await.is_err() {
                        return;
                    }
                }
                while read_head(&mut tls).await {}
            },
            async {
                // Polled only when woken (no busy loop: over WASI the handshake's small
                // writes wait for delayed ACKs, and a spinning poller would measure time,
                // not steps), dropped after its `k`-th poll.
                let polls = std::rc::Rc::new(std::cell::Cell::new(0));
                let fut = CountPolls {
                    inner: Box::pin(t.round_trip(get(&url))),
                    polls: polls.clone(),
                };
                let done = futures_lite::future::or(
                    async { Some(fut.await) },
                    futures_lite::future::poll_fn(|_| match polls.get() >= k {
                        true => std::task::Poll::Ready(None),
                        false => std::task::Poll::Pending,
                    }),
                )
                .await
                .map(|resp| resp.unwrap())
                .is_some();
                t.close_idle_connections();
                client_done.fire();
                done
            },
        );
        let s = balanced(&t);
        assert_eq!((s.in_use, s.idle), (0, 0), "step {k}: {s}");
        assert_eq!(
            s.tls_handshakes, s.dials,
            "step {k}: a dial is a handshake: {s}"
        );
        if completed {
            assert_eq!(s.dials, 1, "{s}");
            break;
        }
        assert_eq!(s.dials, s.closed(CloseReason::CallerGone), "step {k}: {s}");
    }
}

// ---------------------------------------------------------------------------------------
// Review tests.
// ---------------------------------------------------------------------------------------

use std::time::{Duration, Instant};

/// Reads a request head, then `len` body bytes in `piece`-byte reads, sleeping `pause`
/// every `every` bytes; returns the byte count and a checksum.
async fn read_body_slowly(
    tls: &mut TlsStream<TcpStream>,
    len: usize,
    piece: usize,
    every: usize,
    pause: Duration,
) -> (usize, u64) {
    assert!(read_head(tls).await);
    let mut got = 0usize;
    let mut sum = 0u64;
    let mut next_pause = every;
    let mut buf = vec![0u8; piece];
    while got < len {
        let want = piece.min(len - got);
        let n = tls.read(&mut buf[..want]).await.expect("server read");
        assert!(n > 0, "client closed after {got} bytes");
        for &b in &buf[..n] {
            sum = sum.wrapping_mul(31).wrapping_add(u64::from(b));
        }
        got += n;
        if got >= next_pause {
            roundtrip::net::sleep(pause).await;
            next_pause += every;
        }
    }
    (got, sum)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn checksum(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)))
}

fn upload(len_header: bool, pause_first: Duration) {
    const LEN: usize = 8 << 20;
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    let data = pattern(LEN);
    let want = checksum(&data);
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            roundtrip::net::sleep(pause_first).await;
            let (got, sum) = if len_header {
                read_body_slowly(&mut tls, LEN, 8192, 1 << 20, Duration::from_millis(20)).await
            } else {
                // Chunked: read until the last chunk and check the byte count only.
                assert!(read_head(&mut tls).await);
                let mut raw = Vec::new();
                let mut buf = vec![0u8; 8192];
                while !raw.ends_with(b"\r\n0\r\n\r\n") {
                    let n = tls.read(&mut buf).await.unwrap();
                    assert!(n > 0);
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() % (1 << 20) < 8192 {
                        roundtrip::net::sleep(Duration::from_millis(20)).await;
                    }
                }
                (raw.len(), 0)
            };
            respond(&mut tls, &format!("{got} {sum}")).await;
            assert!(!read_head(&mut tls).await);
        },
        async {
            let body = roundtrip::Body::from_reader(
                futures_lite::io::Cursor::new(data.clone()),
                len_header.then_some(LEN as u64),
            );
            let req = http::Request::post(&url).body(body).unwrap();
            let mut resp = t.round_trip(req).await.expect("upload");
            let text = resp.body_mut().text().await.unwrap();
            if len_header {
                assert_eq!(text, format!("{LEN} {want}"));
            } else {
                let raw: usize = text.split(' ').next().unwrap().parse().unwrap();
                assert!(raw > LEN, "{raw} raw chunked bytes for {LEN}");
            }
            t.close_idle_connections();
        },
    );
}

#[test]
fn a_large_streamed_upload_to_a_slow_reader() {
    upload(true, Duration::ZERO);
}

#[test]
fn a_large_chunked_upload_to_a_slow_reader() {
    upload(false, Duration::ZERO);
}

#[test]
fn an_upload_to_a_server_that_reads_nothing_for_a_while() {
    upload(true, Duration::from_millis(500));
}

/// A server that accepts TCP but never answers the ClientHello: `connect_timeout` ends it.
#[test]
fn a_silent_tls_server_ends_in_connect_timeout() {
    let server = Server::bind();
    let t = Transport::builder()
        .danger_accept_invalid_certs(true)
        .connect_timeout(Some(Duration::from_millis(300)))
        .build();
    let url = url(&server, "localhost");
    let done = Signal::new();
    let started = Instant::now();
    let err = run(
        async {
            let mut peer = server.accept().await;
            // Read the ClientHello and say nothing.
            let hello = peer.read_some().await;
            assert_eq!(hello.first(), Some(&0x16), "a TLS handshake record");
            done.wait().await;
        },
        async {
            let err = t.round_trip(get(&url)).await.unwrap_err();
            done.fire();
            err
        },
    );
    assert!(
        matches!(err, roundtrip::Error::ConnectTimeout { .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let s = balanced(&t);
    assert_eq!((s.dials, s.dial_errors, s.tls_handshakes), (0, 1, 0), "{s}");
}

/// A close-delimited body over TLS ends at the server's close_notify (+ FIN).
#[test]
fn a_close_delimited_body_ends_at_close_notify() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            assert!(read_head(&mut tls).await);
            tls.write_all(b"HTTP/1.1 200 OK\r\n\r\nthe whole body")
                .await
                .unwrap();
            tls.close().await.unwrap(); // close_notify, then FIN
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "the whole body");
        },
    );
    let s = balanced(&t);
    assert_eq!(s.idle, 0, "{s}");
}

/// close_notify alone (TCP left open) ends a close-delimited body too.
#[test]
fn close_notify_without_fin_ends_a_close_delimited_body() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    let done = Signal::new();
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            assert!(read_head(&mut tls).await);
            tls.write_all(b"HTTP/1.1 200 OK\r\n\r\nbody").await.unwrap();
            tls.get_mut().1.send_close_notify();
            tls.flush().await.unwrap();
            done.wait().await;
        },
        async {
            let r = roundtrip::net::sleep(Duration::from_secs(5))
                .race_fetch(&t, &url)
                .await;
            done.fire();
            assert_eq!(r.as_deref(), Some("body"));
        },
    );
}

trait RaceFetch {
    async fn race_fetch(self, t: &Transport, url: &str) -> Option<String>;
}

impl RaceFetch for roundtrip::net::Sleep {
    async fn race_fetch(self, t: &Transport, url: &str) -> Option<String> {
        use futures_lite::FutureExt;
        async { Some(fetch(t, url).await.1) }
            .or(async {
                self.await;
                None
            })
            .await
    }
}

/// The server refreshes its keys (TLS 1.3 KeyUpdate, update requested) between requests and
/// in the middle of a response body; the connection keeps working and is reused.
#[test]
fn key_updates_from_the_server() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            assert!(read_head(&mut tls).await);
            respond(&mut tls, "one").await;
            // While idle.
            tls.get_mut().1.refresh_traffic_keys().unwrap();
            tls.flush().await.unwrap();
            assert!(
                read_head(&mut tls).await,
                "second request, under the new keys"
            );
            // In the middle of a body.
            tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\ntwo")
                .await
                .unwrap();
            tls.flush().await.unwrap();
            tls.get_mut().1.refresh_traffic_keys().unwrap();
            tls.write_all(b"TWO").await.unwrap();
            tls.flush().await.unwrap();
            assert!(read_head(&mut tls).await, "third request");
            respond(&mut tls, "three").await;
            assert!(!read_head(&mut tls).await);
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "one");
            roundtrip::net::sleep(Duration::from_millis(50)).await;
            assert_eq!(fetch(&t, &url).await.1, "twoTWO");
            assert_eq!(fetch(&t, &url).await.1, "three");
            t.close_idle_connections();
        },
    );
    let s = balanced(&t);
    assert_eq!((s.dials, s.reuses), (1, 2), "{s}");
}

/// TLS 1.2 only server: handshake, reuse, resumption.
#[test]
fn tls12_server() {
    let ca = Ca::new("a");
    let (chain, key) = ca.issue(&["localhost"], false);
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    run(
        async {
            serve(&server, &config, 2).await;
            serve(&server, &config, 1).await;
        },
        async {
            assert_eq!(fetch(&t, &url).await.1, "reply 0");
            assert_eq!(fetch(&t, &url).await.1, "reply 1");
            t.close_idle_connections();
            assert_eq!(fetch(&t, &url).await.1, "reply 0");
            t.close_idle_connections();
        },
    );
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.tls_handshakes, s.tls_resumptions),
        (2, 2, 1),
        "{s}"
    );
}

/// An IPv6 literal: no SNI, verified against the certificate's IP addresses.
#[test]
fn an_ipv6_literal() {
    let Ok(listener) = roundtrip::net::TcpListener::bind("[::1]:0".parse().unwrap()) else {
        skip("review_an_ipv6_literal", "no IPv6 loopback");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["::1"], false), &["http/1.1"]);
    let t = trusting(&ca);
    run(
        async {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = TlsAcceptor::from(config.clone()).accept(tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.server_name(), None, "no SNI for an IP");
            assert!(read_head(&mut tls).await);
            respond(&mut tls, "v6").await;
        },
        async {
            let url = format!("https://[::1]:{port}/");
            assert_eq!(fetch(&t, &url).await.1, "v6");
            t.close_idle_connections();
        },
    );
}

#[test]
fn garbage_der_in_a_pem_is_refused() {
    let pem = b"-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
    let err = Transport::builder().add_root_certificates(pem).unwrap_err();
    assert!(matches!(err, roundtrip::Error::TlsConfig { .. }), "{err}");
    // A key-only PEM has no certificate.
    let ca = Ca::new("a");
    let (_, key) = ca.issue_pem(&["x"]);
    let err = Transport::builder()
        .add_root_certificates(key.as_bytes())
        .unwrap_err();
    assert!(matches!(err, roundtrip::Error::TlsConfig { .. }), "{err}");
}

/// The server answers a large upload early (413, `Connection: close`) after reading only the
/// head, then closes its socket with the upload unread (a reset). Over TCP the caller gets
/// the 413; over TLS it must too.
fn early_answer_then_reset(over_tls: bool, pause: Duration) -> Result<u16, String> {
    const UPLOAD: u64 = 64 << 20;
    const ANSWER: &[u8] =
        b"HTTP/1.1 413 Content Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = if over_tls {
        url(&server, "localhost")
    } else {
        format!("http://localhost:{}/", server.addr.port())
    };
    run(
        async {
            if over_tls {
                let mut tls = accept(&server, &config).await.unwrap();
                assert!(read_head(&mut tls).await);
                tls.write_all(ANSWER).await.unwrap();
                tls.flush().await.unwrap();
                roundtrip::net::sleep(pause).await;
                drop(tls); // unread upload in the socket: RST
            } else {
                let mut peer = server.accept().await;
                assert!(peer.read_head().await.is_some());
                peer.write(ANSWER).await;
                roundtrip::net::sleep(pause).await;
                drop(peer);
            }
        },
        async {
            let body = roundtrip::Body::from_reader(
                futures_lite::io::repeat(b'x').take(UPLOAD),
                Some(UPLOAD),
            );
            let req = http::Request::post(&url).body(body).unwrap();
            match t.round_trip(req).await {
                Ok(resp) => Ok(resp.status().as_u16()),
                Err(e) => Err(format!("{e} (phase {:?})", e.phase())),
            }
        },
    )
}

#[test]
fn an_early_answer_then_reset_over_tcp() {
    for ms in [0, 1, 5, 200] {
        assert_eq!(
            early_answer_then_reset(false, Duration::from_millis(ms)),
            Ok(413),
            "{ms} ms"
        );
    }
}

#[test]
fn an_early_answer_then_reset_over_tls() {
    for ms in [0, 1, 5, 200] {
        assert_eq!(
            early_answer_then_reset(true, Duration::from_millis(ms)),
            Ok(413),
            "{ms} ms"
        );
    }
}

/// An 8 MiB download (for counting reads: `strace -f -c -e trace=read,recvfrom`).
#[test]
fn a_large_download() {
    const LEN: usize = 8 << 20;
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = url(&server, "localhost");
    let body = pattern(LEN);
    run(
        async {
            let mut tls = accept(&server, &config).await.unwrap();
            assert!(read_head(&mut tls).await);
            tls.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {LEN}\r\n\r\n").as_bytes())
                .await
                .unwrap();
            tls.write_all(&body).await.unwrap();
            tls.flush().await.unwrap();
            assert!(!read_head(&mut tls).await);
        },
        async {
            let mut resp = t.round_trip(get(&url)).await.unwrap();
            let got = resp.body_mut().bytes().await.unwrap();
            assert_eq!(got.len(), LEN);
            t.close_idle_connections();
        },
    );
}

#[test]
fn server_names() {
    use futures_rustls::rustls::pki_types::ServerName;
    for h in [
        "::1",
        "::1%25lo",
        "fe80::1%eth0",
        "localhost.",
        "127.1",
        "my_host.example",
        "1.2.3",
    ] {
        eprintln!("{h:?} -> {:?}", ServerName::try_from(h));
    }
}

/// A `101` over TLS: the upgraded stream reads the leftover bytes, then writes and reads
/// through the TLS connection, and its `close` sends `close_notify` (the server sees a clean
/// end of stream).
#[test]
fn an_upgrade_over_tls() {
    let ca = Ca::new("a");
    let config = server_config(ca.issue(&["localhost"], false), &["http/1.1"]);
    let server = Server::bind();
    let t = trusting(&ca);
    let url = format!("{}echo", url(&server, "localhost"));
    run(
        async {
            let mut tls = accept(&server, &config).await.expect("handshake");
            assert!(read_head(&mut tls).await);
            tls.write_all(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\nhi")
                .await
                .unwrap();
            tls.flush().await.unwrap();
            let mut buf = [0u8; 64];
            loop {
                // `Ok(0)` only after the client's close_notify: a TCP end without it is an
                // error here.
                let n = tls.read(&mut buf).await.expect("a clean TLS end");
                if n == 0 {
                    break;
                }
                tls.write_all(&buf[..n]).await.unwrap();
                tls.flush().await.unwrap();
            }
        },
        async {
            let req = http::Request::get(&url)
                .header("connection", "upgrade")
                .header("upgrade", "echo")
                .body(roundtrip::Body::empty())
                .unwrap();
            let mut resp = t.round_trip(req).await.unwrap();
            let mut stream = roundtrip::upgrade(&mut resp).unwrap();
            let mut hi = [0u8; 2];
            stream.read_exact(&mut hi).await.unwrap();
            assert_eq!(&hi, b"hi");
            stream.write_all(b"over tls").await.unwrap();
            stream.flush().await.unwrap();
            let mut back = [0u8; 8];
            stream.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, b"over tls");
            stream.close().await.unwrap();
        },
    );
    let s = balanced(&t);
    assert_eq!(
        (s.dials, s.closed(CloseReason::Upgraded), s.tls_handshakes),
        (1, 1, 1),
        "{s}"
    );
}
