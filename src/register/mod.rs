//! The organisation register: which organisations may call, with which certificates, and
//! what they may see (CONTRACT.md "Files"; DOMAIN.md §3 and §7).
//!
//! Owns the register file (TOML, `deploy/register.dev.toml` in development), its validation
//! with file, line and field ([`Register::load`], the same checker behind
//! `folkreg register check` and every edit), the lookup that decides whether a certificate is
//! permitted now ([`Register::authorize`]) and the comment-preserving edits behind
//! `folkreg register add-org|add-cert|revoke-cert|remove-cert` ([`edit`]).
//!
//! It never decides which terms a category shows: that is `access.rs`, the one place for it.
//! It never reads TLS state: the caller passes the certificate's organisation number and
//! fingerprint (from `tls::PeerIdentity`).
//!
//! ```toml
//! [[organisation]]
//! orgnr = "2021004748"                  # 10 digits (or 12 with "16"), Luhn check digit
//! namn = "Lunds universitet"
//! categories = ["grund", "relationer"]  # grund is implied
//! switches = ["samordningsnummer"]
//! bestallningar = ["00000079-FO01-0001"]
//!
//! [[organisation.certificate]]
//! sha256 = "<64 lowercase hex: SHA-256 of the DER certificate>"
//! not_before = "2026-01-01T00:00:00Z"   # permission window, optional
//! not_after = "2028-01-01T00:00:00Z"    # optional
//! revoked = false                       # optional
//! cert_expires = "2036-01-01T00:00:00Z" # the certificate's own notAfter, for metrics; optional
//! comment = "..."                       # optional
//! ```

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::access::{Access, Category, Switch};

mod check;
pub mod edit;
pub mod orders;
pub mod urval_orders;

use crate::ids::{BestallningsId, OrgNr, OrgNrError};
pub use edit::{add_cert, add_org, remove_cert, revoke_cert, CertSource};

/// One organisation as the register lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Its organisationsnummer: what the certificate subject and `Bestallning/OrgNr` carry.
    pub orgnr: OrgNr,
    /// Its name, for people reading lists and logs.
    pub namn: String,
    /// What it may see; always holds [`Category::Grund`].
    pub categories: BTreeSet<Category>,
    /// Which kinds of numbers and special terms it may receive.
    pub switches: BTreeSet<Switch>,
    /// The `BestallningsId` values it may send.
    pub bestallningar: Vec<BestallningsId>,
    /// The certificates it may call with.
    pub certificates: Vec<CertPermission>,
    /// Its avisering orders (`[[organisation.avisering]]`), each one of its bestallningar.
    pub avisering: Vec<orders::Order>,
    /// Its urval orders (`[[organisation.urval]]`), each one of its bestallningar.
    pub urval: Vec<urval_orders::UrvalOrder>,
    /// The SPAR customer numbers it may call SPAR's PersonSök with (`[[organisation.spar]]`);
    /// none = it may not use SPAR's wire.
    pub spar: Vec<SparKund>,
}

/// A pair of SPAR customer numbers (`Identifieringsinformation`): who receives the answer
/// and the end customer it is for. A request must name a pair its organisation holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SparKund {
    /// `KundNrLeveransMottagare`.
    pub leveransmottagare: u32,
    /// `KundNrSlutkund`.
    pub slutkund: u32,
}

impl SparKund {
    /// SPAR's customer numbers (`IdentifieringsinformationWs-1.1.xsd`: 500001–599999).
    pub const RANGE: std::ops::RangeInclusive<u32> = 500_001..=599_999;
}

impl Organisation {
    /// What it may see: its categories and switches as the access rules apply them.
    pub fn access(&self) -> Access {
        Access::from_sets(&self.categories, &self.switches)
    }

    /// Whether it has this category.
    pub fn has_category(&self, c: Category) -> bool {
        self.categories.contains(&c)
    }

    /// Whether it has this switch.
    pub fn has_switch(&self, s: Switch) -> bool {
        self.switches.contains(&s)
    }

    /// Whether it may call SPAR's PersonSök with these customer numbers.
    pub fn allows_spar(&self, leveransmottagare: u32, slutkund: u32) -> bool {
        self.spar.contains(&SparKund {
            leveransmottagare,
            slutkund,
        })
    }

    /// Whether it may send this `BestallningsId`.
    pub fn allows_bestallning(&self, id: &str) -> bool {
        self.bestallningar.iter().any(|b| b == id)
    }

    /// The ids of its delivery orders: avisering, then urval.
    pub fn delivery_order_ids(&self) -> impl Iterator<Item = &str> {
        let avisering = self.avisering.iter().map(|o| o.id.as_str());
        avisering.chain(self.urval.iter().map(|o| o.id.as_str()))
    }
}

/// One certificate an organisation may call with, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertPermission {
    /// SHA-256 of the certificate's DER encoding: pins this exact certificate.
    pub fingerprint: [u8; 32],
    /// The permission starts here (inclusive); none = since always.
    pub not_before: Option<DateTime<Utc>>,
    /// The permission ends here (exclusive); none = until revoked or removed.
    pub not_after: Option<DateTime<Utc>>,
    /// Withdrawn by the operator, kept listed so the refusal says why.
    pub revoked: bool,
    /// The certificate's own notAfter, recorded by `add-cert` so `/metrics` can show days
    /// until each registered certificate expires without holding the certificate.
    pub cert_expires: Option<DateTime<Utc>>,
    /// Free text for operators.
    pub comment: Option<String>,
}

impl CertPermission {
    /// Whether this permission admits a call at `now`, or the reason it does not.
    pub fn check_at(&self, now: DateTime<Utc>) -> Result<(), Denied> {
        if self.revoked {
            return Err(Denied::Revoked);
        }
        if let Some(from) = self.not_before.filter(|from| now < *from) {
            return Err(Denied::NotYetPermitted { from });
        }
        if let Some(until) = self.not_after.filter(|until| now >= *until) {
            return Err(Denied::NoLongerPermitted { until });
        }
        Ok(())
    }

    /// The fingerprint as 64 lowercase hex digits, as the register file writes it.
    pub fn fingerprint_hex(&self) -> String {
        hex::encode(self.fingerprint)
    }
}

/// Why the register refuses a certificate. The texts name no person and are safe to send in
/// a fault and to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The certificate's organisation is not in the register.
    #[error("the organisation is not in the register")]
    UnknownOrganisation,
    /// The organisation is listed, but not with this certificate.
    #[error("this certificate is not registered for the organisation")]
    UnknownCertificate,
    /// The certificate is registered, but for another organisation than its subject names.
    #[error("this certificate is registered for another organisation")]
    CertificateOfOtherOrganisation,
    /// The permission for this certificate has not started.
    #[error("the permission for this certificate begins {}", rfc3339(from))]
    NotYetPermitted {
        /// When it begins.
        from: DateTime<Utc>,
    },
    /// The permission for this certificate has ended.
    #[error("the permission for this certificate ended {}", rfc3339(until))]
    NoLongerPermitted {
        /// When it ended.
        until: DateTime<Utc>,
    },
    /// The operator revoked this certificate in the register.
    #[error("this certificate is revoked in the register")]
    Revoked,
}

impl Denied {
    /// A stable machine reason, for logs and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::UnknownOrganisation => "unknown_organisation",
            Denied::UnknownCertificate => "unknown_certificate",
            Denied::CertificateOfOtherOrganisation => "certificate_of_other_organisation",
            Denied::NotYetPermitted { .. } => "not_yet_permitted",
            Denied::NoLongerPermitted { .. } => "no_longer_permitted",
            Denied::Revoked => "revoked",
        }
    }
}

/// A timestamp as the register writes it: RFC 3339, UTC, whole seconds.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// One mistake in a register file: where, which field, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file.
    pub line: usize,
    /// The field, as a TOML path (`organisation.certificate.sha256`).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Why a register cannot be read, checked or edited.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The file cannot be read.
    #[error("{path}: cannot read: {source}", path = path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a wrong type.
    #[error("{path}:{line}: {message}", path = path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong, naming the field.
        message: String,
    },
    /// Values that parse but break a rule: every one found, each with line and field.
    #[error("{}", invalid_text(path, problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The mistakes, in file order.
        problems: Vec<Problem>,
    },
    /// An edit whose result would break a rule of the check; nothing was written. The
    /// problems' lines are of the edited text, which never reached the disk, so they are not
    /// shown.
    #[error("{}", refused_text(path, problems))]
    EditRefused {
        /// The file.
        path: PathBuf,
        /// What the edit would have broken.
        problems: Vec<Problem>,
    },
    /// The edited file could not be written (the old file is unchanged).
    #[error("{path}: cannot write: {source}", path = path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// An edit names an organisation the register does not list.
    #[error("{path}: no organisation {orgnr}", path = path.display())]
    NoSuchOrganisation {
        /// The file.
        path: PathBuf,
        /// The organisation asked for.
        orgnr: OrgNr,
    },
    /// `add-org` for an organisation already listed.
    #[error("{path}: organisation {orgnr} is already listed", path = path.display())]
    OrganisationExists {
        /// The file.
        path: PathBuf,
        /// The organisation.
        orgnr: OrgNr,
    },
    /// An edit names a fingerprint the register does not list.
    #[error("{path}: no certificate {fingerprint}", path = path.display())]
    NoSuchCertificate {
        /// The file.
        path: PathBuf,
        /// The fingerprint, hex.
        fingerprint: String,
    },
    /// `add-cert` for a certificate already listed.
    #[error("{path}: certificate {fingerprint} is already listed for {orgnr}", path = path.display())]
    CertificateExists {
        /// The file.
        path: PathBuf,
        /// The fingerprint, hex.
        fingerprint: String,
        /// Where it is listed.
        orgnr: OrgNr,
    },
    /// The certificate file for `add-cert` cannot be read or is no certificate.
    #[error("{path}: {message}", path = path.display())]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The certificate for `add-cert` is not usable as a client certificate (KeyUsage
    /// `digitalSignature` and EKU clientAuth are required, as at the handshake).
    #[error("{path}: {source}", path = path.display())]
    CertificateUse {
        /// The certificate file.
        path: PathBuf,
        /// What it lacks.
        source: crate::tls::LeafPolicyError,
    },
    /// The certificate names another organisation (or none) than the one it is added to.
    #[error(
        "{path}: the certificate's subject carries organisationsnummer {found}, not {orgnr}",
        path = path.display(),
        found = found.map(|o| o.to_string()).unwrap_or_else(|| "none".into())
    )]
    CertificateOrganisation {
        /// The certificate file.
        path: PathBuf,
        /// The organisation number in its subject, if any.
        found: Option<OrgNr>,
        /// The organisation it was to be added to.
        orgnr: OrgNr,
    },
    /// A fingerprint argument that is not 32 bytes of hex.
    #[error("`{0}` is not a SHA-256 fingerprint (64 hex digits, colons allowed)")]
    BadFingerprint(String),
    /// An organisation number argument that does not parse.
    #[error("`{value}`: {source}")]
    BadOrgNr {
        /// The input.
        value: String,
        /// Why.
        source: OrgNrError,
    },
    /// An unknown category or switch name (command-line input).
    #[error(transparent)]
    UnknownName(#[from] crate::access::UnknownName),
}

impl RegisterError {
    /// Whether the input (file or arguments) is at fault — exit code 2 — rather than the
    /// machine (exit code 1).
    pub fn is_input_error(&self) -> bool {
        !matches!(
            self,
            RegisterError::Write { .. } | RegisterError::Read { .. }
        )
    }
}

fn invalid_text(path: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}: field `{}`: {}",
                path.display(),
                p.line,
                p.field,
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn refused_text(path: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "{}: the edit would break field `{}`: {}",
                path.display(),
                p.field,
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses an organisation number given by a person (`2021004748`, `202100-4748`,
/// `162021004748`).
pub fn parse_orgnr(s: &str) -> Result<OrgNr, RegisterError> {
    OrgNr::parse(s.trim()).map_err(|source| RegisterError::BadOrgNr {
        value: s.to_owned(),
        source,
    })
}

/// Parses a fingerprint given by a person: 64 hex digits, either case, colons allowed
/// (as `openssl x509 -fingerprint -sha256` prints it).
pub fn parse_fingerprint(s: &str) -> Result<[u8; 32], RegisterError> {
    let cleaned: String = s.trim().chars().filter(|c| *c != ':').collect();
    let mut out = [0u8; 32];
    match hex::decode_to_slice(&cleaned, &mut out) {
        Ok(()) => Ok(out),
        Err(_) => Err(RegisterError::BadFingerprint(s.to_owned())),
    }
}

/// The register: organisations by number and their certificates by fingerprint.
///
/// Built only by [`Register::load`] or [`Register::parse`], which refuse a file with any
/// mistake, so every `Register` is consistent: numbers and fingerprints are unique.
#[derive(Debug, Clone, Default)]
pub struct Register {
    /// The organisations, in file order; shared so that a request holds its caller's entry
    /// without copying it or the register.
    organisations: Vec<Arc<Organisation>>,
    /// Index into `organisations` by number.
    by_orgnr: HashMap<OrgNr, usize>,
    /// (organisation, certificate) indexes by fingerprint.
    by_fingerprint: HashMap<[u8; 32], (usize, usize)>,
}

impl Register {
    /// Reads and checks the register file.
    pub fn load(path: &Path) -> Result<Register, RegisterError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegisterError::Read {
            path: path.to_owned(),
            source,
        })?;
        Register::parse(&text, path)
    }

    /// Checks register text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Register, RegisterError> {
        let organisations = check::check(text, path)?;
        Ok(Register::from_organisations(
            organisations.into_iter().map(Arc::new).collect(),
        ))
    }

    /// Indexes checked organisations (numbers and fingerprints unique).
    fn from_organisations(organisations: Vec<Arc<Organisation>>) -> Register {
        let mut by_orgnr = HashMap::new();
        let mut by_fingerprint = HashMap::new();
        for (i, org) in organisations.iter().enumerate() {
            by_orgnr.insert(org.orgnr, i);
            for (j, cert) in org.certificates.iter().enumerate() {
                by_fingerprint.insert(cert.fingerprint, (i, j));
            }
        }
        Register {
            organisations,
            by_orgnr,
            by_fingerprint,
        }
    }

    /// Whether the certificate with this fingerprint, whose subject names `orgnr`, may call
    /// at `now`; the organisation's entry if so.
    pub fn authorize(
        &self,
        orgnr: &OrgNr,
        fingerprint: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<&Arc<Organisation>, Denied> {
        let Some(&(i, j)) = self.by_fingerprint.get(fingerprint) else {
            return Err(if self.by_orgnr.contains_key(orgnr) {
                Denied::UnknownCertificate
            } else {
                Denied::UnknownOrganisation
            });
        };
        let org = &self.organisations[i];
        if org.orgnr != *orgnr {
            return Err(Denied::CertificateOfOtherOrganisation);
        }
        org.certificates[j].check_at(now)?;
        Ok(org)
    }

    /// The organisation with this number.
    pub fn organisation(&self, orgnr: &OrgNr) -> Option<&Organisation> {
        self.by_orgnr.get(orgnr).map(|&i| &*self.organisations[i])
    }

    /// The organisation and permission listing this fingerprint.
    pub fn certificate(&self, fingerprint: &[u8; 32]) -> Option<(&Organisation, &CertPermission)> {
        self.by_fingerprint.get(fingerprint).map(|&(i, j)| {
            (
                &*self.organisations[i],
                &self.organisations[i].certificates[j],
            )
        })
    }

    /// Every organisation, in file order.
    pub fn organisations(&self) -> &[Arc<Organisation>] {
        &self.organisations
    }

    /// Every registered certificate with its organisation (for `/metrics`).
    pub fn certificates(&self) -> impl Iterator<Item = (&Organisation, &CertPermission)> {
        self.organisations
            .iter()
            .flat_map(|o| o.certificates.iter().map(move |c| (&**o, c)))
    }

    /// The human listing behind `folkreg register list`: each organisation, then each of its
    /// certificates with its state at `now`.
    pub fn list(&self, now: DateTime<Utc>) -> String {
        let mut out = String::new();
        let join = |v: Vec<&str>| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                v.join(",")
            }
        };
        for org in &self.organisations {
            out.push_str(&format!(
                "{}  {}\n  categories:    {}\n  switches:      {}\n  bestallningar: {}\n",
                org.orgnr,
                org.namn,
                join(org.categories.iter().map(|c| c.as_str()).collect()),
                join(org.switches.iter().map(|s| s.as_str()).collect()),
                join(
                    org.bestallningar
                        .iter()
                        .map(BestallningsId::as_str)
                        .collect()
                ),
            ));
            if org.certificates.is_empty() {
                out.push_str("  certificates:  none\n");
            }
            for cert in &org.certificates {
                let mut state = match cert.check_at(now) {
                    Ok(()) => "permitted".to_owned(),
                    Err(d) => d.code().replace('_', " "),
                };
                if cert.cert_expires.is_some_and(|exp| exp <= now) {
                    state.push_str(", certificate expired");
                }
                let window = match (&cert.not_before, &cert.not_after) {
                    (None, None) => "no window".to_owned(),
                    (from, until) => format!(
                        "{} .. {}",
                        from.as_ref().map(rfc3339).unwrap_or_default(),
                        until.as_ref().map(rfc3339).unwrap_or_default()
                    ),
                };
                out.push_str(&format!(
                    "  cert {}  {}  [{}]",
                    cert.fingerprint_hex(),
                    state,
                    window
                ));
                if let Some(exp) = &cert.cert_expires {
                    out.push_str(&format!("  expires {}", rfc3339(exp)));
                }
                if let Some(c) = &cert.comment {
                    out.push_str(&format!("  # {c}"));
                }
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
