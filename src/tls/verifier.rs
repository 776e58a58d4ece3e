//! The client-certificate verifier folkreg installs: webpki's verdict, plus the counters by
//! reason that `/metrics` shows, plus the chain-building aid of the configured intermediates.
//!
//! Judging is rustls/webpki's (chain to a trust anchor, validity dates, clientAuth EKU when
//! present, CRLs), then folkreg's leaf policy ([`super::policy`]: KeyUsage `digitalSignature`
//! and an EKU with clientAuth, both required) on what webpki accepted; this wrapper never
//! turns a refusal into an acceptance. rustls sends the TLS alert that fits each
//! `CertificateError` itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, SignatureScheme,
};

use super::policy::{check_client_leaf_der, LeafPolicyError};

/// Why a client certificate failed the handshake, as counted for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// Past its notAfter.
    Expired,
    /// Before its notBefore.
    NotYetValid,
    /// Listed in a CRL.
    Revoked,
    /// Does not chain to the client CA bundle.
    UnknownIssuer,
    /// Lacks the clientAuth extended key usage (e.g. a server-only certificate), or has no
    /// ExtendedKeyUsage extension at all.
    InvalidPurpose,
    /// Its KeyUsage lacks `digitalSignature`, or it has no KeyUsage extension at all.
    KeyUsage,
    /// No CRL of its issuer is configured, or the CRL is past its nextUpdate.
    RevocationUnknown,
    /// A signature in the chain, or the handshake signature, does not verify.
    BadSignature,
    /// Anything else (bad encoding, unsupported algorithm, ...).
    Other,
}

impl FailureReason {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [FailureReason; 9] = [
        FailureReason::Expired,
        FailureReason::NotYetValid,
        FailureReason::Revoked,
        FailureReason::UnknownIssuer,
        FailureReason::InvalidPurpose,
        FailureReason::KeyUsage,
        FailureReason::RevocationUnknown,
        FailureReason::BadSignature,
        FailureReason::Other,
    ];

    /// The metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Expired => "expired",
            FailureReason::NotYetValid => "not_yet_valid",
            FailureReason::Revoked => "revoked",
            FailureReason::UnknownIssuer => "unknown_issuer",
            FailureReason::InvalidPurpose => "invalid_purpose",
            FailureReason::KeyUsage => "key_usage",
            FailureReason::RevocationUnknown => "revocation_unknown",
            FailureReason::BadSignature => "bad_signature",
            FailureReason::Other => "other",
        }
    }

    /// The reason for a verifier error.
    pub fn of(error: &Error) -> FailureReason {
        let Error::InvalidCertificate(e) = error else {
            return FailureReason::Other;
        };
        match e {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                FailureReason::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                FailureReason::NotYetValid
            }
            CertificateError::Revoked => FailureReason::Revoked,
            CertificateError::UnknownIssuer => FailureReason::UnknownIssuer,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                FailureReason::InvalidPurpose
            }
            CertificateError::UnknownRevocationStatus
            | CertificateError::ExpiredRevocationList
            | CertificateError::ExpiredRevocationListContext { .. } => {
                FailureReason::RevocationUnknown
            }
            CertificateError::BadSignature => FailureReason::BadSignature,
            CertificateError::Other(OtherError(inner))
                if inner
                    .downcast_ref::<LeafPolicyError>()
                    .is_some_and(LeafPolicyError::is_key_usage) =>
            {
                FailureReason::KeyUsage
            }
            _ => FailureReason::Other,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Handshakes refused for the client certificate, by reason. Shared (`Arc`) between every
/// verifier built on reload and the metrics layer, so counts survive a reload.
#[derive(Debug, Default)]
pub struct HandshakeFailures {
    /// One counter per [`FailureReason`], indexed by its discriminant.
    counts: [AtomicU64; FailureReason::ALL.len()],
}

impl HandshakeFailures {
    /// Counts one refusal.
    pub fn record(&self, reason: FailureReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The count for one reason.
    pub fn get(&self, reason: FailureReason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }

    /// Every reason with its count (zeros included, so metrics show every series).
    pub fn snapshot(&self) -> Vec<(FailureReason, u64)> {
        FailureReason::ALL
            .into_iter()
            .map(|r| (r, self.get(r)))
            .collect()
    }

    /// All refusals.
    pub fn total(&self) -> u64 {
        FailureReason::ALL.into_iter().map(|r| self.get(r)).sum()
    }
}

/// webpki's client verifier plus folkreg's leaf policy, counting refusals and offering the
/// configured intermediates.
///
/// Client certificates are always required (never delegated: `client_auth_mandatory` is
/// `true` whatever the inner verifier says).
#[derive(Debug)]
pub struct CountingVerifier {
    /// The judge: rustls's `WebPkiClientVerifier` with the roots and CRLs.
    inner: Arc<dyn ClientCertVerifier>,
    /// Intermediate CAs from the client CA bundle, added to whatever chain the client sends
    /// so that a client sending only its leaf still verifies. They are not trust anchors:
    /// the path must still end at a root, and their revocation is still checked.
    intermediates: Vec<CertificateDer<'static>>,
    /// Where refusals are counted.
    failures: Arc<HandshakeFailures>,
}

impl CountingVerifier {
    /// Wraps `inner`.
    pub fn new(
        inner: Arc<dyn ClientCertVerifier>,
        intermediates: Vec<CertificateDer<'static>>,
        failures: Arc<HandshakeFailures>,
    ) -> CountingVerifier {
        CountingVerifier {
            inner,
            intermediates,
            failures,
        }
    }

    /// The counters this verifier records into.
    pub fn failures(&self) -> &Arc<HandshakeFailures> {
        &self.failures
    }

    fn counted<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result {
            let reason = FailureReason::of(e);
            self.failures.record(reason);
            tracing::debug!(reason = reason.as_str(), error = %e, "client certificate refused");
        }
        result
    }

    /// A failed handshake signature: the client does not hold the certificate's key (or
    /// signs wrongly). Counted as a bad signature whatever the error's exact form; the error
    /// itself goes back to rustls unchanged, so the alert stays rustls's choice.
    fn counted_signature<T>(&self, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &result {
            self.failures.record(FailureReason::BadSignature);
            tracing::debug!(error = %e, "client handshake signature refused");
        }
        result
    }
}

impl ClientCertVerifier for CountingVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let result = if self.intermediates.is_empty() {
            self.inner
                .verify_client_cert(end_entity, intermediates, now)
        } else {
            let all: Vec<CertificateDer<'_>> = intermediates
                .iter()
                .chain(self.intermediates.iter())
                .map(|c| CertificateDer::from(c.as_ref()))
                .collect();
            self.inner.verify_client_cert(end_entity, &all, now)
        };
        // webpki first: a certificate it refuses is counted under webpki's reason.
        let result = result.and_then(|verified| {
            check_client_leaf_der(end_entity)
                .map(|()| verified)
                .map_err(|e| Error::InvalidCertificate(e.certificate_error()))
        });
        self.counted(result)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let r = self.inner.verify_tls12_signature(message, cert, dss);
        self.counted_signature(r)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        let r = self.inner.verify_tls13_signature(message, cert, dss);
        self.counted_signature(r)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_the_certificate_error() {
        let cases = [
            (CertificateError::Expired, FailureReason::Expired),
            (CertificateError::NotValidYet, FailureReason::NotYetValid),
            (CertificateError::Revoked, FailureReason::Revoked),
            (
                CertificateError::UnknownIssuer,
                FailureReason::UnknownIssuer,
            ),
            (
                CertificateError::InvalidPurpose,
                FailureReason::InvalidPurpose,
            ),
            (
                CertificateError::UnknownRevocationStatus,
                FailureReason::RevocationUnknown,
            ),
            (CertificateError::BadSignature, FailureReason::BadSignature),
            (CertificateError::BadEncoding, FailureReason::Other),
        ];
        for (e, want) in cases {
            assert_eq!(FailureReason::of(&Error::InvalidCertificate(e)), want);
        }
        assert_eq!(
            FailureReason::of(&Error::General("x".into())),
            FailureReason::Other
        );
        // folkreg's own leaf policy: KeyUsage problems are counted apart, EKU ones as
        // webpki's InvalidPurpose, whatever else is wrong besides.
        use super::super::policy::LeafProblem;
        let policy = |problems: Vec<LeafProblem>| {
            FailureReason::of(&Error::InvalidCertificate(
                LeafPolicyError { problems }.certificate_error(),
            ))
        };
        assert_eq!(
            policy(vec![LeafProblem::NoDigitalSignature]),
            FailureReason::KeyUsage
        );
        assert_eq!(
            policy(vec![LeafProblem::NoKeyUsage, LeafProblem::NoClientAuth]),
            FailureReason::KeyUsage
        );
        assert_eq!(
            policy(vec![LeafProblem::NoExtendedKeyUsage]),
            FailureReason::InvalidPurpose
        );
        assert_eq!(
            policy(vec![LeafProblem::Unparsable("x".into())]),
            FailureReason::Other
        );
        let unrelated = CertificateError::Other(OtherError(std::sync::Arc::new(
            std::io::Error::other("not ours"),
        )));
        assert_eq!(
            FailureReason::of(&Error::InvalidCertificate(unrelated)),
            FailureReason::Other
        );
    }

    #[test]
    fn counters_are_per_reason() {
        let f = HandshakeFailures::default();
        f.record(FailureReason::Revoked);
        f.record(FailureReason::Revoked);
        f.record(FailureReason::Other);
        assert_eq!(f.get(FailureReason::Revoked), 2);
        assert_eq!(f.get(FailureReason::Expired), 0);
        assert_eq!(f.total(), 3);
        assert_eq!(f.snapshot().len(), FailureReason::ALL.len());
        for (i, r) in FailureReason::ALL.into_iter().enumerate() {
            assert_eq!(r.index(), i, "ALL is in discriminant order");
        }
    }
}
