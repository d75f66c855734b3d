//! Contender (native only): ureq 3, blocking, `default-features = false` (no TLS), one
//! `Agent` (its pool sized for 64 idle connections). Concurrency: 64 threads sharing it.

#[cfg(target_os = "wasi")]
fn main() {
    roundtrip_bench::unsupported("ureq", "ureq is native only in this bench");
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    use roundtrip_bench::{args, report, sum, Timer};
    let a = args();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections(64)
        .max_idle_connections_per_host(64)
        .build()
        .into();
    let url = a.url();
    let timer = Timer::start();
    let per = a.per_worker();
    let result = if a.scenario.workers() == 1 {
        imp::worker(&agent, &a, &url, per)
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..a.scenario.workers())
                .map(|_| s.spawn(|| imp::worker(&agent, &a, &url, per)))
                .collect();
            sum(handles
                .into_iter()
                .map(|h| h.join().expect("worker panicked"))
                .collect())
        })
    };
    report("ureq", &a, result, timer.elapsed(), &[]);
}

#[cfg(not(target_os = "wasi"))]
mod imp {
    use std::io::Read;

    use roundtrip_bench::{check_len, Args, Scenario, POST_BODY};

    pub fn worker(
        agent: &ureq::Agent,
        a: &Args,
        url: &str,
        count: usize,
    ) -> Result<(usize, u64), String> {
        // The streaming buffer only where a scenario streams: 64 workers × 64 KiB would
        // otherwise add 4 MiB to the c64 peak RSS that is the harness's, not the client's.
        let mut buf = if a.scenario.streams() {
            vec![0u8; 64 * 1024]
        } else {
            Vec::new()
        };
        let mut bytes = 0u64;
        for _ in 0..count {
            let mut resp = match a.scenario {
                Scenario::Post => agent.post(url).send(&POST_BODY[..]),
                _ => agent.get(url).call(),
            }
            .map_err(|e| e.to_string())?;
            let got = if a.scenario.streams() {
                let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
                let mut got = 0u64;
                loop {
                    let n = reader.read(&mut buf).map_err(|e| e.to_string())?;
                    if n == 0 {
                        break got;
                    }
                    got += n as u64;
                }
            } else {
                resp.body_mut()
                    .read_to_vec()
                    .map_err(|e| e.to_string())?
                    .len() as u64
            };
            check_len(a.scenario, got)?;
            bytes += got;
        }
        Ok((count, bytes))
    }
}
