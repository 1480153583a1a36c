//! TLS for the Flight endpoint (and the HTTP endpoints on the same port): the server
//! certificate from `tls_cert`/`tls_key`, and, with `tls_client_ca`, mutual TLS — a client
//! without a certificate signed by that CA cannot open a connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{VerifierBuilderError, WebPkiClientVerifier};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;

/// Why the Flight endpoint's TLS cannot be set up. Each message names the key (`tls_cert`,
/// `tls_key`, `tls_client_ca`) and the file; the error it comes from is its source.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate file (`tls_cert` or `tls_client_ca`) cannot be read or is not PEM.
    #[error("{key}: cannot read {}: {source}", path.display())]
    ReadCerts {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: pem::Error,
    },
    /// A certificate file holds no certificate.
    #[error("{key}: {} holds no PEM certificate", path.display())]
    NoCerts {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// `tls_key` cannot be read or holds no private key.
    #[error("tls_key: cannot read a private key from {}: {source}", path.display())]
    ReadKey {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: pem::Error,
    },
    /// rustls refuses the protocol versions (a build without TLS 1.2/1.3 support).
    #[error("TLS setup failed: {0}")]
    Protocols(#[source] rustls::Error),
    /// A `tls_client_ca` certificate cannot be used as a trust anchor.
    #[error("tls_client_ca: {}: {source}", path.display())]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// Why rustls refuses the certificate.
        source: rustls::Error,
    },
    /// The client-certificate verifier cannot be built from `tls_client_ca`.
    #[error("tls_client_ca: {0}")]
    ClientVerifier(#[source] VerifierBuilderError),
    /// The certificate chain and the private key do not make a server identity (e.g. the key
    /// does not match the certificate).
    #[error("tls_cert/tls_key: {0}")]
    Identity(#[source] rustls::Error),
}

/// The TLS acceptor for `config`, or `None` when `tls_cert` is not set.
pub fn acceptor(config: &Config) -> Result<Option<TlsAcceptor>, TlsError> {
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok(None);
    };
    let chain = load_certs(cert, "tls_cert")?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::ReadKey {
        path: key.clone(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?;
    let builder = match &config.tls_client_ca {
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for cert in load_certs(ca, "tls_client_ca")? {
                roots.add(cert).map_err(|source| TlsError::ClientCa {
                    path: ca.clone(),
                    source,
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(TlsError::ClientVerifier)?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut server = builder
        .with_single_cert(chain, key)
        .map_err(TlsError::Identity)?;
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// The certificates in the PEM file `path`, named by the configuration key `key`.
fn load_certs(path: &Path, key: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::ReadCerts {
            key,
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts {
            key,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    #[test]
    fn certificate_file_errors_name_the_key_and_the_file_and_keep_their_source() {
        let dir = tempfile::TempDir::new().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = load_certs(&missing, "tls_cert").unwrap_err();
        let prefix = format!("tls_cert: cannot read {}: ", missing.display());
        assert!(error.to_string().starts_with(&prefix), "{error}");
        assert!(error.source().is_some());

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let error = load_certs(&empty, "tls_client_ca").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "tls_client_ca: {} holds no PEM certificate",
                empty.display()
            )
        );
    }
}
