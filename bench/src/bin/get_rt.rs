//! Size peer: the smallest useful "get" on roundtrip. `get_rt URL [N]` fetches URL N times
//! (default 1) with one client and prints the status line and headers to stderr, the body
//! to stdout. `get_hyper` and `get_wstd` do exactly the same, for the component-size table.

use std::io::Write;

fn main() {
    let (url, n) = roundtrip_bench::get_args();
    let t = roundtrip::Transport::new();
    let result = roundtrip::net::block_on(async {
        for _ in 0..n {
            let mut resp = t.get(&url).await.map_err(|e| e.to_string())?;
            eprintln!("{:?} {}", resp.version(), resp.status());
            for (name, value) in resp.headers() {
                eprintln!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
            }
            let body = resp.body_mut().bytes().await.map_err(|e| e.to_string())?;
            std::io::stdout()
                .write_all(&body)
                .map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    });
    roundtrip_bench::get_exit(result);
}
