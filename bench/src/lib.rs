//! Shared plumbing for the contenders: arguments, scenarios, and the one-line JSON result.
//!
//! Every contender binary is called as `<bin> <scenario> <base-url> <N>` and prints exactly one
//! line on stdout:
//!
//! ```text
//! {"contender":"rt","scenario":"seq","requests":20000,"elapsed_s":1.234,"bytes":20480000,"ok":true}
//! ```
//!
//! or, on failure, `"ok":false` with an `"error"` string (and exit code 1).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Size of the small response (`/1k.bin`).
pub const SMALL: usize = 1024;
/// Size of the big response (`/16m.bin`).
pub const BIG: usize = 16 * 1024 * 1024;
/// Size of a POST body.
pub const POST_LEN: usize = 64 * 1024;
/// Concurrency of the `c64` scenario.
pub const CONCURRENCY: usize = 64;
/// The POST body, shared (never copied) by every request.
pub static POST_BODY: [u8; POST_LEN] = [b'x'; POST_LEN];

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// N sequential keep-alive GETs of 1 KiB.
    Seq,
    /// N GETs of 1 KiB from 64 concurrent workers (N/64 each, sequential per worker).
    C64,
    /// N sequential GETs of 16 MiB, streamed through a fixed buffer.
    Big,
    /// N sequential POSTs of 64 KiB.
    Post,
}

impl Scenario {
    /// The scenario's name on the command line and in the results.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Seq => "seq",
            Scenario::C64 => "c64",
            Scenario::Big => "big",
            Scenario::Post => "post",
        }
    }
    /// The request path.
    pub fn path(self) -> &'static str {
        match self {
            Scenario::Seq | Scenario::C64 => "/1k.bin",
            Scenario::Big => "/16m.bin",
            Scenario::Post => "/post",
        }
    }
    /// Whether the response is streamed (16 MiB) rather than read whole.
    pub fn streams(self) -> bool {
        self == Scenario::Big
    }
    /// Concurrent workers.
    pub fn workers(self) -> usize {
        if self == Scenario::C64 {
            CONCURRENCY
        } else {
            1
        }
    }
}

/// Parsed command line.
#[derive(Clone, Debug)]
pub struct Args {
    /// The scenario.
    pub scenario: Scenario,
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// Host and port (`127.0.0.1:PORT`).
    pub authority: String,
    /// Total number of requests.
    pub n: usize,
}

impl Args {
    /// Full URL of the scenario's resource.
    pub fn url(&self) -> String {
        format!("{}{}", self.base, self.scenario.path())
    }
    /// Requests per worker (the total is rounded up to a multiple of the worker count).
    pub fn per_worker(&self) -> usize {
        self.n.div_ceil(self.scenario.workers())
    }
    /// The total actually sent.
    pub fn total(&self) -> usize {
        self.per_worker() * self.scenario.workers()
    }
}

/// Parses `<scenario> <base-url> <N>`; exits 2 with usage on error.
pub fn args() -> Args {
    let v: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: {} seq|c64|big|post http://127.0.0.1:PORT N", v[0]);
        std::process::exit(2)
    };
    if v.len() != 4 {
        usage();
    }
    let scenario = match v[1].as_str() {
        "seq" => Scenario::Seq,
        "c64" => Scenario::C64,
        "big" => Scenario::Big,
        "post" => Scenario::Post,
        _ => usage(),
    };
    let base = v[2].trim_end_matches('/').to_string();
    let authority = base
        .strip_prefix("http://")
        .unwrap_or_else(|| usage())
        .to_string();
    let n = v[3].parse().unwrap_or_else(|_| usage());
    Args {
        scenario,
        base,
        authority,
        n,
    }
}

/// A stopwatch for the timed part of a run.
pub struct Timer(Instant);

impl Timer {
    /// Starts now.
    pub fn start() -> Timer {
        Timer(Instant::now())
    }
    /// Time since start.
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// Checks a response's size against the scenario.
pub fn check_len(scenario: Scenario, got: u64) -> Result<(), String> {
    let want = match scenario {
        Scenario::Seq | Scenario::C64 => SMALL as u64,
        Scenario::Big => BIG as u64,
        Scenario::Post => return Ok(()),
    };
    if got == want {
        Ok(())
    } else {
        Err(format!("body of {got} bytes, expected {want}"))
    }
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints the result line; on error exits 1.
///
/// `extra`: additional numeric fields (e.g. a client's own connection count).
pub fn report(
    contender: &str,
    args: &Args,
    result: Result<(usize, u64), String>,
    elapsed: Duration,
    extra: &[(&str, u64)],
) {
    let mut line = format!(
        "{{\"contender\":{},\"scenario\":{},\"elapsed_s\":{:.6}",
        json_str(contender),
        json_str(args.scenario.name()),
        elapsed.as_secs_f64()
    );
    for (k, v) in extra {
        let _ = write!(line, ",{}:{}", json_str(k), v);
    }
    let ok = result.is_ok();
    match result {
        Ok((requests, bytes)) => {
            let _ = write!(
                line,
                ",\"requests\":{requests},\"bytes\":{bytes},\"ok\":true}}"
            );
        }
        Err(e) => {
            let _ = write!(
                line,
                ",\"requests\":0,\"bytes\":0,\"ok\":false,\"error\":{}}}",
                json_str(&e)
            );
        }
    }
    println!("{line}");
    if !ok {
        std::process::exit(1);
    }
}

/// For binaries that do not exist on this target.
pub fn unsupported(contender: &str, why: &str) -> ! {
    println!(
        "{{\"contender\":{},\"ok\":false,\"error\":{}}}",
        json_str(contender),
        json_str(why)
    );
    std::process::exit(2)
}

/// Sums per-worker `(requests, bytes)` results, failing on the first error.
pub fn sum<E: std::fmt::Display>(
    results: Vec<Result<(usize, u64), E>>,
) -> Result<(usize, u64), String> {
    let mut total = (0, 0);
    for r in results {
        let (n, b) = r.map_err(|e| e.to_string())?;
        total.0 += n;
        total.1 += b;
    }
    Ok(total)
}

/// Arguments of the `get_*` size peers: `URL [N]` (N defaults to 1). Exits 2 on misuse.
pub fn get_args() -> (String, usize) {
    let mut it = std::env::args().skip(1);
    let url = it.next();
    let n = it.next().map(|n| n.parse::<usize>());
    match (url, n) {
        (Some(url), None) => (url, 1),
        (Some(url), Some(Ok(n))) => (url, n),
        _ => {
            eprintln!("usage: get_* URL [N]");
            std::process::exit(2);
        }
    }
}

/// Ends a `get_*` size peer: exit 0, or print the error and exit 1.
pub fn get_exit(result: Result<(), String>) {
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
