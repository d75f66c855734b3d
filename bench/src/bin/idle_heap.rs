//! Heap bytes per idle pooled connection (native only), with a counting global allocator.
//!
//! `idle_heap <rt|hyper-pool|ureq> <base-url> <K1> <K2>`: for K in (K1, K2), a fresh client
//! opens K connections with K concurrent GETs of 1 KiB, reads every body, lets the
//! connections go idle in its pool, and measures the live heap growth since just before the
//! first request. Prints both growths and the marginal bytes per idle connection
//! (growth(K2) - growth(K1)) / (K2 - K1), which leaves out fixed costs (the pool's map, a
//! runtime's first allocations).

#[cfg(target_os = "wasi")]
fn main() {
    roundtrip_bench::unsupported("idle_heap", "native only");
}

#[cfg(not(target_os = "wasi"))]
fn main() {
    imp::main()
}

#[cfg(not(target_os = "wasi"))]
mod imp {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicIsize, Ordering};
    use std::time::Duration;

    struct Counting;
    static LIVE: AtomicIsize = AtomicIsize::new(0);

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = System.alloc(l);
            if !p.is_null() {
                LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            let p = System.alloc_zeroed(l);
            if !p.is_null() {
                LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            System.dealloc(p, l);
            LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
            let q = System.realloc(p, l, new);
            if !q.is_null() {
                LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
            }
            q
        }
    }

    #[global_allocator]
    static ALLOC: Counting = Counting;

    fn live() -> isize {
        LIVE.load(Ordering::Relaxed)
    }

    /// Heap growth with `k` idle connections, and the client's own idle count if it has one.
    fn rt(url: &str, k: usize) -> Result<(isize, Option<u64>), String> {
        use roundtrip::{Body, Transport};
        roundtrip::net::block_on(async {
            let t = Transport::new();
            let before = live();
            let reqs = (0..k).map(|_| async {
                let req = http::Request::get(url)
                    .body(Body::empty())
                    .map_err(|e| e.to_string())?;
                let mut resp = t.round_trip(req).await.map_err(|e| e.to_string())?;
                let body = resp.body_mut().bytes().await.map_err(|e| e.to_string())?;
                drop(resp);
                Ok::<usize, String>(body.len())
            });
            for r in futures_util::future::join_all(reqs).await {
                r?;
            }
            let grown = live() - before;
            let s = t.stats();
            if s.dials != k as u64 {
                return Err(format!("expected {k} dials, got {}", s.dials));
            }
            Ok((grown, Some(s.idle)))
        })
    }

    fn hyper_pool(url: &str, k: usize) -> Result<(isize, Option<u64>), String> {
        use bytes::Bytes;
        use http_body_util::{BodyExt, Empty};
        use hyper_util::client::legacy::{connect::HttpConnector, Client};
        use hyper_util::rt::TokioExecutor;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let mut c = HttpConnector::new();
            c.set_nodelay(true);
            let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(c);
            // Let the runtime settle its own first allocations.
            tokio::time::sleep(Duration::from_millis(10)).await;
            let before = live();
            let uri: http::Uri = url
                .parse()
                .map_err(|e: http::uri::InvalidUri| e.to_string())?;
            let reqs = (0..k).map(|_| async {
                let resp = client.get(uri.clone()).await.map_err(|e| e.to_string())?;
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| e.to_string())?
                    .to_bytes();
                Ok::<usize, String>(body.len())
            });
            for r in futures_util::future::join_all(reqs).await {
                r?;
            }
            // The connection tasks hand their connections back to the pool asynchronously.
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok((live() - before, None))
        })
    }

    fn ureq(url: &str, k: usize) -> Result<(isize, Option<u64>), String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_connections(k.max(1))
            .max_idle_connections_per_host(k.max(1))
            .build()
            .into();
        let before = live();
        // A barrier so that all K requests are in flight at once (K connections).
        let barrier = std::sync::Barrier::new(k);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..k)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let mut resp = agent.get(url).call().map_err(|e| e.to_string())?;
                        let body = resp.body_mut().read_to_vec().map_err(|e| e.to_string())?;
                        Ok::<usize, String>(body.len())
                    })
                })
                .collect();
            for h in hs {
                h.join().map_err(|_| "thread panicked".to_string())??;
            }
            Ok::<(), String>(())
        })?;
        Ok((live() - before, None))
    }

    pub fn main() {
        let v: Vec<String> = std::env::args().collect();
        if v.len() != 5 {
            eprintln!("usage: idle_heap rt|hyper-pool|ureq BASE_URL K1 K2");
            std::process::exit(2);
        }
        let url = format!("{}/1k.bin", v[2].trim_end_matches('/'));
        let k1: usize = v[3].parse().expect("K1");
        let k2: usize = v[4].parse().expect("K2");
        let run = |k| match v[1].as_str() {
            "rt" => rt(&url, k),
            "hyper-pool" => hyper_pool(&url, k),
            "ureq" => ureq(&url, k),
            other => Err(format!("unknown client {other}")),
        };
        match (run(k1), run(k2)) {
            (Ok((g1, i1)), Ok((g2, i2))) => {
                let per = (g2 - g1) as f64 / (k2 - k1) as f64;
                let idle = |i: Option<u64>| i.map_or("null".to_string(), |n| n.to_string());
                println!(
                    "{{\"contender\":\"{}\",\"k1\":{k1},\"k2\":{k2},\"heap_k1\":{g1},\"heap_k2\":{g2},\"idle_k1\":{},\"idle_k2\":{},\"bytes_per_idle_conn\":{per:.1},\"ok\":true}}",
                    v[1],
                    idle(i1),
                    idle(i2)
                );
            }
            (Err(e), _) | (_, Err(e)) => {
                println!(
                    "{{\"contender\":\"{}\",\"ok\":false,\"error\":{:?}}}",
                    v[1], e
                );
                std::process::exit(1);
            }
        }
    }
}
