//! Size peer: `get_rt` (see there) on hyper-util's pooled legacy `Client` and tokio's
//! current-thread runtime, with the bench's connector (in wasm32-wasip2 one on
//! `tokio::net::TcpStream::connect`).

use std::io::Write;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
#[path = "../hyper_connector.rs"]
mod hyper_connector;

use hyper_connector::{connector, Connector};

fn main() {
    let (url, n) = roundtrip_bench::get_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        let client: Client<Connector, Empty<Bytes>> =
            Client::builder(TokioExecutor::new()).build(connector());
        let uri: http::Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        for _ in 0..n {
            let resp = client.get(uri.clone()).await.map_err(|e| e.to_string())?;
            eprintln!("{:?} {}", resp.version(), resp.status());
            for (name, value) in resp.headers() {
                eprintln!("{name}: {}", String::from_utf8_lossy(value.as_bytes()));
            }
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            std::io::stdout()
                .write_all(&body)
                .map_err(|e| e.to_string())?;
        }
        Ok::<(), String>(())
    });
    roundtrip_bench::get_exit(result);
}
