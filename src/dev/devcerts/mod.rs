//! The development PKI behind `folkreg dev-certs`: a root and an intermediate CA, the server
//! certificate, client certificates for every case the service must accept or refuse, the
//! CRL, `index.toml` describing every file for tests in any language, a README for people,
//! and the matching development register.
//!
//! Keys are ECDSA P-256, made fresh on every run (nothing here is secret: it is committed).
//! The cases are one table (`cases.rs`); the register, the index and the README are written
//! from it (`text.rs`), so they cannot disagree with the certificates.

use std::path::{Component, Path, PathBuf};

use chrono::{DateTime, Utc};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CertificateRevocationListParams, DnType,
    DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

mod cases;
mod text;

use crate::ids::OrgNr;
use crate::register::{Register, RegisterError};
use cases::{ClientSpec, IdForm, Issuer, KeyUse, OrgSpec, Purpose, Validity, CLIENTS};
use text::{index_entries, readme, register_toml, INDEX_HEADER};

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
    /// The handshake succeeds, the register refuses it: SOAP fault 1301 (HTTP 500).
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

/// A made certificate with its key.
struct Made {
    cert: Certificate,
    key: KeyPair,
}

/// A CRL signed by `cert`/`key`: number `number`, valid from `this_update` to `next_update`,
/// revoking `revoked` (as of `this_update`, for key compromise). PEM.
fn sign_crl(
    cert: &Certificate,
    key: &KeyPair,
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    revoked: &[SerialNumber],
) -> Result<String, rcgen::Error> {
    CertificateRevocationListParams {
        this_update,
        next_update,
        crl_number: SerialNumber::from(number),
        issuing_distribution_point: None,
        revoked_certs: revoked
            .iter()
            .map(|serial_number| RevokedCertParams {
                serial_number: serial_number.clone(),
                revocation_time: this_update,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(cert, key)
    .and_then(|c| c.pem())
}

/// A CA of the development PKI re-made as an rcgen issuer from its PEM files (its key is
/// published beside it): for tests to issue further certificates and CRLs with.
pub struct DevCa {
    /// The CA certificate.
    pub cert: Certificate,
    /// Its key.
    pub key: KeyPair,
}

impl DevCa {
    /// The CA of these files.
    pub fn from_files(cert: &Path, key: &Path) -> Result<DevCa, DevCertsError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| DevCertsError::Io {
                path: path.to_owned(),
                source,
            })
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        let what = cert.display().to_string();
        let key = KeyPair::from_pem(&key_pem).map_err(gen_err(&what))?;
        let cert = CertificateParams::from_ca_cert_pem(&cert_pem)
            .and_then(|p| p.self_signed(&key))
            .map_err(gen_err(&what))?;
        Ok(DevCa { cert, key })
    }

    /// A CRL by this CA ([`sign_crl`]'s terms), PEM.
    pub fn crl_pem(
        &self,
        number: u64,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        revoked: &[SerialNumber],
    ) -> Result<String, DevCertsError> {
        sign_crl(
            &self.cert,
            &self.key,
            number,
            this_update,
            next_update,
            revoked,
        )
        .map_err(gen_err("CRL"))
    }
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
    p.extended_key_usages = match spec.purpose {
        Purpose::ClientAuth => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Purpose::ServerAuthOnly => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Purpose::Absent => Vec::new(),
    };
    p.key_usages = match spec.key_use {
        KeyUse::DigitalSignature => vec![KeyUsagePurpose::DigitalSignature],
        KeyUse::KeyEnciphermentOnly => vec![KeyUsagePurpose::KeyEncipherment],
    };
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
            revoked.extend(serial);
        }
        clients.push((spec, Made { cert, key }));
    }
    let crl = |revoked: &[SerialNumber], by: &Made, what: &str| {
        sign_crl(
            &by.cert,
            &by.key,
            1,
            clock.yesterday(),
            clock.years(10),
            revoked,
        )
        .map_err(gen_err(what))
    };
    // The intermediate's CRL lists the revoked client; the root's (empty) CRL lets the
    // verifier check the intermediate too.
    let crls = crl(&revoked, &intermediate, "intermediate CRL")? + &crl(&[], &root, "root CRL")?;
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

    crate::fsutil::write_atomic(register, register_text.as_bytes()).map_err(io(register))?;

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

#[cfg(test)]
mod tests {
    use super::cases::{EXEMPEL, LUND, NORRBY, OKAND};
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
