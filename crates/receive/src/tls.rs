//! The rustls server configuration (ring provider): from PEM files, or a generated
//! self-signed certificate when none is configured.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::config::TlsConfig;
use crate::error::ReceiveError;

fn build(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, ReceiveError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ReceiveError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ReceiveError::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// A self-signed certificate for `hostname`: the server configuration and the certificate
/// (tests use it as their trust anchor).
pub fn self_signed(
    hostname: &str,
) -> Result<(Arc<ServerConfig>, CertificateDer<'static>), ReceiveError> {
    let ck = rcgen::generate_simple_self_signed(vec![hostname.to_string()])
        .map_err(|e| ReceiveError::Tls(format!("generating a self-signed certificate: {e}")))?;
    let cert = ck.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    Ok((build(vec![cert.clone()], key)?, cert))
}

/// The server configuration from the TLS settings, or `None` when TLS is disabled.
pub fn server_config(
    cfg: &TlsConfig,
    hostname: &str,
) -> Result<Option<Arc<ServerConfig>>, ReceiveError> {
    if !cfg.enabled {
        return Ok(None);
    }
    match (&cfg.cert_file, &cfg.key_file) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ReceiveError::Tls(format!("reading {}: {e}", cert.display())))?;
            if certs.is_empty() {
                return Err(ReceiveError::Tls(format!(
                    "no certificate in {}",
                    cert.display()
                )));
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| ReceiveError::Tls(format!("reading {}: {e}", key.display())))?;
            build(certs, key).map(Some)
        }
        (None, None) => {
            tracing::warn!(
                hostname,
                "no TLS certificate configured (receive.tls.cert_file/key_file): using a generated self-signed certificate"
            );
            self_signed(hostname).map(|(c, _)| Some(c))
        }
        _ => Err(ReceiveError::Config(
            "receive.tls: cert_file and key_file must be given together".into(),
        )),
    }
}
