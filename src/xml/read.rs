//! The one reader of `Folkbokforingspost`: a record's element tree (built by the streaming
//! reader in `loadfile`) → a validated [`DeliveryRecord`], every value checked.
//!
//! Errors name the record's 1-based position and the element path, and say what is wrong —
//! never the value, so a report can be logged without leaking personal data. The element
//! names a report may show are `ELEMENTS`; anything else is [`UNKNOWN_ELEMENT`].

use super::{DeliveryError, DeliveryErrorKind};
use crate::ids::pnr::{Pnr, PnrKind};
use crate::model::change::{DeliveryRecord, Group, GroupSet, Posttyp};
use crate::model::*;

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

/// `Personpost`: each part of the record in the order the format fixes; every part present
/// (even empty) is marked in `present`, so an ändringspost replaces or clears that group.
fn personpost(cx: &Ctx, pp: &Node, present: &mut GroupSet) -> Result<Personpost, DeliveryError> {
    cx.check_children("Personpost", pp, PERSONPOST_CHILDREN)?;
    let mut mark = |name: &str, g: Group| {
        if child(pp, name).is_some() {
            present.insert(g);
        }
    };
    let (person_id, identitetstyp) = person_id(cx, pp)?;
    let hanvisning = hanvisning(cx, pp)?;
    mark("HanvisningsPersonNr", Group::Hanvisning);
    let avregistrering = avregistrering(cx, pp)?;
    mark("Avregistrering", Group::Avregistrering);
    let antraffad_dod = cx.date("Personpost", pp, "AntraffadDodDatum")?;
    mark("AntraffadDodDatum", Group::AntraffadDod);
    let namn = namn(cx, pp)?;
    mark("Namn", Group::Namn);
    let folkbokforing = folkbokforing(cx, pp)?;
    mark("Folkbokforing", Group::Folkbokforing);
    let adresser = match child(pp, "Adresser") {
        None => Adresser::default(),
        Some(a) => adresser(cx, a)?,
    };
    mark("Adresser", Group::Adresser);
    let fodelse = fodelse(cx, pp)?;
    mark("Fodelse", Group::Fodelse);
    let invandringsdatum = invandring(cx, pp)?;
    mark("Invandring", Group::Invandring);
    let rostratt_datum = cx.date("Personpost", pp, "RostrattDatum")?;
    mark("RostrattDatum", Group::Rostratt);
    let civilstand = civilstand(cx, pp)?;
    mark("Civilstand", Group::Civilstand);
    let medborgarskap = medborgarskap(cx, pp)?;
    mark("Medborgarskap", Group::Medborgarskap);
    let relationer = relationer(cx, pp)?;
    mark("Relationer", Group::Relationer);
    let uppehallsratt = uppehallsratt(cx, pp)?;
    mark("Uppehallsratt", Group::Uppehallsratt);
    let nordiskt_personnummer = nordiskt_personnummer(cx, pp)?;
    mark("NordisktPersonnummer", Group::NordisktPersonnummer);
    kon_fodelsetid(cx, pp, &person_id)?;
    let taxering = taxering(cx, pp)?;
    mark("Taxering", Group::Taxering);
    let historik = historik(cx, pp)?;
    mark("Historik", Group::Historik);
    let samordning = samordning(cx, pp)?;
    mark("Samordningsnummeruppgifter", Group::Samordning);

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

/// `PersonId`: the identity number and which kind of number it is.
fn person_id(cx: &Ctx, pp: &Node) -> Result<(Pnr, Identitetstyp), DeliveryError> {
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
    Ok((person_id, identitetstyp))
}

/// Every `HanvisningsPersonNr` (an empty one only marks the group).
fn hanvisning(cx: &Ctx, pp: &Node) -> Result<Vec<Pnr>, DeliveryError> {
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
    Ok(hanvisning)
}

/// `Avregistrering`; an empty element is none.
fn avregistrering(cx: &Ctx, pp: &Node) -> Result<Option<Avregistrering>, DeliveryError> {
    let Some(a) = child(pp, "Avregistrering").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
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
    Ok(Some(Avregistrering {
        orsak: AvregistreringsorsakKod::from_code(&kod).ok_or_else(|| {
            cx.invalid(&format!("{path}/AvregistreringsorsakKod"), "unknown code")
        })?,
        datum: cx.required_date(path, a, "Avregistreringsdatum")?,
        avliden_datum: cx.date(path, a, "AvlidenDatum")?,
    }))
}

/// `Namn`: tilltalsnamnsmarkering (two digits), the names, aviseringsnamn (at most 36).
fn namn(cx: &Ctx, pp: &Node) -> Result<Namn, DeliveryError> {
    let Some(n) = child(pp, "Namn") else {
        return Ok(Namn::default());
    };
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
    Ok(Namn {
        tilltalsnamnsmarkering: tilltal,
        fornamn: cx.string(n, "Fornamn"),
        mellannamn: cx.string(n, "Mellannamn"),
        efternamn: cx.string(n, "Efternamn"),
        aviseringsnamn,
    })
}

/// `Folkbokforing`: the län and kommun must exist together; an empty element is none.
fn folkbokforing(cx: &Ctx, pp: &Node) -> Result<Option<Folkbokforing>, DeliveryError> {
    let Some(f) = child(pp, "Folkbokforing").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
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
        Some(_) => return Err(cx.invalid(&format!("{path}/PaKommunSkriven"), "must be J or N")),
    };
    Ok(Some(Folkbokforing {
        folkbokforingsdatum: cx.required_date(path, f, "Folkbokforingsdatum")?,
        lan_kod,
        kommun_kod,
        fastighetsbeteckning: cx.string(f, "Fastighetsbeteckning"),
        fiktivt_nr: cx.string(f, "FiktivtNr"),
        distrikt: cx.string(f, "Distrikt"),
        pa_kommun_skriven,
    }))
}

/// `Fodelse`: the date, and the hemort in Sweden or the place abroad.
fn fodelse(cx: &Ctx, pp: &Node) -> Result<Fodelse, DeliveryError> {
    let Some(f) = child(pp, "Fodelse") else {
        return Ok(Fodelse::default());
    };
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
    Ok(Fodelse {
        fodelsedatum: cx.date(path, f, "Fodelsedatum")?,
        hemort_sverige,
        ort_utlandet,
    })
}

/// `Invandring`: its date.
fn invandring(cx: &Ctx, pp: &Node) -> Result<Option<Datum>, DeliveryError> {
    match child(pp, "Invandring") {
        None => Ok(None),
        Some(i) => {
            cx.check_children("Personpost/Invandring", i, &["Invandringsdatum"])?;
            cx.date("Personpost/Invandring", i, "Invandringsdatum")
        }
    }
}

/// `Civilstand`; an empty element is none.
fn civilstand(cx: &Ctx, pp: &Node) -> Result<Option<Civilstand>, DeliveryError> {
    let Some(c) = child(pp, "Civilstand").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
    let path = "Personpost/Civilstand";
    cx.check_children(path, c, &["CivilstandKod", "CivilstandDatum"])?;
    let kod = cx.required(path, c, "CivilstandKod")?;
    Ok(Some(Civilstand {
        kod: CivilstandKod::from_code(&kod)
            .ok_or_else(|| cx.invalid(&format!("{path}/CivilstandKod"), "unknown code"))?,
        datum: cx.date(path, c, "CivilstandDatum")?,
    }))
}

/// Every non-empty `Medborgarskap`.
fn medborgarskap(cx: &Ctx, pp: &Node) -> Result<Vec<Medborgarskap>, DeliveryError> {
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
    Ok(medborgarskap)
}

/// `Relationer`: each `Relation`.
fn relationer(cx: &Ctx, pp: &Node) -> Result<Vec<Relation>, DeliveryError> {
    let mut relationer = Vec::new();
    if let Some(rs) = child(pp, "Relationer") {
        cx.check_children("Personpost/Relationer", rs, &["Relation"])?;
        for r in &rs.children {
            relationer.push(relation(cx, r)?);
        }
    }
    Ok(relationer)
}

/// `Uppehallsratt`; an empty element is none.
fn uppehallsratt(cx: &Ctx, pp: &Node) -> Result<Option<Uppehallsratt>, DeliveryError> {
    let Some(u) = child(pp, "Uppehallsratt").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
    let path = "Personpost/Uppehallsratt";
    cx.check_children(path, u, &["Typ", "Datum"])?;
    Ok(Some(Uppehallsratt {
        typ: cx.required(path, u, "Typ")?,
        datum: cx.date(path, u, "Datum")?,
    }))
}

/// `NordisktPersonnummer`; an empty element is none.
fn nordiskt_personnummer(
    cx: &Ctx,
    pp: &Node,
) -> Result<Option<NordisktPersonnummer>, DeliveryError> {
    let Some(n) = child(pp, "NordisktPersonnummer").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
    let path = "Personpost/NordisktPersonnummer";
    cx.check_children(path, n, &["Nummer", "Landkod"])?;
    let landkod = cx.required(path, n, "Landkod")?;
    cx.land(&format!("{path}/Landkod"), &landkod)?;
    Ok(Some(NordisktPersonnummer {
        nummer: cx.required(path, n, "Nummer")?,
        landkod,
    }))
}

/// `Kon` and `Fodelsetid` are derived from the number; if given they must agree with it.
fn kon_fodelsetid(cx: &Ctx, pp: &Node, person_id: &Pnr) -> Result<(), DeliveryError> {
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
    Ok(())
}

/// `Taxering`: the income and every property; none if it has neither.
fn taxering(cx: &Ctx, pp: &Node) -> Result<Option<Taxering>, DeliveryError> {
    let Some(t) = child(pp, "Taxering") else {
        return Ok(None);
    };
    cx.check_children("Personpost/Taxering", t, &["Inkomst", "Fastighet"])?;
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
                summa: cx
                    .required(p, i, "Summa")?
                    .parse()
                    .map_err(|_| cx.invalid(&format!("{p}/Summa"), "must be whole kronor"))?,
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
    Ok(
        (inkomst.is_some() || !fastigheter.is_empty()).then_some(Taxering {
            inkomst,
            fastigheter,
        }),
    )
}

/// `Historik`: each earlier `Folkbokforing`.
fn historik(cx: &Ctx, pp: &Node) -> Result<Vec<HistorikPost>, DeliveryError> {
    let mut historik = Vec::new();
    let Some(h) = child(pp, "Historik") else {
        return Ok(historik);
    };
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
    Ok(historik)
}

/// `Samordningsnummeruppgifter`; an empty element is none.
fn samordning(cx: &Ctx, pp: &Node) -> Result<Option<Samordningsuppgifter>, DeliveryError> {
    let Some(s) = child(pp, "Samordningsnummeruppgifter").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
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
    Ok(Some(Samordningsuppgifter {
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
    }))
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
