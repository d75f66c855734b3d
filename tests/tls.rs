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
