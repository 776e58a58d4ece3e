//! The CRL policy applied whenever the TLS files are loaded (at start and on every reload),
//! before anything is put in force. With CRLs configured, a set is refused whole when
//! - a CRL is past its nextUpdate (by the service's clock): webpki would refuse every client
//!   of that CA, so putting it in force locks them all out;
//! - a CRL is older than the one in force for the same issuer (a lower CRL number; without
//!   CRL numbers on both, an earlier thisUpdate), or than another CRL of the same issuer in
//!   the same files (webpki would use whichever comes first): it would un-revoke
//!   certificates. A partitioned CRL (with an issuing distribution point) is compared only
//!   with CRLs of the same partition, whose numbers are their own sequence;
//! - a CA of the client CA bundle has no CRL: every certificate it issued would be refused
//!   as "revocation unknown", and an operator who forgot the CRL should hear it now, not from
//!   the clients.
//!
//! The verifier still fails closed at the handshake (a CRL that expires while in force, an
//! issuer without a CRL): this policy only keeps a reload from making things worse.
//!
//! Must never: log anything but file names, positions and CA names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use x509_parser::num_bigint::BigUint;
use x509_parser::oid_registry::OID_X509_EXT_ISSUER_DISTRIBUTION_POINT;

use super::{common_name, timestamp, TlsError};

/// Why a set of TLS files was refused, as counted in `folkreg_tls_reload_refused_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReloadRefusal {
    /// A CRL past its nextUpdate.
    CrlExpired,
    /// A CRL older than the one in force for its issuer.
    CrlOlder,
    /// A CA of the client CA bundle without a CRL.
    CrlMissing,
    /// Any other unusable TLS file (unreadable, bad PEM, a key that does not match, ...).
    Other,
}

impl ReloadRefusal {
    /// Every reason, in the order `/metrics` lists them.
    pub const ALL: [ReloadRefusal; 4] = [
        ReloadRefusal::CrlExpired,
        ReloadRefusal::CrlOlder,
        ReloadRefusal::CrlMissing,
        ReloadRefusal::Other,
    ];

    /// The metrics label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadRefusal::CrlExpired => "crl_expired",
            ReloadRefusal::CrlOlder => "crl_older",
            ReloadRefusal::CrlMissing => "crl_missing",
            ReloadRefusal::Other => "other",
        }
    }
}

/// How recent a CRL is: what "older" compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlAge {
    /// The CRL number extension, if the CRL has one.
    pub number: Option<BigUint>,
    /// thisUpdate.
    pub this_update: DateTime<Utc>,
}

impl CrlAge {
    /// Older than `other`: by CRL number when both have one (RFC 5280 §5.2.3: monotonically
    /// increasing per issuer), else by thisUpdate.
    pub fn is_older_than(&self, other: &CrlAge) -> bool {
        match (&self.number, &other.number) {
            (Some(a), Some(b)) => a < b,
            _ => self.this_update < other.this_update,
        }
    }
}

impl std::fmt::Display for CrlAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.number {
            Some(n) => write!(f, "CRL number {n}"),
            None => write!(f, "thisUpdate {}", self.this_update.to_rfc3339()),
        }
    }
}

/// Which CRLs are one sequence, compared with each other: one issuer's, of one partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CrlScope {
    /// The issuer's name, DER.
    issuer: Vec<u8>,
    /// The issuing distribution point extension's DER; empty for a CRL of the whole scope.
    partition: Vec<u8>,
}

/// The newest CRL in force for each issuer (and partition): what a reload's CRLs are
/// compared with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlsInForce {
    /// Scope → the newest of its CRLs.
    newest: BTreeMap<CrlScope, CrlAge>,
}

impl CrlsInForce {
    /// The newest CRL in force of this issuer (by its DER name) covering all its
    /// certificates (not a partition).
    pub fn of(&self, issuer_der: &[u8]) -> Option<&CrlAge> {
        self.newest.get(&CrlScope {
            issuer: issuer_der.to_vec(),
            partition: Vec::new(),
        })
    }

    /// Whether any CRL of this issuer is in the set.
    fn covers(&self, issuer_der: &[u8]) -> bool {
        self.newest.keys().any(|s| s.issuer == issuer_der)
    }

    fn record(&mut self, scope: &CrlScope, age: &CrlAge) {
        match self.newest.get(scope) {
            Some(have) if !have.is_older_than(age) => {}
            _ => {
                self.newest.insert(scope.clone(), age.clone());
            }
        }
    }
}

/// One CRL of the files, as the policy sees it.
pub(super) struct CrlFacts {
    /// The file it came from.
    pub path: PathBuf,
    /// 1-based position in the file.
    pub index: usize,
    /// The issuer (and partition) it is one of a sequence of.
    pub scope: CrlScope,
    /// The issuer's common name (for messages).
    pub issuer: String,
    /// How recent it is.
    pub age: CrlAge,
    /// nextUpdate, if it has one.
    pub next_update: Option<DateTime<Utc>>,
}

impl CrlFacts {
    /// Reads what the policy needs from a parsed CRL.
    pub fn of(
        path: &Path,
        index: usize,
        crl: &x509_parser::revocation_list::CertificateRevocationList<'_>,
    ) -> CrlFacts {
        let partition = crl
            .extensions()
            .iter()
            .find(|e| e.oid == OID_X509_EXT_ISSUER_DISTRIBUTION_POINT)
            .map(|e| e.value.to_vec())
            .unwrap_or_default();
        CrlFacts {
            path: path.to_owned(),
            index,
            scope: CrlScope {
                issuer: crl.issuer().as_raw().to_vec(),
                partition,
            },
            issuer: common_name(crl.issuer()),
            age: CrlAge {
                number: crl.crl_number().cloned(),
                this_update: timestamp(crl.last_update().timestamp()),
            },
            next_update: crl.next_update().map(|t| timestamp(t.timestamp())),
        }
    }
}

/// A CA of the client CA bundle, as the policy sees it.
pub(super) struct CaFacts {
    /// 1-based position in the bundle.
    pub index: usize,
    /// Its subject, DER.
    pub subject_der: Vec<u8>,
    /// Its common name (for messages).
    pub name: String,
}

/// Checks a set of CRLs and the CAs they are for; `in_force` is `None` at start. Returns
/// what the set puts in force. With no CRLs there is nothing to check (revocation is off,
/// which is warned about where the verifier is built).
pub(super) fn check(
    client_ca: &Path,
    cas: &[CaFacts],
    crls: &[CrlFacts],
    now: DateTime<Utc>,
    in_force: Option<&CrlsInForce>,
) -> Result<CrlsInForce, TlsError> {
    let mut set = CrlsInForce::default();
    for crl in crls {
        if let Some(next) = crl.next_update.filter(|next| *next <= now) {
            return Err(TlsError::CrlExpired {
                path: crl.path.clone(),
                index: crl.index,
                issuer: crl.issuer.clone(),
                next_update: next,
            });
        }
        set.record(&crl.scope, &crl.age);
    }
    for crl in crls {
        let older = |newer: String| TlsError::CrlOlder {
            path: crl.path.clone(),
            index: crl.index,
            issuer: crl.issuer.clone(),
            found: crl.age.to_string(),
            newer,
        };
        let have = in_force.and_then(|f| f.newest.get(&crl.scope));
        if let Some(have) = have.filter(|have| crl.age.is_older_than(have)) {
            return Err(older(format!("{have} in force")));
        }
        let newest = set.newest.get(&crl.scope);
        if let Some(newest) = newest.filter(|newest| crl.age.is_older_than(newest)) {
            return Err(older(format!("{newest} of the same CA in these files")));
        }
    }
    if crls.is_empty() {
        return Ok(set);
    }
    if let Some(ca) = cas.iter().find(|ca| !set.covers(&ca.subject_der)) {
        return Err(TlsError::CrlMissing {
            path: client_ca.to_owned(),
            index: ca.index,
            ca: ca.name.clone(),
        });
    }
    Ok(set)
}
