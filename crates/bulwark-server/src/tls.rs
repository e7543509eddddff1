//! TLS for `serve --tls-cert … --tls-key …`: rustls with ring's suites (TLS 1.3 and 1.2,
//! ECDHE with AES-GCM or ChaCha20-Poly1305 only: rustls implements nothing older), the
//! certificate reloaded when its files change, and optional client certificates checked
//! against a configured CA and mapped to the account their subject's common name names.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The files TLS is configured from.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server's certificate chain (PEM), leaf first.
    pub certificate: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// CA certificates (PEM) client certificates must chain to; `None`: no mTLS.
    pub client_ca: Option<PathBuf>,
    /// With a client CA: refuse connections that present no client certificate (otherwise
    /// they may still authenticate with a password or token).
    pub client_certificate_required: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("the TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    #[error("the client CA: {0}")]
    ClientCa(#[from] rustls::server::VerifierBuilderError),
}

/// The account a verified client certificate names: its subject's common name, a user's
/// name or a robot's full name (`robot+…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity(pub String);

/// The TLS configuration in force, replaced whole when its files change; connections keep
/// the configuration they were accepted with.
pub struct Tls {
    files: TlsFiles,
    current: RwLock<Loaded>,
}

struct Loaded {
    /// The files' contents the configuration was built from.
    contents: Vec<Vec<u8>>,
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Reads and checks the files; an unreadable or mismatched certificate and key is an
    /// error here, before the server listens.
    pub fn load(files: TlsFiles) -> Result<Tls, TlsError> {
        let contents = read_all(&files)?;
        let config = Arc::new(build(&files, &contents)?);
        Ok(Tls {
            files,
            current: RwLock::new(Loaded { contents, config }),
        })
    }

    /// What a new connection's handshake uses.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let current = self
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokio_rustls::TlsAcceptor::from(current.config.clone())
    }

    /// Reads the files again and, when their contents changed and make a valid
    /// configuration, puts it in force for new connections. `Ok(true)` when it did. A
    /// half-written renewal (a new certificate beside the old key) is an error and leaves the
    /// old configuration serving; the next call tries again.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let contents = read_all(&self.files)?;
        {
            let current = self
                .current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if current.contents == contents {
                return Ok(false);
            }
        }
        let config = Arc::new(build(&self.files, &contents)?);
        let mut current = self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = Loaded { contents, config };
        tracing::info!(
            certificate = %self.files.certificate.display(),
            "TLS configuration reloaded"
        );
        Ok(true)
    }
}

fn read_all(files: &TlsFiles) -> Result<Vec<Vec<u8>>, TlsError> {
    std::iter::once(&files.certificate)
        .chain(std::iter::once(&files.key))
        .chain(files.client_ca.as_ref())
        .map(|path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.clone(),
                source,
            })
        })
        .collect()
}

fn certificates(
    path: &std::path::Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let invalid = |reason: String| TlsError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not PEM certificates: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("holds no certificate".into()));
    }
    Ok(chain)
}

fn build(files: &TlsFiles, contents: &[Vec<u8>]) -> Result<ServerConfig, TlsError> {
    let chain = certificates(&files.certificate, &contents[0])?;
    let key = PrivateKeyDer::from_pem_slice(&contents[1]).map_err(|e| TlsError::Invalid {
        path: files.key.clone(),
        reason: format!("not a PEM private key: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match (&files.client_ca, contents.get(2)) {
        (Some(path), Some(pem)) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in certificates(path, pem)? {
                roots.add(certificate).map_err(|e| TlsError::Invalid {
                    path: path.clone(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if files.client_certificate_required {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(verifier.build()?)
        }
        _ => builder.with_no_client_auth(),
    };
    // Checks that the key is the certificate's.
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The longest account name a certificate may carry.
const MAX_IDENTITY_LEN: usize = 128;

/// The identity in a connection's verified client certificate, if it presented one with a
/// usable common name. The verifier has already checked the chain, validity and the
/// `clientAuth` usage; this only reads the name.
pub(crate) fn peer_identity(connection: &rustls::ServerConnection) -> Option<PeerIdentity> {
    let leaf = connection.peer_certificates()?.first()?;
    let (_, certificate) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    let name = certificate
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?;
    let usable = !name.is_empty()
        && name.len() <= MAX_IDENTITY_LEN
        && name.bytes().all(|b| b.is_ascii_graphic());
    if !usable {
        tracing::debug!("a client certificate's common name names no account");
        return None;
    }
    Some(PeerIdentity(name.to_owned()))
}
