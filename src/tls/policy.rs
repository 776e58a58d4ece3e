//! What a client certificate must be for, beyond what webpki checks: the one rule, applied by
//! the handshake's verifier ([`super::CountingVerifier`]) and by `folkreg register add-cert`.
//!
//! A client certificate (the leaf) must carry
//! - a KeyUsage extension with `digitalSignature`: the TLS client proves it holds the key by
//!   signing the handshake. A certificate without the extension at all is refused too: the
//!   issue's rule is that the key *needs* `digitalSignature`, so it must be said, not implied
//!   (RFC 5280 would allow any use when the extension is absent).
//! - an ExtendedKeyUsage extension with `id-kp-clientAuth`. webpki refuses an EKU without
//!   clientAuth but lets a certificate without the extension through; folkreg refuses that
//!   too, and `anyExtendedKeyUsage` alone does not stand in for clientAuth.
//!
//! Must never: turn a refusal by webpki into an acceptance (it only runs after webpki said yes).

use std::sync::Arc;

use rustls::{CertificateError, OtherError};
use x509_parser::certificate::X509Certificate;

/// One thing a client certificate lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafProblem {
    /// No KeyUsage extension.
    NoKeyUsage,
    /// A KeyUsage extension without `digitalSignature`.
    NoDigitalSignature,
    /// No ExtendedKeyUsage extension.
    NoExtendedKeyUsage,
    /// An ExtendedKeyUsage extension without `clientAuth`.
    NoClientAuth,
    /// A KeyUsage or ExtendedKeyUsage extension that cannot be read (or appears twice).
    BadExtension(String),
    /// The certificate itself does not parse.
    Unparsable(String),
}

impl LeafProblem {
    /// Whether this is about KeyUsage (counted as `key_usage`) rather than EKU (counted as
    /// `invalid_purpose`, like webpki's own EKU refusal).
    pub fn is_key_usage(&self) -> bool {
        matches!(
            self,
            LeafProblem::NoKeyUsage | LeafProblem::NoDigitalSignature
        )
    }
}

impl std::fmt::Display for LeafProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeafProblem::NoKeyUsage => {
                f.write_str("no KeyUsage extension (digitalSignature is required)")
            }
            LeafProblem::NoDigitalSignature => f.write_str("KeyUsage lacks digitalSignature"),
            LeafProblem::NoExtendedKeyUsage => {
                f.write_str("no ExtendedKeyUsage extension (clientAuth is required)")
            }
            LeafProblem::NoClientAuth => f.write_str("ExtendedKeyUsage lacks clientAuth"),
            LeafProblem::BadExtension(why) => write!(f, "unreadable extension: {why}"),
            LeafProblem::Unparsable(why) => write!(f, "the certificate does not parse: {why}"),
        }
    }
}

/// A certificate that is not usable as a client certificate: everything it lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a client certificate: {}", self.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct LeafPolicyError {
    /// What it lacks (never empty), KeyUsage first.
    pub problems: Vec<LeafProblem>,
}

impl LeafPolicyError {
    /// Whether any problem is about KeyUsage.
    pub fn is_key_usage(&self) -> bool {
        self.problems.iter().any(LeafProblem::is_key_usage)
    }

    /// The refusal the handshake reports (and rustls turns into an alert): a KeyUsage
    /// problem as this error itself (alert `certificate_unknown`, counted `key_usage`), a
    /// missing clientAuth as webpki's own `InvalidPurpose` (alert `unsupported_certificate`,
    /// counted `invalid_purpose`), an unreadable certificate as `BadEncoding`.
    pub fn certificate_error(self) -> CertificateError {
        if self.is_key_usage() {
            CertificateError::Other(OtherError(Arc::new(self)))
        } else if self.problems.iter().any(|p| {
            matches!(
                p,
                LeafProblem::NoExtendedKeyUsage | LeafProblem::NoClientAuth
            )
        }) {
            CertificateError::InvalidPurpose
        } else {
            CertificateError::BadEncoding
        }
    }
}

/// Checks that `cert` may be used as a TLS client certificate (see the module's rule).
pub fn check_client_leaf(cert: &X509Certificate<'_>) -> Result<(), LeafPolicyError> {
    let mut problems = Vec::new();
    match cert.key_usage() {
        Ok(Some(ku)) if ku.value.digital_signature() => {}
        Ok(Some(_)) => problems.push(LeafProblem::NoDigitalSignature),
        Ok(None) => problems.push(LeafProblem::NoKeyUsage),
        Err(e) => problems.push(LeafProblem::BadExtension(format!("KeyUsage: {e}"))),
    }
    match cert.extended_key_usage() {
        Ok(Some(eku)) if eku.value.client_auth => {}
        Ok(Some(_)) => problems.push(LeafProblem::NoClientAuth),
        Ok(None) => problems.push(LeafProblem::NoExtendedKeyUsage),
        Err(e) => problems.push(LeafProblem::BadExtension(format!("ExtendedKeyUsage: {e}"))),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(LeafPolicyError { problems })
    }
}

/// [`check_client_leaf`] on a DER certificate; one that does not parse is refused.
pub fn check_client_leaf_der(der: &[u8]) -> Result<(), LeafPolicyError> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => check_client_leaf(&cert),
        Err(e) => Err(LeafPolicyError {
            problems: vec![LeafProblem::Unparsable(e.to_string())],
        }),
    }
}
