//! Contender: hyper-util's legacy pooled `Client` (hyper 1.x) on tokio's current-thread
//! runtime. Natively with hyper-util's `HttpConnector` (nodelay on, as roundtrip and ureq
//! set it); in wasm32-wasip2 with a small connector on `tokio::net::TcpStream::connect`,
//! because `HttpConnector` fails there ("tcp set_nonblocking error").

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use roundtrip_bench::{args, check_len, report, sum, Args, Scenario, Timer, POST_BODY};

type Body = http_body_util::Either<Empty<Bytes>, Full<Bytes>>;

#[path = "../hyper_connector.rs"]
mod hyper_connector;

use hyper_connector::{connector, Connector};

async fn worker(
    client: &Client<Connector, Body>,
    a: &Args,
    count: usize,
) -> Result<(usize, u64), String> {
    let url: http::Uri = a
        .url()
        .parse()
        .map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let mut bytes = 0u64;
    for _ in 0..count {
        let req = match a.scenario {
            Scenario::Post => http::Request::post(url.clone())
                .body(Body::Right(Full::new(Bytes::from_static(&POST_BODY)))),
            _ => http::Request::get(url.clone()).body(Body::Left(Empty::new())),
        }
        .map_err(|e| e.to_string())?;
        let resp = client.request(req).await.map_err(|e| format!("{e:?}"))?;
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
        let client: Client<Connector, Body> =
            Client::builder(TokioExecutor::new()).build(connector());
        let per = a.per_worker();
        if a.scenario.workers() == 1 {
            worker(&client, &a, per).await
        } else {
            let workers = (0..a.scenario.workers()).map(|_| worker(&client, &a, per));
            sum(futures_util::future::join_all(workers).await)
        }
    });
    report("hyper-pool", &a, result, timer.elapsed(), &[]);
}
