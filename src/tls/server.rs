//! The listeners' side of TLS: the server certificate (from `--tls-cert`/`--tls-key`, or
//! generated on first start for `localhost`, `127.0.0.1` and `::1` in `<data dir>/tls/`),
//! swapped atomically on reload so open connections and streams keep going. The accept
//! loop serving a router over TLS (HTTP/2 and HTTP/1.1 by ALPN) is the plain listeners'
//! one, [`crate::gateway::listener::serve_transport`], with the same slow-client limits.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

use super::pem;

/// How long a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The generated certificate's directory inside the data dir.
pub const TLS_DIR: &str = "tls";
/// The generated certificate's file name inside [`TLS_DIR`].
pub const CERT_FILE: &str = "cert.pem";
/// The generated key's file name inside [`TLS_DIR`] (mode 0600).
pub const KEY_FILE: &str = "key.pem";
/// The names the generated certificate is valid for.
pub const GENERATED_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why a certificate could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's content is not what it should be (not PEM, no certificate, no key...).
    #[error("{path}: {problem}")]
    Content {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The key does not belong to the certificate.
    #[error("{key}: the private key does not match the certificate {cert}")]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// Only one of `--tls-cert` and `--tls-key` was given.
    #[error("--tls-cert and --tls-key go together; give both or neither")]
    Incomplete,
    /// Generating the self-signed certificate failed.
    #[error("cannot generate a self-signed certificate: {0}")]
    Generate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The server certificate in use and where it comes from. Cheap to clone; clones share
/// the certificate, so [`ServerIdentity::reload`] affects every listener using it.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    cert_path: PathBuf,
    key_path: PathBuf,
    generated: bool,
    current: ArcSwap<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
}

/// Hands every handshake the certificate of the moment.
#[derive(Debug)]
struct Resolver(Arc<Inner>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current.load().key.clone())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and checks a certificate and key pair.
fn load(cert_path: &Path, key_path: &Path) -> Result<Loaded, TlsError> {
    let chain = pem::certificates(&read(cert_path)?).map_err(|problem| TlsError::Content {
        path: cert_path.to_path_buf(),
        problem,
    })?;
    let key = pem::private_key(&read(key_path)?).map_err(|problem| TlsError::Content {
        path: key_path.to_path_buf(),
        problem,
    })?;
    let signing = super::provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::Content {
            path: key_path.to_path_buf(),
            problem: format!("unusable private key: {e}"),
        })?;
    let fingerprint = fingerprint(chain[0].as_ref());
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| TlsError::KeyMismatch {
        cert: cert_path.to_path_buf(),
        key: key_path.to_path_buf(),
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        fingerprint,
    })
}

/// The SHA-256 fingerprint of a DER certificate, as colon-separated uppercase hex (the
/// form browsers and `openssl x509 -fingerprint -sha256` show).
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Writes `data` to `path` with mode `mode` (Unix), replacing any file.
fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(io)?;
    std::io::Write::write_all(&mut file, data).map_err(io)?;
    file.sync_all().map_err(io)
}

impl ServerIdentity {
    /// The certificate of `cert` and key of `key` (PEM files). Errors name the file: missing
    /// or unreadable, not PEM, no certificate or key, a key not matching the certificate.
    pub fn from_files(cert: &Path, key: &Path) -> Result<ServerIdentity, TlsError> {
        let loaded = load(cert, key)?;
        Ok(Self::with(cert, key, false, loaded))
    }

    /// `--tls-cert`/`--tls-key` when given (both or neither), else the self-signed
    /// certificate in `<data_dir>/tls/`, generated on first use for `localhost`,
    /// `127.0.0.1` and `::1` (key mode 0600). Blocking (file I/O).
    pub fn load_or_generate(
        data_dir: &Path,
        cert: Option<&Path>,
        key: Option<&Path>,
    ) -> Result<ServerIdentity, TlsError> {
        match (cert, key) {
            (Some(cert), Some(key)) => return Self::from_files(cert, key),
            (None, None) => {}
            _ => return Err(TlsError::Incomplete),
        }
        let dir = data_dir.join(TLS_DIR);
        let cert = dir.join(CERT_FILE);
        let key = dir.join(KEY_FILE);
        if !cert.exists() || !key.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                // Owner only, like the data dir itself.
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(&dir).map_err(|source| TlsError::Io {
                path: dir.clone(),
                source,
            })?;
            let names: Vec<String> = GENERATED_NAMES.iter().map(|n| n.to_string()).collect();
            let generated = rcgen::generate_simple_self_signed(names)
                .map_err(|e| TlsError::Generate(e.to_string()))?;
            write_file(
                &key,
                generated.signing_key.serialize_pem().as_bytes(),
                0o600,
            )?;
            write_file(&cert, generated.cert.pem().as_bytes(), 0o600)?;
            tracing::info!(
                "generated a self-signed TLS certificate in {}",
                cert.display()
            );
        }
        let loaded = load(&cert, &key)?;
        Ok(Self::with(&cert, &key, true, loaded))
    }

    fn with(cert: &Path, key: &Path, generated: bool, loaded: Loaded) -> ServerIdentity {
        ServerIdentity {
            inner: Arc::new(Inner {
                cert_path: cert.to_path_buf(),
                key_path: key.to_path_buf(),
                generated,
                current: ArcSwap::from_pointee(loaded),
            }),
        }
    }

    /// Reads the certificate and key files again and, if they are good, uses them for new
    /// handshakes; open connections keep theirs. On error the old certificate stays.
    /// Blocking (file I/O). This is what SIGHUP calls.
    pub fn reload(&self) -> Result<(), TlsError> {
        let loaded = load(&self.inner.cert_path, &self.inner.key_path)?;
        self.inner.current.store(Arc::new(loaded));
        Ok(())
    }

    /// The SHA-256 fingerprint of the certificate in use (colon-separated hex).
    pub fn fingerprint(&self) -> String {
        self.inner.current.load().fingerprint.clone()
    }

    /// The certificate file (PEM), e.g. for `curl --cacert`.
    pub fn cert_path(&self) -> &Path {
        &self.inner.cert_path
    }

    /// Whether the certificate is streamgate's generated self-signed one.
    pub fn is_generated(&self) -> bool {
        self.inner.generated
    }

    /// A rustls server config using this identity, TLS 1.2/1.3, offering `alpn` (e.g.
    /// `h2`, `http/1.1`) in order of preference.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<ServerConfig>, TlsError> {
        let mut config = ServerConfig::builder_with_provider(super::provider())
            .with_protocol_versions(super::PROTOCOL_VERSIONS)
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(Resolver(self.inner.clone())));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }
}

/// ALPN for the gateway's TLS port: HTTP/2 first, then HTTP/1.1.
pub const ALPN_H2_HTTP11: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// What the TLS listeners do; part of [`crate::launch::ServeConfig`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerOptions {
    /// Where the gateway serves HTTPS (HTTP/2 and HTTP/1.1); `None`: no TLS gateway.
    pub gateway_tls_addr: Option<SocketAddr>,
    /// `--tls-cert`: the server certificate (chain) in PEM; with `key`, else generated.
    pub cert: Option<PathBuf>,
    /// `--tls-key`: the certificate's private key in PEM.
    pub key: Option<PathBuf>,
    /// `--admin-tls`: serve the management API over HTTPS (also implied by `cert`).
    pub admin_tls: bool,
    /// `--insecure-http`: allow the management API in plain HTTP beyond loopback.
    pub insecure_http: bool,
}

impl ListenerOptions {
    /// Whether the management API is served over HTTPS.
    pub fn admin_https(&self) -> bool {
        self.admin_tls || self.cert.is_some()
    }

    /// Whether any listener needs a certificate.
    pub fn needs_identity(&self) -> bool {
        self.admin_https() || self.gateway_tls_addr.is_some()
    }
}

/// Reloads `identity` from its files on every SIGHUP (Unix; elsewhere does nothing),
/// logging the new fingerprint or why the old certificate stays; without an identity a
/// SIGHUP is logged and changes nothing. Either way SIGHUP no longer ends the process (its
/// default action). Runs until aborted.
pub fn reload_on_sighup(identity: Option<ServerIdentity>) -> tokio::task::JoinHandle<()> {
    // Registered before this returns, so a SIGHUP right after startup reloads rather than
    // ends the process.
    #[cfg(unix)]
    let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut hup = match hup {
                Ok(hup) => hup,
                Err(e) => {
                    tracing::warn!("cannot listen for SIGHUP; TLS certificates won't reload: {e}");
                    return;
                }
            };
            while hup.recv().await.is_some() {
                let Some(identity) = &identity else {
                    tracing::info!("SIGHUP: no TLS certificate to reload (no HTTPS listener)");
                    continue;
                };
                let id = identity.clone();
                match tokio::task::spawn_blocking(move || id.reload()).await {
                    Ok(Ok(())) => tracing::info!(
                        "TLS certificate reloaded from {}; SHA-256 fingerprint {}",
                        identity.cert_path().display(),
                        identity.fingerprint()
                    ),
                    Ok(Err(e)) => {
                        tracing::error!("TLS certificate not reloaded (the old one stays): {e}")
                    }
                    Err(e) => tracing::error!("TLS certificate reload failed: {e}"),
                }
            }
        }
        #[cfg(not(unix))]
        let _ = identity;
    })
}
