//! TLS settings of a transport (feature `tls`): whom to trust, whether to present a client
//! certificate, and the rustls `ClientConfig` built from them once, shared by every
//! connection (so its session cache makes a re-dial to a host resume instead of running a
//! full handshake).

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::Error;

/// What the builder collected. Parsed as it is given, so a bad PEM is an error there.
pub(crate) struct TlsSettings {
    /// Trust Mozilla's roots (feature `webpki-roots`).
    pub(crate) webpki_roots: bool,
    /// More roots, from PEM.
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// Accept any server certificate (`danger_accept_invalid_certs`).
    pub(crate) accept_invalid_certs: bool,
    /// A client certificate chain and its key, for mutual TLS.
    pub(crate) client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            webpki_roots: cfg!(feature = "webpki-roots"),
            roots: Vec::new(),
            accept_invalid_certs: false,
            client_auth: None,
        }
    }
}

impl Clone for TlsSettings {
    fn clone(&self) -> Self {
        TlsSettings {
            webpki_roots: self.webpki_roots,
            roots: self.roots.clone(),
            accept_invalid_certs: self.accept_invalid_certs,
            client_auth: self
                .client_auth
                .as_ref()
                .map(|(chain, key)| (chain.clone(), key.clone_key())),
        }
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("webpki_roots", &self.webpki_roots)
            .field("roots", &self.roots.len())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("client_auth", &self.client_auth.is_some())
            .finish()
    }
}

/// *ring*, with its cipher suites in preference order. In wasm there is no AES hardware, so
/// ChaCha20-Poly1305, fast in software, is offered first there (servers that follow the
/// client's order, as nginx does by default, then use it); natively AES-GCM stays first.
fn provider() -> Arc<CryptoProvider> {
    let mut provider = ring::default_provider();
    if cfg!(target_arch = "wasm32") {
        provider.cipher_suites.sort_by_key(|suite| {
            !matches!(
                suite.suite(),
                rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
                    | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                    | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
            )
        });
    }
    Arc::new(provider)
}

/// Every certificate in `pem` (at least one).
pub(crate) fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no certificate found in the PEM input".into()));
    }
    Ok(certs)
}

/// The private key in `pem` (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(pem: &[u8]) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| invalid(format!("private key PEM: {e}")))
}

impl TlsSettings {
    /// Checks a client certificate and key by building a configuration with them.
    pub(crate) fn check_client_auth(
        chain: &[CertificateDer<'static>],
        key: &PrivateKeyDer<'static>,
    ) -> Result<(), Error> {
        let settings = TlsSettings {
            client_auth: Some((chain.to_vec(), key.clone_key())),
            ..TlsSettings::default()
        };
        settings.client_config().map(|_| ())
    }

    /// The rustls configuration: TLS 1.2 and 1.3 with *ring*, ALPN `http/1.1` only, the
    /// default in-memory session cache (resumption), and the chosen trust.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|e| invalid(format!("protocol versions: {e}")))?;
        let builder = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider())))
        } else {
            let mut store = RootCertStore::empty();
            #[cfg(feature = "webpki-roots")]
            if self.webpki_roots {
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            for cert in &self.roots {
                store
                    .add(cert.clone())
                    .map_err(|e| invalid(format!("root certificate: {e}")))?;
            }
            builder.with_root_certificates(store)
        };
        let mut config = match &self.client_auth {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| invalid(format!("client certificate: {e}")))?,
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn invalid(reason: String) -> Error {
    Error::TlsConfig { reason }
}

/// `danger_accept_invalid_certs`: any certificate, any name. Signatures are still checked
/// (the handshake is otherwise unchanged); what is given up is knowing who the server is.
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In wasm (no AES hardware) ChaCha20-Poly1305 is offered first; natively AES-GCM is.
    #[test]
    fn cipher_suite_order_follows_the_hardware() {
        let first = provider().cipher_suites[0].suite();
        let chacha = first == rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256;
        assert_eq!(chacha, cfg!(target_arch = "wasm32"), "{first:?}");
    }
}
