//! Contender (wasm32-wasip2 only): wstd's HTTP client over the host's `wasi:http`
//! (`wasmtime run -S http=y`). The host opens its own TCP connection per request; there is no
//! pool in the guest. Concurrency: 64 futures joined under `wstd::runtime::block_on`.

#[cfg(not(target_os = "wasi"))]
fn main() {
    roundtrip_bench::unsupported("wstd", "wstd is wasm32-wasip2 only");
}

#[cfg(target_os = "wasi")]
fn main() {
    use roundtrip_bench::{args, report, sum, Timer};
    let a = args();
    let client = wstd::http::Client::new();
    let url = a.url();
    let timer = Timer::start();
    let result = wstd::runtime::block_on(async {
        let per = a.per_worker();
        let workers = (0..a.scenario.workers()).map(|_| imp::worker(&client, &a, &url, per));
        futures_util::future::join_all(workers).await
    });
    let elapsed = timer.elapsed();
    let failed = result
        .iter()
        .map(|r| r.as_ref().map_or(0, |r| r.2))
        .sum::<u64>();
    let result = sum(result
        .into_iter()
        .map(|r| r.map(|(n, b, _)| (n, b)))
        .collect());
    report("wstd", &a, result, elapsed, &[("failed_requests", failed)]);
}

#[cfg(target_os = "wasi")]
mod imp {
    use roundtrip_bench::{check_len, Args, Scenario, POST_BODY};
    use wstd::http::{Body, BodyExt, Client, Request};

    /// Requests that fail are counted and skipped (wasmtime's wasi:http host resets some
    /// fresh connections); the run fails only if every request does. Returns
    /// `(ok requests, bytes, failed requests)`.
    pub async fn worker(
        client: &Client,
        a: &Args,
        url: &str,
        count: usize,
    ) -> Result<(usize, u64, u64), String> {
        let (mut ok, mut bytes, mut failed) = (0, 0u64, 0u64);
        let mut first_error = None;
        for i in 0..count {
            match one(client, a, url).await {
                Ok(got) => {
                    ok += 1;
                    bytes += got;
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| format!("request {} of {count}: {e}", i + 1));
                }
            }
        }
        match first_error {
            Some(e) if ok == 0 => Err(format!("every request failed; first: {e}")),
            Some(e) => {
                eprintln!("wstd: {failed} of {count} requests failed; first: {e}");
                Ok((ok, bytes, failed))
            }
            None => Ok((ok, bytes, 0)),
        }
    }

    async fn one(client: &Client, a: &Args, url: &str) -> Result<u64, String> {
        let req = match a.scenario {
            Scenario::Post => {
                Request::post(url).body(Body::from(bytes::Bytes::from_static(&POST_BODY)))
            }
            _ => Request::get(url).body(Body::empty()),
        }
        .map_err(|e| e.to_string())?;
        let resp = client.send(req).await.map_err(|e| format!("send: {e:?}"))?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()));
        }
        let mut body = resp.into_body();
        let got = if a.scenario.streams() {
            let mut body = body.into_boxed_body();
            let mut got = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(|e| format!("read body: {e:?}"))?.into_data() {
                    got += data.len() as u64;
                }
            }
            got
        } else {
            body.contents()
                .await
                .map_err(|e| format!("read body: {e:?}"))?
                .len() as u64
        };
        check_len(a.scenario, got)?;
        Ok(got)
    }
}
