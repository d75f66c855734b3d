//! Size peer (wasm32-wasip2 only): `get_rt` (see there) on wstd's HTTP client over the host's
//! `wasi:http` (`wasmtime run -S http=y`).

#[cfg(not(target_os = "wasi"))]
fn main() {
    roundtrip_bench::unsupported("get_wstd", "wstd is wasm32-wasip2 only");
}

#[cfg(target_os = "wasi")]
fn main() {
    use std::io::Write;
    use wstd::http::{Body, Client, Request};

    let (url, n) = roundtrip_bench::get_args();
    let client = Client::new();
    let result = wstd::runtime::block_on(async {
        for _ in 0..n {
            let req = Request::get(url.as_str())
                .body(Body::empty())
                .map_err(|e| e.to_string())?;
            let resp = client.send(req).await.map_err(|e| format!("{e:?}"))?;
            eprintln!("{:?} {}", resp.version(), resp.status());
            for (name, value) in resp.headers() {
                eprintln!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
            }
            let mut body = resp.into_body();
            let body = body
                .contents()
                .await
                .map_err(|e| format!("{e:?}"))?
                .to_vec();
            std::io::stdout()
                .write_all(&body)
                .map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    });
    roundtrip_bench::get_exit(result);
}
