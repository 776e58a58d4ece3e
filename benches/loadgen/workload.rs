//! The requests the generator sends: SOAP envelopes built once, before the clock starts, from
//! the same deterministic population the server holds (same persons, seed and "today").

use std::collections::HashSet;
use std::path::Path;

use bytes::Bytes;
use chrono::NaiveDate;
use folkreg::access::{Category, Switch};
use rand::Rng;
use serde::Deserialize;

use folkreg::ids::pnr::Pnr;
use folkreg::model::Identitetstyp;

/// Most distinct envelopes kept per kind: enough that caches see a realistic spread, few
/// enough that building them stays a small part of a run.
const MAX_BODIES: usize = 200_000;

/// One kind of request in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// personpostXML for a number the store holds.
    Existing,
    /// personpostXML for a valid number the store does not hold.
    Missing,
    /// namnsokningXML: surname prefix + postort of a real person.
    Search,
    /// SPAR's PersonSok by `IdNummer`, for a number the store holds.
    Spar,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Existing => "personpost_existing",
            Kind::Missing => "personpost_missing",
            Kind::Search => "namnsokning",
            Kind::Spar => "personsok_idnummer",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Kind::Existing | Kind::Missing => "/na/na_epersondata/V2/personpostXML",
            Kind::Search => "/na/na_epersondata/V2/namnsokningXML",
            Kind::Spar => "/2021.1/",
        }
    }

    /// Whether a 200 answer has the shape this kind expects: a record for an existing
    /// number, none for a missing one; any answer for a search.
    pub fn answer_as_expected(self, body: &[u8]) -> bool {
        let has_record = memchr_find(body, b"PersonId>");
        match self {
            Kind::Existing | Kind::Spar => has_record,
            Kind::Missing => !has_record,
            Kind::Search => true,
        }
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The operation mix, as weights.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub existing: u32,
    pub missing: u32,
    pub search: u32,
    pub spar: u32,
}

impl Mix {
    /// `personpost` (existing numbers only), `search`, `spar` (SPAR's PersonSok by IdNummer,
    /// existing numbers), or weights like `existing:90,missing:5,search:5,spar:10`.
    pub fn parse(s: &str) -> Result<Mix, String> {
        let none = Mix {
            existing: 0,
            missing: 0,
            search: 0,
            spar: 0,
        };
        match s {
            "personpost" => {
                return Ok(Mix {
                    existing: 1,
                    ..none
                })
            }
            "search" => return Ok(Mix { search: 1, ..none }),
            "spar" => return Ok(Mix { spar: 1, ..none }),
            _ => {}
        }
        let mut mix = none;
        for part in s.split(',') {
            let (name, weight) = part
                .split_once(':')
                .ok_or_else(|| format!("mix part {part:?}: expected NAME:WEIGHT"))?;
            let weight: u32 = weight
                .parse()
                .map_err(|_| format!("mix part {part:?}: weight is not a number"))?;
            match name {
                "existing" => mix.existing = weight,
                "missing" => mix.missing = weight,
                "search" => mix.search = weight,
                "spar" => mix.spar = weight,
                _ => return Err(format!("mix part {part:?}: unknown kind {name:?}")),
            }
        }
        if mix.existing + mix.missing + mix.search + mix.spar == 0 {
            return Err("mix: all weights are zero".into());
        }
        Ok(mix)
    }

    fn pick(&self, rng: &mut impl Rng) -> Kind {
        let total = self.existing + self.missing + self.search + self.spar;
        let x = rng.gen_range(0..total);
        if x < self.existing {
            Kind::Existing
        } else if x < self.existing + self.missing {
            Kind::Missing
        } else if x < self.existing + self.missing + self.search {
            Kind::Search
        } else {
            Kind::Spar
        }
    }
}

/// A client certificate from `certs-dev/index.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct ClientCert {
    pub name: String,
    pub kind: String,
    pub cert: String,
    pub key: Option<String>,
    pub org: Option<String>,
    pub bestallningsid: Option<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub switches: Vec<String>,
}

impl ClientCert {
    /// What folkreg lets this certificate's organisation see.
    pub fn access(&self) -> Result<folkreg::access::Access, String> {
        let categories = self
            .categories
            .iter()
            .map(|c| {
                Category::parse(c).ok_or_else(|| format!("{}: unknown category {c:?}", self.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let switches = self
            .switches
            .iter()
            .map(|s| Switch::parse(s).ok_or_else(|| format!("{}: unknown switch {s:?}", self.name)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(folkreg::access::Access::new(categories, switches))
    }
}

#[derive(Deserialize)]
struct Index {
    cert: Vec<ClientCert>,
}

/// Reads `certs-dev/index.toml` and returns the named entry and the root CA files.
pub fn client_from_index(certs: &Path, name: &str) -> Result<(ClientCert, Vec<String>), String> {
    let path = certs.join("index.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let index: Index = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let roots = index
        .cert
        .iter()
        .filter(|c| c.kind == "root-ca")
        .map(|c| c.cert.clone())
        .collect();
    let client = index
        .cert
        .into_iter()
        .find(|c| c.name == name && c.kind == "client")
        .ok_or_else(|| format!("{}: no client certificate named {name:?}", path.display()))?;
    Ok((client, roots))
}

/// The prepared requests.
pub struct Workload {
    mix: Mix,
    existing: Vec<Bytes>,
    missing: Vec<Bytes>,
    searches: Vec<Bytes>,
    /// SPAR PersonSok requests for the same numbers as `existing`.
    spar: Vec<Bytes>,
}

/// Who the requests are from: the organisation and order Navet's requests name, and the SPAR
/// customer numbers SPAR's name (if the organisation has any).
pub struct Sender<'a> {
    pub org: &'a str,
    pub bestallningsid: &'a str,
    pub spar_kund: Option<(u32, u32)>,
}

impl Workload {
    /// Builds the envelopes from the population (persons, seed, today) the server loaded.
    pub fn build(
        persons: usize,
        seed: u64,
        today: NaiveDate,
        from: &Sender<'_>,
        mix: Mix,
        rng: &mut impl Rng,
    ) -> Result<Workload, String> {
        let (org, bestallningsid, spar_kund) = (from.org, from.bestallningsid, from.spar_kund);
        // One pass over the population as a stream: memory is the envelopes kept (and the
        // numbers held, when the mix asks for missing ones), whatever `persons` is.
        let step = (persons / MAX_BODIES).max(1);
        let mut held: HashSet<Pnr> = HashSet::new();
        let mut existing: Vec<Bytes> = Vec::new();
        let mut searches: Vec<Bytes> = Vec::new();
        let mut spar: Vec<Bytes> = Vec::new();
        for (i, p) in folkreg::dev::generate::Population::new(persons, seed, today).enumerate() {
            if mix.missing > 0 {
                held.insert(p.pnr());
            }
            if i % step != 0 {
                continue;
            }
            if p.personpost.identitetstyp == Identitetstyp::Personnummer {
                existing.push(personpost_body(org, bestallningsid, p.pnr().as_str()));
                if let (true, Some(kund)) = (mix.spar > 0, spar_kund) {
                    spar.push(personsok_body(kund, p.pnr().as_str()));
                }
            }
            if let Some(body) = search_body(&p, org, bestallningsid) {
                searches.push(body);
            }
        }
        let mut missing = Vec::new();
        let first = NaiveDate::from_ymd_opt(1930, 1, 1).ok_or("date")?;
        while mix.missing > 0 && missing.len() < MAX_BODIES.min(existing.len()).max(1) {
            let date = first + chrono::Days::new(rng.gen_range(0..32_000));
            let Some(pnr) = Pnr::from_parts(date, rng.gen_range(0..1000), false) else {
                continue;
            };
            if !held.contains(&pnr) {
                missing.push(personpost_body(org, bestallningsid, pnr.as_str()));
            }
        }
        if (mix.existing > 0 && existing.is_empty())
            || (mix.search > 0 && searches.is_empty())
            || (mix.spar > 0 && spar.is_empty())
        {
            return Err("the population gives no requests of a kind the mix asks for".into());
        }
        Ok(Workload {
            mix,
            existing,
            missing,
            searches,
            spar,
        })
    }

    /// The next request: its kind and envelope.
    pub fn next(&self, rng: &mut impl Rng) -> (Kind, Bytes) {
        let kind = self.mix.pick(rng);
        let list = match kind {
            Kind::Existing => &self.existing,
            Kind::Missing => &self.missing,
            Kind::Search => &self.searches,
            Kind::Spar => &self.spar,
        };
        (kind, list[rng.gen_range(0..list.len())].clone())
    }
}

/// A namnsökning for a real, unprotected person: the first three letters of the surname with
/// `*`, and the postort.
fn search_body(p: &folkreg::model::Folkbokforingspost, org: &str, id: &str) -> Option<Bytes> {
    if p.is_protected() {
        return None;
    }
    let surname = p.personpost.namn.efternamn.as_deref()?;
    let postort = p
        .personpost
        .adresser
        .folkbokforingsadress
        .as_ref()?
        .postort
        .as_deref()?;
    let prefix: String = surname.chars().take(3).collect();
    Some(namnsokning_body(org, id, &format!("{prefix}*"), postort))
}

const ENVELOPE_OPEN: &str = r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1"><soapenv:Header/><soapenv:Body>"#;
const ENVELOPE_CLOSE: &str = "</soapenv:Body></soapenv:Envelope>";

fn bestallning(org: &str, id: &str) -> String {
    format!("<v1:Bestallning><v1:OrgNr>{org}</v1:OrgNr><v1:BestallningsId>{id}</v1:BestallningsId></v1:Bestallning>")
}

/// The envelopes are the generator's own test input with digits and dictionary names only, so
/// plain formatting is safe here; the server side never builds XML this way.
fn personpost_body(org: &str, id: &str, pnr: &str) -> Bytes {
    Bytes::from(format!(
        "{ENVELOPE_OPEN}<v1:PersonpostRequest>{}<v1:PersonId>{pnr}</v1:PersonId></v1:PersonpostRequest>{ENVELOPE_CLOSE}",
        bestallning(org, id)
    ))
}

/// SPAR's PersonSok by IdNummer under customer numbers `kund`.
fn personsok_body(kund: (u32, u32), pnr: &str) -> Bytes {
    Bytes::from(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><fraga:SPARPersonsokningFraga xmlns:fraga="http://statenspersonadressregister.se/schema/personsok/2021.1/personsokningfraga" xmlns:idinfo="http://statenspersonadressregister.se/schema/komponent/metadata/identifieringsinformationWs-1.1" xmlns:sok="http://statenspersonadressregister.se/schema/komponent/sok/personsokningsokparametrar-1.1" xmlns:person="http://statenspersonadressregister.se/schema/komponent/person/person-1.2"><idinfo:Identifieringsinformation><idinfo:KundNrLeveransMottagare>{}</idinfo:KundNrLeveransMottagare><idinfo:KundNrSlutkund>{}</idinfo:KundNrSlutkund><idinfo:UppdragId>1</idinfo:UppdragId><idinfo:SlutAnvandarId>loadgen</idinfo:SlutAnvandarId></idinfo:Identifieringsinformation><sok:PersonsokningFraga><person:IdNummer>{pnr}</person:IdNummer></sok:PersonsokningFraga></fraga:SPARPersonsokningFraga></soapenv:Body></soapenv:Envelope>"#,
        kund.0, kund.1
    ))
}

fn namnsokning_body(org: &str, id: &str, surname: &str, postort: &str) -> Bytes {
    Bytes::from(format!(
        "{ENVELOPE_OPEN}<v1:NamnsokningRequest>{}<v1:SokvillkorNamn><v1:Adress/><v1:EfterMellanNamn>{surname}</v1:EfterMellanNamn><v1:FodelsetidFrom/><v1:FodelsetidTom/><v1:Fornamn/><v1:Kon/><v1:PostnummerFrom/><v1:PostnummerTom/><v1:Postort>{postort}</v1:Postort><v1:Kategori/></v1:SokvillkorNamn></v1:NamnsokningRequest>{ENVELOPE_CLOSE}",
        bestallning(org, id)
    ))
}
