//! The connector the hyper-util contenders use: hyper-util's `HttpConnector` natively; in
//! wasm32-wasip2 a small one on `tokio::net::TcpStream::connect`, because `HttpConnector`
//! is reported to fail there ("tcp set_nonblocking error").
//! Included by the hyper-util binaries with `#[path]` (not part of the bench library, so
//! that the other binaries do not link tokio).

/// The connector type.
#[cfg(not(target_os = "wasi"))]
pub type Connector = hyper_util::client::legacy::connect::HttpConnector;

/// A connector (nodelay on natively, as roundtrip and ureq set it).
#[cfg(not(target_os = "wasi"))]
pub fn connector() -> Connector {
    let mut c = Connector::new();
    c.set_nodelay(true);
    c
}

#[cfg(target_os = "wasi")]
pub use wasi_connector::Connector;

/// A connector.
#[cfg(target_os = "wasi")]
pub fn connector() -> Connector {
    Connector
}

#[cfg(target_os = "wasi")]
mod wasi_connector {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper_util::rt::TokioIo;
    use tokio::net::TcpStream;

    /// Connects with `tokio::net::TcpStream::connect` to the URI's host and port.
    #[derive(Clone, Copy, Debug)]
    pub struct Connector;

    impl tower_service::Service<http::Uri> for Connector {
        type Response = TokioIo<TcpStream>;
        type Error = std::io::Error;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, uri: http::Uri) -> Self::Future {
            Box::pin(async move {
                let host = uri.host().unwrap_or("127.0.0.1").to_string();
                let port = uri.port_u16().unwrap_or(80);
                Ok(TokioIo::new(
                    TcpStream::connect((host.as_str(), port)).await?,
                ))
            })
        }
    }
}
