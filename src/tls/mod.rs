//! TLS for the SOAP listener: the rustls server configuration, the client-certificate
//! verifier, hot reload, the peer's identity, and the development PKI.
//!
//! Owns policy that is a security boundary, so each piece is small and built by rustls's
//! builders: [`server_config`] (ring provider, TLS 1.2 and 1.3 only, AEAD suites with forward
//! secrecy only, ALPN `http/1.1`, a client certificate always required), the
//! [`CountingVerifier`] (webpki judges; we count refusals by reason), [`TlsState`] (the current
//! configuration behind `arc-swap`, replaced only by one that built) and [`PeerIdentity`]
//! (organisation number and fingerprint of the verified certificate).
//!
//! # Trust
//! The client CA bundle (`[tls] client_ca`) holds PEM certificates. Self-signed ones are the
//! trust anchors; the others (intermediate CAs) are chain-building aids, added to the chain a
//! client sends, so a client that sends leaf + intermediate and one that sends only its leaf
//! both verify — as with OpenSSL's `CAfile`. An intermediate in the bundle is NOT an anchor:
//! every path ends at a root, and the intermediate's own revocation is checked.
//!
//! # Revocation
//! With CRLs configured (`[tls] crls`, each file PEM with any number of `X509 CRL` blocks, or
//! one DER CRL), every certificate of the path below the root is checked, a certificate whose
//! issuer has no CRL is refused (status unknown), and a CRL past its nextUpdate is refused:
//! fail closed. So configure the CRL of every CA in the bundle (the root's CRL covers the
//! intermediates, each intermediate's its own leaves). With no CRLs configured, revocation is
//! not checked.
//!
//! Files that would make this worse are refused before they are put in force, at start and
//! on reload ([`crl`]): a CRL past its nextUpdate by the service's clock, a CRL older than the
//! one in force for its issuer, a CA of the bundle without a CRL. A refused reload keeps the
//! previous files, is logged and is counted by [`ReloadRefusal`].
//!
//! # Client certificates
//! Beyond webpki's checks, a client's leaf must carry KeyUsage `digitalSignature` and an EKU
//! with clientAuth, both extensions present ([`policy`]); `register add-cert` applies the
//! same rule.
//!
//! # Resumption
//! Session resumption is off: every connection is verified against the current CA bundle,
//! CRLs and clock. Clients keep connections alive instead.
//!
//! Never logs personal data: certificate refusals are logged by reason only.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig};
use x509_parser::x509::X509Name;

pub use crate::config::TlsFiles;

pub mod crl;
mod identity;
pub mod policy;
mod verifier;

pub use crl::{CrlsInForce, ReloadRefusal};
pub use identity::PeerIdentity;
pub use policy::{check_client_leaf, check_client_leaf_der, LeafPolicyError, LeafProblem};
pub use verifier::{CountingVerifier, FailureReason, HandshakeFailures};

/// The only application protocol served: HTTP/1.1 (SOAP 1.1 clients speak nothing else).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Why TLS material cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file that cannot be parsed.
    #[error("{path}: bad PEM: {message}", path = path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A file that should hold certificates holds none.
    #[error("{path}: no CERTIFICATE in the file", path = path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no private key.
    #[error("{path}: no private key in the file", path = path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A certificate that cannot be parsed or used.
    #[error("{path}: certificate {index}: {message}", path = path.display())]
    Certificate {
        /// The file.
        path: PathBuf,
        /// 1-based position in the file.
        index: usize,
        /// Why.
        message: String,
    },
    /// The client CA bundle holds no self-signed (root) certificate to anchor chains.
    #[error("{path}: no self-signed root CA among the certificates; the bundle must hold the root", path = path.display())]
    NoTrustAnchor {
        /// The file.
        path: PathBuf,
    },
    /// A CRL that cannot be parsed.
    #[error("{path}: CRL {index}: {message}", path = path.display())]
    Crl {
        /// The file.
        path: PathBuf,
        /// 1-based position in the file.
        index: usize,
        /// Why.
        message: String,
    },
    /// A CRL past its nextUpdate: webpki would refuse every client of that CA.
    #[error("{path}: CRL {index} of {issuer}: past its nextUpdate ({next_update}); every client of that CA would be refused, so get the CA's current CRL", path = path.display(), next_update = next_update.to_rfc3339())]
    CrlExpired {
        /// The file.
        path: PathBuf,
        /// 1-based position in the file.
        index: usize,
        /// The issuing CA's common name.
        issuer: String,
        /// When it stopped being current.
        next_update: DateTime<Utc>,
    },
    /// A CRL older than the one in force for the same issuer, or than another of the same
    /// issuer in the same files: it would un-revoke certificates.
    #[error("{path}: CRL {index} of {issuer}: {found} is older than the {newer}; it would un-revoke certificates", path = path.display())]
    CrlOlder {
        /// The file.
        path: PathBuf,
        /// 1-based position in the file.
        index: usize,
        /// The issuing CA's common name.
        issuer: String,
        /// The new CRL's number (or thisUpdate).
        found: String,
        /// The newer CRL: its number (or thisUpdate), and whether it is the one in force or
        /// another of the same files.
        newer: String,
    },
    /// A CA of the client CA bundle without a CRL among `[tls] crls`.
    #[error("{path}: certificate {index} ({ca}) has no CRL in [tls] crls; every certificate it issued would be refused, so add its CRL", path = path.display())]
    CrlMissing {
        /// The client CA bundle.
        path: PathBuf,
        /// 1-based position of the CA in the bundle.
        index: usize,
        /// The CA's common name.
        ca: String,
    },
    /// The client verifier cannot be built from the bundle and CRLs.
    #[error("client verifier: {0}")]
    Verifier(String),
    /// The server certificate chain and key do not make a usable identity (e.g. mismatch).
    #[error("{cert} with {key}: {message}", cert = cert.display(), key = key.display())]
    ServerIdentity {
        /// The certificate chain file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        message: String,
    },
    /// The rustls configuration cannot be built.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// The peer's certificate cannot be parsed for its identity.
    #[error("peer certificate: {0}")]
    PeerCertificate(String),
}

impl TlsError {
    /// The reason a set of files with this error is refused, for the metrics.
    pub fn refusal(&self) -> ReloadRefusal {
        match self {
            TlsError::CrlExpired { .. } => ReloadRefusal::CrlExpired,
            TlsError::CrlOlder { .. } => ReloadRefusal::CrlOlder,
            TlsError::CrlMissing { .. } => ReloadRefusal::CrlMissing,
            _ => ReloadRefusal::Other,
        }
    }
}

/// The crypto provider: ring, with only the AEAD suites with forward secrecy.
pub fn crypto_provider() -> CryptoProvider {
    use rustls::crypto::ring::cipher_suite as cs;
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::ring::default_provider()
    }
}

/// Builds the server configuration from the files, checked by the CRL policy as at start
/// (`now` decides whether a CRL has expired); refusals are counted into `failures`.
pub fn server_config(
    files: &TlsFiles,
    failures: &Arc<HandshakeFailures>,
    now: DateTime<Utc>,
) -> Result<Arc<ServerConfig>, TlsError> {
    Ok(build(files, failures, now, None)?.config)
}

/// Builds the client verifier alone (the part of [`server_config`] that judges clients):
/// roots and intermediates from `client_ca`, revocation from `crls`. The CRL policy of
/// loading ([`crl`]) is not applied here: this is the verifier as it judges handshakes.
pub fn client_verifier(
    client_ca: &Path,
    crls: &[PathBuf],
    failures: &Arc<HandshakeFailures>,
) -> Result<Arc<CountingVerifier>, TlsError> {
    let provider = Arc::new(crypto_provider());
    client_verifier_with(
        client_ca,
        crls,
        failures,
        provider,
        &mut Material::default(),
    )
}

/// What reading the client CA bundle and the CRLs found, besides the verifier.
#[derive(Default)]
struct Material {
    /// Expiry of each CA certificate and CRL.
    expiry: Vec<ExpiryEntry>,
    /// The CAs of the bundle, for the CRL policy.
    cas: Vec<crl::CaFacts>,
    /// The CRLs, for the CRL policy.
    crls: Vec<crl::CrlFacts>,
}

fn client_verifier_with(
    client_ca: &Path,
    crls: &[PathBuf],
    failures: &Arc<HandshakeFailures>,
    provider: Arc<CryptoProvider>,
    material: &mut Material,
) -> Result<Arc<CountingVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    let mut intermediates = Vec::new();
    for (i, der) in read_certs(client_ca)?.into_iter().enumerate() {
        let bad = |message: String| TlsError::Certificate {
            path: client_ca.to_owned(),
            index: i + 1,
            message,
        };
        let (_, cert) =
            x509_parser::parse_x509_certificate(&der).map_err(|e| bad(e.to_string()))?;
        material.expiry.push(ExpiryEntry {
            kind: ExpiryKind::CaCertificate,
            name: common_name(cert.subject()),
            at: timestamp(cert.validity().not_after.timestamp()),
        });
        material.cas.push(crl::CaFacts {
            index: i + 1,
            subject_der: cert.subject().as_raw().to_vec(),
            name: common_name(cert.subject()),
        });
        let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
        drop(cert);
        if self_signed {
            roots.add(der).map_err(|e| bad(e.to_string()))?;
        } else {
            intermediates.push(der);
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoTrustAnchor {
            path: client_ca.to_owned(),
        });
    }
    let mut all_crls = Vec::new();
    for path in crls {
        for (i, crl) in read_crls(path)?.into_iter().enumerate() {
            let (_, parsed) = x509_parser::parse_x509_crl(&crl).map_err(|e| TlsError::Crl {
                path: path.clone(),
                index: i + 1,
                message: e.to_string(),
            })?;
            if let Some(next) = parsed.next_update() {
                material.expiry.push(ExpiryEntry {
                    kind: ExpiryKind::CrlNextUpdate,
                    name: common_name(parsed.issuer()),
                    at: timestamp(next.timestamp()),
                });
            }
            material.crls.push(crl::CrlFacts::of(path, i + 1, &parsed));
            all_crls.push(crl);
        }
    }
    let revocation_checked = !all_crls.is_empty();
    let mut builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if revocation_checked {
        builder = builder.with_crls(all_crls).enforce_revocation_expiration();
    } else {
        tracing::warn!("no CRLs configured: client certificate revocation is not checked");
    }
    let inner = builder
        .build()
        .map_err(|e| TlsError::Verifier(e.to_string()))?;
    Ok(Arc::new(CountingVerifier::new(
        inner,
        intermediates,
        failures.clone(),
    )))
}

/// A configuration built from the files and what `/metrics` reports about its material:
/// checked, not yet in use ([`TlsState::prepare`], [`TlsState::install`]).
pub struct Built {
    config: Arc<ServerConfig>,
    /// The configuration's client-certificate verifier, to judge open connections again.
    verifier: Arc<CountingVerifier>,
    expiry: ExpiryReport,
    crls: CrlsInForce,
}

/// Reads and checks every file; `in_force` (the CRLs of the configuration in use, `None` at
/// start) is what the CRL policy compares the new CRLs with.
fn build(
    files: &TlsFiles,
    failures: &Arc<HandshakeFailures>,
    now: DateTime<Utc>,
    in_force: Option<&CrlsInForce>,
) -> Result<Built, TlsError> {
    let provider = Arc::new(crypto_provider());
    let mut material = Material::default();
    let verifier = client_verifier_with(
        &files.client_ca,
        &files.crls,
        failures,
        provider.clone(),
        &mut material,
    )?;
    let crls = crl::check(
        &files.client_ca,
        &material.cas,
        &material.crls,
        now,
        in_force,
    )?;
    let mut expiry = material.expiry;
    let chain = read_certs(&files.cert)?;
    if let Some(leaf) = chain.first() {
        let (_, cert) =
            x509_parser::parse_x509_certificate(leaf).map_err(|e| TlsError::Certificate {
                path: files.cert.clone(),
                index: 1,
                message: e.to_string(),
            })?;
        expiry.insert(
            0,
            ExpiryEntry {
                kind: ExpiryKind::ServerCertificate,
                name: common_name(cert.subject()),
                at: timestamp(cert.validity().not_after.timestamp()),
            },
        );
    }
    let key = read_key(&files.key)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::ServerIdentity {
            cert: files.cert.clone(),
            key: files.key.clone(),
            message: e.to_string(),
        })?;
    config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    config.ignore_client_order = true;
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Built {
        config: Arc::new(config),
        verifier,
        expiry: ExpiryReport { entries: expiry },
        crls,
    })
}

/// The TLS configuration in use, swappable on reload, and the refusal counters.
///
/// A connection takes [`TlsState::current`] once, at accept, for its handshake. A reload
/// does not end open connections, but their client certificates are judged again by the
/// configuration in force at their next request ([`TlsState::recheck`]): a certificate
/// revoked after the handshake is refused there.
pub struct TlsState {
    /// The configuration new connections use.
    config: ArcSwap<ServerConfig>,
    /// Its client-certificate verifier (stored before the configuration on a reload, so a
    /// configuration read is never newer than the verifier read after it).
    verifier: ArcSwap<CountingVerifier>,
    /// What the current configuration's files say about expiry.
    expiry: ArcSwap<ExpiryReport>,
    /// The newest CRL in force per issuer, which a reload's CRLs must not be older than.
    crls: ArcSwap<CrlsInForce>,
    /// Refusals by reason, shared by every configuration this state has held.
    failures: Arc<HandshakeFailures>,
}

impl TlsState {
    /// Builds the first configuration; `now` (the service's clock) decides whether a CRL
    /// has expired.
    pub fn new(files: &TlsFiles, now: DateTime<Utc>) -> Result<TlsState, TlsError> {
        let failures = Arc::new(HandshakeFailures::default());
        let built = build(files, &failures, now, None)?;
        Ok(TlsState {
            config: ArcSwap::new(built.config),
            verifier: ArcSwap::new(built.verifier),
            expiry: ArcSwap::from_pointee(built.expiry),
            crls: ArcSwap::from_pointee(built.crls),
            failures,
        })
    }

    /// The configuration for a new connection.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.config.load_full()
    }

    /// Re-reads the files and swaps in the new configuration if it builds and passes the
    /// CRL policy; on error the current one stays in use and the error says which file is
    /// wrong.
    pub fn reload(&self, files: &TlsFiles, now: DateTime<Utc>) -> Result<(), TlsError> {
        let built = self.prepare(files, now)?;
        self.install(built);
        Ok(())
    }

    /// Reads and checks the files without putting them in force, so that a reload of several
    /// kinds of files can take all or none. The CRLs are compared with those in force now:
    /// reloads must not overlap (the caller serialises them), or one could install a set
    /// checked against CRLs another has since replaced.
    pub fn prepare(&self, files: &TlsFiles, now: DateTime<Utc>) -> Result<Built, TlsError> {
        build(files, &self.failures, now, Some(&self.crls.load()))
    }

    /// Puts a prepared configuration in force for new connections.
    pub fn install(&self, built: Built) {
        self.verifier.store(built.verifier);
        self.config.store(built.config);
        self.expiry.store(Arc::new(built.expiry));
        self.crls.store(Arc::new(built.crls));
        tracing::info!("TLS configuration reloaded");
    }

    /// Judges an open connection's client certificate chain again, for a connection
    /// verified under `verified_with` (the configuration it was accepted with, or the one of
    /// its last check): when a reload has put another configuration in force since — new
    /// CRLs, a new CA bundle — the chain is verified with the current one, so a certificate
    /// revoked after the handshake is refused at the connection's next request. Returns the
    /// configuration judged by, and the verdict.
    pub fn recheck(
        &self,
        chain: &[CertificateDer<'static>],
        verified_with: &Arc<ServerConfig>,
    ) -> (Arc<ServerConfig>, Option<Result<(), rustls::Error>>) {
        use rustls::server::danger::ClientCertVerifier;
        let current = self.config.load_full();
        if Arc::ptr_eq(&current, verified_with) {
            return (current, None);
        }
        let verifier = self.verifier.load_full();
        let verdict = match chain.split_first() {
            Some((leaf, intermediates)) => verifier
                .verify_client_cert(leaf, intermediates, rustls::pki_types::UnixTime::now())
                .map(|_| ()),
            None => Err(rustls::Error::NoCertificatesPresented),
        };
        (current, Some(verdict))
    }

    /// The newest CRL in force per issuer.
    pub fn crls_in_force(&self) -> Arc<CrlsInForce> {
        self.crls.load_full()
    }

    /// Handshake refusals by reason.
    pub fn failures(&self) -> &Arc<HandshakeFailures> {
        &self.failures
    }

    /// Expiry of the server certificate, the CA certificates and the CRLs now in use.
    pub fn expiry(&self) -> Arc<ExpiryReport> {
        self.expiry.load_full()
    }
}

/// What kind of material an [`ExpiryEntry`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryKind {
    /// The server's certificate (the leaf of `[tls] cert`).
    ServerCertificate,
    /// A certificate of the client CA bundle.
    CaCertificate,
    /// A CRL's nextUpdate: after it the CRL is refused (fail closed).
    CrlNextUpdate,
}

impl ExpiryKind {
    /// The metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryKind::ServerCertificate => "server",
            ExpiryKind::CaCertificate => "ca",
            ExpiryKind::CrlNextUpdate => "crl",
        }
    }
}

/// One dated item of TLS material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryEntry {
    /// What it is.
    pub kind: ExpiryKind,
    /// The subject's (for a CRL: the issuer's) common name, or the whole name without one.
    pub name: String,
    /// When it expires (notAfter; for a CRL, nextUpdate).
    pub at: DateTime<Utc>,
}

/// Expiry of the material in the current configuration, for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiryReport {
    /// The server certificate first, then CA certificates, then CRLs.
    pub entries: Vec<ExpiryEntry>,
}

impl ExpiryReport {
    /// `(kind:name, days)` for each entry; negative once expired.
    pub fn days_until_expiry(&self, now: DateTime<Utc>) -> Vec<(String, f64)> {
        self.entries
            .iter()
            .map(|e| {
                let days = (e.at - now).num_seconds() as f64 / 86_400.0;
                (format!("{}:{}", e.kind.as_str(), e.name), days)
            })
            .collect()
    }
}

fn timestamp(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn common_name(name: &X509Name<'_>) -> String {
    name.iter_common_name()
        .find_map(|a| a.as_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| name.to_string())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(10).any(|w| w == b"-----BEGIN")
}

/// Every certificate in a PEM file, in order.
pub(crate) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = rustls_pemfile::certs(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, SEC1 or PKCS#1) in a PEM file.
pub(crate) fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        })?
        .ok_or_else(|| TlsError::NoPrivateKey {
            path: path.to_owned(),
        })
}

/// The CRLs of a file: every `X509 CRL` block of a PEM file, or the one CRL of a DER file.
pub(crate) fn read_crls(
    path: &Path,
) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let bytes = read(path)?;
    if !is_pem(&bytes) {
        return Ok(vec![CertificateRevocationListDer::from(bytes)]);
    }
    let crls = rustls_pemfile::crls(&mut bytes.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
    if crls.is_empty() {
        return Err(TlsError::Crl {
            path: path.to_owned(),
            index: 1,
            message: "no X509 CRL block in the PEM file".into(),
        });
    }
    Ok(crls)
}

#[cfg(test)]
mod tests;
