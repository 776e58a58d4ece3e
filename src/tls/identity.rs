//! Who is calling: the organisation number and fingerprint of a verified client certificate
//! (DOMAIN.md §7).
//!
//! Swedish organisation certificates carry the organisationsnummer in the subject, either as
//! `organizationIdentifier` (OID 2.5.4.97) in the ETSI EN 319 412-1 form `NTRSE-` + 10 digits,
//! or as `serialNumber` (OID 2.5.4.5) holding the 10 digits or the 12-digit `16` form. The
//! register, not this module, decides whether that organisation and certificate may call.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use x509_parser::x509::X509Name;

use super::TlsError;
use crate::ids::OrgNr;

/// DER content octets of OID 2.5.4.97 (organizationIdentifier).
const OID_ORGANIZATION_IDENTIFIER: &[u8] = &[0x55, 0x04, 0x61];
/// DER content octets of OID 2.5.4.5 (serialNumber).
const OID_SERIAL_NUMBER: &[u8] = &[0x55, 0x04, 0x05];
/// ETSI EN 319 412-1 semantics identifier for a national trade register number, Sweden.
const NTR_SWEDEN: &str = "NTRSE-";

/// The caller as its end-entity certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The organisationsnummer in the subject; `None` if it carries none (or two that
    /// disagree), which the register always refuses.
    pub orgnr: Option<OrgNr>,
    /// SHA-256 of the certificate's DER: what the register pins.
    pub fingerprint: [u8; 32],
    /// The certificate's notAfter (for logs and metrics; the verifier has already enforced it).
    pub not_after: DateTime<Utc>,
}

impl PeerIdentity {
    /// Reads the identity from the end-entity certificate's DER.
    pub fn from_der(der: &[u8]) -> Result<PeerIdentity, TlsError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| TlsError::PeerCertificate(e.to_string()))?;
        let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
            .ok_or_else(|| TlsError::PeerCertificate("notAfter out of range".into()))?;
        Ok(PeerIdentity {
            orgnr: orgnr_of_subject(cert.subject()),
            fingerprint: Sha256::digest(der).into(),
            not_after,
        })
    }

    /// The fingerprint as 64 lowercase hex digits, as the register writes it.
    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.fingerprint)
    }
}

/// The organisationsnummer of a subject: every `organizationIdentifier` with the `NTRSE-`
/// prefix and every `serialNumber` that parses as one. They must agree; none or a
/// disagreement gives `None`.
fn orgnr_of_subject(subject: &X509Name<'_>) -> Option<OrgNr> {
    let mut found: Option<OrgNr> = None;
    for attr in subject.iter_attributes() {
        let oid = attr.attr_type().as_bytes();
        let Ok(text) = attr.as_str() else { continue };
        let candidate = if oid == OID_ORGANIZATION_IDENTIFIER {
            text.strip_prefix(NTR_SWEDEN)
                .and_then(|n| OrgNr::parse(n).ok())
        } else if oid == OID_SERIAL_NUMBER {
            OrgNr::parse(text).ok()
        } else {
            None
        };
        match (found, candidate) {
            (_, None) => {}
            (None, Some(c)) => found = Some(c),
            (Some(f), Some(c)) if f == c => {}
            (Some(_), Some(_)) => return None,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType, DnValue, KeyPair};

    fn cert_with(subject: &[(DnType, &str)]) -> Vec<u8> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (ty, v) in subject {
            let value = match rcgen::PrintableString::try_from(*v) {
                Ok(p) => DnValue::PrintableString(p),
                Err(_) => DnValue::Utf8String((*v).to_owned()),
            };
            params.distinguished_name.push(ty.clone(), value);
        }
        let key = KeyPair::generate().expect("key");
        params.self_signed(&key).expect("cert").der().to_vec()
    }

    fn org_id() -> DnType {
        DnType::CustomDnType(vec![2, 5, 4, 97])
    }

    fn serial() -> DnType {
        DnType::CustomDnType(vec![2, 5, 4, 5])
    }

    #[test]
    fn organisation_number_from_the_subject() {
        let lund = OrgNr::parse("2021004748").ok();
        // (what, subject attributes, organisation number read)
        type Case = (&'static str, Vec<(DnType, &'static str)>, Option<OrgNr>);
        let cases: Vec<Case> = vec![
            (
                "organizationIdentifier NTRSE-",
                vec![
                    (DnType::OrganizationName, "Lunds universitet"),
                    (org_id(), "NTRSE-2021004748"),
                ],
                lund,
            ),
            (
                "serialNumber 10 digits",
                vec![(serial(), "2021004748")],
                lund,
            ),
            (
                "serialNumber 12 digits with 16",
                vec![(serial(), "162021004748")],
                lund,
            ),
            (
                "both, agreeing",
                vec![(org_id(), "NTRSE-2021004748"), (serial(), "162021004748")],
                lund,
            ),
            (
                "both, disagreeing",
                vec![(org_id(), "NTRSE-2021004748"), (serial(), "5560160680")],
                None,
            ),
            ("none", vec![(DnType::CommonName, "no number here")], None),
            (
                "bad check digit",
                vec![(org_id(), "NTRSE-2021004747")],
                None,
            ),
            ("other register", vec![(org_id(), "VATSE-2021004748")], None),
            (
                "personnummer in serialNumber",
                vec![(serial(), "196408233234")],
                None,
            ),
            (
                "number only in CN",
                vec![(DnType::CommonName, "2021004748")],
                None,
            ),
        ];
        for (what, subject, want) in &cases {
            let der = cert_with(subject);
            let peer = PeerIdentity::from_der(&der).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(peer.orgnr, *want, "{what}");
        }
    }

    #[test]
    fn fingerprint_is_sha256_of_the_der() {
        let der = cert_with(&[(DnType::CommonName, "x")]);
        let peer = PeerIdentity::from_der(&der).expect("parses");
        let want: [u8; 32] = Sha256::digest(&der).into();
        assert_eq!(peer.fingerprint, want);
        assert_eq!(peer.fingerprint_hex().len(), 64);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(matches!(
            PeerIdentity::from_der(b"not a certificate"),
            Err(TlsError::PeerCertificate(_))
        ));
    }
}
