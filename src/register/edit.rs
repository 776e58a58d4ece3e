//! Edits of the register file behind `folkreg register add-org|add-cert|revoke-cert|remove-cert`.
//!
//! Each edit works on the file's TOML document (toml_edit), so comments, order and layout
//! stay as the operator wrote them; the result is checked by the same checker as
//! `Register::load` and only then written, atomically (a temporary file in the same folder,
//! fsync, rename, fsync of the folder). A refused edit leaves the file untouched.
//!
//! Edits are not locked against each other: run one at a time (they are operator commands).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table, Value};

use super::{check, parse_fingerprint, rfc3339, Category, OrgNr, Register, RegisterError, Switch};

/// Heading of a register file created by the first `add-org`.
const NEW_FILE_HEADER: &str =
    "# folkreg organisation register: organisations, their categories and switches, and the\n\
# certificates (by SHA-256 fingerprint) they may call with. Check with `folkreg register check`.\n";

/// Which certificate `add-cert` adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertSource {
    /// A certificate file (PEM, leaf first, or DER): its fingerprint is computed, its subject
    /// must carry the organisation's number, it must be usable as a client certificate
    /// (`tls::policy`: KeyUsage digitalSignature and EKU clientAuth, as at the handshake), and
    /// its notAfter is recorded.
    File(PathBuf),
    /// A fingerprint given directly (when only the fingerprint is at hand; nothing but the
    /// fingerprint can be checked, the handshake still applies the whole rule).
    Fingerprint([u8; 32]),
}

impl CertSource {
    /// A command-line argument: a fingerprint if it is one (64 hex digits, colons allowed),
    /// else a path.
    pub fn from_arg(arg: &str) -> CertSource {
        match parse_fingerprint(arg) {
            Ok(fp) => CertSource::Fingerprint(fp),
            Err(_) => CertSource::File(PathBuf::from(arg)),
        }
    }

    /// The SHA-256 fingerprint this source names: read from the file, or as given. For
    /// `revoke-cert --cert FILE` and `remove-cert --cert FILE`, which need only the
    /// fingerprint (the certificate may since have expired; its subject and key usage are
    /// not checked).
    pub fn fingerprint(&self) -> Result<[u8; 32], RegisterError> {
        match self {
            CertSource::Fingerprint(fp) => Ok(*fp),
            CertSource::File(file) => Ok(read_certificate(file)?.0.fingerprint),
        }
    }
}

/// Adds an organisation (`grund` is added to the categories if missing). Creates the file if
/// it does not exist.
pub fn add_org(
    path: &Path,
    orgnr: &OrgNr,
    namn: &str,
    categories: &BTreeSet<Category>,
    switches: &BTreeSet<Switch>,
    bestallningar: &[String],
) -> Result<(), RegisterError> {
    let new_file = !path.exists();
    let mut doc = if new_file {
        DocumentMut::new()
    } else {
        read_document(path)?
    };
    if find_org(&doc, orgnr).is_some() {
        return Err(RegisterError::OrganisationExists {
            path: path.to_owned(),
            orgnr: *orgnr,
        });
    }
    let mut cats = categories.clone();
    cats.insert(Category::Grund);
    let mut t = Table::new();
    t.decor_mut().set_prefix(if new_file {
        format!("{NEW_FILE_HEADER}\n")
    } else {
        "\n".to_owned()
    });
    t["orgnr"] = value(orgnr.as_str());
    t["namn"] = value(namn);
    t["categories"] = value(Array::from_iter(cats.iter().map(|c| c.as_str())));
    t["switches"] = value(Array::from_iter(switches.iter().map(|s| s.as_str())));
    t["bestallningar"] = value(Array::from_iter(bestallningar.iter().map(String::as_str)));
    organisations_mut(&mut doc, path)?.push(t);
    commit(path, &doc)
}

/// Adds a certificate to an organisation, with an optional permission window and comment.
/// Returns the fingerprint added.
pub fn add_cert(
    path: &Path,
    orgnr: &OrgNr,
    source: &CertSource,
    not_before: Option<DateTime<Utc>>,
    not_after: Option<DateTime<Utc>>,
    comment: Option<&str>,
) -> Result<[u8; 32], RegisterError> {
    let (fingerprint, cert_expires) = match source {
        CertSource::Fingerprint(fp) => (*fp, None),
        CertSource::File(file) => {
            let (peer, der) = read_certificate(file)?;
            crate::tls::check_client_leaf_der(&der).map_err(|source| {
                RegisterError::CertificateUse {
                    path: file.clone(),
                    source,
                }
            })?;
            if peer.orgnr.as_ref() != Some(orgnr) {
                return Err(RegisterError::CertificateOrganisation {
                    path: file.clone(),
                    found: peer.orgnr,
                    orgnr: *orgnr,
                });
            }
            (peer.fingerprint, Some(peer.not_after))
        }
    };
    let fp_hex = hex::encode(fingerprint);
    let mut doc = read_document(path)?;
    if let Some((o, _)) = find_cert(&doc, &fingerprint) {
        return Err(RegisterError::CertificateExists {
            path: path.to_owned(),
            fingerprint: fp_hex,
            orgnr: org_of(&doc, o).unwrap_or(*orgnr),
        });
    }
    let index = find_org(&doc, orgnr).ok_or_else(|| RegisterError::NoSuchOrganisation {
        path: path.to_owned(),
        orgnr: *orgnr,
    })?;
    let mut t = Table::new();
    t.decor_mut().set_prefix("\n");
    t["sha256"] = value(fp_hex);
    if let Some(from) = not_before {
        t["not_before"] = value(rfc3339(&from));
    }
    if let Some(until) = not_after {
        t["not_after"] = value(rfc3339(&until));
    }
    if let Some(exp) = cert_expires {
        t["cert_expires"] = value(rfc3339(&exp));
    }
    if let Some(c) = comment {
        t["comment"] = value(c);
    }
    let org = organisations_mut(&mut doc, path)?
        .get_mut(index)
        .ok_or_else(|| RegisterError::NoSuchOrganisation {
            path: path.to_owned(),
            orgnr: *orgnr,
        })?;
    let certs = org
        .entry("certificate")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| not_tables(path, "organisation.certificate"))?;
    certs.push(t);
    commit(path, &doc)?;
    Ok(fingerprint)
}

/// Marks a certificate revoked (kept listed, so the refusal says "revoked"). Returns the
/// organisation it belongs to.
pub fn revoke_cert(path: &Path, fingerprint: &[u8; 32]) -> Result<OrgNr, RegisterError> {
    let mut doc = read_document(path)?;
    let (o, c) = find_cert(&doc, fingerprint).ok_or_else(|| no_cert(path, fingerprint))?;
    let orgnr = org_of(&doc, o).ok_or_else(|| no_cert(path, fingerprint))?;
    let cert = cert_table_mut(&mut doc, o, c).ok_or_else(|| no_cert(path, fingerprint))?;
    match cert.get_mut("revoked").and_then(Item::as_value_mut) {
        Some(v) => {
            // Keep the operator's spacing and trailing comment on the line.
            let decor = v.decor().clone();
            *v = Value::from(true);
            *v.decor_mut() = decor;
        }
        None => cert["revoked"] = value(true),
    }
    commit(path, &doc)?;
    Ok(orgnr)
}

/// Removes a certificate from the register. Returns the organisation it belonged to.
pub fn remove_cert(path: &Path, fingerprint: &[u8; 32]) -> Result<OrgNr, RegisterError> {
    let mut doc = read_document(path)?;
    let (o, c) = find_cert(&doc, fingerprint).ok_or_else(|| no_cert(path, fingerprint))?;
    let orgnr = org_of(&doc, o).ok_or_else(|| no_cert(path, fingerprint))?;
    let certs = organisations_mut(&mut doc, path)?
        .get_mut(o)
        .and_then(|org| org.get_mut("certificate"))
        .and_then(Item::as_array_of_tables_mut)
        .ok_or_else(|| no_cert(path, fingerprint))?;
    certs.remove(c);
    commit(path, &doc)?;
    Ok(orgnr)
}

/// The certificate in a file: PEM (the first certificate, the leaf) or DER; its identity and
/// its DER.
fn read_certificate(file: &Path) -> Result<(crate::tls::PeerIdentity, Vec<u8>), RegisterError> {
    let bad = |message: String| RegisterError::Certificate {
        path: file.to_owned(),
        message,
    };
    let bytes = std::fs::read(file).map_err(|e| bad(format!("cannot read: {e}")))?;
    let der = if bytes.starts_with(b"-----BEGIN") || bytes.windows(11).any(|w| w == b"-----BEGIN ")
    {
        rustls_pemfile::certs(&mut bytes.as_slice())
            .next()
            .ok_or_else(|| bad("no CERTIFICATE in the PEM file".into()))?
            .map_err(|e| bad(format!("bad PEM: {e}")))?
            .to_vec()
    } else {
        bytes
    };
    let peer = crate::tls::PeerIdentity::from_der(&der).map_err(|e| bad(e.to_string()))?;
    Ok((peer, der))
}

fn read_document(path: &Path) -> Result<DocumentMut, RegisterError> {
    let text = std::fs::read_to_string(path).map_err(|source| RegisterError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_document(&text, path)
}

fn parse_document(text: &str, path: &Path) -> Result<DocumentMut, RegisterError> {
    text.parse::<DocumentMut>()
        .map_err(|e| RegisterError::Parse {
            path: path.to_owned(),
            line: e.span().map(|s| check::line_of(text, s.start)).unwrap_or(1),
            message: e.message().trim().to_owned(),
        })
}

fn not_tables(path: &Path, field: &str) -> RegisterError {
    RegisterError::Parse {
        path: path.to_owned(),
        line: 1,
        message: format!("`{field}` must be written as [[{field}]] tables to be edited"),
    }
}

fn no_cert(path: &Path, fingerprint: &[u8; 32]) -> RegisterError {
    RegisterError::NoSuchCertificate {
        path: path.to_owned(),
        fingerprint: hex::encode(fingerprint),
    }
}

fn organisations(doc: &DocumentMut) -> impl Iterator<Item = &Table> {
    doc.get("organisation")
        .and_then(Item::as_array_of_tables)
        .into_iter()
        .flat_map(ArrayOfTables::iter)
}

fn organisations_mut<'a>(
    doc: &'a mut DocumentMut,
    path: &Path,
) -> Result<&'a mut ArrayOfTables, RegisterError> {
    doc.entry("organisation")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or_else(|| not_tables(path, "organisation"))
}

fn org_of(doc: &DocumentMut, index: usize) -> Option<OrgNr> {
    organisations(doc)
        .nth(index)
        .and_then(|t| t.get("orgnr"))
        .and_then(Item::as_str)
        .and_then(|s| OrgNr::parse(s).ok())
}

fn find_org(doc: &DocumentMut, orgnr: &OrgNr) -> Option<usize> {
    organisations(doc).position(|t| {
        t.get("orgnr")
            .and_then(Item::as_str)
            .and_then(|s| OrgNr::parse(s).ok())
            .as_ref()
            == Some(orgnr)
    })
}

/// (organisation, certificate) indexes of the certificate with this fingerprint.
fn find_cert(doc: &DocumentMut, fingerprint: &[u8; 32]) -> Option<(usize, usize)> {
    organisations(doc).enumerate().find_map(|(o, org)| {
        let certs = org.get("certificate").and_then(Item::as_array_of_tables)?;
        certs
            .iter()
            .position(|c| {
                c.get("sha256")
                    .and_then(Item::as_str)
                    .and_then(|s| parse_fingerprint(s).ok())
                    .as_ref()
                    == Some(fingerprint)
            })
            .map(|c| (o, c))
    })
}

fn cert_table_mut(doc: &mut DocumentMut, o: usize, c: usize) -> Option<&mut Table> {
    doc.get_mut("organisation")?
        .as_array_of_tables_mut()?
        .get_mut(o)?
        .get_mut("certificate")?
        .as_array_of_tables_mut()?
        .get_mut(c)
}

/// Checks the edited document with the register's checker, then writes it atomically.
///
/// A result that fails the check is refused. If the file on disk already fails it, its own
/// problems are reported (their lines are the file's); otherwise the edit brought the
/// problems, and they are reported as the edit's (their lines are of text never written).
/// An edit that repairs an invalid file (removing a repeated certificate) is allowed.
fn commit(path: &Path, doc: &DocumentMut) -> Result<(), RegisterError> {
    let text = doc.to_string();
    if let Err(e) = Register::parse(&text, path) {
        let RegisterError::Invalid { problems, .. } = e else {
            return Err(e);
        };
        if let Ok(before) = std::fs::read_to_string(path) {
            Register::parse(&before, path)?;
        }
        return Err(RegisterError::EditRefused {
            path: path.to_owned(),
            problems,
        });
    }
    crate::fsutil::write_atomic(path, text.as_bytes()).map_err(|source| RegisterError::Write {
        path: path.to_owned(),
        source,
    })
}
