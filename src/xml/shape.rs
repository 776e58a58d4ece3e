//! THE description of `Folkbokforingspost`: every element of Navet's `FolkbokforingspostTYPE`
//! (`Navetavisering.xsd`, na_webservices_xmls 7_2_28) that folkreg reads or writes, in the
//! schema's order, with its occurrence, its `maxLength` and the [`Term`] it belongs to (the
//! unit the access rules grant and a change carries) — plus the few terms folkreg keeps that Navet does not have, marked
//! [`Wire::File`] (written only in folkreg's own load files, never on Navet's wire).
//!
//! One home for the record's shape: the reader validates every record against [`RECORD`]
//! (names, order, occurrences) and names elements in reports only if they are here, and
//! finds an ändringspost's terms by them; the writer gates every part by the term written here ([`Scope::writes`] in `write`)
//! and its output is checked against [`RECORD`] by the tests; the access rules' terms are the
//! terms named here. A schema change is made here, then the reader and writer follow where
//! the tests say.

use super::read::Node;
use crate::access::{Term, TermMask};

/// How often an element may occur among its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occurs {
    /// `minOccurs="0"`.
    Opt,
    /// Exactly once.
    One,
    /// `minOccurs="0" maxOccurs="unbounded"`.
    Many,
}

/// Where an element may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// In Navet's schema: answers, deliveries and load files.
    Navet,
    /// A term folkreg keeps that Navet's schema does not have: only in folkreg's load files.
    File,
}

/// One element of the record.
#[derive(Debug, Clone, Copy)]
pub struct El {
    /// Local name (records are unqualified).
    pub name: &'static str,
    /// Occurrence among its siblings.
    pub occurs: Occurs,
    /// The term that shows it; `None` = its parent's. A child with a term of its own is shown
    /// on that term alone (its parent element is then written for it).
    pub term: Option<Term>,
    /// Where it may appear.
    pub wire: Wire,
    /// Child elements, in the schema's order (a `choice` is listed as optional siblings and
    /// checked by the reader).
    pub kids: &'static [El],
    /// The schema's `maxLength` of a text element, in characters; 0 = none given here.
    pub max: u16,
}

impl El {
    const fn new(name: &'static str, occurs: Occurs, kids: &'static [El]) -> El {
        El {
            name,
            occurs,
            term: None,
            wire: Wire::Navet,
            kids,
            max: 0,
        }
    }
    const fn max(self, max: u16) -> El {
        El { max, ..self }
    }
    const fn term(self, term: Term) -> El {
        El {
            term: Some(term),
            ..self
        }
    }
    const fn file_only(self) -> El {
        El {
            wire: Wire::File,
            ..self
        }
    }
}

const fn opt(name: &'static str) -> El {
    El::new(name, Occurs::Opt, &[])
}
/// An optional text element of at most `max` characters.
const fn text(name: &'static str, max: u16) -> El {
    opt(name).max(max)
}
const fn one(name: &'static str) -> El {
    El::new(name, Occurs::One, &[])
}
const fn opt_of(name: &'static str, kids: &'static [El]) -> El {
    El::new(name, Occurs::Opt, kids)
}
const fn many_of(name: &'static str, kids: &'static [El]) -> El {
    El::new(name, Occurs::Many, kids)
}

/// `SvenskAdressTYPE`.
const SVENSK_ADRESS: &[El] = &[
    text("CareOf", 35),
    text("Utdelningsadress1", 35),
    text("Utdelningsadress2", 35),
    text("PostNr", 5),
    text("Postort", 27),
];

/// `NamnTYPE`.
const NAMN_KIDS: &[El] = &[
    text("Tilltalsnamnsmarkering", 2),
    text("Fornamn", 80),
    text("Mellannamn", 40),
    text("Efternamn", 60),
    text("Aviseringsnamn", 36),
];

/// `Avregistrering/AntraffadDod`: a term of its own inside the person's avregistrering.
pub const ANTRAFFAD_DOD: El = opt("AntraffadDod").term(Term::AntraffadDod);

/// `AvregistreringTYPE` of the person (a relation's has the first two).
const AVREGISTRERING_KIDS: &[El] = &[
    opt("AvregistreringsorsakKod"),
    opt("Avregistreringsdatum"),
    ANTRAFFAD_DOD,
];

/// `FolkbokforingTYPE`, with folkreg's "på kommunen skriven" flag (load files only).
const FOLKBOKFORING_KIDS: &[El] = &[
    text("Folkbokforingsdatum", 8),
    text("LanKod", 2),
    text("KommunKod", 2),
    text("ForsamlingKod", 2),
    text("Fastighetsbeteckning", 40),
    text("Trappuppgang", 3),
    text("Lagenhet", 4),
    text("FiktivtNr", 3),
    text("Folkbokforingstyp", 2),
    opt("PaKommunSkriven").file_only(),
];

/// `PersonId/Identitetsstatus`: a samordningsnummer's identity status.
pub const IDENTITETSSTATUS_ELEMENT: El = opt_of(
    "Identitetsstatus",
    &[
        one("IdentitetsstatusVarde"),
        opt("IdentitetsstatusDatum"),
        opt("IdentitetsstatusOrsak"),
    ],
)
.term(Term::Samordningsuppgifter);

/// `PersonIdTYPE`: the number (a choice of two) and a samordningsnummer's identity status.
pub const PERSON_ID: El = El::new(
    "PersonId",
    Occurs::One,
    &[
        opt("PersonNr"),
        opt("TilldelatPersonNrSamordningsNr"),
        IDENTITETSSTATUS_ELEMENT,
        opt("Identitetsniva").term(Term::Samordningsuppgifter),
        opt("Identitetsnivadatum").term(Term::Samordningsuppgifter),
    ],
)
.term(Term::PersonId);

/// `Personpost/HanvisningsPersonNr`: the first hänvisning.
pub const HANVISNINGS_PERSON_NR: El = opt("HanvisningsPersonNr").term(Term::Hanvisning);
/// `Personpost/Hanvisningar`: every hänvisning, when there is more than one.
pub const HANVISNINGAR: El = opt_of(
    "Hanvisningar",
    &[many_of("Hanvisning", &[one("HanvisningsPersonNr")])],
)
.term(Term::Hanvisning);
/// `Personpost/Avregistrering`.
pub const AVREGISTRERING: El =
    opt_of("Avregistrering", AVREGISTRERING_KIDS).term(Term::Avregistrering);
/// `Personpost/Fodelsedatum`.
pub const FODELSEDATUM: El = opt("Fodelsedatum").term(Term::Fodelsedatum);
/// `Personpost/Namn`.
pub const NAMN: El = opt_of("Namn", NAMN_KIDS).term(Term::Namn);
/// `Personpost/Folkbokforing`.
pub const FOLKBOKFORING: El = opt_of("Folkbokforing", FOLKBOKFORING_KIDS).term(Term::Folkbokforing);
/// `Adresser/Folkbokforingsadress`.
pub const FOLKBOKFORINGSADRESS: El =
    opt_of("Folkbokforingsadress", SVENSK_ADRESS).term(Term::Folkbokforingsadress);
/// `Adresser/UUID`.
pub const UUID: El = opt_of(
    "UUID",
    &[
        text("Fastighet", 36),
        text("Adress", 36),
        text("Lagenhet", 36),
    ],
)
.term(Term::AdressUuid);
/// `Adresser/Distrikt`: part of the folkbokföring in folkreg's terms, under `Adresser` in
/// Navet's.
pub const DISTRIKT: El = opt_of("Distrikt", &[text("Distriktskod", 6)]).term(Term::Folkbokforing);
/// `Adresser/SarskildPostadress`.
pub const SARSKILD_POSTADRESS: El =
    opt_of("SarskildPostadress", SVENSK_ADRESS).term(Term::SarskildPostadress);
/// `Adresser/Utlandsadress/Rostrattsdatum`.
pub const ROSTRATTSDATUM: El = opt("Rostrattsdatum").term(Term::Rostratt);
/// `Adresser/Utlandsadress`, with the date of rösträtt that Navet keeps in it (a term of its
/// own: the element is written for either).
pub const UTLANDSADRESS: El = opt_of(
    "Utlandsadress",
    &[
        text("Utdelningsadress1", 35),
        text("Utdelningsadress2", 35),
        text("Utdelningsadress3", 35),
        text("Land", 35),
        opt("Utlandsadressdatum"),
        ROSTRATTSDATUM,
    ],
)
.term(Term::Utlandsadress);
/// `Personpost/Adresser`: each child carries its own term.
pub const ADRESSER: El = opt_of(
    "Adresser",
    &[
        FOLKBOKFORINGSADRESS,
        opt_of(
            "Riksnycklar",
            &[
                opt("FastighetsId"),
                opt("AdressplatsId"),
                opt("LagenhetsId"),
            ],
        ),
        UUID,
        DISTRIKT,
        SARSKILD_POSTADRESS,
        UTLANDSADRESS,
    ],
);
/// `Personpost/Civilstand`.
pub const CIVILSTAND: El = opt_of(
    "Civilstand",
    &[opt("CivilstandKod"), opt("Civilstandsdatum")],
)
.term(Term::Civilstand);
/// `Fodelse/HemortSverige`: födelsehemort.
pub const HEMORT_SVERIGE: El = opt_of(
    "HemortSverige",
    &[text("FodelselanKod", 2), text("Fodelseforsamling", 30)],
)
.term(Term::Fodelsehemort);
/// `Fodelse/OrtUtlandet`: födelseort abroad.
pub const ORT_UTLANDET: El = opt_of(
    "OrtUtlandet",
    &[text("FodelseortUtland", 80), text("Fodelseland", 40)],
)
.term(Term::FodelseortUtlandet);
/// `Personpost/Fodelse`.
pub const FODELSE: El = opt_of("Fodelse", &[HEMORT_SVERIGE, ORT_UTLANDET]);
/// `Invandring/Invandringsdatum`.
pub const INVANDRINGSDATUM: El = opt("Invandringsdatum").term(Term::Invandring);
/// `Invandring/Uppehallsratt` (`J`).
pub const UPPEHALLSRATT: El = opt("Uppehallsratt").term(Term::Uppehallsratt);
const fn nordiskt(name: &'static str) -> El {
    text(name, 12).term(Term::NordisktPersonnummer)
}
/// The `NordisktPnr*` elements of `Invandring`, by the country's ISO code.
pub const NORDISKT_PNR: [(&str, El); 5] = [
    ("DK", nordiskt("NordisktPnrDa")),
    ("FI", nordiskt("NordisktPnrFi")),
    ("FO", nordiskt("NordisktPnrFo")),
    ("IS", nordiskt("NordisktPnrIs")),
    ("NO", nordiskt("NordisktPnrNo")),
];
/// `Personpost/Invandring`: date, uppehållsrätt, nordic numbers (each its own term).
pub const INVANDRING: El = opt_of(
    "Invandring",
    &[
        INVANDRINGSDATUM,
        UPPEHALLSRATT,
        NORDISKT_PNR[0].1,
        NORDISKT_PNR[1].1,
        NORDISKT_PNR[2].1,
        NORDISKT_PNR[3].1,
        NORDISKT_PNR[4].1,
    ],
);
/// `Personpost/Relationer`.
pub const RELATIONER: El = opt_of(
    "Relationer",
    &[many_of(
        "Relation",
        &[
            El::new(
                "RelationId",
                Occurs::One,
                &[opt("PersonNr"), opt("FodelsetidNr")],
            ),
            one("Relationstyp"),
            opt("RelationFromdatum"),
            opt("RelationTomdatum"),
            opt_of("Namn", NAMN_KIDS),
            opt_of(
                "Avregistrering",
                &[opt("AvregistreringsorsakKod"), opt("Avregistreringsdatum")],
            ),
        ],
    )],
)
.term(Term::Relationer);
/// `Personpost/Medborgarskap` (repeated).
pub const MEDBORGARSKAP: El = many_of(
    "Medborgarskap",
    &[text("MedborgarskapslandKod", 2), opt("Medborgarskapsdatum")],
)
.term(Term::Medborgarskap);
/// `Personpost/Samordningsnummeruppgifter`.
pub const SAMORDNINGSNUMMERUPPGIFTER: El = opt_of(
    "Samordningsnummeruppgifter",
    &[
        opt("Tilldelningsdatum"),
        opt("PreliminartVilandeforklaringsdatum"),
        opt("Fornyelsedatum"),
        opt("DatumAvliden"),
    ],
)
.term(Term::Samordningsuppgifter);
/// `Personpost/Taxering`: inkomst and fastighetsinnehav (SPAR's terms; load files only).
pub const TAXERING: El = opt_of(
    "Taxering",
    &[
        opt_of("Inkomst", &[one("Ar"), one("Summa")]),
        many_of("Fastighet", &[one("Beteckning"), one("Kommun")]),
    ],
)
.term(Term::Taxering)
.file_only();

/// `Folkbokforingspost/Personpost`.
pub const PERSONPOST: El = El::new(
    "Personpost",
    Occurs::One,
    &[
        PERSON_ID,
        HANVISNINGS_PERSON_NR,
        HANVISNINGAR,
        AVREGISTRERING,
        FODELSEDATUM,
        NAMN,
        FOLKBOKFORING,
        ADRESSER,
        CIVILSTAND,
        FODELSE,
        INVANDRING,
        RELATIONER,
        MEDBORGARSKAP,
        SAMORDNINGSNUMMERUPPGIFTER,
        TAXERING,
    ],
);

/// `Folkbokforingspost/Sekretessmarkering` (`J`; `N` lifts it in a change).
pub const SEKRETESSMARKERING: El = opt("Sekretessmarkering").term(Term::Skydd);
/// `Folkbokforingspost/SkyddadFolkbokforing`.
pub const SKYDDAD_FOLKBOKFORING: El = opt("SkyddadFolkbokforing").term(Term::Skydd);
/// `Folkbokforingspost/Arendeuppgift` with `@andringstidpunkt`.
pub const ARENDEUPPGIFT: El = opt_of(
    "Arendeuppgift",
    &[text("PostId", 16), text("Arendetyp", 40)],
)
.term(Term::Arendeuppgift);
/// `Folkbokforingspost/Historik`: earlier folkbokföringar, newest first.
pub const HISTORIK: El = opt_of(
    "Historik",
    &[
        many_of("Folkbokforing", FOLKBOKFORING_KIDS),
        opt_of("Folkbokforingsadress", SVENSK_ADRESS),
    ],
)
.term(Term::Historik);
/// `Folkbokforingspost/Skyddsdatum`: when the protection was registered (load files only).
pub const SKYDDSDATUM: El = opt("Skyddsdatum").term(Term::Skydd).file_only();

/// A samordningsnummer's identity status: the register's words (as folkreg keeps them) and
/// Navet's codes (`IdentitetsstatusVardeTYPE`).
pub const IDENTITETSSTATUS: [(&str, &str); 5] = [
    ("Aktivt", "AKTIVT"),
    ("Vilandeförklarat", "VILANDEFORKLARAT"),
    ("Vilandeförklarat stängt", "VILANDEFORKLARAT_STANGT"),
    ("Avregistrerat", "AVREGISTRERAT"),
    ("Ej aktuellt", "EJ_AKTUELLT"),
];
/// Why the status changed (`IdentitetsstatusOrsakTYPE`).
pub const IDENTITETSSTATUS_ORSAK: [(&str, &str); 5] = [
    ("Tidsfrist", "TIDSFRIST"),
    ("Annan orsak", "ANNAN_ORSAK"),
    ("Avliden", "AVLIDEN"),
    ("Ersatt", "ERSATT"),
    ("Felaktigt registrerat", "FELAKTIGT_REGISTRERAT"),
];
/// The identity level (`IdentitetsnivaTYPE`).
pub const IDENTITETSNIVA: [(&str, &str); 4] = [
    ("Styrket", "STYRKT"),
    ("Sannolik", "SANNOLIK"),
    ("Osäker", "OSAKER"),
    ("Inte tillämplig", "INTE_TILLAMPLIG"),
];

/// The wire code of a register word in `table`.
pub fn code_of(table: &[(&'static str, &'static str)], word: &str) -> Option<&'static str> {
    table.iter().find(|(w, _)| *w == word).map(|(_, c)| *c)
}

/// The register word of a wire code in `table`.
pub fn word_of(table: &[(&'static str, &'static str)], code: &str) -> Option<&'static str> {
    table.iter().find(|(_, c)| *c == code).map(|(w, _)| *w)
}

/// The record.
pub const RECORD: El = El::new(
    "Folkbokforingspost",
    Occurs::One,
    &[
        SEKRETESSMARKERING,
        SKYDDAD_FOLKBOKFORING,
        ARENDEUPPGIFT,
        PERSONPOST,
        HISTORIK,
        SKYDDSDATUM,
    ],
);

/// Whether some element of the record is called `name`.
pub fn has_name(name: &str) -> bool {
    fn walk(el: &El, name: &str) -> bool {
        el.name == name || el.kids.iter().any(|k| walk(k, name))
    }
    walk(&RECORD, name)
}

/// What is wrong with an element tree against the shape: the path of the offending element
/// (names from the shape only) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Element path below the record (`Personpost/Namn/Fornamn`); an element the shape does
    /// not have is shown as `read::UNKNOWN_ELEMENT`.
    pub path: String,
    /// What is wrong.
    pub why: MismatchKind,
}

/// The ways a tree can differ from the shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchKind {
    /// A child the element does not have (or one only folkreg's files have, on Navet's wire).
    Unknown,
    /// A child out of the schema's order.
    Order,
    /// A child that may occur once, twice.
    Repeated,
    /// A required child missing.
    Missing(&'static str),
    /// A text longer than the schema's `maxLength` (characters).
    TooLong(u16),
}

/// Whether `text` has more than `max` characters (counted only when its bytes are more:
/// characters are never more than bytes).
pub(crate) fn longer_than(text: &str, max: usize) -> bool {
    text.len() > max && text.chars().count() > max
}

/// Checks the children of `node` (the record's root) against `el`, recursively: each known
/// (and, unless `files`, on Navet's wire), in the schema's order, no more often than allowed,
/// no longer than the schema's `maxLength`, every required one there.
pub(crate) fn check(el: &El, node: &Node, files: bool) -> Result<(), Mismatch> {
    check_below(el, node, files, &mut Vec::new())
}

/// [`check`] at `path`, the names from the record down to `node`: kept as names and joined
/// only for a report, so a valid record costs no allocation per element.
fn check_below(
    el: &El,
    node: &Node,
    files: bool,
    path: &mut Vec<&'static str>,
) -> Result<(), Mismatch> {
    let mismatch = |path: &[&str], last: &str, why| Mismatch {
        path: path
            .iter()
            .copied()
            .chain([last])
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join("/"),
        why,
    };
    let mut at = 0usize;
    let mut last: Option<&str> = None;
    for child in &node.children {
        let name = child.name.as_str();
        let Some(pos) = el
            .kids
            .iter()
            .position(|k| k.name == name && (files || k.wire == Wire::Navet))
        else {
            return Err(mismatch(
                path,
                super::read::shown(name),
                MismatchKind::Unknown,
            ));
        };
        let k = &el.kids[pos];
        if pos < at {
            return Err(mismatch(path, k.name, MismatchKind::Order));
        }
        if last == Some(name) && k.occurs != Occurs::Many {
            return Err(mismatch(path, k.name, MismatchKind::Repeated));
        }
        at = pos;
        last = Some(name);
        if k.max > 0 && longer_than(&child.text, usize::from(k.max)) {
            return Err(mismatch(path, k.name, MismatchKind::TooLong(k.max)));
        }
        path.push(k.name);
        check_below(k, child, files, path)?;
        path.pop();
    }
    for k in el.kids {
        if k.occurs == Occurs::One && !node.children.iter().any(|c| c.name == k.name) {
            return Err(mismatch(path, "", MismatchKind::Missing(k.name)));
        }
    }
    Ok(())
}

/// Whether `node` says "no value" in an ändringspost: `xsi:nil="true"`, or an element with
/// nothing in it (no children, no text, no attributes) — Navet's two ways of clearing a
/// term (a complex element is written empty, a text element nil; both are schema-valid).
pub(crate) fn is_cleared(node: &Node) -> bool {
    node.attrs
        .iter()
        .any(|(k, v)| k == "nil" && v.trim() == "true")
        || (node.children.is_empty() && node.text.trim().is_empty() && node.attrs.is_empty())
}

/// The terms an ändringspost carries: the term of every element with content, inherited by
/// children that have none of their own (`<Avregistrering><AntraffadDod>` carries only
/// `AntraffadDod`), and the term of every cleared element ([`is_cleared`]), which is taken
/// out of the tree so that what remains is checked and mapped as values. Elements the shape
/// does not have are left for [`check`] to report.
pub(crate) fn take_carried(el: &El, node: &mut Node, files: bool) -> TermMask {
    carried_below(el, node, el.term, files)
}

fn carried_below(el: &El, node: &mut Node, inherited: Option<Term>, files: bool) -> TermMask {
    let mut mask = TermMask::NONE;
    node.children.retain_mut(|c| {
        let Some(kid) = el
            .kids
            .iter()
            .find(|k| k.name == c.name && (files || k.wire == Wire::Navet))
        else {
            return true;
        };
        let term = kid.term.or(inherited);
        let add = |mask: &mut TermMask| {
            if let Some(t) = term {
                *mask = mask.union(TermMask::of(&[t]));
            }
        };
        if is_cleared(c) {
            add(&mut mask);
            return false;
        }
        if c.children.is_empty() {
            add(&mut mask);
        } else {
            let below = carried_below(kid, c, term, files);
            mask = mask.union(below);
            // Every child was a cleared one of its own term: the element is empty now.
            if c.children.is_empty() && c.text.trim().is_empty() {
                return false;
            }
        }
        true
    });
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_among_siblings() {
        fn walk(el: &El) {
            for (i, k) in el.kids.iter().enumerate() {
                assert!(
                    !el.kids[..i].iter().any(|o| o.name == k.name),
                    "{} twice under {}",
                    k.name,
                    el.name
                );
                walk(k);
            }
        }
        walk(&RECORD);
    }

    #[test]
    fn every_term_but_the_derived_one_has_a_home() {
        fn terms(el: &El, out: &mut Vec<Term>) {
            out.extend(el.term);
            for k in el.kids {
                terms(k, out);
            }
        }
        let mut found = Vec::new();
        terms(&RECORD, &mut found);
        for t in Term::ALL {
            // Kön and födelsetid are read from the number itself; nothing carries them.
            assert_eq!(
                found.contains(&t),
                t != Term::KonFodelsetid,
                "{t:?} and the shape disagree"
            );
        }
    }
}
