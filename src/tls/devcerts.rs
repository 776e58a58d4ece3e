//! The development PKI behind `folkreg dev-certs`: a root and an intermediate CA, the server
//! certificate, client certificates for every case the service must accept or refuse, the
//! CRL, `index.toml` describing every file for tests in any language, a README for people,
//! and the matching development register.
//!
//! Keys are ECDSA P-256, made fresh on every run (nothing here is secret: it is committed).
//! The cases are one table ([`CLIENTS`]); the register, the index and the README are written
//! from it, so they cannot disagree with the certificates.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType,
    DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::register::{rfc3339, Category, OrgNr, Register, RegisterError, Switch};

/// Name of the index file in the output folder.
pub const INDEX_FILE: &str = "index.toml";

/// Why the development PKI could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DevCertsError {
    /// rcgen refused a certificate or CRL.
    #[error("cannot make {what}: {source}")]
    Generate {
        /// Which file.
        what: String,
        /// Why.
        source: rcgen::Error,
    },
    /// A file or folder cannot be written or read.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The generated register does not pass the register's checker (a bug here).
    #[error("generated register is invalid: {0}")]
    Register(#[from] RegisterError),
    /// `index.toml` cannot be written or read.
    #[error("{path}: {message}", path = path.display())]
    Index {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// What an `index.toml` entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A self-signed CA (trusted or not: see `trusted`).
    RootCa,
    /// The intermediate CA that issues the server and client certificates.
    IntermediateCa,
    /// The server's certificate chain.
    Server,
    /// A client certificate chain.
    Client,
    /// Certificate revocation lists.
    Crl,
}

/// What the service must do with a client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Handshake and register both let it through.
    Accepted,
    /// The TLS handshake fails (the verifier refuses it, with an alert).
    HandshakeRefused,
    /// The handshake succeeds, the register refuses it: SOAP fault, HTTP 403.
    RegisterRefused,
}

/// One `[[cert]]` of `index.toml` (CONTRACT.md, "Files").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Unique name, also the file stem.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// The PEM file, relative to the index's folder (chains: leaf first).
    pub cert: String,
    /// The private key file (CAs too, so tests can issue more certificates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The organisation number as sent in requests (12 digits, `16` + orgnr), if the
    /// certificate carries one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// A `BestallningsId` to send with this certificate: the organisation's registered one,
    /// or (for an organisation not in the register) a well-formed one nobody has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bestallningsid: Option<String>,
    /// The organisation's categories in the register (empty if it is not registered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// The organisation's switches in the register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switches: Option<Vec<String>>,
    /// For client certificates: the outcome the service must give.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// For refused clients: the machine reason — a handshake failure reason
    /// (`tls::FailureReason`), a register denial (`register::Denied::code`), or
    /// `no_organisation_number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For CAs: whether the server's client CA bundle trusts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    /// One line saying why this file exists and why the outcome is what it is.
    pub why: String,
}

/// The whole `index.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// The development register matching these certificates, relative to the index's folder.
    pub register: String,
    /// One entry per certificate file.
    pub cert: Vec<IndexEntry>,
}

impl Index {
    /// Reads `index.toml` from a certificate folder.
    pub fn load(dir: &Path) -> Result<Index, DevCertsError> {
        let path = dir.join(INDEX_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| DevCertsError::Io {
            path: path.clone(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| DevCertsError::Index {
            path,
            message: e.to_string(),
        })
    }

    /// The entry with this name.
    pub fn entry(&self, name: &str) -> Option<&IndexEntry> {
        self.cert.iter().find(|e| e.name == name)
    }
}

/// What [`dev_certs`] wrote.
#[derive(Debug, Clone)]
pub struct DevCerts {
    /// The certificate folder.
    pub dir: PathBuf,
    /// The register file.
    pub register: PathBuf,
    /// The index as written.
    pub index: Index,
}

impl std::fmt::Display for DevCerts {
    /// One line per file written, then the register: what `folkreg dev-certs` prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for e in &self.index.cert {
            let expect = match e.expect {
                Some(Expect::Accepted) => " (accepted)",
                Some(Expect::HandshakeRefused) => " (handshake-refused)",
                Some(Expect::RegisterRefused) => " (register-refused)",
                None => "",
            };
            writeln!(f, "{}{expect}", self.dir.join(&e.cert).display())?;
        }
        writeln!(f, "{}", self.dir.join(INDEX_FILE).display())?;
        write!(f, "{} (matching register)", self.register.display())
    }
}

/// How the certificate names its organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdForm {
    /// `organizationIdentifier` = `NTRSE-` + 10 digits.
    OrganizationIdentifier,
    /// `serialNumber` = 10 digits.
    SerialNumber10,
    /// `serialNumber` = `16` + 10 digits.
    SerialNumber12,
    /// No organisation number at all.
    Nothing,
}

/// A development organisation.
struct OrgSpec {
    /// First nine digits; the check digit is computed.
    nine: &'static str,
    namn: &'static str,
    categories: &'static [Category],
    switches: &'static [Switch],
    bestallningsid: &'static str,
    /// Listed in the register.
    registered: bool,
    /// One line for the register's comment.
    about: &'static str,
}

const LUND: OrgSpec = OrgSpec {
    nine: "202100474",
    namn: "Lunds universitet",
    categories: &[Category::Grund],
    switches: &[],
    bestallningsid: "00000079-FO01-0001",
    registered: true,
    about: "grund only, no switches; its certificates carry organizationIdentifier NTRSE-",
};

const NORRBY: OrgSpec = OrgSpec {
    nine: "212000013",
    namn: "Norrby kommun",
    categories: &[
        Category::Grund,
        Category::Relationer,
        Category::Medborgarskap,
        Category::Taxering,
    ],
    switches: &[
        Switch::Samordningsnummer,
        Switch::TilldelatPersonnummer,
        Switch::SarskildaUppgifter,
    ],
    bestallningsid: "00000079-FO02-0001",
    registered: true,
    about: "every category but sekretess, every switch; certificates carry serialNumber 16+orgnr",
};

const EXEMPEL: OrgSpec = OrgSpec {
    nine: "556677889",
    namn: "Exempel Försäkring AB",
    categories: &Category::ALL,
    switches: &[Switch::Samordningsnummer],
    bestallningsid: "00000079-FO03-0001",
    registered: true,
    about: "all five categories incl. sekretess, switch samordningsnummer; serialNumber 10 digits",
};

const OKAND: OrgSpec = OrgSpec {
    nine: "559100123",
    namn: "Okänd Organisation AB",
    categories: &[],
    switches: &[],
    bestallningsid: "00000079-FO09-0001",
    registered: false,
    about: "not in the register",
};

const NO_NUMBER: OrgSpec = OrgSpec {
    nine: "",
    namn: "Utan Nummer AB",
    categories: &[],
    switches: &[],
    bestallningsid: "00000079-FO09-0002",
    registered: false,
    about: "its certificate carries no organisation number",
};

/// The certificate's validity.
#[derive(Debug, Clone, Copy)]
enum Validity {
    /// From yesterday for ten years.
    Current,
    /// 2019-01-01 to 2020-01-01.
    Expired,
    /// 2099-01-01 to 2100-01-01.
    Future,
}

/// Who signs the client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Issuer {
    Intermediate,
    OtherCa,
}

/// The client certificate's register entry.
#[derive(Debug, Clone, Copy)]
enum Listing {
    /// Not in the register.
    Absent,
    /// Listed, permitted from issue to its expiry.
    Window,
    /// Listed without a permission window.
    Open,
    /// Listed with a window that ended 2025-01-01.
    Ended,
    /// Listed with a window that starts 2099-01-01.
    Later,
    /// Listed and marked revoked.
    Revoked,
}

/// One client certificate case.
struct ClientSpec {
    name: &'static str,
    org: &'static OrgSpec,
    id: IdForm,
    validity: Validity,
    issuer: Issuer,
    /// clientAuth (true) or serverAuth only (false).
    client_auth: bool,
    /// Listed in the CRL.
    crl_revoked: bool,
    listing: Listing,
    expect: Expect,
    reason: Option<&'static str>,
    why: &'static str,
}

/// Every client certificate: the accepted ones, then each way of being refused.
const CLIENTS: &[ClientSpec] = &[
    ClientSpec {
        name: "client-lund",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Window,
        expect: Expect::Accepted,
        reason: None,
        why: "registered organisation and fingerprint; categories grund only",
    },
    ClientSpec {
        name: "client-norrby",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::Accepted,
        reason: None,
        why: "registered; every category but sekretess and every switch; serialNumber 16+orgnr",
    },
    ClientSpec {
        name: "client-exempel",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Window,
        expect: Expect::Accepted,
        reason: None,
        why: "registered; all five categories including sekretess; serialNumber 10 digits",
    },
    ClientSpec {
        name: "client-expired",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Expired,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("expired"),
        why: "expired 2020-01-01 (registered, so only the TLS layer can refuse it)",
    },
    ClientSpec {
        name: "client-not-yet-valid",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Future,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("not_yet_valid"),
        why: "valid only from 2099-01-01 (registered, so only the TLS layer can refuse it)",
    },
    ClientSpec {
        name: "client-revoked",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: true,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("revoked"),
        why: "its serial is in crl.pem (registered, so only the TLS layer can refuse it)",
    },
    ClientSpec {
        name: "client-other-ca",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::OtherCa,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("unknown_issuer"),
        why: "issued by other-ca, which the server does not trust (registered fingerprint)",
    },
    ClientSpec {
        name: "client-server-eku",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: false,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("invalid_purpose"),
        why: "extended key usage serverAuth only, no clientAuth (registered fingerprint)",
    },
    ClientSpec {
        name: "client-no-orgnr",
        org: &NO_NUMBER,
        id: IdForm::Nothing,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Absent,
        expect: Expect::RegisterRefused,
        reason: Some("no_organisation_number"),
        why: "valid certificate whose subject carries no organisation number",
    },
    ClientSpec {
        name: "client-unknown-org",
        org: &OKAND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Absent,
        expect: Expect::RegisterRefused,
        reason: Some("unknown_organisation"),
        why: "valid certificate of an organisation the register does not list",
    },
    ClientSpec {
        name: "client-unregistered",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Absent,
        expect: Expect::RegisterRefused,
        reason: Some("unknown_certificate"),
        why: "valid certificate of a registered organisation, but its fingerprint is not listed",
    },
    ClientSpec {
        name: "client-permission-ended",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Ended,
        expect: Expect::RegisterRefused,
        reason: Some("no_longer_permitted"),
        why: "valid certificate whose register permission ended 2025-01-01",
    },
    ClientSpec {
        name: "client-permission-later",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Later,
        expect: Expect::RegisterRefused,
        reason: Some("not_yet_permitted"),
        why: "valid certificate whose register permission starts 2099-01-01",
    },
    ClientSpec {
        name: "client-register-revoked",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        client_auth: true,
        crl_revoked: false,
        listing: Listing::Revoked,
        expect: Expect::RegisterRefused,
        reason: Some("revoked"),
        why: "valid certificate marked revoked = true in the register (not in the CRL)",
    },
];

/// A made certificate with its key.
struct Made {
    cert: Certificate,
    key: KeyPair,
}

/// The generation's clock: every date derives from one instant.
struct Clock {
    now: OffsetDateTime,
}

impl Clock {
    fn yesterday(&self) -> OffsetDateTime {
        self.now - time::Duration::days(1)
    }

    fn years(&self, n: i64) -> OffsetDateTime {
        self.now + time::Duration::days(365 * n + n / 4)
    }
}

fn ymd(y: i32) -> OffsetDateTime {
    rcgen::date_time_ymd(y, 1, 1)
}

fn chrono_of(t: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn orgnr_of(spec: &OrgSpec) -> Option<OrgNr> {
    OrgNr::from_nine(spec.nine)
}

/// A positive serial with no leading zero byte, 16 random bytes.
fn serial() -> SerialNumber {
    let mut b: [u8; 16] = rand::random();
    b[0] = (b[0] & 0x7f) | 0x10;
    SerialNumber::from_slice(&b)
}

fn gen_err(what: &str) -> impl FnOnce(rcgen::Error) -> DevCertsError + '_ {
    move |source| DevCertsError::Generate {
        what: what.to_owned(),
        source,
    }
}

fn ca_params(
    cn: &str,
    path_len: u8,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CountryName, "SE");
    p.distinguished_name
        .push(DnType::OrganizationName, "folkreg development");
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = not_before;
    p.not_after = not_after;
    p.serial_number = Some(serial());
    p.use_authority_key_identifier_extension = true;
    p
}

fn new_key(what: &str) -> Result<KeyPair, DevCertsError> {
    KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err(what))
}

fn self_signed(cn: &str, clock: &Clock, years: i64) -> Result<Made, DevCertsError> {
    let key = new_key(cn)?;
    let cert = ca_params(cn, 1, clock.yesterday(), clock.years(years))
        .self_signed(&key)
        .map_err(gen_err(cn))?;
    Ok(Made { cert, key })
}

fn leaf_params(validity: Validity, clock: &Clock) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    (p.not_before, p.not_after) = match validity {
        Validity::Current => (clock.yesterday(), clock.years(10)),
        Validity::Expired => (ymd(2019), ymd(2020)),
        Validity::Future => (ymd(2099), ymd(2100)),
    };
    p.serial_number = Some(serial());
    p.use_authority_key_identifier_extension = true;
    p
}

/// A subject attribute in the narrowest string type that holds it.
fn dn_value(s: &str) -> DnValue {
    match rcgen::PrintableString::try_from(s) {
        Ok(p) => DnValue::PrintableString(p),
        Err(_) => DnValue::Utf8String(s.to_owned()),
    }
}

fn client_params(spec: &ClientSpec, clock: &Clock) -> CertificateParams {
    let mut p = leaf_params(spec.validity, clock);
    let dn = &mut p.distinguished_name;
    dn.push(DnType::CountryName, "SE");
    dn.push(DnType::OrganizationName, dn_value(spec.org.namn));
    if let Some(orgnr) = orgnr_of(spec.org) {
        match spec.id {
            IdForm::OrganizationIdentifier => dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 97]),
                dn_value(&format!("NTRSE-{orgnr}")),
            ),
            IdForm::SerialNumber10 => dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 5]),
                dn_value(orgnr.as_str()),
            ),
            IdForm::SerialNumber12 => dn.push(
                DnType::CustomDnType(vec![2, 5, 4, 5]),
                dn_value(&orgnr.wire()),
            ),
            IdForm::Nothing => {}
        }
    }
    dn.push(
        DnType::CommonName,
        dn_value(&format!("folkreg dev {}", spec.name)),
    );
    p.extended_key_usages = vec![if spec.client_auth {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    p
}

/// Writes a file; keys are readable by the owner only.
fn write(dir: &Path, name: &str, contents: &str, secret: bool) -> Result<(), DevCertsError> {
    let path = dir.join(name);
    let io = |source| DevCertsError::Io {
        path: path.clone(),
        source,
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut f, contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Everything made in one run, before it is written.
struct Pki {
    root: Made,
    intermediate: Made,
    other: Made,
    server: Made,
    clients: Vec<(&'static ClientSpec, Made)>,
    crls: String,
}

fn make(clock: &Clock) -> Result<Pki, DevCertsError> {
    let root = self_signed("folkreg dev root CA", clock, 20)?;
    let other = self_signed("folkreg dev OTHER CA (not trusted)", clock, 20)?;
    let intermediate = {
        let key = new_key("intermediate CA")?;
        let cert = ca_params(
            "folkreg dev intermediate CA",
            0,
            clock.yesterday(),
            clock.years(15),
        )
        .signed_by(&key, &root.cert, &root.key)
        .map_err(gen_err("intermediate CA"))?;
        Made { cert, key }
    };
    let server = {
        let key = new_key("server")?;
        let mut p = CertificateParams::new(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
            "::1".to_owned(),
        ])
        .map_err(gen_err("server"))?;
        let leaf = leaf_params(Validity::Current, clock);
        p.not_before = leaf.not_before;
        p.not_after = leaf.not_after;
        p.serial_number = leaf.serial_number;
        p.is_ca = leaf.is_ca;
        p.key_usages = leaf.key_usages;
        p.use_authority_key_identifier_extension = true;
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CountryName, "SE");
        p.distinguished_name
            .push(DnType::OrganizationName, "folkreg development");
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = p
            .signed_by(&key, &intermediate.cert, &intermediate.key)
            .map_err(gen_err("server"))?;
        Made { cert, key }
    };
    let mut clients = Vec::new();
    let mut revoked = Vec::new();
    for spec in CLIENTS {
        let key = new_key(spec.name)?;
        let params = client_params(spec, clock);
        let serial = params.serial_number.clone();
        let issuer = match spec.issuer {
            Issuer::Intermediate => &intermediate,
            Issuer::OtherCa => &other,
        };
        let cert = params
            .signed_by(&key, &issuer.cert, &issuer.key)
            .map_err(gen_err(spec.name))?;
        if spec.crl_revoked {
            if let Some(serial_number) = serial {
                revoked.push(RevokedCertParams {
                    serial_number,
                    revocation_time: clock.yesterday(),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                });
            }
        }
        clients.push((spec, Made { cert, key }));
    }
    let crl = |revoked_certs: Vec<RevokedCertParams>, by: &Made, what: &str| {
        CertificateRevocationListParams {
            this_update: clock.yesterday(),
            next_update: clock.years(10),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        }
        .signed_by(&by.cert, &by.key)
        .and_then(|c| c.pem())
        .map_err(gen_err(what))
    };
    // The intermediate's CRL lists the revoked client; the root's (empty) CRL lets the
    // verifier check the intermediate too.
    let crls =
        crl(revoked, &intermediate, "intermediate CRL")? + &crl(Vec::new(), &root, "root CRL")?;
    Ok(Pki {
        root,
        intermediate,
        other,
        server,
        clients,
        crls,
    })
}

/// Makes the development PKI in `out` and its register at `register`, replacing files of
/// the same names. Returns what was written.
pub fn dev_certs(out: &Path, register: &Path) -> Result<DevCerts, DevCertsError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| DevCertsError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    if let Some(parent) = register.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let clock = Clock {
        now: OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap_or_else(|_| OffsetDateTime::now_utc()),
    };
    let pki = make(&clock)?;

    let register_text = register_toml(&pki, &clock);
    // The checker that the service uses must accept what we generate.
    Register::parse(&register_text, register)?;

    let ca_pem = |m: &Made| m.cert.pem();
    let chain = |m: &Made, issuer: &Made| m.cert.pem() + &issuer.cert.pem();
    write(out, "root-ca.pem", &ca_pem(&pki.root), false)?;
    write(out, "root-ca.key", &pki.root.key.serialize_pem(), true)?;
    write(
        out,
        "intermediate-ca.pem",
        &ca_pem(&pki.intermediate),
        false,
    )?;
    write(
        out,
        "intermediate-ca.key",
        &pki.intermediate.key.serialize_pem(),
        true,
    )?;
    write(
        out,
        "ca-bundle.pem",
        &(ca_pem(&pki.root) + &ca_pem(&pki.intermediate)),
        false,
    )?;
    write(out, "other-ca.pem", &ca_pem(&pki.other), false)?;
    write(out, "other-ca.key", &pki.other.key.serialize_pem(), true)?;
    write(
        out,
        "server.pem",
        &chain(&pki.server, &pki.intermediate),
        false,
    )?;
    write(out, "server.key", &pki.server.key.serialize_pem(), true)?;
    for (spec, made) in &pki.clients {
        let issuer = match spec.issuer {
            Issuer::Intermediate => &pki.intermediate,
            Issuer::OtherCa => &pki.other,
        };
        write(
            out,
            &format!("{}.pem", spec.name),
            &chain(made, issuer),
            false,
        )?;
        write(
            out,
            &format!("{}.key", spec.name),
            &made.key.serialize_pem(),
            true,
        )?;
    }
    write(out, "crl.pem", &pki.crls, false)?;

    crate::register::edit::write_atomic(register, register_text.as_bytes())
        .map_err(io(register))?;

    let index = Index {
        register: relative_path(register, out),
        cert: index_entries(),
    };
    let index_text = toml::to_string(&index).map_err(|e| DevCertsError::Index {
        path: out.join(INDEX_FILE),
        message: e.to_string(),
    })?;
    write(
        out,
        INDEX_FILE,
        &(INDEX_HEADER.to_owned() + &index_text),
        false,
    )?;
    write(out, "README.md", &readme(&index), false)?;
    Ok(DevCerts {
        dir: out.to_owned(),
        register: register.to_owned(),
        index,
    })
}

const INDEX_HEADER: &str =
    "# The development PKI, one [[cert]] per certificate file (CONTRACT.md, \"Files\").\n\
# Generated by `folkreg dev-certs` together with the register named below; do not edit by hand.\n\
# Paths are relative to this folder. Tests in any language drive every case from here:\n\
# `expect` is what the service must do with a client certificate, `reason` the precise why.\n\n";

/// `target` written relative to `base` when both are relative (or share a root), else absolute.
fn relative_path(target: &Path, base: &Path) -> String {
    let abs = |p: &Path| {
        std::path::absolute(p)
            .map(|a| normalise(&a))
            .unwrap_or_else(|_| p.to_owned())
    };
    let (t, b) = (abs(target), abs(base));
    let common = t
        .components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .count();
    if common == 0 {
        return t.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in b.components().skip(common) {
        rel.push("..");
    }
    for c in t.components().skip(common) {
        rel.push(c);
    }
    rel.to_string_lossy().replace('\\', "/")
}

/// Removes `.` and resolves `..` lexically.
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn names<T: Copy>(items: &[T], name: fn(T) -> &'static str) -> Vec<String> {
    items.iter().map(|&i| name(i).to_owned()).collect()
}

fn index_entries() -> Vec<IndexEntry> {
    let ca = |name: &str, kind: Kind, cert: &str, key: &str, trusted: bool, why: &str| IndexEntry {
        name: name.to_owned(),
        kind,
        cert: cert.to_owned(),
        key: Some(key.to_owned()),
        org: None,
        bestallningsid: None,
        categories: None,
        switches: None,
        expect: None,
        reason: None,
        trusted: Some(trusted),
        why: why.to_owned(),
    };
    let mut v = vec![
        ca(
            "root-ca",
            Kind::RootCa,
            "root-ca.pem",
            "root-ca.key",
            true,
            "the trust anchor (20 years); clients trust it for the server, the server for clients",
        ),
        ca(
            "intermediate-ca",
            Kind::IntermediateCa,
            "intermediate-ca.pem",
            "intermediate-ca.key",
            true,
            "signed by root-ca (15 years); issues the server and every client except client-other-ca",
        ),
        ca(
            "ca-bundle",
            Kind::RootCa,
            "ca-bundle.pem",
            "root-ca.key",
            true,
            "[tls] client_ca: root-ca (the anchor) then intermediate-ca (a chain-building aid, not an anchor)",
        ),
        ca(
            "other-ca",
            Kind::RootCa,
            "other-ca.pem",
            "other-ca.key",
            false,
            "a self-signed CA the server does NOT trust; issuer of client-other-ca",
        ),
        IndexEntry {
            kind: Kind::Server,
            trusted: None,
            ..ca(
                "server",
                Kind::Server,
                "server.pem",
                "server.key",
                true,
                "server certificate for localhost, 127.0.0.1 and ::1 (serverAuth, 10 years), then intermediate-ca",
            )
        },
        IndexEntry {
            key: None,
            trusted: None,
            ..ca(
                "crl",
                Kind::Crl,
                "crl.pem",
                "",
                true,
                "[tls] crls: intermediate-ca's CRL (revokes client-revoked), then root-ca's (empty); next update in 10 years",
            )
        },
    ];
    for spec in CLIENTS {
        let orgnr = orgnr_of(spec.org);
        v.push(IndexEntry {
            name: spec.name.to_owned(),
            kind: Kind::Client,
            cert: format!("{}.pem", spec.name),
            key: Some(format!("{}.key", spec.name)),
            org: orgnr
                .filter(|_| spec.id != IdForm::Nothing)
                .map(|o| o.wire()),
            bestallningsid: Some(spec.org.bestallningsid.to_owned()),
            categories: Some(names(spec.org.categories, Category::as_str)),
            switches: Some(names(spec.org.switches, Switch::as_str)),
            expect: Some(spec.expect),
            reason: spec.reason.map(str::to_owned),
            trusted: None,
            why: spec.why.to_owned(),
        });
    }
    v
}

/// TOML string literal.
fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

fn register_toml(pki: &Pki, clock: &Clock) -> String {
    let mut s = String::from(
        "# The development register: generated by `folkreg dev-certs` together with certs-dev/, whose\n\
         # fingerprints it lists. Regenerate both together; edit with `folkreg register add-org|\n\
         # add-cert|revoke-cert|remove-cert`, check with `folkreg register check`.\n\
         #\n\
         # Not listed on purpose: client-unregistered (Lunds universitet is listed, that certificate\n\
         # is not), client-unknown-org (Okänd Organisation AB) and client-no-orgnr. The refused-at-\n\
         # handshake certificates ARE listed, so that only the TLS layer can be what refuses them.\n",
    );
    for org in [&LUND, &NORRBY, &EXEMPEL] {
        let Some(orgnr) = orgnr_of(org) else { continue };
        if !org.registered {
            continue;
        }
        s.push_str(&format!(
            "\n# {} — {}.\n[[organisation]]\norgnr = {}\nnamn = {}\ncategories = {}\nswitches = {}\nbestallningar = {}\n",
            org.namn,
            org.about,
            q(orgnr.as_str()),
            q(org.namn),
            list(&names(org.categories, Category::as_str)),
            list(&names(org.switches, Switch::as_str)),
            list(&[org.bestallningsid.to_owned()]),
        ));
        for (spec, made) in pki.clients.iter().filter(|(c, _)| c.org.namn == org.namn) {
            let (from, until, revoked) = match spec.listing {
                Listing::Absent => continue,
                Listing::Window => (Some(clock.yesterday()), Some(clock.years(10)), false),
                Listing::Open => (None, None, false),
                Listing::Ended => (Some(ymd(2024)), Some(ymd(2025)), false),
                Listing::Later => (Some(ymd(2099)), Some(ymd(2100)), false),
                Listing::Revoked => (None, None, true),
            };
            let expect = match spec.expect {
                Expect::Accepted => "accepted".to_owned(),
                Expect::HandshakeRefused => "refused at the handshake".to_owned(),
                Expect::RegisterRefused => "refused by this register".to_owned(),
            };
            s.push_str(&format!(
                "\n# {}.pem: {} — {}.\n[[organisation.certificate]]\nsha256 = {}\n",
                spec.name,
                expect,
                spec.why,
                q(&hex::encode(sha256(made.cert.der()))),
            ));
            if let Some(t) = from {
                s.push_str(&format!("not_before = {}\n", q(&rfc3339(&chrono_of(t)))));
            }
            if let Some(t) = until {
                s.push_str(&format!("not_after = {}\n", q(&rfc3339(&chrono_of(t)))));
            }
            if revoked {
                s.push_str("revoked = true\n");
            }
            s.push_str(&format!(
                "cert_expires = {}\ncomment = {}\n",
                q(&rfc3339(&chrono_of(made.cert.params().not_after))),
                q(spec.name)
            ));
        }
    }
    s
}

fn sha256(der: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(der).into()
}

fn readme(index: &Index) -> String {
    let mut s = String::from(README_HEAD);
    s.push_str(&format!(
        "The register that lists these certificates is `{}`.\n\n",
        index.register
    ));
    s.push_str("## Files\n\n| name | kind | file(s) | expect | reason | why |\n|---|---|---|---|---|---|\n");
    for e in &index.cert {
        let kind = toml::Value::try_from(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let expect = e
            .expect
            .and_then(|x| toml::Value::try_from(x).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let files = match &e.key {
            Some(k) => format!("`{}`, `{}`", e.cert, k),
            None => format!("`{}`", e.cert),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            e.name,
            kind,
            files,
            expect,
            e.reason.as_deref().unwrap_or(""),
            e.why
        ));
    }
    s.push_str(README_TAIL);
    s
}

const README_HEAD: &str = "# certs-dev — the development PKI\n\n\
Made by `folkreg dev-certs` (src/tls/devcerts.rs) and committed so that the README's commands,\n\
the tests and third-party clients work on a fresh checkout. **Nothing here is secret**: every\n\
private key is published. Never trust `root-ca.pem` outside development.\n\n\
Regenerate with `folkreg dev-certs` (writes this folder, `index.toml`, this README and\n\
`deploy/register.dev.toml`, which must match the fingerprints, in one go). Keys are ECDSA P-256\n\
and are new on every run.\n\n\
`index.toml` describes every certificate for machines (CONTRACT.md, \"Files\"): tests in any\n\
language read it and check that the service does what `expect` says for each client\n\
certificate: `accepted`, `handshake-refused` (the TLS handshake fails with an alert) or\n\
`register-refused` (the handshake succeeds; every request gets a SOAP fault, HTTP 403, FR1301).\n\n\
## How the chain works\n\n\
- `root-ca` signs `intermediate-ca`, which signs the server and the client certificates.\n\
- The server presents `server.pem` = server certificate + intermediate, so a client needs only\n\
  `root-ca.pem` as its CA (`curl --cacert certs-dev/root-ca.pem`).\n\
- Every client `.pem` holds the client certificate then its issuer, so `curl --cert` and\n\
  Python's `requests`/`zeep` send the whole chain. The server's `ca-bundle.pem` also holds the\n\
  intermediate, so a client that sends only its leaf verifies too; the intermediate is a\n\
  chain-building aid, not a trust anchor.\n\
- `crl.pem` holds two CRLs: the intermediate's (revoking `client-revoked`) and the root's\n\
  (empty). The server checks the revocation of every certificate below the root and refuses a\n\
  certificate whose issuer has no CRL, so both are needed.\n\
- Client certificates name their organisation as Swedish organisation certificates do: in the\n\
  subject's `organizationIdentifier` (2.5.4.97, `NTRSE-` + 10 digits) or `serialNumber`\n\
  (2.5.4.5, 10 digits or `16` + 10 digits).\n\n\
## Try it\n\n\
```sh\n\
curl --cacert certs-dev/root-ca.pem --cert certs-dev/client-lund.pem --key certs-dev/client-lund.key \\\n\
     -H 'Content-Type: text/xml; charset=utf-8' --data-binary @request.xml \\\n\
     https://localhost:8443/na/na_epersondata/V2/personpostXML\n\
openssl x509 -in certs-dev/client-lund.pem -noout -subject -fingerprint -sha256\n\
```\n\n";

const README_TAIL: &str = "\n\
`org` in `index.toml` is the organisation number as requests send it (`16` + 10 digits);\n\
`bestallningsid`, `categories` and `switches` are the organisation's in the register (for an\n\
organisation not in the register, a well-formed BestallningsId that nobody has and no\n\
categories). `reason` is the precise refusal: a handshake failure reason as counted in\n\
`/metrics`, or the register's denial code.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_folders() {
        assert_eq!(
            relative_path(
                Path::new("deploy/register.dev.toml"),
                Path::new("certs-dev")
            ),
            "../deploy/register.dev.toml"
        );
        assert_eq!(
            relative_path(Path::new("/tmp/x/register.dev.toml"), Path::new("/tmp/x")),
            "register.dev.toml"
        );
    }

    #[test]
    fn every_case_is_named_once_and_refusals_say_why() {
        let mut names: Vec<_> = CLIENTS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CLIENTS.len());
        for c in CLIENTS {
            assert_eq!(
                c.reason.is_some(),
                c.expect != Expect::Accepted,
                "{}",
                c.name
            );
        }
        for org in [&LUND, &NORRBY, &EXEMPEL, &OKAND] {
            assert!(orgnr_of(org).is_some(), "{}", org.namn);
        }
    }
}
