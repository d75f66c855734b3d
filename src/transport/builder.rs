//! Configuration: [`TransportBuilder`], and the runtime settings the transport keeps.

use std::rc::Rc;
use std::time::Duration;

use super::shared::Shared;
use super::Transport;
use crate::codec::response::DEFAULT_MAX_HEAD_BYTES;
use crate::pool::PoolConfig;

/// Default `max_idle_per_host`. Go's default of 2 makes any burst of more than two concurrent
/// requests to one host dial, then close, the extra connections every time (churn and
/// TIME_WAIT build-up, golang/go#13801). A component usually talks to few hosts, so keeping
/// up to 64 warm per host costs little (an idle connection holds ~8 KiB of buffer).
pub const DEFAULT_MAX_IDLE_PER_HOST: usize = 64;
/// Default `max_idle_total`, across all hosts.
pub const DEFAULT_MAX_IDLE_TOTAL: usize = 256;
/// Default `idle_timeout` (Go and hyper use 90 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default `connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `max_collect_bytes`: the most [`ResponseBody::bytes`](crate::ResponseBody::bytes)
/// and `text` read into memory.
pub const DEFAULT_MAX_COLLECT_BYTES: usize = 16 * 1024 * 1024;
/// Default `expect_continue_timeout` (Go's `DefaultTransport` uses 1 s).
pub const DEFAULT_EXPECT_CONTINUE_TIMEOUT: Duration = Duration::from_secs(1);

/// The transport's own settings (the pool keeps its own, [`PoolConfig`]). Fixed at build.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) response_header_timeout: Option<Duration>,
    pub(crate) max_response_head_bytes: usize,
    pub(crate) max_collect_bytes: usize,
    pub(crate) retry_stale: bool,
    pub(crate) expect_continue_timeout: Option<Duration>,
    /// Ask for and decode `gzip` / `deflate` bodies (feature `decompress`).
    #[cfg(feature = "decompress")]
    pub(crate) decompress: bool,
}

/// Configures a [`Transport`].
///
/// ```
/// use std::time::Duration;
/// let transport = roundtrip::Transport::builder()
///     .max_idle_per_host(8)
///     .idle_timeout(Some(Duration::from_secs(30)))
///     .response_header_timeout(Some(Duration::from_secs(10)))
///     .build();
/// assert_eq!(transport.stats().dials, 0);
/// ```
#[derive(Clone, Debug)]
pub struct TransportBuilder {
    pool: PoolConfig,
    config: Config,
    #[cfg(feature = "tls")]
    tls: super::tls::TlsSettings,
}

impl Default for TransportBuilder {
    fn default() -> Self {
        TransportBuilder {
            pool: PoolConfig {
                max_idle_per_host: DEFAULT_MAX_IDLE_PER_HOST,
                max_idle_total: DEFAULT_MAX_IDLE_TOTAL,
                idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
                disable_keep_alives: false,
                max_conns_per_host: None,
            },
            config: Config {
                connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
                response_header_timeout: None,
                max_response_head_bytes: DEFAULT_MAX_HEAD_BYTES,
                max_collect_bytes: DEFAULT_MAX_COLLECT_BYTES,
                retry_stale: true,
                expect_continue_timeout: Some(DEFAULT_EXPECT_CONTINUE_TIMEOUT),
                #[cfg(feature = "decompress")]
                decompress: true,
            },
            #[cfg(feature = "tls")]
            tls: super::tls::TlsSettings::default(),
        }
    }
}

impl TransportBuilder {
    /// Idle connections kept per `(scheme, host, port)`; 0 disables pooling. Default
    /// [`DEFAULT_MAX_IDLE_PER_HOST`].
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.pool.max_idle_per_host = n;
        self
    }

    /// Idle connections kept across all hosts; over it, the one idle longest is closed.
    /// Default [`DEFAULT_MAX_IDLE_TOTAL`].
    pub fn max_idle_total(mut self, n: usize) -> Self {
        self.pool.max_idle_total = n;
        self
    }

    /// How long a connection may sit idle before it is closed instead of reused; `None`: no
    /// limit. Expiry is checked whenever the transport is used (there is no background task);
    /// [`Transport::prune_idle`] closes expired connections on demand. Default 90 s.
    pub fn idle_timeout(mut self, t: Option<Duration>) -> Self {
        self.pool.idle_timeout = t;
        self
    }

    /// Limit on connections per `(scheme, host, port)`, counting those being dialed, in use
    /// and idle; `None` (the default): no limit. Requests over the limit wait in FIFO order
    /// for a connection to come back or for a slot to free up (see [`PoolStats::waiting`]).
    /// Dropping a waiting request leaves the queue. `Some(0)` means no limit, as 0 does for
    /// Go's `MaxConnsPerHost`.
    ///
    /// A connection handed to a waiting request, or a dial started for it, is held by that
    /// request until it is polled or dropped: a future kept aside unpolled (say, the loser of
    /// a `select`) makes later requests to the host wait behind it. Drop round-trip futures
    /// you stop polling.
    ///
    /// [`PoolStats::waiting`]: crate::PoolStats::waiting
    pub fn max_conns_per_host(mut self, n: Option<usize>) -> Self {
        self.pool.max_conns_per_host = n.filter(|&n| n > 0);
        self
    }

    /// Send `Connection: close` on every request and never pool. Default false.
    pub fn disable_keep_alives(mut self, yes: bool) -> Self {
        self.pool.disable_keep_alives = yes;
        self
    }

    /// Limit on establishing a connection: name lookup, TCP connect and, for `https`, the TLS
    /// handshake (a server that accepts but never answers the ClientHello ends in
    /// [`Error::ConnectTimeout`](crate::Error::ConnectTimeout)). `None`: no limit, not even on
    /// the handshake. Default 30 s.
    pub fn connect_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.connect_timeout = t;
        self
    }

    /// Limit on waiting for the response head once the request is fully written. Default:
    /// none.
    pub fn response_header_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.response_header_timeout = t;
        self
    }

    /// Limit on the size of a response head (status line and headers), interim `1xx` heads
    /// included. Clamped to 64 B ..= 1 GiB. Default
    /// [`DEFAULT_MAX_HEAD_BYTES`](crate::codec::response::DEFAULT_MAX_HEAD_BYTES).
    pub fn max_response_head_bytes(mut self, n: usize) -> Self {
        self.config.max_response_head_bytes = n.clamp(64, 1 << 30);
        self
    }

    /// The most [`ResponseBody::bytes`](crate::ResponseBody::bytes) and `text` collect into
    /// memory; a longer body fails with [`Error::BodyTooLarge`](crate::Error::BodyTooLarge)
    /// (a convenience call must not let a server exhaust a component's memory). Reading the
    /// body as a stream has no limit. Default [`DEFAULT_MAX_COLLECT_BYTES`] (16 MiB).
    pub fn max_collect_bytes(mut self, n: usize) -> Self {
        self.config.max_collect_bytes = n;
        self
    }

    /// Send a request again, once per failure, when a connection taken from the pool fails
    /// before any byte of a response arrives (the server closed it while it sat idle) and
    /// either none of the request was written (any method, any body: it comes back untouched)
    /// or the request is replayable: GET, HEAD, OPTIONS or TRACE, or any method with an
    /// `Idempotency-Key` / `X-Idempotency-Key` header, with an in-memory body. A freshly
    /// dialed connection, a timeout and a failure of the caller's body are never retried
    /// (Go's rule). Default true.
    pub fn retry_stale_connections(mut self, yes: bool) -> Self {
        self.config.retry_stale = yes;
        self
    }

    /// How long a request with `Expect: 100-continue` (and a body) waits, once its head is
    /// sent, for the server's `100 Continue` before sending the body anyway. A final response
    /// that comes first (`417 Expectation Failed`, `401`, `413`, …) is the answer: the body
    /// is not sent, the connection is closed (reason `EarlyResponse`, or the one the response
    /// gave), and the body goes back to the caller through
    /// [`ResponseBody::take_unsent_body`](crate::ResponseBody::take_unsent_body). (Go sends
    /// the body after such an answer unless the server said close, to keep the connection;
    /// roundtrip does not upload what the server declined.) `None`: no wait, the body follows
    /// the head at once (Go's zero). Interim responses (`103`, …) before the `100` are shown
    /// to the request's [`OnInformational`](crate::OnInformational) hook and do not end the
    /// wait. Default [`DEFAULT_EXPECT_CONTINUE_TIMEOUT`] (1 s, Go's).
    ///
    /// ```no_run
    /// # roundtrip::net::block_on(async {
    /// let transport = roundtrip::Transport::builder()
    ///     .expect_continue_timeout(Some(std::time::Duration::from_millis(500)))
    ///     .build();
    /// let request = http::Request::put("http://127.0.0.1:8080/upload")
    ///     .header("expect", "100-continue")
    ///     .body(roundtrip::Body::from(vec![0u8; 1 << 20]))?;
    /// let mut response = transport.round_trip(request).await?;
    /// if let Some(body) = response.body_mut().take_unsent_body() {
    ///     println!("{}: the body ({:?} bytes) was not sent", response.status(), body.len());
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # });
    /// ```
    pub fn expect_continue_timeout(mut self, t: Option<Duration>) -> Self {
        self.config.expect_continue_timeout = t;
        self
    }

    /// Turn off transparent decompression (feature `decompress`; on by default), as Go's
    /// `DisableCompression`.
    ///
    /// When on and the request has no `Accept-Encoding` of the caller's, no `Range`, and is
    /// not a HEAD, the transport sends `accept-encoding: gzip, deflate` and decodes a response
    /// whose `Content-Encoding` is `gzip` (or `x-gzip`) or `deflate` (zlib-wrapped or raw)
    /// while it streams: `Content-Encoding` and `Content-Length` are removed from the
    /// response, and its extensions hold [`Decompressed`](crate::Decompressed).
    /// [`max_collect_bytes`](TransportBuilder::max_collect_bytes) then counts decoded bytes.
    /// A body that does not decode fails with [`Error::Decompress`](crate::Error::Decompress).
    /// A caller that sets `Accept-Encoding` itself gets the body as it came, headers intact.
    /// Default false (decompression on).
    #[cfg(feature = "decompress")]
    pub fn disable_compression(mut self, yes: bool) -> Self {
        self.config.decompress = !yes;
        self
    }

    /// Trust the root certificates in `pem` (one or more `CERTIFICATE` blocks) for `https`,
    /// besides Mozilla's (unless [`TransportBuilder::webpki_roots`] turned those off). A PEM
    /// without a usable certificate is an [`Error::TlsConfig`](crate::Error::TlsConfig).
    ///
    /// ```no_run
    /// let ca = std::fs::read("ca.pem")?;
    /// let transport = roundtrip::Transport::builder().add_root_certificates(&ca)?.build();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn add_root_certificates(mut self, pem: &[u8]) -> Result<Self, crate::Error> {
        let certs = super::tls::certificates(pem)?;
        let mut check = rustls::RootCertStore::empty();
        for cert in &certs {
            check
                .add(cert.clone())
                .map_err(|e| crate::Error::TlsConfig {
                    reason: format!("root certificate: {e}"),
                })?;
        }
        self.tls.roots.extend(certs);
        Ok(self)
    }

    /// [`TransportBuilder::add_root_certificates`] from a PEM file (in a component, a path
    /// inside a directory the host preopened, e.g. `wasmtime run --dir`). An unreadable file
    /// is an [`Error::TlsConfig`](crate::Error::TlsConfig).
    #[cfg(feature = "tls")]
    pub fn root_certificates_file(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self, crate::Error> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(|e| crate::Error::TlsConfig {
            reason: format!("read {}: {e}", path.display()),
        })?;
        self.add_root_certificates(&pem)
    }

    /// Whether to trust Mozilla's root certificates (built in with the `webpki-roots`
    /// feature, the default). Off: only the roots added to this builder are trusted.
    #[cfg(feature = "tls")]
    pub fn webpki_roots(mut self, yes: bool) -> Self {
        self.tls.webpki_roots = yes && cfg!(feature = "webpki-roots");
        self
    }

    /// **Dangerous**: accept any server certificate, for any name, expired or self-signed.
    /// The connection is still encrypted, but to a server nobody verified: anyone on the path
    /// can read and change it. For tests against throwaway certificates only. Default false.
    #[cfg(feature = "tls")]
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.tls.accept_invalid_certs = yes;
        self
    }

    /// Present a client certificate (mutual TLS): `chain_pem` holds the certificate and any
    /// intermediates, `key_pem` its private key (PKCS#8, PKCS#1 or SEC1). A key that does not
    /// fit, or a PEM without one, is an [`Error::TlsConfig`](crate::Error::TlsConfig).
    #[cfg(feature = "tls")]
    pub fn client_certificate(
        mut self,
        chain_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<Self, crate::Error> {
        let chain = super::tls::certificates(chain_pem)?;
        let key = super::tls::private_key(key_pem)?;
        super::tls::TlsSettings::check_client_auth(&chain, &key)?;
        self.tls.client_auth = Some((chain, key));
        Ok(self)
    }

    /// The connector for these settings: TCP, and TLS over it for `https`.
    fn connector(&self) -> super::dial::Connector {
        #[cfg(feature = "tls")]
        {
            let config = self.tls.client_config().unwrap_or_else(|e| {
                panic!("internal error: TLS settings checked when given failed later: {e}")
            });
            super::dial::default_connector(Some(config))
        }
        #[cfg(not(feature = "tls"))]
        super::dial::default_connector(super::dial::TlsConfig::NONE)
    }

    /// Builds the transport.
    pub fn build(self) -> Transport {
        let connector = self.connector();
        Transport {
            shared: Rc::new(Shared::new(self.pool, self.config, connector)),
        }
    }

    /// Builds a transport whose connections come from `connector` (unit tests: scripted
    /// streams).
    #[cfg(test)]
    pub(crate) fn build_with(self, connector: super::dial::Connector) -> Transport {
        Transport {
            shared: Rc::new(Shared::new(self.pool, self.config, connector)),
        }
    }
}
