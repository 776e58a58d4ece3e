//! The one reader of `Folkbokforingspost`: a record's element tree (built by the streaming
//! reader in `loadfile`) → a validated [`DeliveryRecord`], every value checked.
//!
//! Errors name the record's 1-based position and the element path, and say what is wrong —
//! never the value, so a report can be logged without leaking personal data. Every record is
//! first checked against [`shape::RECORD`] (names, order, occurrences), then mapped; the
//! element names a report may show are the shape's; anything else is [`UNKNOWN_ELEMENT`].

use super::shape::{self, Mismatch, MismatchKind};
use super::{DeliveryError, DeliveryErrorKind};
use crate::ids::pnr::{Pnr, PnrKind};
use crate::model::change::{DeliveryRecord, Posttyp, ALWAYS_CARRIED};
use crate::model::term::TermMask;
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

/// Element names of the load-file envelope around the records, which a report may show too.
const ENVELOPE: &[&str] = &[
    "Navetavisering",
    "Aviseringsinformation",
    "Folkbokforingsposter",
];

/// How a report names an element that neither [`shape::RECORD`] nor the envelope has: in a
/// broken file an element name can be a fragment of a value
/// (`<'ersonpost><PersonId><PersonNr>1933…'` is one name), so only known names are shown.
pub const UNKNOWN_ELEMENT: &str = "(an element the format does not have)";

/// `name` if the format has it, else [`UNKNOWN_ELEMENT`].
pub(crate) fn shown(name: &str) -> &str {
    if ENVELOPE.contains(&name) || shape::has_name(name) {
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

fn children<'n>(n: &'n Node, name: &'n str) -> impl Iterator<Item = &'n Node> + 'n {
    n.children.iter().filter(move |c| c.name == name)
}

/// A shape mismatch as a report.
fn mismatch(cx: &Ctx, m: Mismatch) -> DeliveryError {
    let kind = match m.why {
        MismatchKind::Unknown => DeliveryErrorKind::UnexpectedElement,
        MismatchKind::Order => DeliveryErrorKind::Invalid("out of the schema's order".into()),
        MismatchKind::Repeated => DeliveryErrorKind::Invalid("may occur only once".into()),
        MismatchKind::Missing(name) => DeliveryErrorKind::Missing(name),
        MismatchKind::TooLong(max) => DeliveryErrorKind::TooLong(usize::from(max)),
    };
    cx.err(&m.path, kind)
}

/// The value of `Arendeuppgift/Arendetyp` that marks a borttag: the record is removed
/// (folkreg's, when a person leaves a receiver's population; Navet has no such value).
pub const BORTTAG: &str = "BORTTAG";

/// What a record does, from its `Arendeuppgift`: `@totalpost="J"` a totalpost (WIRE.md,
/// "Delivery files"), `Arendetyp` [`BORTTAG`] a borttag, otherwise an ändringspost.
fn posttyp_of(cx: &Ctx, arende: &Node) -> Result<Posttyp, DeliveryError> {
    let total = arende
        .attrs
        .iter()
        .find(|(k, _)| k == "totalpost")
        .map(|(_, v)| v.trim());
    let borttag = child(arende, "Arendetyp").is_some_and(|t| t.text.trim() == BORTTAG);
    match (total, borttag) {
        (Some("J"), true) => Err(cx.invalid(
            "Arendeuppgift",
            "a borttag cannot be a totalpost (totalpost=\"J\" with Arendetyp BORTTAG)",
        )),
        (Some("J"), false) => Ok(Posttyp::Total),
        (None | Some("N" | ""), true) => Ok(Posttyp::Borttag),
        (None | Some("N" | ""), false) => Ok(Posttyp::Andring),
        (Some(_), _) => Err(cx.invalid("Arendeuppgift", "totalpost must be J or N")),
    }
}

/// Whether an ändringspost is Navet's flyttsignal (9.6.2): of its folkbokföring only the
/// län, and that `99`.
fn is_flyttsignal(root: &Node) -> bool {
    child(root, "Personpost")
        .and_then(|pp| child(pp, "Folkbokforing"))
        .is_some_and(|f| {
            f.children.len() == 1
                && f.children[0].name == "LanKod"
                && f.children[0].text.trim() == "99"
        })
}

/// Maps one record's element tree (its `Folkbokforingspost`) to a validated record;
/// `record_no` is its 1-based position in the file, for errors. What it does is its
/// `Arendeuppgift`'s ([`posttyp_of`]); the terms an ändringspost carries are those of the
/// elements it has, a cleared term an empty or nil element ([`shape::take_carried`]).
pub(crate) fn record(mut root: Node, record_no: u64) -> Result<DeliveryRecord, DeliveryError> {
    let cx = Ctx { record: record_no };
    let arende = child(&root, "Arendeuppgift")
        .ok_or_else(|| cx.err("", DeliveryErrorKind::Missing("Arendeuppgift")))?;
    let mut posttyp = posttyp_of(&cx, arende)?;
    let andringstidpunkt = arende
        .attrs
        .iter()
        .find(|(k, _)| k == "andringstidpunkt")
        .map(|(_, v)| v.trim().to_owned())
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
    // `$` is Navet's "the marking is lifted" (Bilaga 2): read as N.
    for marking in [&shape::SEKRETESSMARKERING, &shape::SKYDDAD_FOLKBOKFORING] {
        if let Some(m) = root.children.iter_mut().find(|c| c.name == marking.name) {
            if m.text.trim() == "$" {
                m.text = "N".into();
            }
        }
    }
    if posttyp == Posttyp::Andring && is_flyttsignal(&root) {
        posttyp = Posttyp::Flyttsignal;
        if let Some(pp) = root.children.iter_mut().find(|c| c.name == "Personpost") {
            pp.children.retain(|c| c.name != "Folkbokforing");
        }
    }
    let carried = shape::take_carried(&shape::RECORD, &mut root, true);
    shape::check(&shape::RECORD, &root, true).map_err(|m| mismatch(&cx, m))?;
    let present = match posttyp {
        Posttyp::Total => TermMask::ALL,
        Posttyp::Borttag | Posttyp::Flyttsignal => TermMask::NONE,
        Posttyp::Andring => carried,
    }
    .union(ALWAYS_CARRIED);
    let root = &root;
    let pp = child(root, "Personpost")
        .ok_or_else(|| cx.err("", DeliveryErrorKind::Missing("Personpost")))?;
    let mut personpost = personpost(&cx, pp)?;
    personpost.historik = historik(&cx, root)?;

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

/// `Personpost`, already checked against [`shape::PERSONPOST`]: every part mapped and its
/// values checked.
fn personpost(cx: &Ctx, pp: &Node) -> Result<Personpost, DeliveryError> {
    let (person_id, identitetstyp, status) = person_id(cx, pp)?;
    let antraffad_dod = child(pp, "Avregistrering")
        .map(|a| cx.date("Personpost/Avregistrering", a, "AntraffadDod"))
        .transpose()?
        .flatten();
    let samordningsuppgifter = child(pp, "Samordningsnummeruppgifter");
    let datum_avliden = samordningsuppgifter
        .map(|s| cx.date("Personpost/Samordningsnummeruppgifter", s, "DatumAvliden"))
        .transpose()?
        .flatten();
    let avregistrering = avregistrering(cx, pp, antraffad_dod, datum_avliden)?;
    let adresser_node = child(pp, "Adresser");
    let distrikt = adresser_node
        .and_then(|a| child(a, "Distrikt"))
        .and_then(|d| cx.string(d, "Distriktskod"));
    if distrikt
        .as_ref()
        .is_some_and(|d| d.len() != 6 || !d.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err(cx.invalid(
            "Personpost/Adresser/Distrikt/Distriktskod",
            "must be six digits",
        ));
    }
    let folkbokforing = folkbokforing(cx, pp, distrikt)?;
    let (adresser, rostratt_datum) = match adresser_node {
        None => (Adresser::default(), None),
        Some(a) => adresser(cx, a)?,
    };
    let (invandringsdatum, uppehallsratt, nordiskt_personnummer) = invandring(cx, pp)?;
    let mut fodelse = fodelse(cx, pp)?;
    fodelse.fodelsedatum = cx.date("Personpost", pp, "Fodelsedatum")?;
    Ok(Personpost {
        person_id,
        identitetstyp,
        hanvisning: hanvisning(cx, pp)?,
        avregistrering,
        antraffad_dod,
        namn: child(pp, "Namn")
            .map(|n| namn(cx, "Personpost/Namn", n))
            .transpose()?
            .unwrap_or_default(),
        folkbokforing,
        adresser,
        fodelse,
        invandringsdatum,
        rostratt_datum,
        civilstand: civilstand(cx, pp)?,
        medborgarskap: medborgarskap(cx, pp)?,
        relationer: relationer(cx, pp)?,
        uppehallsratt,
        nordiskt_personnummer,
        taxering: taxering(cx, pp)?,
        historik: Vec::new(),
        samordning: samordning(cx, status, samordningsuppgifter)?,
    })
}

/// A samordningsnummer's identity status and level as `PersonId` carries them.
#[derive(Default)]
struct Status {
    varde: Option<&'static str>,
    datum: Option<Datum>,
    orsak: Option<&'static str>,
    niva: Option<&'static str>,
    niva_datum: Option<Datum>,
}

/// `PersonId`: the identity number, which kind of number it is, and its identity status.
fn person_id(cx: &Ctx, pp: &Node) -> Result<(Pnr, Identitetstyp, Status), DeliveryError> {
    let path = "Personpost/PersonId";
    let id = child(pp, "PersonId")
        .ok_or_else(|| cx.err("Personpost", DeliveryErrorKind::Missing("PersonId")))?;
    let (person_id, identitetstyp) = match (
        cx.text(id, "PersonNr"),
        cx.text(id, "TilldelatPersonNrSamordningsNr"),
    ) {
        (Some(t), None) => (
            cx.pnr("Personpost/PersonId/PersonNr", t)?,
            Identitetstyp::Personnummer,
        ),
        (None, Some(t)) => {
            let p = cx.pnr("Personpost/PersonId/TilldelatPersonNrSamordningsNr", t)?;
            let typ = match p.kind() {
                PnrKind::Samordningsnummer => Identitetstyp::Samordningsnummer,
                PnrKind::Personnummer => Identitetstyp::TilldelatPersonnummer,
            };
            (p, typ)
        }
        (Some(_), Some(_)) => {
            return Err(cx.invalid(
                path,
                "holds both PersonNr and TilldelatPersonNrSamordningsNr",
            ))
        }
        (None, None) => return Err(cx.err(path, DeliveryErrorKind::Missing("PersonNr"))),
    };
    if identitetstyp == Identitetstyp::Personnummer
        && person_id.kind() == PnrKind::Samordningsnummer
    {
        return Err(cx.invalid(
            "Personpost/PersonId/PersonNr",
            "a samordningsnummer belongs in TilldelatPersonNrSamordningsNr",
        ));
    }
    let code = |n: &Node, name: &str, table: &[(&'static str, &'static str)]| {
        cx.text(n, name)
            .map(|c| {
                shape::word_of(table, c)
                    .ok_or_else(|| cx.invalid(&format!("{path}/{name}"), "unknown code"))
            })
            .transpose()
    };
    let mut status = Status {
        niva: code(id, "Identitetsniva", &shape::IDENTITETSNIVA)?,
        niva_datum: cx.date(path, id, "Identitetsnivadatum")?,
        ..Status::default()
    };
    if let Some(s) = child(id, "Identitetsstatus") {
        let p = "Personpost/PersonId/Identitetsstatus";
        status.varde = code(s, "IdentitetsstatusVarde", &shape::IDENTITETSSTATUS)?;
        status.datum = cx.date(p, s, "IdentitetsstatusDatum")?;
        status.orsak = code(s, "IdentitetsstatusOrsak", &shape::IDENTITETSSTATUS_ORSAK)?;
    }
    Ok((person_id, identitetstyp, status))
}

/// `HanvisningsPersonNr` and every `Hanvisningar/Hanvisning`, each number once.
fn hanvisning(cx: &Ctx, pp: &Node) -> Result<Vec<Pnr>, DeliveryError> {
    let mut hanvisning: Vec<Pnr> = Vec::new();
    let mut add = |path: &str, t: &str| -> Result<(), DeliveryError> {
        let p = cx.pnr(path, t)?;
        if !hanvisning.contains(&p) {
            hanvisning.push(p);
        }
        Ok(())
    };
    if let Some(t) = cx.text(pp, "HanvisningsPersonNr") {
        add("Personpost/HanvisningsPersonNr", t)?;
    }
    if let Some(hs) = child(pp, "Hanvisningar") {
        for h in children(hs, "Hanvisning") {
            if let Some(t) = cx.text(h, "HanvisningsPersonNr") {
                add("Personpost/Hanvisningar/Hanvisning/HanvisningsPersonNr", t)?;
            }
        }
    }
    Ok(hanvisning)
}

/// `Avregistrering`: code and date (both, or neither when only `AntraffadDod` is there). The
/// date of death is the avregistrering's date for `AV`, unless the person was found dead, or
/// a samordningsnummer's `DatumAvliden`.
fn avregistrering(
    cx: &Ctx,
    pp: &Node,
    antraffad_dod: Option<Datum>,
    datum_avliden: Option<Datum>,
) -> Result<Option<Avregistrering>, DeliveryError> {
    let Some(a) = child(pp, "Avregistrering") else {
        return Ok(None);
    };
    let path = "Personpost/Avregistrering";
    let Some(kod) = cx.text(a, "AvregistreringsorsakKod") else {
        if cx.text(a, "Avregistreringsdatum").is_some() {
            return Err(cx.err(path, DeliveryErrorKind::Missing("AvregistreringsorsakKod")));
        }
        return Ok(None);
    };
    let orsak = AvregistreringsorsakKod::from_code(kod)
        .ok_or_else(|| cx.invalid(&format!("{path}/AvregistreringsorsakKod"), "unknown code"))?;
    let datum = cx.required_date(path, a, "Avregistreringsdatum")?;
    let avliden_datum = match orsak {
        AvregistreringsorsakKod::AV => {
            datum_avliden.or_else(|| antraffad_dod.is_none().then_some(datum))
        }
        _ => None,
    };
    Ok(Some(Avregistrering {
        orsak,
        datum,
        avliden_datum,
    }))
}

/// A `NamnTYPE`: tilltalsnamnsmarkering (two digits), the names, aviseringsnamn (at most 36).
fn namn(cx: &Ctx, path: &str, n: &Node) -> Result<Namn, DeliveryError> {
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

/// `Folkbokforing`, with the distrikt Navet keeps under `Adresser`: the län and kommun must
/// exist together; an element without them is none.
fn folkbokforing(
    cx: &Ctx,
    pp: &Node,
    distrikt: Option<String>,
) -> Result<Option<Folkbokforing>, DeliveryError> {
    let Some(f) = child(pp, "Folkbokforing").filter(|n| !n.children.is_empty()) else {
        return Ok(None);
    };
    let path = "Personpost/Folkbokforing";
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
        distrikt,
        pa_kommun_skriven,
    }))
}

/// `Fodelse`: the hemort in Sweden or the place abroad (the date is `Personpost`'s own).
fn fodelse(cx: &Ctx, pp: &Node) -> Result<Fodelse, DeliveryError> {
    let Some(f) = child(pp, "Fodelse") else {
        return Ok(Fodelse::default());
    };
    let hemort_sverige = match child(f, "HemortSverige") {
        None => None,
        Some(h) => {
            let p = "Personpost/Fodelse/HemortSverige";
            let lan_kod = cx.required(p, h, "FodelselanKod")?;
            cx.lan(&format!("{p}/FodelselanKod"), &lan_kod)?;
            Some(HemortSverige {
                lan_kod,
                forsamling_kommun: cx.required(p, h, "Fodelseforsamling")?,
            })
        }
    };
    let ort_utlandet = match child(f, "OrtUtlandet") {
        None => None,
        Some(o) => {
            let p = "Personpost/Fodelse/OrtUtlandet";
            Some(OrtUtlandet {
                fodelseort: cx.required(p, o, "FodelseortUtland")?,
                fodelseland: cx.required(p, o, "Fodelseland")?,
            })
        }
    };
    Ok(Fodelse {
        fodelsedatum: None,
        hemort_sverige,
        ort_utlandet,
    })
}

/// `Invandring`: its date, uppehållsrätt (`J`) and the nordic number (one of them).
#[allow(clippy::type_complexity)]
fn invandring(
    cx: &Ctx,
    pp: &Node,
) -> Result<
    (
        Option<Datum>,
        Option<Uppehallsratt>,
        Option<NordisktPersonnummer>,
    ),
    DeliveryError,
> {
    let Some(i) = child(pp, "Invandring") else {
        return Ok((None, None, None));
    };
    let path = "Personpost/Invandring";
    let uppehallsratt = match cx.text(i, "Uppehallsratt") {
        None => None,
        Some("J") => Some(Uppehallsratt {
            typ: "J".into(),
            datum: None,
        }),
        Some(_) => return Err(cx.invalid(&format!("{path}/Uppehallsratt"), "must be J")),
    };
    let mut nordiskt = None;
    for (landkod, el) in shape::NORDISKT_PNR {
        if let Some(nummer) = cx.string(i, el.name) {
            if nordiskt.is_none() {
                nordiskt = Some(NordisktPersonnummer {
                    nummer,
                    landkod: landkod.to_owned(),
                });
            }
        }
    }
    Ok((
        cx.date(path, i, "Invandringsdatum")?,
        uppehallsratt,
        nordiskt,
    ))
}

/// `Civilstand`; one without a code is none.
fn civilstand(cx: &Ctx, pp: &Node) -> Result<Option<Civilstand>, DeliveryError> {
    let Some(c) = child(pp, "Civilstand") else {
        return Ok(None);
    };
    let path = "Personpost/Civilstand";
    let Some(kod) = cx.text(c, "CivilstandKod") else {
        return Ok(None);
    };
    Ok(Some(Civilstand {
        kod: CivilstandKod::from_code(kod)
            .ok_or_else(|| cx.invalid(&format!("{path}/CivilstandKod"), "unknown code"))?,
        datum: cx.date(path, c, "Civilstandsdatum")?,
    }))
}

/// Every `Medborgarskap` with a land code.
fn medborgarskap(cx: &Ctx, pp: &Node) -> Result<Vec<Medborgarskap>, DeliveryError> {
    let mut medborgarskap = Vec::new();
    for m in children(pp, "Medborgarskap") {
        let path = "Personpost/Medborgarskap";
        let Some(landkod) = cx.string(m, "MedborgarskapslandKod") else {
            continue;
        };
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
        for r in children(rs, "Relation") {
            relationer.push(relation(cx, r)?);
        }
    }
    Ok(relationer)
}

/// `Taxering`: the income and every property; none if it has neither.
fn taxering(cx: &Ctx, pp: &Node) -> Result<Option<Taxering>, DeliveryError> {
    let Some(t) = child(pp, "Taxering") else {
        return Ok(None);
    };
    let inkomst = match child(t, "Inkomst") {
        None => None,
        Some(i) => {
            let p = "Personpost/Taxering/Inkomst";
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
    for f in children(t, "Fastighet") {
        let p = "Personpost/Taxering/Fastighet";
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

/// `Historik` (beside `Personpost`): each earlier `Folkbokforing`.
fn historik(cx: &Ctx, root: &Node) -> Result<Vec<HistorikPost>, DeliveryError> {
    let mut historik = Vec::new();
    let Some(h) = child(root, "Historik") else {
        return Ok(historik);
    };
    for f in children(h, "Folkbokforing") {
        let path = "Historik/Folkbokforing";
        let typ = cx.required(path, f, "Folkbokforingstyp")?;
        let lan_kod = cx.string(f, "LanKod");
        if let Some(l) = &lan_kod {
            cx.lan(&format!("{path}/LanKod"), l)?;
        }
        historik.push(HistorikPost {
            typ: Folkbokforingstyp::from_code(&typ)
                .ok_or_else(|| cx.invalid(&format!("{path}/Folkbokforingstyp"), "unknown code"))?,
            datum: cx.required_date(path, f, "Folkbokforingsdatum")?,
            lan_kod,
            kommun_kod: cx.string(f, "KommunKod"),
            fastighetsbeteckning: cx.string(f, "Fastighetsbeteckning"),
        });
    }
    Ok(historik)
}

/// A samordningsnummer's terms: the status and level from `PersonId`, the dates from
/// `Samordningsnummeruppgifter`; none without either.
fn samordning(
    cx: &Ctx,
    status: Status,
    uppgifter: Option<&Node>,
) -> Result<Option<Samordningsuppgifter>, DeliveryError> {
    let path = "Personpost/Samordningsnummeruppgifter";
    let date = |name: &str| {
        uppgifter
            .map(|s| cx.date(path, s, name))
            .transpose()
            .map(Option::flatten)
    };
    let tilldelningsdatum = date("Tilldelningsdatum")?;
    let preliminart_vilandeforklaringsdatum = date("PreliminartVilandeforklaringsdatum")?;
    let fornyelsedatum = date("Fornyelsedatum")?;
    let any = status.varde.is_some()
        || status.niva.is_some()
        || status.niva_datum.is_some()
        || tilldelningsdatum.is_some()
        || preliminart_vilandeforklaringsdatum.is_some()
        || fornyelsedatum.is_some();
    if !any {
        return Ok(None);
    }
    let varde = status.varde.ok_or_else(|| {
        cx.err(
            "Personpost/PersonId",
            DeliveryErrorKind::Missing("Identitetsstatus"),
        )
    })?;
    Ok(Some(Samordningsuppgifter {
        identitetsstatus: varde.to_owned(),
        identitetsstatus_datum: status.datum,
        identitetsstatus_orsak: status.orsak.map(str::to_owned),
        tilldelningsdatum,
        preliminart_vilandeforklaringsdatum,
        fornyelsedatum,
        identitetsniva: status.niva.map(str::to_owned),
        identitetsniva_datum: status.niva_datum,
    }))
}

fn svensk_adress(cx: &Ctx, path: &str, n: &Node) -> Result<SvenskAdress, DeliveryError> {
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

/// `Adresser`: the addresses and the date of rösträtt (inside `Utlandsadress`); the distrikt
/// is read with the folkbokföring.
fn adresser(cx: &Ctx, a: &Node) -> Result<(Adresser, Option<Datum>), DeliveryError> {
    let mut rostratt = None;
    let utlandsadress = match child(a, "Utlandsadress") {
        None => None,
        Some(u) => {
            let p = "Personpost/Adresser/Utlandsadress";
            rostratt = cx.date(p, u, "Rostrattsdatum")?;
            let adress = Utlandsadress {
                utdelningsadress1: cx.string(u, "Utdelningsadress1"),
                utdelningsadress2: cx.string(u, "Utdelningsadress2"),
                utdelningsadress3: cx.string(u, "Utdelningsadress3"),
                land: cx.string(u, "Land"),
                datum: cx.date(p, u, "Utlandsadressdatum")?,
            };
            (adress != Utlandsadress::default()).then_some(adress)
        }
    };
    let uuid = match child(a, "UUID") {
        None => None,
        Some(u) => {
            let p = "Personpost/Adresser/UUID";
            let id = |name: &str| -> Result<Option<String>, DeliveryError> {
                match cx.string(u, name) {
                    Some(v) if v.chars().count() != 36 => {
                        Err(cx.invalid(&format!("{p}/{name}"), "a UUID has 36 characters"))
                    }
                    v => Ok(v),
                }
            };
            Some(AdressUuid {
                fastighet: id("Fastighet")?,
                adress: id("Adress")?,
                lagenhet: id("Lagenhet")?,
            })
        }
    };
    let adresser = Adresser {
        folkbokforingsadress: child(a, "Folkbokforingsadress")
            .map(|n| svensk_adress(cx, "Personpost/Adresser/Folkbokforingsadress", n))
            .transpose()?,
        sarskild_postadress: child(a, "SarskildPostadress")
            .map(|n| svensk_adress(cx, "Personpost/Adresser/SarskildPostadress", n))
            .transpose()?,
        utlandsadress,
        uuid,
    };
    Ok((adresser, rostratt))
}

/// One `Relation`: by `RelationId/PersonNr`, or by `FodelsetidNr` (a birth date) and name.
fn relation(cx: &Ctx, r: &Node) -> Result<Relation, DeliveryError> {
    let path = "Personpost/Relationer/Relation";
    let typ = cx.required(path, r, "Relationstyp")?;
    let typ = Relationstyp::from_code(&typ)
        .ok_or_else(|| cx.invalid(&format!("{path}/Relationstyp"), "unknown code"))?;
    let id = child(r, "RelationId")
        .ok_or_else(|| cx.err(path, DeliveryErrorKind::Missing("RelationId")))?;
    let person = match (cx.text(id, "PersonNr"), cx.text(id, "FodelsetidNr")) {
        (Some(t), None) => {
            Relationsperson::PersonNr(cx.pnr(&format!("{path}/RelationId/PersonNr"), t)?)
        }
        (None, Some(t)) => {
            let namn = child(r, "Namn")
                .map(|n| namn(cx, &format!("{path}/Namn"), n))
                .transpose()?
                .unwrap_or_default();
            Relationsperson::Uppgifter {
                fodelsedatum: Datum::parse(t).map_err(|e| {
                    cx.invalid(&format!("{path}/RelationId/FodelsetidNr"), &e.to_string())
                })?,
                fornamn: namn.fornamn,
                efternamn: namn.efternamn,
            }
        }
        _ => {
            return Err(cx.invalid(
                &format!("{path}/RelationId"),
                "must hold exactly one of PersonNr and FodelsetidNr",
            ))
        }
    };
    let (avregistreringsorsak, avregistreringsdatum) = match child(r, "Avregistrering") {
        None => (None, None),
        Some(a) => {
            let p = format!("{path}/Avregistrering");
            let kod = match cx.text(a, "AvregistreringsorsakKod") {
                None => None,
                Some(k) => Some(AvregistreringsorsakKod::from_code(k).ok_or_else(|| {
                    cx.invalid(&format!("{p}/AvregistreringsorsakKod"), "unknown code")
                })?),
            };
            (kod, cx.date(&p, a, "Avregistreringsdatum")?)
        }
    };
    Ok(Relation {
        typ,
        person,
        avregistreringsorsak,
        avregistreringsdatum,
    })
}
