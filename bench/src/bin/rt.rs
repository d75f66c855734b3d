//! Contender: roundtrip (natively on async-io, in wasm32-wasip2 on wasi:sockets), driven by
//! `roundtrip::net::block_on`. Concurrency: 64 round-trip futures joined on one thread
//! (`futures_util::future::join_all`, which polls only the futures that were woken).

use futures_lite::future::poll_fn;
use roundtrip::{Body, Transport};
use roundtrip_bench::{args, check_len, report, sum, Args, Scenario, Timer, POST_BODY};

async fn worker(t: &Transport, a: &Args, url: &str, count: usize) -> Result<(usize, u64), String> {
    // The streaming buffer only where a scenario streams: 64 workers × 64 KiB would
    // otherwise add 4 MiB to the c64 peak RSS that is the harness's, not the client's.
    let mut buf = if a.scenario.streams() {
        vec![0u8; 64 * 1024]
    } else {
        Vec::new()
    };
    let mut bytes = 0u64;
    for _ in 0..count {
        let req = match a.scenario {
            Scenario::Post => http::Request::post(url).body(Body::from(&POST_BODY[..])),
            _ => http::Request::get(url).body(Body::empty()),
        }
        .map_err(|e| e.to_string())?;
        let mut resp = t.round_trip(req).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()));
        }
        let got = if a.scenario.streams() {
            let mut got = 0u64;
            loop {
                let n = poll_fn(|cx| resp.body_mut().poll_read_body(cx, &mut buf))
                    .await
                    .map_err(|e| e.to_string())?;
                if n == 0 {
                    break got;
                }
                got += n as u64;
            }
        } else {
            resp.body_mut()
                .bytes()
                .await
                .map_err(|e| e.to_string())?
                .len() as u64
        };
        check_len(a.scenario, got)?;
        bytes += got;
    }
    Ok((count, bytes))
}

fn main() {
    let a = args();
    let url = a.url();
    let t = Transport::new();
    let timer = Timer::start();
    let result = roundtrip::net::block_on(async {
        let per = a.per_worker();
        if a.scenario.workers() == 1 {
            worker(&t, &a, &url, per).await
        } else {
            let workers = (0..a.scenario.workers()).map(|_| worker(&t, &a, &url, per));
            sum(futures_util::future::join_all(workers).await)
        }
    });
    let elapsed = timer.elapsed();
    let s = t.stats();
    report(
        "rt",
        &a,
        result,
        elapsed,
        &[("dials", s.dials), ("reuses", s.reuses)],
    );
}
