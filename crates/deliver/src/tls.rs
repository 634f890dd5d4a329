//! STARTTLS for the SMTP client (RFC 3207) and the TLS policy per destination.
//!
//! Opportunistic TLS (RFC 7435) accepts any certificate: an unverified channel still beats
//! plain text against a passive attacker, and MX host names are not authenticated by plain
//! DNS anyway. The certificate is not trusted but recorded (SHA-256 fingerprint) in the
//! delivery log. Verified policies (DANE, MTA-STS) are not implemented yet.

use std::net::IpAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// When to use STARTTLS (names as Postfix's `smtp_tls_security_level`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum TlsPolicy {
    /// Never start TLS.
    None,
    /// Use STARTTLS when offered; deliver in plain text otherwise.
    #[default]
    May,
    /// STARTTLS is required: a server that does not offer it, or a failed handshake, defers
    /// the mail (`4.7.4`/`4.7.5`). The certificate is still not verified.
    Encrypt,
}

/// What is known about the TLS session, for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLSv1.3`, `TLSv1.2`.
    pub version: String,
    pub cipher: String,
    /// SHA-256 of the server's end-entity certificate, hex with colons.
    pub peer_cert_sha256: Option<String>,
}

impl std::fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Untrusted TLS connection established: {} with cipher {}",
            self.version, self.cipher
        )?;
        if let Some(fp) = &self.peer_cert_sha256 {
            write!(f, ", server certificate sha256 {fp}")?;
        }
        Ok(())
    }
}

/// A TLS client for STARTTLS, shared by all sessions.
#[derive(Clone)]
pub struct TlsClient {
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsClient")
    }
}

impl TlsClient {
    /// The opportunistic client: any certificate is accepted.
    pub fn opportunistic() -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(AcceptAnyCert {
            provider: provider.clone(),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| {
                b.dangerous()
                    .with_custom_certificate_verifier(verifier.clone())
                    .with_no_client_auth()
            })
            // The ring provider supports the default versions; fall back to a plain builder
            // rather than failing if a future rustls changes that.
            .unwrap_or_else(|_| {
                ClientConfig::builder()
                    .dangerous()
                    .with_custom_certificate_verifier(verifier)
                    .with_no_client_auth()
            });
        TlsClient {
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// Runs the TLS handshake over `tcp` after a 220 to STARTTLS.
    pub async fn handshake(
        &self,
        host: &str,
        ip: IpAddr,
        tcp: TcpStream,
    ) -> std::io::Result<(TlsStream<TcpStream>, TlsInfo)> {
        let name = ServerName::try_from(host.to_string()).unwrap_or(ServerName::from(ip));
        let stream = self.connector.connect(name, tcp).await?;
        let info = {
            let (_, conn) = stream.get_ref();
            TlsInfo {
                version: conn
                    .protocol_version()
                    .and_then(|v| v.as_str())
                    .map(|s| s.replace("TLSv1_", "TLSv1."))
                    .unwrap_or_else(|| "TLS".into()),
                cipher: conn
                    .negotiated_cipher_suite()
                    .and_then(|c| c.suite().as_str())
                    .unwrap_or("unknown")
                    .to_string(),
                peer_cert_sha256: conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| fingerprint(c.as_ref())),
            }
        };
        Ok((stream, info))
    }
}

fn fingerprint(der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    d.as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Accepts any certificate chain but still checks the handshake signatures, so the session
/// keys are bound to the presented key (opportunistic TLS, RFC 7435).
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
