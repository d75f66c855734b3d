//! `demo`: the `get` example plus an embedded HTTP/1.1 server, natively and as a
//! wasm32-wasip2 component. Without a URL it starts the server on a loopback port and fetches
//! from it; with one it is exactly `get`. With `--tls` the embedded server speaks https, with
//! a certificate for 127.0.0.1 made at start (rcgen), which the client trusts. `scripts/demo.sh`
//! runs it.
//!
//! ```text
//! demo [URL] [-n N] [-X METHOD] [-H 'Name: value']... [-d DATA] [--stats] [-q] [--tls]
//! cargo run --example demo -- -n 3 --stats --tls
//! ```

use std::process::ExitCode;

use futures_lite::future;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use roundtrip::codec::body::BodyDecoder;
use roundtrip::codec::response::Framing;
use roundtrip::net::TcpListener;

#[path = "common/cli.rs"]
mod cli;

use cli::{client, parse_args, usage};

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("get: {e}");
            }
            return usage();
        }
    };
    let mut args = args;
    roundtrip::net::block_on(async {
        match args.url.clone() {
            Some(url) => client(&args, &url).await,
            None => {
                let listener = match TcpListener::bind("127.0.0.1:0".parse().unwrap()) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("get: cannot start the embedded server: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let addr = listener.local_addr().unwrap();
                let tls = match tls::server(&mut args) {
                    Ok(tls) => tls,
                    Err(e) => {
                        eprintln!("demo: {e}");
                        return ExitCode::FAILURE;
                    }
                };
                let scheme = if tls.is_some() { "https" } else { "http" };
                let url = format!("{scheme}://{addr}/demo");
                eprintln!("* no URL given: serving {url} from an embedded server");
                // The server runs beside the client on this thread until the client is done.
                future::or(client(&args, &url), async {
                    serve(listener, tls).await;
                    ExitCode::FAILURE
                })
                .await
            }
        }
    })
}

/// The embedded demo server: HTTP/1.1 keep-alive (over TLS with `tls`), one connection at a
/// time, replies with a short text naming the request and its sequence number on the
/// connection.
async fn serve(listener: TcpListener, tls: Option<tls::Acceptor>) {
    let mut conn_no = 0;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        conn_no += 1;
        match &tls {
            None => serve_conn(stream, conn_no).await,
            Some(acceptor) => {
                if let Some(stream) = tls::accept(acceptor, stream).await {
                    serve_conn(stream, conn_no).await;
                }
            }
        }
    }
}

/// TLS for the embedded server (feature `tls`): a certificate for 127.0.0.1 made at start,
/// trusted by the client.
#[cfg(feature = "tls")]
mod tls {
    use std::sync::Arc;

    use futures_rustls::rustls::{self, pki_types::PrivateKeyDer};
    use roundtrip::net::TcpStream;

    pub type Acceptor = futures_rustls::TlsAcceptor;

    /// With `--tls`: a fresh certificate, trusted by `args`' client, and its acceptor.
    pub fn server(args: &mut super::cli::Args) -> Result<Option<Acceptor>, String> {
        if !args.tls {
            return Ok(None);
        }
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
            .map_err(|e| format!("certificate: {e}"))?;
        let key = PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| {
                b.with_no_client_auth()
                    .with_single_cert(vec![cert.cert.der().clone()], key)
            })
            .map_err(|e| format!("TLS server: {e}"))?;
        args.ca_pem = Some(cert.cert.pem());
        Ok(Some(Acceptor::from(Arc::new(config))))
    }

    pub async fn accept(
        acceptor: &Acceptor,
        stream: TcpStream,
    ) -> Option<futures_rustls::server::TlsStream<TcpStream>> {
        acceptor.accept(stream).await.ok()
    }
}

/// Without the `tls` feature `--tls` is refused.
#[cfg(not(feature = "tls"))]
mod tls {
    use roundtrip::net::TcpStream;

    pub enum Acceptor {}

    pub fn server(args: &mut super::cli::Args) -> Result<Option<Acceptor>, String> {
        match args.tls {
            true => Err("--tls needs roundtrip's `tls` feature".into()),
            false => Ok(None),
        }
    }

    pub async fn accept(acceptor: &Acceptor, _: TcpStream) -> Option<TcpStream> {
        match *acceptor {}
    }
}

async fn serve_conn(mut stream: impl AsyncRead + AsyncWrite + Unpin, conn_no: u32) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 8192];
    let mut served = 0;
    loop {
        // Read one request head.
        let (method, path, body_framing, used) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(used)) => {
                    let header = |n: &str| {
                        req.headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(n))
                            .map(|h| String::from_utf8_lossy(h.value).to_string())
                    };
                    let framing = if header("transfer-encoding").is_some() {
                        Framing::Chunked
                    } else {
                        match header("content-length").map(|v| v.parse::<u64>()) {
                            Some(Ok(n)) => Framing::Length(n),
                            Some(Err(_)) => return,
                            None => Framing::Empty,
                        }
                    };
                    break (
                        req.method.unwrap_or("GET").to_string(),
                        req.path.unwrap_or("/").to_string(),
                        framing,
                        used,
                    );
                }
                Ok(httparse::Status::Partial) => match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                Err(_) => return,
            }
        };
        buf.drain(..used);
        // Read (and count) the request body with roundtrip's own decoder.
        let mut decoder = BodyDecoder::new(body_framing);
        let mut body_len = 0usize;
        while !decoder.is_done() {
            if buf.is_empty() {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let Ok(step) = decoder.decode(&buf) else {
                return;
            };
            body_len += step.data.len();
            buf.drain(..step.consumed);
        }
        served += 1;
        let text = format!(
            "hello from roundtrip's embedded server: {method} {path} ({body_len} body bytes), \
             request {served} on connection {conn_no}\n"
        );
        let resp = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{}",
            text.len(),
            text
        );
        if stream.write_all(resp.as_bytes()).await.is_err() || stream.flush().await.is_err() {
            return;
        }
    }
}
