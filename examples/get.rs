//! `get`: a small curl on roundtrip, natively and as a wasm32-wasip2 component.
//!
//! ```text
//! get [URL] [-n N] [-X METHOD] [-H 'Name: value']... [-d DATA] [--stats] [-q]
//! ```
//!
//! Prints each response's status line and headers to stderr and its body to stdout. `-n N`
//! sends the request N times on one transport (so the connection is reused); `--stats` prints
//! the pool statistics at the end; `-q` prints bodies only once (the last). Without a URL it
//! starts an embedded HTTP/1.1 server on a loopback port and fetches from it.
//!
//! ```text
//! cargo run --example get -- -n 3 --stats
//! cargo run --example get --target wasm32-wasip2 -- -n 3 --stats http://127.0.0.1:8080/
//! ```

use std::io::Write;
use std::process::ExitCode;

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use roundtrip::codec::body::BodyDecoder;
use roundtrip::codec::response::Framing;
use roundtrip::net::{TcpListener, TcpStream};
use roundtrip::{Body, Transport};

struct Args {
    url: Option<String>,
    count: usize,
    method: http::Method,
    headers: Vec<(String, String)>,
    data: Option<String>,
    stats: bool,
    quiet: bool,
}

fn usage() -> ExitCode {
    eprintln!("usage: get [URL] [-n N] [-X METHOD] [-H 'Name: value']... [-d DATA] [--stats] [-q]");
    ExitCode::from(2)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: None,
        count: 1,
        method: http::Method::GET,
        headers: Vec::new(),
        data: None,
        stats: false,
        quiet: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "-n" => args.count = value("-n")?.parse().map_err(|_| "-n takes a number")?,
            "-X" => {
                args.method = value("-X")?.parse().map_err(|_| "invalid method")?;
            }
            "-H" => {
                let h = value("-H")?;
                let (name, val) = h.split_once(':').ok_or("-H takes 'Name: value'")?;
                args.headers
                    .push((name.trim().to_string(), val.trim().to_string()));
            }
            "-d" => args.data = Some(value("-d")?),
            "--stats" => args.stats = true,
            "-q" => args.quiet = true,
            "-h" | "--help" => return Err(String::new()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}")),
            _ => args.url = Some(arg),
        }
    }
    if args.data.is_some() && args.method == http::Method::GET {
        args.method = http::Method::POST;
    }
    Ok(args)
}

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
                let url = format!("http://{}/demo", listener.local_addr().unwrap());
                eprintln!("* no URL given: serving {url} from an embedded server");
                // The server runs beside the client on this thread until the client is done.
                future::or(client(&args, &url), async {
                    serve(listener).await;
                    ExitCode::FAILURE
                })
                .await
            }
        }
    })
}

async fn client(args: &Args, url: &str) -> ExitCode {
    let transport = Transport::new();
    let mut stdout = std::io::stdout();
    for i in 0..args.count {
        let mut req = http::Request::builder()
            .method(args.method.clone())
            .uri(url);
        for (name, value) in &args.headers {
            req = req.header(name, value);
        }
        let body = args.data.clone().map_or_else(Body::empty, Body::from);
        let req = match req.body(body) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("get: {e}");
                return ExitCode::from(2);
            }
        };
        let mut resp = match transport.round_trip(req).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("get: {e}");
                return ExitCode::FAILURE;
            }
        };
        let last = i + 1 == args.count;
        if !args.quiet || last {
            eprintln!("< {:?} {}", resp.version(), resp.status());
            for (name, value) in resp.headers() {
                eprintln!("< {}: {}", name, String::from_utf8_lossy(value.as_bytes()));
            }
        }
        match resp.body_mut().bytes().await {
            Ok(body) if !args.quiet || last => {
                let _ = stdout.write_all(&body);
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("get: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let _ = stdout.flush();
    if args.stats {
        eprintln!("* pool: {}", transport.stats());
    }
    ExitCode::SUCCESS
}

/// The embedded demo server: HTTP/1.1 keep-alive, one connection at a time, replies with a
/// short text naming the request and its sequence number on the connection.
async fn serve(listener: TcpListener) {
    let mut conn_no = 0;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        conn_no += 1;
        serve_conn(stream, conn_no).await;
    }
}

async fn serve_conn(mut stream: TcpStream, conn_no: u32) {
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
