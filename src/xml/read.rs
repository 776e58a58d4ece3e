//! The one reader of `Folkbokforingspost`: a record's element tree (built by the streaming
//! reader in `loadfile`) → a validated [`DeliveryRecord`], every value checked.
//!
//! Errors name the record's 1-based position and the element path, and say what is wrong —
//! never the value, so a report can be logged without leaking personal data. The element
//! names a report may show are `ELEMENTS`; anything else is [`UNKNOWN_ELEMENT`].

use super::{DeliveryError, DeliveryErrorKind};
use crate::model::change::{DeliveryRecord, Group, GroupSet, Posttyp};
use crate::model::*;
use crate::pnr::{Pnr, PnrKind};

/// One element of a record, as the streaming reader (`loadfile::reader`) built it.
#[derive(Debug, Default)]
pub(crate) struct Node {
    /// Local name (no prefix).
    pub(crate) name: String,
    /// Attributes by local name, values unescaped.
    pub(crate) attrs: Vec<(String, String)>,
    /// The text directly inside, unescaped (whitespace trimmed by the reader).
    pub(crate) text: String,
    /// Child elements in document order.
    pub(crate) children: Vec<Node>,
}

/// Every element name of the delivery format: the only names a report shows. A name the
/// format does not have is reported as [`UNKNOWN_ELEMENT`], since in a broken file an element
/// name can be a fragment of a value (`<'ersonpost><PersonId><PersonNr>1933…'` is one name).
const ELEMENTS: &[&str] = &[
    "Adress",
    "Adresser",
    "AntraffadDodDatum",
    "Ar",
    "Arendeuppgift",
    "Aviseringsnamn",
    "AvlidenDatum",
    "Avregistrering",
    "Avregistreringsdatum",
    "Avregistreringsorsak",
    "AvregistreringsorsakKod",
    "Beteckning",
    "CareOf",
    "Civilstand",
    "CivilstandDatum",
    "CivilstandKod",
    "Datum",
    "Distrikt",
    "Efternamn",
    "Fastighet",
    "Fastighetsbeteckning",
    "FiktivtNr",
    "Fodelse",
    "Fodelsedatum",
    "Fodelseland",
    "Fodelseort",
    "Fodelsetid",
    "Folkbokforing",
    "Folkbokforingsadress",
    "Folkbokforingsdatum",
    "Folkbokforingspost",
    "Folkbokforingsposter",
    "FolkbokforingstypKod",
    "Fornamn",
    "Fornyelsedatum",
    "ForsamlingKommun",
    "HanvisningsPersonNr",
    "HemortSverige",
    "Historik",
    "Identitetsniva",
    "IdentitetsnivaDatum",
    "Identitetsstatus",
    "IdentitetsstatusDatum",
    "IdentitetsstatusOrsak",
    "Inkomst",
    "Invandring",
    "Invandringsdatum",
    "Kommun",
    "KommunKod",
    "Kon",
    "Lagenhet",
    "LanKod",
    "Land",
    "Landkod",
    "Medborgarskap",
    "Medborgarskapsdatum",
    "MedborgarskapslandKod",
    "Mellannamn",
    "Namn",
    "Navetavisering",
    "NordisktPersonnummer",
    "Nummer",
    "OrtUtlandet",
    "PaKommunSkriven",
    "PersonId",
    "PersonNr",
    "Personpost",
    "PostNr",
    "Postort",
    "PreliminartVilandeforklaringsdatum",
    "Relation",
    "Relationer",
    "Relationstyp",
    "RostrattDatum",
    "Samordningsnummeruppgifter",
    "SarskildPostadress",
    "Sekretessmarkering",
    "SkyddadFolkbokforing",
    "Skyddsdatum",
    "Summa",
    "Taxering",
    "TilldelatPersonNrSamordningsNr",
    "Tilldelningsdatum",
    "Tilltalsnamnsmarkering",
    "UUID",
    "Uppehallsratt",
    "Utdelningsadress1",
    "Utdelningsadress2",
    "Utdelningsadress3",
    "Utlandsadress",
];

/// How a report names an element that is not in [`ELEMENTS`].
pub const UNKNOWN_ELEMENT: &str = "(an element the format does not have)";

/// `name` if the format has it, else [`UNKNOWN_ELEMENT`].
pub(crate) fn shown(name: &str) -> &str {
    if ELEMENTS.contains(&name) {
        name
    } else {
        UNKNOWN_ELEMENT
    }
}

/// Context for errors while mapping a record's tree: its position and the current path.
struct Ctx {
    record: u64,
}

impl Ctx {
    fn err(&self, path: &str, kind: DeliveryErrorKind) -> DeliveryError {
        DeliveryError {
            record: Some(self.record),
            element: Some(path.to_owned()),
            kind,
        }
    }
    fn invalid(&self, path: &str, what: &str) -> DeliveryError {
        self.err(path, DeliveryErrorKind::Invalid(what.to_owned()))
    }

    /// The children of `n`, each exactly one of `allowed`.
    fn check_children(&self, path: &str, n: &Node, allowed: &[&str]) -> Result<(), DeliveryError> {
        for c in &n.children {
            if !allowed.contains(&c.name.as_str()) {
                return Err(self.err(
                    &format!("{path}/{}", shown(&c.name)),
                    DeliveryErrorKind::UnexpectedElement,
                ));
            }
        }
        Ok(())
    }

    fn text<'n>(&self, n: &'n Node, child: &str) -> Option<&'n str> {
        n.children
            .iter()
            .find(|c| c.name == child)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    fn string(&self, n: &Node, child: &str) -> Option<String> {
        self.text(n, child).map(str::to_owned)
    }

    fn required(&self, path: &str, n: &Node, child: &'static str) -> Result<String, DeliveryError> {
        self.string(n, child)
            .ok_or_else(|| self.err(path, DeliveryErrorKind::Missing(child)))
    }

    fn date(&self, path: &str, n: &Node, child: &str) -> Result<Option<Datum>, DeliveryError> {
        self.text(n, child)
            .map(|t| {
                Datum::parse(t)
                    .map_err(|e| self.invalid(&format!("{path}/{child}"), &e.to_string()))
            })
            .transpose()
    }

    fn required_date(
        &self,
        path: &str,
        n: &Node,
        child: &'static str,
    ) -> Result<Datum, DeliveryError> {
        self.date(path, n, child)?
            .ok_or_else(|| self.err(path, DeliveryErrorKind::Missing(child)))
    }

    fn pnr(&self, path: &str, t: &str) -> Result<Pnr, DeliveryError> {
        Pnr::parse(t).map_err(|e| self.invalid(path, &e.to_string()))
    }

    fn lan(&self, path: &str, lan: &str) -> Result<(), DeliveryError> {
        if crate::refdata::is_lan(lan) {
            Ok(())
        } else {
            Err(self.invalid(path, "unknown länskod"))
        }
    }

    fn land(&self, path: &str, code: &str) -> Result<(), DeliveryError> {
        if code.len() == 2 && code.bytes().all(|c| c.is_ascii_uppercase()) {
            Ok(())
        } else {
            Err(self.invalid(
                path,
                "land code must be two capital letters (ISO 3166 alpha-2)",
            ))
        }
    }
}

fn child<'n>(n: &'n Node, name: &str) -> Option<&'n Node> {
    n.children.iter().find(|c| c.name == name)
}

/// Maps one record's element tree (its `Folkbokforingspost`) to a validated record;
/// `record_no` is its 1-based position in the file, for errors.
pub(crate) fn record(
    root: &Node,
    posttyp: Posttyp,
    record_no: u64,
) -> Result<DeliveryRecord, DeliveryError> {
    let cx = Ctx { record: record_no };
    cx.check_children(
        "",
        root,
        &[
            "Arendeuppgift",
            "Personpost",
            "Sekretessmarkering",
            "SkyddadFolkbokforing",
            "Skyddsdatum",
        ],
    )
    .map_err(|mut e| {
        e.element = e.element.map(|p| p.trim_start_matches('/').to_owned());
        e
    })?;
    let andringstidpunkt = child(root, "Arendeuppgift")
        .and_then(|a| {
            a.attrs
                .iter()
                .find(|(k, _)| k == "andringstidpunkt")
                .map(|(_, v)| v.clone())
        })
        .ok_or_else(|| {
            cx.err(
                "Arendeuppgift",
                DeliveryErrorKind::Missing("Arendeuppgift@andringstidpunkt"),
            )
        })?;
    if andringstidpunkt.len() != 14
        || chrono::NaiveDateTime::parse_from_str(&andringstidpunkt, "%Y%m%d%H%M%S").is_err()
    {
        return Err(cx.invalid("Arendeuppgift", "andringstidpunkt must be YYYYMMDDhhmmss"));
    }
    let pp = child(root, "Personpost")
        .ok_or_else(|| cx.err("", DeliveryErrorKind::Missing("Personpost")))?;
    let mut present = if posttyp == Posttyp::Total {
        GroupSet::ALL
    } else {
        GroupSet::default()
    };
    present.insert(Group::Arendeuppgift);
    let personpost = personpost(&cx, pp, &mut present)?;

    let flag = |name: &str| -> Result<Option<bool>, DeliveryError> {
        match cx.text(root, name) {
            None => Ok(None),
            Some("J") => Ok(Some(true)),
            Some("N") => Ok(Some(false)),
            Some(_) => Err(cx.invalid(name, "must be J or N")),
        }
    };
    let sekretess = flag("Sekretessmarkering")?;
    let skyddad = flag("SkyddadFolkbokforing")?;
    let skyddsdatum = cx.date("", root, "Skyddsdatum").map_err(|mut e| {
        e.element = Some("Skyddsdatum".into());
        e
    })?;
    if sekretess.is_some() || skyddad.is_some() || skyddsdatum.is_some() {
        present.insert(Group::Skydd);
    }
    let post = Folkbokforingspost {
        andringstidpunkt,
        personpost,
        sekretessmarkering: sekretess.unwrap_or(false),
        skyddad_folkbokforing: skyddad.unwrap_or(false),
        skyddsdatum,
    };
    Ok(DeliveryRecord {
        posttyp,
        post,
        present,
    })
}

const PERSONPOST_CHILDREN: &[&str] = &[
    "PersonId",
    "HanvisningsPersonNr",
    "Avregistrering",
    "AntraffadDodDatum",
    "Namn",
    "Folkbokforing",
    "Adresser",
    "Fodelse",
    "Invandring",
    "RostrattDatum",
    "Civilstand",
    "Medborgarskap",
    "Relationer",
    "Uppehallsratt",
    "NordisktPersonnummer",
    "Kon",
    "Fodelsetid",
    "Taxering",
    "Historik",
    "Samordningsnummeruppgifter",
];

fn personpost(cx: &Ctx, pp: &Node, present: &mut GroupSet) -> Result<Personpost, DeliveryError> {
    cx.check_children("Personpost", pp, PERSONPOST_CHILDREN)?;
    let has = |name: &str| child(pp, name).is_some();
    let mark = |present: &mut GroupSet, name: &str, g: Group| {
        if has(name) {
            present.insert(g);
        }
    };
    // PersonId.
    let id = child(pp, "PersonId")
        .ok_or_else(|| cx.err("Personpost", DeliveryErrorKind::Missing("PersonId")))?;
    cx.check_children(
        "Personpost/PersonId",
        id,
        &["PersonNr", "TilldelatPersonNrSamordningsNr"],
    )?;
    let (person_id, identitetstyp) = if let Some(t) = cx.text(id, "PersonNr") {
        (
            cx.pnr("Personpost/PersonId/PersonNr", t)?,
            Identitetstyp::Personnummer,
        )
    } else if let Some(t) = cx.text(id, "TilldelatPersonNrSamordningsNr") {
        let p = cx.pnr("Personpost/PersonId/TilldelatPersonNrSamordningsNr", t)?;
        let typ = match p.kind() {
            PnrKind::Samordningsnummer => Identitetstyp::Samordningsnummer,
            PnrKind::Personnummer => Identitetstyp::TilldelatPersonnummer,
        };
        (p, typ)
    } else {
        return Err(cx.err(
            "Personpost/PersonId",
            DeliveryErrorKind::Missing("PersonNr"),
        ));
    };
    if identitetstyp == Identitetstyp::Personnummer
        && person_id.kind() == PnrKind::Samordningsnummer
    {
        return Err(cx.invalid(
            "Personpost/PersonId/PersonNr",
            "a samordningsnummer belongs in TilldelatPersonNrSamordningsNr",
        ));
    }

    let mut hanvisning = Vec::new();
    for h in pp
        .children
        .iter()
        .filter(|c| c.name == "HanvisningsPersonNr")
    {
        let t = h.text.trim();
        if !t.is_empty() {
            hanvisning.push(cx.pnr("Personpost/HanvisningsPersonNr", t)?);
        }
    }
    mark(present, "HanvisningsPersonNr", Group::Hanvisning);

    let avregistrering = match child(pp, "Avregistrering").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(a) => {
            let path = "Personpost/Avregistrering";
            cx.check_children(
                path,
                a,
                &[
                    "AvregistreringsorsakKod",
                    "Avregistreringsdatum",
                    "AvlidenDatum",
                ],
            )?;
            let kod = cx.required(path, a, "AvregistreringsorsakKod")?;
            Some(Avregistrering {
                orsak: AvregistreringsorsakKod::from_code(&kod).ok_or_else(|| {
                    cx.invalid(&format!("{path}/AvregistreringsorsakKod"), "unknown code")
                })?,
                datum: cx.required_date(path, a, "Avregistreringsdatum")?,
                avliden_datum: cx.date(path, a, "AvlidenDatum")?,
            })
        }
    };
    mark(present, "Avregistrering", Group::Avregistrering);
    let antraffad_dod = cx.date("Personpost", pp, "AntraffadDodDatum")?;
    mark(present, "AntraffadDodDatum", Group::AntraffadDod);

    let namn = match child(pp, "Namn") {
        None => Namn::default(),
        Some(n) => {
            let path = "Personpost/Namn";
            cx.check_children(
                path,
                n,
                &[
                    "Tilltalsnamnsmarkering",
                    "Fornamn",
                    "Mellannamn",
                    "Efternamn",
                    "Aviseringsnamn",
                ],
            )?;
            let tilltal = match cx.text(n, "Tilltalsnamnsmarkering") {
                None => None,
                Some(t) if t.len() == 2 && t.bytes().all(|c| c.is_ascii_digit()) => t.parse().ok(),
                Some(_) => {
                    return Err(cx.invalid(
                        &format!("{path}/Tilltalsnamnsmarkering"),
                        "must be two digits",
                    ))
                }
            };
            let aviseringsnamn = cx.string(n, "Aviseringsnamn");
            if aviseringsnamn
                .as_ref()
                .is_some_and(|a| a.chars().count() > 36)
            {
                return Err(cx.invalid(
                    &format!("{path}/Aviseringsnamn"),
                    "longer than 36 characters",
                ));
            }
            Namn {
                tilltalsnamnsmarkering: tilltal,
                fornamn: cx.string(n, "Fornamn"),
                mellannamn: cx.string(n, "Mellannamn"),
                efternamn: cx.string(n, "Efternamn"),
                aviseringsnamn,
            }
        }
    };
    mark(present, "Namn", Group::Namn);

    let folkbokforing = match child(pp, "Folkbokforing").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(f) => {
            let path = "Personpost/Folkbokforing";
            cx.check_children(
                path,
                f,
                &[
                    "Folkbokforingsdatum",
                    "LanKod",
                    "KommunKod",
                    "Fastighetsbeteckning",
                    "FiktivtNr",
                    "Distrikt",
                    "PaKommunSkriven",
                ],
            )?;
            let lan_kod = cx.required(path, f, "LanKod")?;
            cx.lan(&format!("{path}/LanKod"), &lan_kod)?;
            let kommun_kod = cx.required(path, f, "KommunKod")?;
            if crate::refdata::kommun(&format!("{lan_kod}{kommun_kod}")).is_none() {
                return Err(cx.invalid(&format!("{path}/KommunKod"), "no such kommun in the län"));
            }
            let pa_kommun_skriven = match cx.text(f, "PaKommunSkriven") {
                None | Some("N") => false,
                Some("J") => true,
                Some(_) => {
                    return Err(cx.invalid(&format!("{path}/PaKommunSkriven"), "must be J or N"))
                }
            };
            Some(Folkbokforing {
                folkbokforingsdatum: cx.required_date(path, f, "Folkbokforingsdatum")?,
                lan_kod,
                kommun_kod,
                fastighetsbeteckning: cx.string(f, "Fastighetsbeteckning"),
                fiktivt_nr: cx.string(f, "FiktivtNr"),
                distrikt: cx.string(f, "Distrikt"),
                pa_kommun_skriven,
            })
        }
    };
    mark(present, "Folkbokforing", Group::Folkbokforing);

    let adresser = match child(pp, "Adresser") {
        None => Adresser::default(),
        Some(a) => adresser(cx, a)?,
    };
    mark(present, "Adresser", Group::Adresser);

    let fodelse = match child(pp, "Fodelse") {
        None => Fodelse::default(),
        Some(f) => {
            let path = "Personpost/Fodelse";
            cx.check_children(path, f, &["Fodelsedatum", "HemortSverige", "OrtUtlandet"])?;
            let hemort_sverige = match child(f, "HemortSverige") {
                None => None,
                Some(h) => {
                    let p = "Personpost/Fodelse/HemortSverige";
                    cx.check_children(p, h, &["LanKod", "ForsamlingKommun"])?;
                    let lan_kod = cx.required(p, h, "LanKod")?;
                    cx.lan(&format!("{p}/LanKod"), &lan_kod)?;
                    Some(HemortSverige {
                        lan_kod,
                        forsamling_kommun: cx.required(p, h, "ForsamlingKommun")?,
                    })
                }
            };
            let ort_utlandet = match child(f, "OrtUtlandet") {
                None => None,
                Some(o) => {
                    let p = "Personpost/Fodelse/OrtUtlandet";
                    cx.check_children(p, o, &["Fodelseort", "Fodelseland"])?;
                    Some(OrtUtlandet {
                        fodelseort: cx.required(p, o, "Fodelseort")?,
                        fodelseland: cx.required(p, o, "Fodelseland")?,
                    })
                }
            };
            Fodelse {
                fodelsedatum: cx.date(path, f, "Fodelsedatum")?,
                hemort_sverige,
                ort_utlandet,
            }
        }
    };
    mark(present, "Fodelse", Group::Fodelse);

    let invandringsdatum = match child(pp, "Invandring") {
        None => None,
        Some(i) => {
            cx.check_children("Personpost/Invandring", i, &["Invandringsdatum"])?;
            cx.date("Personpost/Invandring", i, "Invandringsdatum")?
        }
    };
    mark(present, "Invandring", Group::Invandring);
    let rostratt_datum = cx.date("Personpost", pp, "RostrattDatum")?;
    mark(present, "RostrattDatum", Group::Rostratt);

    let civilstand = match child(pp, "Civilstand").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(c) => {
            let path = "Personpost/Civilstand";
            cx.check_children(path, c, &["CivilstandKod", "CivilstandDatum"])?;
            let kod = cx.required(path, c, "CivilstandKod")?;
            Some(Civilstand {
                kod: CivilstandKod::from_code(&kod)
                    .ok_or_else(|| cx.invalid(&format!("{path}/CivilstandKod"), "unknown code"))?,
                datum: cx.date(path, c, "CivilstandDatum")?,
            })
        }
    };
    mark(present, "Civilstand", Group::Civilstand);

    let mut medborgarskap = Vec::new();
    for m in pp
        .children
        .iter()
        .filter(|c| c.name == "Medborgarskap" && !c.children.is_empty())
    {
        let path = "Personpost/Medborgarskap";
        cx.check_children(path, m, &["MedborgarskapslandKod", "Medborgarskapsdatum"])?;
        let landkod = cx.required(path, m, "MedborgarskapslandKod")?;
        cx.land(&format!("{path}/MedborgarskapslandKod"), &landkod)?;
        medborgarskap.push(Medborgarskap {
            landkod,
            datum: cx.date(path, m, "Medborgarskapsdatum")?,
        });
    }
    mark(present, "Medborgarskap", Group::Medborgarskap);

    let mut relationer = Vec::new();
    if let Some(rs) = child(pp, "Relationer") {
        cx.check_children("Personpost/Relationer", rs, &["Relation"])?;
        for r in &rs.children {
            relationer.push(relation(cx, r)?);
        }
    }
    mark(present, "Relationer", Group::Relationer);

    let uppehallsratt = match child(pp, "Uppehallsratt").filter(|n| !n.children.is_empty()) {
        None => None,
        Some(u) => {
            let path = "Personpost/Uppehallsratt";
            cx.check_children(path, u, &["Typ", "Datum"])?;
            Some(Uppehallsratt {
                typ: cx.required(path, u, "Typ")?,
                datum: cx.date(path, u, "Datum")?,
            })
        }
    };
    mark(present, "Uppehallsratt", Group::Uppehallsratt);
    let nordiskt_personnummer =
        match child(pp, "NordisktPersonnummer").filter(|n| !n.children.is_empty()) {
            None => None,
            Some(n) => {
                let path = "Personpost/NordisktPersonnummer";
                cx.check_children(path, n, &["Nummer", "Landkod"])?;
                let landkod = cx.required(path, n, "Landkod")?;
                cx.land(&format!("{path}/Landkod"), &landkod)?;
                Some(NordisktPersonnummer {
                    nummer: cx.required(path, n, "Nummer")?,
                    landkod,
                })
            }
        };
    mark(present, "NordisktPersonnummer", Group::NordisktPersonnummer);

    // Kon and Fodelsetid are derived from the number; if given they must agree with it.
    if let Some(k) = cx.text(pp, "Kon") {
        if k != if person_id.is_male() { "M" } else { "K" } {
            return Err(cx.invalid("Personpost/Kon", "does not agree with the identity number"));
        }
    }
    if let Some(t) = cx.text(pp, "Fodelsetid") {
        let d = Datum::parse(t).map_err(|e| cx.invalid("Personpost/Fodelsetid", &e.to_string()))?;
        if Some(d) != person_id.birth_date().map(Datum::from_date) {
            return Err(cx.invalid(
                "Personpost/Fodelsetid",
                "does not agree with the identity number",
            ));
        }
    }

    let taxering = match child(pp, "Taxering") {
        None => None,
        Some(t) => {
            let path = "Personpost/Taxering";
            cx.check_children(path, t, &["Inkomst", "Fastighet"])?;
            let inkomst = match child(t, "Inkomst") {
                None => None,
                Some(i) => {
                    let p = "Personpost/Taxering/Inkomst";
                    cx.check_children(p, i, &["Ar", "Summa"])?;
                    Some(Inkomst {
                        ar: cx
                            .required(p, i, "Ar")?
                            .parse()
                            .map_err(|_| cx.invalid(&format!("{p}/Ar"), "must be a year"))?,
                        summa: cx.required(p, i, "Summa")?.parse().map_err(|_| {
                            cx.invalid(&format!("{p}/Summa"), "must be whole kronor")
                        })?,
                    })
                }
            };
            let mut fastigheter = Vec::new();
            for f in t.children.iter().filter(|c| c.name == "Fastighet") {
                let p = "Personpost/Taxering/Fastighet";
                cx.check_children(p, f, &["Beteckning", "Kommun"])?;
                let kommun = cx.required(p, f, "Kommun")?;
                if crate::refdata::kommun(&kommun).is_none() {
                    return Err(cx.invalid(&format!("{p}/Kommun"), "unknown kommunkod"));
                }
                fastigheter.push(Fastighetsinnehav {
                    beteckning: cx.required(p, f, "Beteckning")?,
                    kommun,
                });
            }
            (inkomst.is_some() || !fastigheter.is_empty()).then_some(Taxering {
                inkomst,
                fastigheter,
            })
        }
    };
    mark(present, "Taxering", Group::Taxering);

    let mut historik = Vec::new();
    if let Some(h) = child(pp, "Historik") {
        cx.check_children("Personpost/Historik", h, &["Folkbokforing"])?;
        for f in &h.children {
            let path = "Personpost/Historik/Folkbokforing";
            cx.check_children(
                path,
                f,
                &[
                    "FolkbokforingstypKod",
                    "Folkbokforingsdatum",
                    "LanKod",
                    "KommunKod",
                    "Fastighetsbeteckning",
                ],
            )?;
            let typ = cx.required(path, f, "FolkbokforingstypKod")?;
            let lan_kod = cx.string(f, "LanKod");
            if let Some(l) = &lan_kod {
                cx.lan(&format!("{path}/LanKod"), l)?;
            }
            historik.push(HistorikPost {
                typ: Folkbokforingstyp::from_code(&typ).ok_or_else(|| {
                    cx.invalid(&format!("{path}/FolkbokforingstypKod"), "unknown code")
                })?,
                datum: cx.required_date(path, f, "Folkbokforingsdatum")?,
                lan_kod,
                kommun_kod: cx.string(f, "KommunKod"),
                fastighetsbeteckning: cx.string(f, "Fastighetsbeteckning"),
            });
        }
    }
    mark(present, "Historik", Group::Historik);

    let samordning =
        match child(pp, "Samordningsnummeruppgifter").filter(|n| !n.children.is_empty()) {
            None => None,
            Some(s) => {
                let path = "Personpost/Samordningsnummeruppgifter";
                cx.check_children(
                    path,
                    s,
                    &[
                        "Identitetsstatus",
                        "IdentitetsstatusDatum",
                        "IdentitetsstatusOrsak",
                        "Tilldelningsdatum",
                        "PreliminartVilandeforklaringsdatum",
                        "Fornyelsedatum",
                        "Identitetsniva",
                        "IdentitetsnivaDatum",
                    ],
                )?;
                Some(Samordningsuppgifter {
                    identitetsstatus: cx.required(path, s, "Identitetsstatus")?,
                    identitetsstatus_datum: cx.date(path, s, "IdentitetsstatusDatum")?,
                    identitetsstatus_orsak: cx.string(s, "IdentitetsstatusOrsak"),
                    tilldelningsdatum: cx.date(path, s, "Tilldelningsdatum")?,
                    preliminart_vilandeforklaringsdatum: cx.date(
                        path,
                        s,
                        "PreliminartVilandeforklaringsdatum",
                    )?,
                    fornyelsedatum: cx.date(path, s, "Fornyelsedatum")?,
                    identitetsniva: cx.string(s, "Identitetsniva"),
                    identitetsniva_datum: cx.date(path, s, "IdentitetsnivaDatum")?,
                })
            }
        };
    mark(present, "Samordningsnummeruppgifter", Group::Samordning);

    Ok(Personpost {
        person_id,
        identitetstyp,
        hanvisning,
        avregistrering,
        antraffad_dod,
        namn,
        folkbokforing,
        adresser,
        fodelse,
        invandringsdatum,
        rostratt_datum,
        civilstand,
        medborgarskap,
        relationer,
        uppehallsratt,
        nordiskt_personnummer,
        taxering,
        historik,
        samordning,
    })
}

fn svensk_adress(cx: &Ctx, path: &str, n: &Node) -> Result<SvenskAdress, DeliveryError> {
    cx.check_children(
        path,
        n,
        &[
            "CareOf",
            "Utdelningsadress1",
            "Utdelningsadress2",
            "PostNr",
            "Postort",
        ],
    )?;
    let post_nr = cx.string(n, "PostNr");
    if post_nr
        .as_ref()
        .is_some_and(|p| p.len() != 5 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(cx.invalid(&format!("{path}/PostNr"), "must be five digits"));
    }
    Ok(SvenskAdress {
        care_of: cx.string(n, "CareOf"),
        utdelningsadress1: cx.string(n, "Utdelningsadress1"),
        utdelningsadress2: cx.string(n, "Utdelningsadress2"),
        post_nr,
        postort: cx.string(n, "Postort"),
    })
}

fn adresser(cx: &Ctx, a: &Node) -> Result<Adresser, DeliveryError> {
    let path = "Personpost/Adresser";
    cx.check_children(
        path,
        a,
        &[
            "Folkbokforingsadress",
            "SarskildPostadress",
            "Utlandsadress",
            "UUID",
        ],
    )?;
    let utlandsadress = match child(a, "Utlandsadress") {
        None => None,
        Some(u) => {
            let p = "Personpost/Adresser/Utlandsadress";
            cx.check_children(
                p,
                u,
                &[
                    "Utdelningsadress1",
                    "Utdelningsadress2",
                    "Utdelningsadress3",
                    "Land",
                    "Datum",
                ],
            )?;
            Some(Utlandsadress {
                utdelningsadress1: cx.string(u, "Utdelningsadress1"),
                utdelningsadress2: cx.string(u, "Utdelningsadress2"),
                utdelningsadress3: cx.string(u, "Utdelningsadress3"),
                land: cx.string(u, "Land"),
                datum: cx.date(p, u, "Datum")?,
            })
        }
    };
    let uuid = match child(a, "UUID") {
        None => None,
        Some(u) => {
            cx.check_children(
                "Personpost/Adresser/UUID",
                u,
                &["Fastighet", "Adress", "Lagenhet"],
            )?;
            Some(AdressUuid {
                fastighet: cx.string(u, "Fastighet"),
                adress: cx.string(u, "Adress"),
                lagenhet: cx.string(u, "Lagenhet"),
            })
        }
    };
    Ok(Adresser {
        folkbokforingsadress: child(a, "Folkbokforingsadress")
            .map(|n| svensk_adress(cx, "Personpost/Adresser/Folkbokforingsadress", n))
            .transpose()?,
        sarskild_postadress: child(a, "SarskildPostadress")
            .map(|n| svensk_adress(cx, "Personpost/Adresser/SarskildPostadress", n))
            .transpose()?,
        utlandsadress,
        uuid,
    })
}

fn relation(cx: &Ctx, r: &Node) -> Result<Relation, DeliveryError> {
    let path = "Personpost/Relationer/Relation";
    cx.check_children(
        path,
        r,
        &[
            "Relationstyp",
            "PersonNr",
            "Fodelsedatum",
            "Fornamn",
            "Efternamn",
            "Avregistreringsorsak",
            "Avregistreringsdatum",
        ],
    )?;
    let typ = cx.required(path, r, "Relationstyp")?;
    let typ = Relationstyp::from_code(&typ)
        .ok_or_else(|| cx.invalid(&format!("{path}/Relationstyp"), "unknown code"))?;
    let person = match cx.text(r, "PersonNr") {
        Some(t) => Relationsperson::PersonNr(cx.pnr(&format!("{path}/PersonNr"), t)?),
        None => Relationsperson::Uppgifter {
            fodelsedatum: cx.required_date(path, r, "Fodelsedatum")?,
            fornamn: cx.string(r, "Fornamn"),
            efternamn: cx.string(r, "Efternamn"),
        },
    };
    let avregistreringsorsak =
        match cx.text(r, "Avregistreringsorsak") {
            None => None,
            Some(k) => Some(AvregistreringsorsakKod::from_code(k).ok_or_else(|| {
                cx.invalid(&format!("{path}/Avregistreringsorsak"), "unknown code")
            })?),
        };
    Ok(Relation {
        typ,
        person,
        avregistreringsorsak,
        avregistreringsdatum: cx.date(path, r, "Avregistreringsdatum")?,
    })
}
