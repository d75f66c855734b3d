//! Contender: hyper 1.x's single-connection `hyper::client::conn::http1` over
//! `tokio::net::TcpStream` (hyper-util's `TokioIo`), on tokio's current-thread runtime: the
//! no-pool floor. Each worker owns one connection for all its requests (so `c64` uses 64).
//! Natively and in wasm32-wasip2 (tokio >= 1.51 with `--cfg tokio_unstable`).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use roundtrip_bench::{args, check_len, report, sum, Args, Scenario, Timer, POST_BODY};
use tokio::net::TcpStream;

type Body = http_body_util::Either<Empty<Bytes>, Full<Bytes>>;

async fn worker(a: &Args, count: usize) -> Result<(usize, u64), String> {
    let stream = TcpStream::connect(&a.authority)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    #[cfg(not(target_os = "wasi"))]
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let path = a.scenario.path();
    let mut bytes = 0u64;
    for _ in 0..count {
        let req = match a.scenario {
            Scenario::Post => http::Request::post(path)
                .header(http::header::HOST, &a.authority)
                .body(Body::Right(Full::new(Bytes::from_static(&POST_BODY)))),
            _ => http::Request::get(path)
                .header(http::header::HOST, &a.authority)
                .body(Body::Left(Empty::new())),
        }
        .map_err(|e| e.to_string())?;
        sender.ready().await.map_err(|e| e.to_string())?;
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status()));
        }
        let mut body = resp.into_body();
        let got = if a.scenario.streams() {
            let mut got = 0u64;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                    got += data.len() as u64;
                }
            }
            got
        } else {
            body.collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes()
                .len() as u64
        };
        check_len(a.scenario, got)?;
        bytes += got;
    }
    Ok((count, bytes))
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let timer = Timer::start();
    let result = rt.block_on(async {
        let per = a.per_worker();
        if a.scenario.workers() == 1 {
            worker(&a, per).await
        } else {
            sum(
                futures_util::future::join_all((0..a.scenario.workers()).map(|_| worker(&a, per)))
                    .await,
            )
        }
    });
    report("hyper-conn", &a, result, timer.elapsed(), &[]);
}
