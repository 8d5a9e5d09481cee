//! The farm's https: a connection whose first byte opens a TLS handshake is
//! answered with a certificate the farm made itself for the name the client
//! asked for (SNI). Name and dates are right, but no browser trusts its
//! signer, so a browser that checks certificates — a visitor's does, and so
//! does `beian-audit` — refuses it (`net::ERR_CERT_AUTHORITY_INVALID`) before
//! any request is sent. A site whose `_site.json` says `"tls": "none"` has no
//! https at all: its handshakes are cut off (the connection is closed).
//!
//! One key pair is made at start; each host's certificate is signed with it
//! on first use and kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::Acceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

/// The first byte of a TLS record carrying a handshake message.
pub(crate) const HANDSHAKE: u8 = 0x16;

/// The certificate name used when the client sends no SNI.
const NO_SNI_NAME: &str = "fixture-farm.invalid";

/// `_site.json` `tls`: how a site answers a TLS handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TlsMode {
    /// A certificate for the host, signed by nobody a browser trusts.
    #[default]
    SelfSigned,
    /// No https: the handshake is cut off.
    None,
}

/// Makes and keeps one self-signed certificate per host.
pub(crate) struct Issuer {
    /// The key every certificate is made for.
    key: rcgen::KeyPair,
    /// Server configurations by host.
    configs: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl Issuer {
    /// A new issuer with a fresh key pair (ECDSA P-256).
    pub(crate) fn new() -> Result<Issuer, String> {
        let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot make a TLS key: {e}"))?;
        Ok(Issuer {
            key,
            configs: Mutex::new(HashMap::new()),
        })
    }

    /// The server configuration presenting `host`'s certificate.
    fn config_for(&self, host: &str) -> Result<Arc<ServerConfig>, String> {
        let mut configs = self.configs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(config) = configs.get(host) {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(self.make_config(host)?);
        configs.insert(host.to_owned(), Arc::clone(&config));
        Ok(config)
    }

    /// A certificate for `host` and a server configuration around it.
    fn make_config(&self, host: &str) -> Result<ServerConfig, String> {
        let fail = |e: &dyn std::fmt::Display| format!("cannot make a certificate for {host}: {e}");
        let mut params =
            rcgen::CertificateParams::new(vec![host.to_owned()]).map_err(|e| fail(&e))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        let cert = params.self_signed(&self.key).map_err(|e| fail(&e))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(&e))?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .map_err(|e| fail(&e))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Read the client's hello on `stream` and finish the handshake with the
/// certificate of the host it names; `Ok(None)` when `mode` says that
/// host has no https (dropping the stream then closes the connection).
/// `mode` gets the normalised host, or an empty string without SNI.
pub(crate) async fn accept<S>(
    issuer: &Issuer,
    stream: S,
    mode: impl FnOnce(&str) -> TlsMode,
) -> std::io::Result<Option<TlsStream<S>>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = LazyConfigAcceptor::new(Acceptor::default(), stream).await?;
    let host = start
        .client_hello()
        .server_name()
        .map(|name| name.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    if mode(&host) == TlsMode::None {
        return Ok(None);
    }
    let name = if host.is_empty() { NO_SNI_NAME } else { &host };
    let config = issuer.config_for(name).map_err(std::io::Error::other)?;
    start.into_stream(config).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_made_once_per_host() {
        let issuer = Issuer::new().expect("issuer");
        let a = issuer.config_for("a.test").expect("config");
        let again = issuer.config_for("a.test").expect("config");
        let b = issuer.config_for("b.test").expect("config");
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(a.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn tls_modes_read_as_kebab_case() {
        let mode: TlsMode = serde_json::from_str(r#""self-signed""#).expect("parses");
        assert_eq!(mode, TlsMode::SelfSigned);
        let mode: TlsMode = serde_json::from_str(r#""none""#).expect("parses");
        assert_eq!(mode, TlsMode::None);
        assert!(serde_json::from_str::<TlsMode>(r#""valid""#).is_err());
    }
}
