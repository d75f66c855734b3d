//! The command line shared by the `get` and `demo` examples: options, and the client loop.

use std::io::Write;
use std::process::ExitCode;

use roundtrip::{Body, Transport};

/// Parsed options.
pub struct Args {
    pub url: Option<String>,
    pub count: usize,
    pub method: http::Method,
    pub headers: Vec<(String, String)>,
    pub data: Option<String>,
    pub stats: bool,
    pub quiet: bool,
    /// `--cacert FILE`: trust the PEM roots in FILE (in a component: a path inside a
    /// `--dir` preopen).
    pub cacert: Option<String>,
    /// `-k` / `--insecure`: accept any server certificate.
    pub insecure: bool,
    /// `--tls` (demo only): the embedded server speaks https.
    pub tls: bool,
    /// A root certificate to trust, as PEM (the demo's embedded server's).
    pub ca_pem: Option<String>,
    /// `--raw`: no decompression (it is on by default, as curl's `--compressed`, which is
    /// accepted and changes nothing).
    pub raw: bool,
}

/// Prints the usage line; exit status 2.
pub fn usage() -> ExitCode {
    eprintln!(
        "usage: get|demo [URL] [-n N] [-X METHOD] [-H 'Name: value']... [-d DATA] [--stats] [-q] \
         [--cacert FILE] [-k|--insecure] [--raw|--compressed] [--tls (demo)]"
    );
    ExitCode::from(2)
}

/// Parses the process arguments; `Err` holds a message (empty for `--help`).
pub fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        url: None,
        count: 1,
        method: http::Method::GET,
        headers: Vec::new(),
        data: None,
        stats: false,
        quiet: false,
        cacert: None,
        insecure: false,
        tls: false,
        ca_pem: None,
        raw: false,
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
            "--cacert" => args.cacert = Some(value("--cacert")?),
            "-k" | "--insecure" => args.insecure = true,
            "--tls" => args.tls = true,
            "--raw" => args.raw = true,
            "--compressed" => args.raw = false,
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

/// The transport for `args`: with `--cacert` roots and `-k`.
#[cfg(feature = "tls")]
fn transport(args: &Args) -> Result<Transport, roundtrip::Error> {
    let mut builder = compression(Transport::builder(), args);
    if let Some(file) = &args.cacert {
        builder = builder.root_certificates_file(file)?;
    }
    if let Some(pem) = &args.ca_pem {
        builder = builder.add_root_certificates(pem.as_bytes())?;
    }
    Ok(builder.danger_accept_invalid_certs(args.insecure).build())
}

/// Without the `tls` feature the TLS options are refused.
#[cfg(not(feature = "tls"))]
fn transport(args: &Args) -> Result<Transport, roundtrip::Error> {
    if args.cacert.is_some() || args.insecure || args.ca_pem.is_some() {
        return Err(roundtrip::Error::TlsConfig {
            reason: "--cacert and -k need roundtrip's `tls` feature".into(),
        });
    }
    Ok(compression(Transport::builder(), args).build())
}

/// Decompression, unless `--raw` (and the `decompress` feature is there).
fn compression(builder: roundtrip::TransportBuilder, args: &Args) -> roundtrip::TransportBuilder {
    #[cfg(feature = "decompress")]
    return builder.disable_compression(args.raw);
    #[cfg(not(feature = "decompress"))]
    {
        let _ = args;
        builder
    }
}

/// Sends the request `args.count` times on one transport, printing each response.
pub async fn client(args: &Args, url: &str) -> ExitCode {
    let transport = match transport(args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
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
