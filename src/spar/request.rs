//! `SPARPersonsokningFraga` (PersonSök 2021.1, `PersonsokningFraga.xsd` and the components it
//! imports) read into typed values: who asks ([`Identifieringsinformation`]) and what
//! ([`Sok`]: one identity number, or search arguments mapped onto the namnsökning query of
//! [`crate::search`] plus the filters SPAR has and Navet does not).
//!
//! Owns the request's schema rules — order, namespaces, lengths, patterns, ranges — and the
//! rule of what makes a search narrow enough ([`SokArgument::narrows_enough`]). Invalid input
//! is an [`Undantag`], which SPAR answers inside `SPARPersonsokningSvar`, not as a SOAP fault.
//! What it must never do: put a value from the request into an [`Undantag`]'s text (a name,
//! a number or a date may be personal data; the text names the element and the rule), or
//! decide what the caller may see (that is `crate::access`).

use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate};

use super::ns;
use crate::access::Category;
use crate::ids::pnr::Pnr;
use crate::model::{Folkbokforingspost, Kon};
use crate::search::{self, parse_patterns, Kategori, PatternError, SearchQuery, WordPattern};
use crate::soap::request::Element;

/// `KundNrTYPE` (`DeladeMetaElement-1.0.xsd`): the customer numbers SPAR assigns.
pub const KUND_NR: RangeInclusive<u32> = 500_001..=599_999;
/// `SlutAnvandarIdTYPE`: the longest end-user id, in characters.
pub const MAX_SLUT_ANVANDAR_ID: usize = 256;
/// The widest `FodelsedatumFrom`–`FodelsedatumTom` range, in days with both ends counted,
/// that narrows a search without a name: a year of births (leap day included). A wider one
/// would read a large part of the register's birth-date index for one request.
pub const MAX_FODELSEDATUM_DAGAR: i64 = 366;
/// Longest element name an [`Undantag`] repeats from the request (an unknown element's name
/// is the client's text, of any length).
const MAX_NAMN_I_BESKRIVNING: usize = 64;

/// `SPARPersonsokningFraga`: one PersonSök request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fraga {
    /// Who asks, for whom, under which assignment.
    pub ident: Identifieringsinformation,
    /// What is asked.
    pub sok: Sok,
}

/// `Identifieringsinformation` (`IdentifieringsinformationWs-1.1.xsd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifieringsinformation {
    /// `KundNrLeveransMottagare`: the customer owning the certificate the call came with
    /// (in [`KUND_NR`]).
    pub kund_nr_leverans_mottagare: u32,
    /// `KundNrSlutkund`: the customer permitted to call (in [`KUND_NR`]).
    pub kund_nr_slutkund: u32,
    /// `UppdragId`: SPAR's id of the assignment (`xs:long`, at least 1).
    pub uppdrag_id: u64,
    /// `SlutAnvandarId`: the end user in the customer's system, 1 to
    /// [`MAX_SLUT_ANVANDAR_ID`] characters; for the audit log, never for a decision.
    pub slut_anvandar_id: String,
    /// `SlutAnvandarUtokadBehorighet`: the extended categories this search asks to use, in
    /// the request's order, each at most once (so at most four). None asked means
    /// grundbehörighet only; what the customer actually holds is for `crate::access`.
    pub utokad_behorighet: Vec<Category>,
}

/// `PersonsokningFraga`: a lookup by number, or a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sok {
    /// `IdNummer`: person-, samordnings- (or immunitets-) nummer, 12 digits.
    IdNummer(Pnr),
    /// The search arguments (`Sokargument-1.2.xsd`).
    Argument(Box<SokArgument>),
}

/// A search by SPAR's arguments, already known to narrow enough
/// ([`SokArgument::narrows_enough`]).
///
/// `FonetiskSokning`: SPAR's phonetic algorithm is not public. `JA` and `NEJ` are both
/// accepted and recorded in [`SokArgument::fonetisk`], but matching is the same either way:
/// exact on folded words (case and diacritics aside, å/ä/ö distinct; [`crate::search::fold`])
/// with trailing `*` wildcards. A phonetic search finds what an exact one finds, no more.
///
/// Födelsedatum arguments bound the birth date the identity number gives (a
/// samordningsnummer's day less 60), as the store's birth-date index holds it; the register's
/// `Fodelsedatum` term, which can differ from the number (Navet 8.6), is not searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SokArgument {
    /// `FonetiskSokning` was `JA`; recorded only (see above).
    pub fonetisk: bool,
    /// What the namnsökning query can say: `FornamnSokArgument` (förnamn),
    /// `MellanEfternamnSokArgument` (mellan- or efternamn), `UtdelningsadressSokArgument`
    /// (adress), `PostortSokArgument`, `PostNr` or `PostNrFrom`/`Tom`, `Kon`; and for
    /// `Fodelsedatum` bounds that hold every number [`SokArgument::fodelsedatum`] can match,
    /// so the store's index scan finds them (the exact check is [`SokArgument::matches`]).
    pub query: SearchQuery,
    /// `NamnSokArgument`: every word must match a word of förnamn, mellannamn or efternamn,
    /// in any order. Not a [`SearchQuery`] field: see [`SokArgument::store_queries`].
    pub namn: Vec<WordPattern>,
    /// `Fodelsedatum` (a range of one day) or `FodelsedatumFrom`–`Tom`, inclusive.
    pub fodelsedatum: Option<RangeInclusive<NaiveDate>>,
    /// `LanKod`: the folkbokföring's län, two digits on the wire.
    pub lan: Option<u8>,
    /// `KommunKod`: the folkbokföring's kommun within its län, two digits on the wire.
    /// Without [`SokArgument::lan`] it matches that kommun code in every län, as the
    /// schema's note says (the län is needed to name one kommun).
    pub kommun: Option<u8>,
    /// `DistriktKod` (a range of one) or `DistriktKodFrom`–`Tom`, inclusive, six digits.
    pub distrikt: Option<RangeInclusive<u32>>,
}

/// `Undantag`: why a request is refused, as SPAR answers it (`Kod`, `Beskrivning`) inside
/// `SPARPersonsokningSvar` instead of a SOAP fault.
///
/// SPAR's own code list is not public in our sources. These codes are folkreg's, one per kind
/// of error, stable (never renumbered or reused), and apart from Navet's 11xx fault codes:
///
/// | Kod | constant | when |
/// |---|---|---|
/// | 2001 | [`Undantag::FELAKTIG_STRUKTUR`] | an element missing, unknown, repeated, out of the schema's order, in the wrong namespace, or combined with one it excludes |
/// | 2002 | [`Undantag::OGILTIGT_VARDE`] | a value the schema's type refuses: length, pattern, integer range, date, enumeration, identity number |
/// | 2003 | [`Undantag::FOR_FA_SOKARGUMENT`] | a search that does not narrow enough ([`SokArgument::narrows_enough`]) |
/// | 2004 | [`Undantag::OGILTIGT_JOKERTECKEN`] | a `*` with fewer than [`crate::search::MIN_PREFIX_CHARS`] characters before it, or not at the end of a word |
/// | 2005 | [`Undantag::OGILTIG_BEHORIGHET`] | a `SlutAnvandarUtokadBehorighet` that is no category, or one named twice |
/// | 2006 | [`Undantag::OGILTIGT_INTERVALL`] | a `…From` after its `…Tom` |
///
/// [`Undantag::beskrivning`] names the element and the rule, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Undantag {kod}: {beskrivning}")]
pub struct Undantag {
    /// `Kod`: one of the constants above.
    pub kod: u32,
    /// `Beskrivning`: the element and what is wrong with it, in English.
    pub beskrivning: String,
}

impl Undantag {
    /// An element missing, unknown, repeated, out of order, in the wrong namespace, or
    /// combined with one the schema's choice excludes.
    pub const FELAKTIG_STRUKTUR: u32 = 2001;
    /// A value its element's type refuses.
    pub const OGILTIGT_VARDE: u32 = 2002;
    /// A search that does not narrow enough.
    pub const FOR_FA_SOKARGUMENT: u32 = 2003;
    /// A wildcard too short or not at the end of a word.
    pub const OGILTIGT_JOKERTECKEN: u32 = 2004;
    /// An unknown or repeated `SlutAnvandarUtokadBehorighet`.
    pub const OGILTIG_BEHORIGHET: u32 = 2005;
    /// A range whose `From` is after its `Tom`.
    pub const OGILTIGT_INTERVALL: u32 = 2006;
    /// Customer numbers (`KundNrLeveransMottagare`/`KundNrSlutkund`) the register does not
    /// list for the certificate's organisation (decided by the operation, which holds the
    /// register entry).
    pub const EJ_BEHORIG_KUND: u32 = 2007;

    fn new(kod: u32, beskrivning: impl Into<String>) -> Undantag {
        Undantag {
            kod,
            beskrivning: beskrivning.into(),
        }
    }
}

fn struktur(beskrivning: impl Into<String>) -> Undantag {
    Undantag::new(Undantag::FELAKTIG_STRUKTUR, beskrivning)
}

fn varde(beskrivning: impl Into<String>) -> Undantag {
    Undantag::new(Undantag::OGILTIGT_VARDE, beskrivning)
}

/// Reads `SPARPersonsokningFraga` from the operation element the SOAP layer gives
/// (`crate::soap::request::operation`): every element in the namespace its schema gives it
/// (any prefix, or a default namespace), in the schema's order, nothing unknown.
pub fn parse(op: &Element) -> Result<Fraga, Undantag> {
    if op.local() != "SPARPersonsokningFraga" || op.ns() != Some(ns::FRAGA) {
        return Err(struktur(format!(
            "the Body must hold SPARPersonsokningFraga in namespace {}, not {}",
            ns::FRAGA,
            shown(op.local())
        )));
    }
    // The two children are `ref`s to elements of their own schemas.
    let [ident, sok] = sequence(
        op,
        [
            ("Identifieringsinformation", ns::IDINFO, 1, 1),
            ("PersonsokningFraga", ns::SOK, 1, 1),
        ],
    )?;
    Ok(Fraga {
        ident: identifieringsinformation(ident[0])?,
        sok: sok_fraga(sok[0])?,
    })
}

fn identifieringsinformation(el: &Element) -> Result<Identifieringsinformation, Undantag> {
    let [leverans, slutkund, uppdrag, anvandare, behorighet] = sequence(
        el,
        [
            ("KundNrLeveransMottagare", ns::IDINFO, 1, 1),
            ("KundNrSlutkund", ns::IDINFO, 1, 1),
            ("UppdragId", ns::IDINFO, 1, 1),
            ("SlutAnvandarId", ns::IDINFO, 1, 1),
            // At most four by the duplicate rule below: five of four categories repeat one.
            ("SlutAnvandarUtokadBehorighet", ns::IDINFO, 0, usize::MAX),
        ],
    )?;
    let kund_nr = |el: &Element| -> Result<u32, Undantag> {
        integer(text(el)?)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| KUND_NR.contains(n))
            .ok_or_else(|| {
                varde(format!(
                    "{} must be an integer from {} to {}",
                    el.local(),
                    KUND_NR.start(),
                    KUND_NR.end()
                ))
            })
    };
    let uppdrag_id = integer(text(uppdrag[0])?)
        .filter(|n| (1..=i64::MAX as u64).contains(n))
        .ok_or_else(|| {
            varde(format!(
                "UppdragId must be an integer from 1 to {}",
                i64::MAX
            ))
        })?;
    let slut_anvandar_id = text(anvandare[0])?;
    if slut_anvandar_id.chars().count() > MAX_SLUT_ANVANDAR_ID {
        return Err(varde(format!(
            "SlutAnvandarId must be 1 to {MAX_SLUT_ANVANDAR_ID} characters"
        )));
    }
    let mut utokad_behorighet = Vec::new();
    for b in behorighet {
        let category = match text(b)? {
            "Relationer" => Category::Relationer,
            "Medborgarskap" => Category::Medborgarskap,
            "Taxering" => Category::Taxering,
            "Sekretess" => Category::Sekretess,
            _ => {
                return Err(Undantag::new(
                    Undantag::OGILTIG_BEHORIGHET,
                    "SlutAnvandarUtokadBehorighet must be Relationer, Medborgarskap, Taxering \
                     or Sekretess",
                ))
            }
        };
        if utokad_behorighet.contains(&category) {
            return Err(Undantag::new(
                Undantag::OGILTIG_BEHORIGHET,
                "SlutAnvandarUtokadBehorighet names the same category twice",
            ));
        }
        utokad_behorighet.push(category);
    }
    Ok(Identifieringsinformation {
        kund_nr_leverans_mottagare: kund_nr(leverans[0])?,
        kund_nr_slutkund: kund_nr(slutkund[0])?,
        uppdrag_id,
        slut_anvandar_id: slut_anvandar_id.to_owned(),
        utokad_behorighet,
    })
}

/// `PersonsokningFragaTYPE`: the choice of `IdNummer` or the search arguments.
fn sok_fraga(el: &Element) -> Result<Sok, Undantag> {
    let Some(id) = el.children().find(|c| c.local() == "IdNummer") else {
        let argument = sok_argument(el)?;
        return if argument.narrows_enough() {
            Ok(Sok::Argument(Box::new(argument)))
        } else {
            Err(Undantag::new(Undantag::FOR_FA_SOKARGUMENT, NOT_ENOUGH))
        };
    };
    no_text(el)?;
    if el.children().count() > 1 {
        return Err(struktur(
            "IdNummer cannot be combined with other elements in PersonsokningFraga",
        ));
    }
    in_ns(id, ns::PERSON)?;
    let v = text(id)?;
    // `IdNummerTYPE`: [1-9][0-9]{11}; then the date and check digit a number must have.
    if !(v.len() == 12 && digits(v) && !v.starts_with('0')) {
        return Err(varde("IdNummer must be 12 digits, the first not 0"));
    }
    // PnrError's text carries no digits.
    Pnr::parse(v)
        .map(Sok::IdNummer)
        .map_err(|e| varde(format!("IdNummer: {e}")))
}

/// What [`Undantag::FOR_FA_SOKARGUMENT`] says: the rule of [`SokArgument::narrows_enough`].
const NOT_ENOUGH: &str = "PersonsokningFraga: the search arguments do not narrow enough; give \
    a name (NamnSokArgument, FornamnSokArgument or MellanEfternamnSokArgument), or \
    UtdelningsadressSokArgument with a place (PostortSokArgument, PostNr, LanKod, KommunKod or \
    DistriktKod), or Fodelsedatum (or a range of at most 366 days) with an address or a place";

/// The search arguments in `PersonsokningFragaTYPE`'s order; the choices between one value
/// and a range (and between `NamnSokArgument` and the two name parts) are checked after.
const ARGUMENT: [Slot; 18] = [
    ("FonetiskSokning", ns::ARG, 0, 1),
    ("NamnSokArgument", ns::ARG, 0, 1),
    ("FornamnSokArgument", ns::ARG, 0, 1),
    ("MellanEfternamnSokArgument", ns::ARG, 0, 1),
    ("UtdelningsadressSokArgument", ns::ARG, 0, 1),
    ("PostortSokArgument", ns::ARG, 0, 1),
    ("PostNr", ns::ARG, 0, 1),
    ("PostNrFrom", ns::ARG, 0, 1),
    ("PostNrTom", ns::ARG, 0, 1),
    ("Fodelsedatum", ns::ARG, 0, 1),
    ("FodelsedatumFrom", ns::ARG, 0, 1),
    ("FodelsedatumTom", ns::ARG, 0, 1),
    ("Kon", ns::ARG, 0, 1),
    ("LanKod", ns::ARG, 0, 1),
    ("KommunKod", ns::ARG, 0, 1),
    ("DistriktKod", ns::ARG, 0, 1),
    ("DistriktKodFrom", ns::ARG, 0, 1),
    ("DistriktKodTom", ns::ARG, 0, 1),
];

/// The search arguments, typed, before the rule of what narrows enough.
fn sok_argument(el: &Element) -> Result<SokArgument, Undantag> {
    let found = sequence(el, ARGUMENT)?;
    let [fonetisk, namn, fornamn, mellan_efter, adress, postort, postnr, postnr_from, postnr_tom, fodd, fodd_from, fodd_tom, kon, lan, kommun, distrikt, distrikt_from, distrikt_tom] =
        found.map(|v| v.first().copied());
    if namn.is_some() && (fornamn.is_some() || mellan_efter.is_some()) {
        return Err(struktur(
            "NamnSokArgument cannot be combined with FornamnSokArgument or \
             MellanEfternamnSokArgument",
        ));
    }
    let fonetisk = match fonetisk.map(text).transpose()? {
        None | Some("NEJ") => false,
        Some("JA") => true,
        Some(_) => return Err(varde("FonetiskSokning must be JA or NEJ")),
    };
    let kon = match kon.map(text).transpose()? {
        None => None,
        Some("MAN") => Some(Kon::M),
        Some("KVINNA") => Some(Kon::K),
        Some(_) => return Err(varde("Kon must be MAN or KVINNA")),
    };
    let postnr = range(postnr, postnr_from, postnr_tom, |el| {
        code(el, 5, false, "5 digits, the first not 0")
    })?;
    let fodelsedatum = range(fodd, fodd_from, fodd_tom, datum)?;
    let distrikt = range(distrikt, distrikt_from, distrikt_tom, |el| {
        code(el, 6, false, "6 digits, the first not 0")
    })?;
    let two_digits = |el: Option<&Element>| -> Result<Option<u8>, Undantag> {
        el.map(|el| code(el, 2, true, "2 digits").map(|n| n as u8))
            .transpose()
    };
    Ok(SokArgument {
        fonetisk,
        query: SearchQuery {
            fornamn: words(fornamn, 80, NAMN_TECKEN)?,
            efter_mellan: words(mellan_efter, 60, NAMN_TECKEN)?,
            postort: words(postort, 27, POSTORT_TECKEN)?,
            adress: words(adress, 100, ADRESS_TECKEN)?,
            fodelse_from: fodelsedatum.as_ref().map(|r| skriven(*r.start(), false)),
            fodelse_tom: fodelsedatum.as_ref().map(|r| skriven(*r.end(), true)),
            kon,
            postnr_from: postnr.as_ref().map(|r| *r.start()),
            postnr_tom: postnr.as_ref().map(|r| *r.end()),
            kategori: Kategori::Alla,
        },
        namn: words(namn, 80, NAMN_TECKEN)?,
        fodelsedatum,
        lan: two_digits(lan)?,
        kommun: two_digits(kommun)?,
        distrikt,
    })
}

/// A födelsetid bound as the identity number writes it (`YYYYMMDD`), for
/// [`SearchQuery::fodelse_from`]/`tom`. A range of real birth dates From–Tom holds every
/// number from From as a personnummer through Tom as a samordningsnummer (day + 60): wider
/// than the range, never narrower; [`SokArgument::matches`] then checks the date itself.
fn skriven(d: NaiveDate, samordning: bool) -> u32 {
    let day = d.day() + if samordning { 60 } else { 0 };
    d.year().max(0) as u32 * 10_000 + d.month() * 100 + day
}

/// A value, or a `From`–`Tom` range, of one argument (the schema's choice of `single` or the
/// pair), as an inclusive range.
fn range<T: PartialOrd + Copy>(
    single: Option<&Element>,
    from: Option<&Element>,
    tom: Option<&Element>,
    read: impl Fn(&Element) -> Result<T, Undantag>,
) -> Result<Option<RangeInclusive<T>>, Undantag> {
    match (single, from, tom) {
        (None, None, None) => Ok(None),
        (Some(v), None, None) => {
            let v = read(v)?;
            Ok(Some(v..=v))
        }
        (Some(v), _, _) => Err(struktur(format!(
            "{0} cannot be combined with {0}From or {0}Tom",
            v.local()
        ))),
        (None, Some(f), Some(t)) => {
            let (from, tom) = (read(f)?, read(t)?);
            if from > tom {
                return Err(Undantag::new(
                    Undantag::OGILTIGT_INTERVALL,
                    format!("{} is after {}", f.local(), t.local()),
                ));
            }
            Ok(Some(from..=tom))
        }
        (None, Some(f), None) => {
            let base = f.local().strip_suffix("From").unwrap_or(f.local());
            Err(struktur(format!("{base}From needs {base}Tom")))
        }
        (None, None, Some(t)) => {
            let base = t.local().strip_suffix("Tom").unwrap_or(t.local());
            Err(struktur(format!("{base}Tom needs {base}From")))
        }
    }
}

/// Characters the schema's name patterns allow after the first (`\w+[\w\s*\-']*`).
const NAMN_TECKEN: &str = "*-'";
/// … `UtdelningsadressSokArgumentTYPE` (`\w+[\w\s*\-/.,:]*`).
const ADRESS_TECKEN: &str = "*-/.,:";
/// … `PostortSokArgumentTYPE` (`\w+[\w\s*\-]*`).
const POSTORT_TECKEN: &str = "*-";

/// A word argument: at most `max` characters, its wildcards valid, and the schema's pattern
/// (a word character, then word characters, spaces and `extra`); empty when absent.
fn words(el: Option<&Element>, max: usize, extra: &str) -> Result<Vec<WordPattern>, Undantag> {
    let Some(el) = el else {
        return Ok(Vec::new());
    };
    let name = el.local();
    let v = text(el)?;
    if v.chars().count() > max {
        return Err(varde(format!("{name} must be 1 to {max} characters")));
    }
    let rule = || {
        let shown: Vec<String> = extra.chars().map(|c| c.to_string()).collect();
        varde(format!(
            "{name} must start with a letter or digit and hold only letters, digits, spaces \
             and {}",
            shown.join(" ")
        ))
    };
    // Wildcards first: `*Anna` is refused for its wildcard, which is what the client needs.
    let patterns = parse_patterns(v).map_err(|e| match e {
        PatternError::ShortPrefix | PatternError::Wildcard => {
            Undantag::new(Undantag::OGILTIGT_JOKERTECKEN, format!("{name}: {e}"))
        }
        PatternError::Empty => rule(),
    })?;
    let mut chars = v.chars();
    let first_ok = chars.next().is_some_and(word_char);
    if !first_ok
        || !chars
            .all(|c| word_char(c) || matches!(c, ' ' | '\t' | '\n' | '\r') || extra.contains(c))
    {
        return Err(rule());
    }
    Ok(patterns)
}

/// The schema's `\w` (every character but punctuation, separators and controls), as letters,
/// digits and combining marks: std has no general categories, and the symbols `\w` also
/// admits (`+`, `$`, `<`) are in no name or address.
fn word_char(c: char) -> bool {
    c.is_alphanumeric() || ('\u{0300}'..='\u{036F}').contains(&c)
}

/// A code of exactly `len` ASCII digits (the first not 0 unless `zero_first`), as a number.
fn code(el: &Element, len: usize, zero_first: bool, rule: &str) -> Result<u32, Undantag> {
    let v = text(el)?;
    if v.len() == len && digits(v) && (zero_first || !v.starts_with('0')) {
        if let Ok(n) = v.parse() {
            return Ok(n);
        }
    }
    Err(varde(format!("{} must be {rule}", el.local())))
}

/// `SparDatumTYPE` (`xs:date`): `YYYY-MM-DD`, a real date, optionally with a time zone
/// (`Z` or `±hh:mm`), which a date without a time does not need and is dropped.
fn datum(el: &Element) -> Result<NaiveDate, Undantag> {
    let v = text(el)?;
    let bad = || varde(format!("{} must be a date YYYY-MM-DD", el.local()));
    let date = if let Some(d) = v.strip_suffix('Z') {
        d
    } else if v.len() == 16 && matches!(v.as_bytes()[10], b'+' | b'-') {
        let zone = &v[11..];
        let ok = zone.len() == 5
            && zone.as_bytes()[2] == b':'
            && digits(&zone[..2])
            && digits(&zone[3..])
            && &zone[..2] <= "14"
            && &zone[3..] <= "59";
        if !ok {
            return Err(bad());
        }
        &v[..10]
    } else {
        v
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, m, d) = (&date[..4], &date[5..7], &date[8..]);
    if !(digits(y) && digits(m) && digits(d)) {
        return Err(bad());
    }
    let n = |s: &str| s.parse::<u32>().ok();
    match (n(y), n(m), n(d)) {
        (Some(y), Some(m), Some(d)) if y > 0 => {
            NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

/// An `xs:int`/`xs:long` lexical form: an optional `+`, then digits (a `-` form is below any
/// range here, so refused as such); `None` when no integer or beyond `u64`.
fn integer(v: &str) -> Option<u64> {
    let d = v.strip_prefix('+').unwrap_or(v);
    if !digits(d) {
        return None;
    }
    d.parse().ok()
}

fn digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit())
}

/// One element of a schema's sequence: local name, namespace, fewest, most.
type Slot = (&'static str, &'static str, usize, usize);

/// The children of `parent` against the schema's sequence `slots`: every child known, in its
/// namespace, in order, none more often than allowed, none required missing. Returns the
/// elements found for each slot.
fn sequence<'a, const N: usize>(
    parent: &'a Element,
    slots: [Slot; N],
) -> Result<[Vec<&'a Element>; N], Undantag> {
    no_text(parent)?;
    let mut found: [Vec<&'a Element>; N] = std::array::from_fn(|_| Vec::new());
    let mut at = 0;
    for child in parent.children() {
        let Some(i) = slots.iter().position(|s| s.0 == child.local()) else {
            return Err(struktur(format!(
                "element {} is not allowed in {}",
                shown(child.local()),
                parent.local()
            )));
        };
        in_ns(child, slots[i].1)?;
        if i < at {
            return Err(struktur(format!(
                "element {} must come before {} in {}",
                slots[i].0,
                slots[at].0,
                parent.local()
            )));
        }
        if found[i].len() == slots[i].3 {
            return Err(struktur(format!(
                "element {} appears more than once in {}",
                slots[i].0,
                parent.local()
            )));
        }
        found[i].push(child);
        at = i;
    }
    if let Some((name, ..)) = slots
        .iter()
        .zip(&found)
        .find(|(s, f)| f.len() < s.2)
        .map(|(s, _)| *s)
    {
        return Err(struktur(format!(
            "element {name} is missing from {}",
            parent.local()
        )));
    }
    Ok(found)
}

fn in_ns(el: &Element, ns: &str) -> Result<(), Undantag> {
    if el.ns() == Some(ns) {
        Ok(())
    } else {
        Err(struktur(format!(
            "element {} must be in namespace {ns}",
            el.local()
        )))
    }
}

/// A complex element holds elements, not text.
fn no_text(el: &Element) -> Result<(), Undantag> {
    match el.value() {
        None => Ok(()),
        Some(_) => Err(struktur(format!(
            "element {} holds text; it holds only elements",
            el.local()
        ))),
    }
}

/// A simple element's trimmed text: not empty, no child elements.
fn text(el: &Element) -> Result<&str, Undantag> {
    if el.children().next().is_some() {
        return Err(struktur(format!(
            "element {} holds elements; it holds only a value",
            el.local()
        )));
    }
    el.value()
        .ok_or_else(|| varde(format!("{} is empty", el.local())))
}

/// An element name from the request, cut to [`MAX_NAMN_I_BESKRIVNING`] characters.
fn shown(local: &str) -> String {
    local.chars().take(MAX_NAMN_I_BESKRIVNING).collect()
}

impl SokArgument {
    /// Whether the arguments narrow enough for a search (else [`Undantag::FOR_FA_SOKARGUMENT`]).
    /// SPAR's own rule is not public; folkreg's is that a search has one of:
    ///
    /// 1. a name: `NamnSokArgument`, `FornamnSokArgument` or `MellanEfternamnSokArgument`
    ///    (alone enough, as in Navet's namnsökning);
    /// 2. an address, `UtdelningsadressSokArgument`, with a place: `PostortSokArgument`,
    ///    `PostNr` (or a range), `LanKod`, `KommunKod` or `DistriktKod` (or a range);
    /// 3. a birth date, `Fodelsedatum` or a range of at most [`MAX_FODELSEDATUM_DAGAR`] days,
    ///    with an address or a place.
    ///
    /// `Kon` and `FonetiskSokning` never count: one halves a result, the other changes
    /// nothing. A place alone (a postort, a län) is a town or more. Each of the three has a
    /// criterion the store has an index for (name, address, birth date), so no search reads
    /// the whole register.
    pub fn narrows_enough(&self) -> bool {
        let q = &self.query;
        let namn = q.has_name() || !self.namn.is_empty();
        let adress = !q.adress.is_empty();
        let plats = !q.postort.is_empty()
            || q.postnr_from.is_some()
            || q.postnr_tom.is_some()
            || self.lan.is_some()
            || self.kommun.is_some()
            || self.distrikt.is_some();
        let fodd = self
            .fodelsedatum
            .as_ref()
            .is_some_and(|r| (*r.end() - *r.start()).num_days() < MAX_FODELSEDATUM_DAGAR);
        namn || (adress && plats) || (fodd && (adress || plats))
    }

    /// The authoritative check of a record against every argument: the namnsökning query
    /// ([`SearchQuery::matches`]), the `NamnSokArgument` words, the birth date, and län,
    /// kommun and distrikt of the folkbokföring (a record without one matches none of them).
    pub fn matches(&self, post: &Folkbokforingspost) -> bool {
        if !self.query.matches(post) {
            return false;
        }
        let p = &post.personpost;
        if !self.namn.is_empty() {
            let n = &p.namn;
            let ws: Vec<String> = [&n.fornamn, &n.mellannamn, &n.efternamn]
                .into_iter()
                .flatten()
                .flat_map(|f| search::words(f))
                .collect();
            if !self
                .namn
                .iter()
                .all(|pat| ws.iter().any(|w| pat.matches(w)))
            {
                return false;
            }
        }
        if let Some(r) = &self.fodelsedatum {
            if !post.pnr().birth_date().is_some_and(|d| r.contains(&d)) {
                return false;
            }
        }
        if self.lan.is_none() && self.kommun.is_none() && self.distrikt.is_none() {
            return true;
        }
        let Some(f) = &p.folkbokforing else {
            return false;
        };
        let is = |kod: &str, want: Option<u8>| {
            want.is_none_or(|w| kod.len() == 2 && kod.parse::<u8>() == Ok(w))
        };
        is(&f.lan_kod, self.lan)
            && is(&f.kommun_kod, self.kommun)
            && self.distrikt.as_ref().is_none_or(|r| {
                f.distrikt
                    .as_deref()
                    .filter(|d| d.len() == 6)
                    .and_then(|d| d.parse::<u32>().ok())
                    .is_some_and(|d| r.contains(&d))
            })
    }

    /// The namnsökning queries to give the store (`Snapshot::search`): the records this
    /// search matches are exactly those some query finds and [`SokArgument::matches`]
    /// accepts. One query, [`SokArgument::query`], unless `NamnSokArgument` is given: its
    /// words may be förnamn or mellan/efternamn, which no single query says, so its most
    /// selective word (the first whole word, else the longest prefix) is asked as a förnamn
    /// and as a mellan/efternamn.
    pub fn store_queries(&self) -> Vec<SearchQuery> {
        let key = self
            .namn
            .iter()
            .find(|p| !p.prefix)
            .or_else(|| self.namn.iter().max_by_key(|p| p.folded.chars().count()));
        let Some(key) = key else {
            return vec![self.query.clone()];
        };
        let mut fornamn = self.query.clone();
        fornamn.fornamn.push(key.clone());
        let mut efter_mellan = self.query.clone();
        efter_mellan.efter_mellan.push(key.clone());
        vec![fornamn, efter_mellan]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap::request::{operation, MAX_ELEMENTS};
    use crate::spar::ns::{ARG, FRAGA, IDINFO, PERSON, SOK};

    /// The request inside a SOAP 1.1 envelope, read as the service reads it.
    fn read(fraga: &str) -> Element {
        let envelope = format!(
            r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>{fraga}</S:Body></S:Envelope>"#
        );
        operation(envelope.as_bytes(), MAX_ELEMENTS).expect("the SOAP layer accepts it")
    }

    fn sample(name: &str) -> Fraga {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference/spar/samples")
            .join(name);
        let xml = std::fs::read_to_string(&path).expect("the SPAR samples are readable");
        // Inside an envelope the XML declaration may not stand.
        let body = xml
            .trim_start()
            .strip_prefix("<?xml")
            .map_or(xml.as_str(), |rest| {
                rest.split_once("?>").map_or(rest, |(_, after)| after)
            });
        parse(&read(body)).expect("the sample is valid")
    }

    const IDENT: &str = "<i:KundNrLeveransMottagare>500243</i:KundNrLeveransMottagare>\
        <i:KundNrSlutkund>500244</i:KundNrSlutkund><i:UppdragId>637</i:UppdragId>\
        <i:SlutAnvandarId>anv-7</i:SlutAnvandarId>";

    /// A request with these `Identifieringsinformation` and `PersonsokningFraga` contents.
    fn request(ident: &str, sok: &str) -> String {
        format!(
            r#"<f:SPARPersonsokningFraga xmlns:f="{FRAGA}" xmlns:i="{IDINFO}" xmlns:s="{SOK}" xmlns:a="{ARG}" xmlns:p="{PERSON}"><i:Identifieringsinformation>{ident}</i:Identifieringsinformation><s:PersonsokningFraga>{sok}</s:PersonsokningFraga></f:SPARPersonsokningFraga>"#
        )
    }

    /// Search arguments `(name, value)`, in the order given.
    fn args(list: &[(&str, &str)]) -> String {
        list.iter()
            .map(|(n, v)| format!("<a:{n}>{v}</a:{n}>"))
            .collect()
    }

    fn search(list: &[(&str, &str)]) -> Result<Fraga, Undantag> {
        parse(&read(&request(IDENT, &args(list))))
    }

    /// The arguments, typed, whether or not they narrow enough.
    fn argument(list: &[(&str, &str)]) -> SokArgument {
        let op = read(&request(IDENT, &args(list)));
        let sok = op.required("PersonsokningFraga").expect("present");
        sok_argument(sok).expect("valid arguments")
    }

    #[test]
    fn the_samples_parse_to_their_values() {
        let by_number = sample("fraga-idnummer.xml");
        let ident = Identifieringsinformation {
            kund_nr_leverans_mottagare: 500243,
            kund_nr_slutkund: 500243,
            uppdrag_id: 637,
            slut_anvandar_id: "exempel-anvandare".into(),
            utokad_behorighet: vec![],
        };
        assert_eq!(
            by_number,
            Fraga {
                ident: ident.clone(),
                sok: Sok::IdNummer(Pnr::parse("191212121212").expect("valid")),
            }
        );
        let by_arguments = sample("fraga-sokargument.xml");
        let p = |s| parse_patterns(s).expect("a pattern");
        assert_eq!(
            by_arguments,
            Fraga {
                ident: Identifieringsinformation {
                    utokad_behorighet: vec![Category::Relationer],
                    ..ident
                },
                sok: Sok::Argument(Box::new(SokArgument {
                    fonetisk: false,
                    query: SearchQuery {
                        fornamn: p("Anna"),
                        efter_mellan: p("Efter*"),
                        postnr_from: Some(10000),
                        postnr_tom: Some(19999),
                        kon: Some(Kon::K),
                        ..Default::default()
                    },
                    namn: vec![],
                    fodelsedatum: None,
                    lan: None,
                    kommun: None,
                    distrikt: None,
                })),
            }
        );
    }

    #[test]
    fn the_soap_layer_and_this_module_agree_on_the_request_namespace() {
        assert_eq!(crate::soap::request::SPAR_FRAGA_NS, FRAGA);
    }

    #[test]
    fn any_prefix_or_a_default_namespace_reads_the_same() {
        let prefixed = request(IDENT, &args(&[("FornamnSokArgument", "Anna")]));
        let defaults = format!(
            r#"<SPARPersonsokningFraga xmlns="{FRAGA}"><Identifieringsinformation xmlns="{IDINFO}"><KundNrLeveransMottagare>500243</KundNrLeveransMottagare><KundNrSlutkund>500244</KundNrSlutkund><UppdragId>637</UppdragId><SlutAnvandarId>anv-7</SlutAnvandarId></Identifieringsinformation><x:PersonsokningFraga xmlns:x="{SOK}"><FornamnSokArgument xmlns="{ARG}">Anna</FornamnSokArgument></x:PersonsokningFraga></SPARPersonsokningFraga>"#
        );
        let a = parse(&read(&prefixed)).expect("valid");
        assert_eq!(parse(&read(&defaults)), Ok(a));
    }

    #[test]
    fn values_take_their_types() {
        let f = parse(&read(&request(
            &IDENT.replace("637", "+9223372036854775807").replace(
                "</i:SlutAnvandarId>",
                "</i:SlutAnvandarId><i:SlutAnvandarUtokadBehorighet>Sekretess\
                 </i:SlutAnvandarUtokadBehorighet><i:SlutAnvandarUtokadBehorighet>Taxering\
                 </i:SlutAnvandarUtokadBehorighet>",
            ),
            &args(&[
                ("FonetiskSokning", "JA"),
                ("NamnSokArgument", "Svensson Ann*"),
                ("PostNr", "11400"),
                ("FodelsedatumFrom", "1985-02-01Z"),
                ("FodelsedatumTom", "1985-03-01+01:00"),
                ("Kon", "MAN"),
                ("LanKod", "01"),
                ("KommunKod", "80"),
                ("DistriktKodFrom", "218001"),
                ("DistriktKodTom", "218019"),
            ]),
        )))
        .expect("valid");
        assert_eq!(f.ident.uppdrag_id, i64::MAX as u64);
        assert_eq!(
            f.ident.utokad_behorighet,
            [Category::Sekretess, Category::Taxering]
        );
        let Sok::Argument(a) = f.sok else {
            panic!("a search")
        };
        let date = |m, d| NaiveDate::from_ymd_opt(1985, m, d).expect("a date");
        assert!(a.fonetisk);
        assert_eq!(a.namn, parse_patterns("Svensson Ann*").expect("a pattern"));
        assert_eq!(
            (a.query.postnr_from, a.query.postnr_tom),
            (Some(11400), Some(11400))
        );
        assert_eq!(a.fodelsedatum, Some(date(2, 1)..=date(3, 1)));
        // Bounds on the number as written: down to the personnummer of From, up to the
        // samordningsnummer of Tom.
        assert_eq!(
            (a.query.fodelse_from, a.query.fodelse_tom),
            (Some(19850201), Some(19850361))
        );
        assert_eq!(a.query.kon, Some(Kon::M));
        assert_eq!((a.lan, a.kommun), (Some(1), Some(80)));
        assert_eq!(a.distrikt, Some(218001..=218019));
    }

    /// (what is wrong, Kod, the element Beskrivning names, request): one row per rule.
    #[rustfmt::skip]
    fn invalid() -> Vec<(&'static str, u32, &'static str, String)> {
        use Undantag as U;
        let name = |v: &str| args(&[("FornamnSokArgument", v)]);
        let ident = |from: &str, to: &str| request(&IDENT.replace(from, to), &name("Anna"));
        let with = |list: &[(&str, &str)]| request(IDENT, &args(list));
        let beh = |list: &[&str]| {
            let extra: String = list
                .iter()
                .map(|b| format!("<i:SlutAnvandarUtokadBehorighet>{b}</i:SlutAnvandarUtokadBehorighet>"))
                .collect();
            request(&format!("{IDENT}{extra}"), &name("Anna"))
        };
        let anna = ("FornamnSokArgument", "Anna");
        let id = |v: &str| request(IDENT, &format!("<p:IdNummer>{v}</p:IdNummer>"));
        vec![
            ("wrong root", U::FELAKTIG_STRUKTUR, "SPARPersonsokningFraga", with(&[anna]).replace("f:SPARPersonsokningFraga", "f:Fraga")),
            ("no Identifieringsinformation", U::FELAKTIG_STRUKTUR, "Identifieringsinformation", format!(r#"<f:SPARPersonsokningFraga xmlns:f="{FRAGA}" xmlns:s="{SOK}" xmlns:a="{ARG}"><s:PersonsokningFraga>{}</s:PersonsokningFraga></f:SPARPersonsokningFraga>"#, name("Anna"))),
            ("ident in the wrong namespace", U::FELAKTIG_STRUKTUR, "Identifieringsinformation", with(&[anna]).replace("i:Identifieringsinformation", "s:Identifieringsinformation")),
            ("unqualified argument", U::FELAKTIG_STRUKTUR, "FornamnSokArgument", request(IDENT, "<FornamnSokArgument>Anna</FornamnSokArgument>")),
            ("argument in another SPAR namespace", U::FELAKTIG_STRUKTUR, "FornamnSokArgument", request(IDENT, "<s:FornamnSokArgument>Anna</s:FornamnSokArgument>")),
            ("unknown argument", U::FELAKTIG_STRUKTUR, "CareOfSokArgument", with(&[anna, ("CareOfSokArgument", "Berg")])),
            ("out of order", U::FELAKTIG_STRUKTUR, "FornamnSokArgument", with(&[("Kon", "MAN"), anna])),
            ("twice", U::FELAKTIG_STRUKTUR, "FornamnSokArgument", with(&[anna, anna])),
            ("KundNrSlutkund missing", U::FELAKTIG_STRUKTUR, "KundNrSlutkund", ident("<i:KundNrSlutkund>500244</i:KundNrSlutkund>", "")),
            ("text in a complex element", U::FELAKTIG_STRUKTUR, "Identifieringsinformation", request(&format!("{IDENT}x"), &name("Anna"))),
            ("an element in a value", U::FELAKTIG_STRUKTUR, "UppdragId", ident("637", "<i:x>1</i:x>")),
            ("IdNummer with an argument", U::FELAKTIG_STRUKTUR, "IdNummer", request(IDENT, &format!("<p:IdNummer>191212121212</p:IdNummer>{}", name("Anna")))),
            ("IdNummer in the argument namespace", U::FELAKTIG_STRUKTUR, "IdNummer", request(IDENT, "<a:IdNummer>191212121212</a:IdNummer>")),
            ("NamnSokArgument and FornamnSokArgument", U::FELAKTIG_STRUKTUR, "NamnSokArgument", with(&[("NamnSokArgument", "Anna"), ("FornamnSokArgument", "Eva")])),
            ("PostNr and a range", U::FELAKTIG_STRUKTUR, "PostNr", with(&[anna, ("PostNr", "11400"), ("PostNrFrom", "11400"), ("PostNrTom", "11500")])),
            ("From without Tom", U::FELAKTIG_STRUKTUR, "FodelsedatumFrom", with(&[anna, ("FodelsedatumFrom", "1985-01-01")])),
            ("Tom without From", U::FELAKTIG_STRUKTUR, "DistriktKodTom", with(&[anna, ("DistriktKodTom", "218001")])),
            ("KundNr below its range", U::OGILTIGT_VARDE, "KundNrLeveransMottagare", ident("500243", "500000")),
            ("KundNr above its range", U::OGILTIGT_VARDE, "KundNrSlutkund", ident("500244", "600000")),
            ("KundNr not a number", U::OGILTIGT_VARDE, "KundNrSlutkund", ident("500244", "5OO244")),
            ("UppdragId 0", U::OGILTIGT_VARDE, "UppdragId", ident(">637<", ">0<")),
            ("UppdragId negative", U::OGILTIGT_VARDE, "UppdragId", ident(">637<", ">-5<")),
            ("UppdragId beyond xs:long", U::OGILTIGT_VARDE, "UppdragId", ident(">637<", ">9223372036854775808<")),
            ("SlutAnvandarId empty", U::OGILTIGT_VARDE, "SlutAnvandarId", ident("anv-7", "")),
            ("IdNummer short", U::OGILTIGT_VARDE, "IdNummer", id("19121212121")),
            ("IdNummer with a leading 0", U::OGILTIGT_VARDE, "IdNummer", id("091212121212")),
            ("IdNummer with a wrong check digit", U::OGILTIGT_VARDE, "IdNummer", id("191212121213")),
            ("IdNummer with no such date", U::OGILTIGT_VARDE, "IdNummer", id("191213121212")),
            ("FonetiskSokning in lower case", U::OGILTIGT_VARDE, "FonetiskSokning", with(&[("FonetiskSokning", "ja"), anna])),
            ("FornamnSokArgument too long", U::OGILTIGT_VARDE, "FornamnSokArgument", with(&[("FornamnSokArgument", &"Anna ".repeat(17))])),
            ("MellanEfternamnSokArgument too long", U::OGILTIGT_VARDE, "MellanEfternamnSokArgument", with(&[("MellanEfternamnSokArgument", &"a".repeat(61))])),
            ("a name with a full stop", U::OGILTIGT_VARDE, "FornamnSokArgument", with(&[("FornamnSokArgument", "An.na")])),
            ("a name starting with -", U::OGILTIGT_VARDE, "NamnSokArgument", with(&[("NamnSokArgument", "-Anna")])),
            ("an empty name", U::OGILTIGT_VARDE, "FornamnSokArgument", with(&[("FornamnSokArgument", "")])),
            ("UtdelningsadressSokArgument too long", U::OGILTIGT_VARDE, "UtdelningsadressSokArgument", with(&[anna, ("UtdelningsadressSokArgument", &"g".repeat(101))])),
            ("a postort with /", U::OGILTIGT_VARDE, "PostortSokArgument", with(&[anna, ("PostortSokArgument", "Lund/Malmö")])),
            ("PostortSokArgument too long", U::OGILTIGT_VARDE, "PostortSokArgument", with(&[anna, ("PostortSokArgument", &"a".repeat(28))])),
            ("PostNr with a leading 0", U::OGILTIGT_VARDE, "PostNr", with(&[anna, ("PostNr", "01234")])),
            ("PostNrFrom with a space", U::OGILTIGT_VARDE, "PostNrFrom", with(&[anna, ("PostNrFrom", "114 00"), ("PostNrTom", "11500")])),
            ("Fodelsedatum no date", U::OGILTIGT_VARDE, "Fodelsedatum", with(&[anna, ("Fodelsedatum", "1985-02-30")])),
            ("Fodelsedatum without dashes", U::OGILTIGT_VARDE, "Fodelsedatum", with(&[anna, ("Fodelsedatum", "19850221")])),
            ("FodelsedatumTom with a bad zone", U::OGILTIGT_VARDE, "FodelsedatumTom", with(&[anna, ("FodelsedatumFrom", "1985-01-01"), ("FodelsedatumTom", "1985-02-01+15:00")])),
            ("Kon as Navet writes it", U::OGILTIGT_VARDE, "Kon", with(&[anna, ("Kon", "M")])),
            ("LanKod of one digit", U::OGILTIGT_VARDE, "LanKod", with(&[anna, ("LanKod", "1")])),
            ("KommunKod with a letter", U::OGILTIGT_VARDE, "KommunKod", with(&[anna, ("KommunKod", "8a")])),
            ("DistriktKod with a leading 0", U::OGILTIGT_VARDE, "DistriktKod", with(&[anna, ("DistriktKod", "018001")])),
            ("no argument", U::FOR_FA_SOKARGUMENT, "PersonsokningFraga", with(&[])),
            ("only FonetiskSokning", U::FOR_FA_SOKARGUMENT, "PersonsokningFraga", with(&[("FonetiskSokning", "JA")])),
            ("one letter before *", U::OGILTIGT_JOKERTECKEN, "FornamnSokArgument", with(&[("FornamnSokArgument", "A*")])),
            ("* alone", U::OGILTIGT_JOKERTECKEN, "NamnSokArgument", with(&[("NamnSokArgument", "Berg *")])),
            ("* first", U::OGILTIGT_JOKERTECKEN, "MellanEfternamnSokArgument", with(&[("MellanEfternamnSokArgument", "*son")])),
            ("* inside a word", U::OGILTIGT_JOKERTECKEN, "UtdelningsadressSokArgument", with(&[anna, ("UtdelningsadressSokArgument", "Stor*gatan")])),
            ("one letter before * in a postort", U::OGILTIGT_JOKERTECKEN, "PostortSokArgument", with(&[anna, ("PostortSokArgument", "L*")])),
            ("no such category", U::OGILTIG_BEHORIGHET, "SlutAnvandarUtokadBehorighet", beh(&["Relationer", "Grund"])),
            ("a category in lower case", U::OGILTIG_BEHORIGHET, "SlutAnvandarUtokadBehorighet", beh(&["relationer"])),
            ("a category twice", U::OGILTIG_BEHORIGHET, "SlutAnvandarUtokadBehorighet", beh(&["Taxering", "Sekretess", "Taxering"])),
            ("five categories", U::OGILTIG_BEHORIGHET, "SlutAnvandarUtokadBehorighet", beh(&["Relationer", "Medborgarskap", "Taxering", "Sekretess", "Relationer"])),
            ("PostNrFrom after PostNrTom", U::OGILTIGT_INTERVALL, "PostNrFrom", with(&[anna, ("PostNrFrom", "11500"), ("PostNrTom", "11400")])),
            ("FodelsedatumFrom after FodelsedatumTom", U::OGILTIGT_INTERVALL, "FodelsedatumFrom", with(&[anna, ("FodelsedatumFrom", "1985-01-02"), ("FodelsedatumTom", "1985-01-01")])),
            ("DistriktKodFrom after DistriktKodTom", U::OGILTIGT_INTERVALL, "DistriktKodFrom", with(&[anna, ("DistriktKodFrom", "218002"), ("DistriktKodTom", "218001")])),
        ]
    }

    #[test]
    fn every_invalid_request_has_its_code_and_names_its_element() {
        for (what, kod, element, xml) in invalid() {
            match parse(&read(&xml)) {
                Ok(f) => panic!("{what}: accepted {f:?}"),
                Err(u) => {
                    assert_eq!(u.kod, kod, "{what}: {}", u.beskrivning);
                    assert!(
                        u.beskrivning.contains(element),
                        "{what}: {} does not name {element}",
                        u.beskrivning
                    );
                }
            }
        }
    }

    /// The valid value elements of `Identifieringsinformation` and their values in [`IDENT`].
    const IDENT_VALUES: [(&str, &str); 4] = [
        ("KundNrSlutkund", "500244"),
        ("UppdragId", "637"),
        ("SlutAnvandarId", "anv-7"),
        ("SlutAnvandarUtokadBehorighet", "Relationer"),
    ];

    /// A valid request with `text` (XML-escaped) in one value element: a search argument
    /// beside `FornamnSokArgument` (`slot` below 18), `IdNummer` (18), or one of
    /// [`IDENT_VALUES`] (19 to 22).
    fn with_value(slot: usize, text: &str) -> String {
        let text = quick_xml::escape::escape(text);
        let anna = args(&[("FornamnSokArgument", "Anna")]);
        match slot.checked_sub(ARGUMENT.len()) {
            None => request(
                IDENT,
                &format!("{anna}{}", args(&[(ARGUMENT[slot].0, &text)])),
            ),
            Some(0) => request(IDENT, &format!("<p:IdNummer>{text}</p:IdNummer>")),
            Some(i) => {
                let (name, value) = IDENT_VALUES[(i - 1) % IDENT_VALUES.len()];
                let ident = format!(
                    "{IDENT}<i:SlutAnvandarUtokadBehorighet>Relationer</i:SlutAnvandarUtokadBehorighet>"
                );
                let (from, to) = (
                    format!(">{value}</i:{name}>"),
                    format!(">{text}</i:{name}>"),
                );
                request(&ident.replacen(&from, &to, 1), &anna)
            }
        }
    }

    proptest::proptest! {
        /// Whatever text a value element holds, the request is read or refused with one of
        /// the codes: the readers index and slice only where the text was checked to allow it.
        #[test]
        fn any_text_in_any_value_is_read_or_refused_with_a_code(
            slot in 0..ARGUMENT.len() + 1 + IDENT_VALUES.len(),
            text in "\\PC{0,24}",
        ) {
            let envelope = format!(
                r#"<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>{}</S:Body></S:Envelope>"#,
                with_value(slot, &text)
            );
            // Text the SOAP layer refuses (too long for it) never reaches the reader.
            if let Ok(op) = operation(envelope.as_bytes(), MAX_ELEMENTS) {
                if let Err(u) = parse(&op) {
                    proptest::prop_assert!((2001..=2006).contains(&u.kod), "{}", u);
                }
            }
        }
    }

    #[test]
    fn the_value_helper_puts_valid_values_where_they_belong() {
        for slot in ARGUMENT.len()..ARGUMENT.len() + 1 + IDENT_VALUES.len() {
            let valid = match slot - ARGUMENT.len() {
                0 => "191212121212",
                i => IDENT_VALUES[i - 1].1,
            };
            assert!(parse(&read(&with_value(slot, valid))).is_ok(), "{slot}");
            assert!(parse(&read(&with_value(slot, ""))).is_err(), "{slot}");
        }
    }

    #[test]
    fn a_refusal_never_repeats_a_value_that_may_be_personal_data() {
        for (xml, value) in [
            (
                request(IDENT, "<p:IdNummer>191212121213</p:IdNummer>"),
                "191212121213",
            ),
            (
                request(IDENT, "<p:IdNummer>19121212121</p:IdNummer>"),
                "19121212121",
            ),
            (
                request(IDENT, &args(&[("FornamnSokArgument", "Zlatana.")])),
                "Zlatana",
            ),
            (
                request(IDENT, &args(&[("FornamnSokArgument", "Zl*atana")])),
                "atana",
            ),
            (
                request(
                    IDENT,
                    &args(&[("Fodelsedatum", "1985-02-30"), ("LanKod", "01")]),
                ),
                "1985",
            ),
            (
                request(
                    &IDENT.replace("anv-7", "Kalle Anka"),
                    "<p:IdNummer>191212121213</p:IdNummer>",
                ),
                "Kalle",
            ),
        ] {
            let u = parse(&read(&xml)).expect_err("refused");
            assert!(!u.beskrivning.contains(value), "{}", u.beskrivning);
        }
    }

    #[test]
    fn a_search_narrows_enough_with_a_name_or_an_address_and_a_place_or_a_birth_date_and_either() {
        let name = ("FornamnSokArgument", "Anna");
        let adress = ("UtdelningsadressSokArgument", "Storgatan 1");
        let day = ("Fodelsedatum", "1985-02-21");
        let year = [
            ("FodelsedatumFrom", "1985-01-01"),
            ("FodelsedatumTom", "1985-12-31"),
        ];
        let leap_year = [
            ("FodelsedatumFrom", "1984-01-01"),
            ("FodelsedatumTom", "1984-12-31"),
        ];
        let too_wide = [
            ("FodelsedatumFrom", "1985-01-01"),
            ("FodelsedatumTom", "1986-01-02"),
        ];
        let places: [&[(&str, &str)]; 6] = [
            &[("PostortSokArgument", "Lund")],
            &[("PostNr", "22100")],
            &[("PostNrFrom", "22100"), ("PostNrTom", "22999")],
            &[("LanKod", "12")],
            &[("KommunKod", "81")],
            &[("DistriktKodFrom", "128101"), ("DistriktKodTom", "128119")],
        ];
        let enough = |list: &[(&str, &str)]| match search(list) {
            Ok(_) => true,
            Err(u) if u.kod == Undantag::FOR_FA_SOKARGUMENT => false,
            Err(u) => panic!("{list:?}: {u}"),
        };
        for list in [
            vec![name],
            vec![("MellanEfternamnSokArgument", "Berg")],
            vec![("NamnSokArgument", "Anna Berg")],
            vec![("FonetiskSokning", "JA"), ("NamnSokArgument", "An*")],
        ] {
            assert!(enough(&list), "a name alone: {list:?}");
        }
        for place in places {
            // In the schema's order: the address and postort, the dates, then the codes.
            fn with(
                first: &[(&'static str, &'static str)],
                last: &[(&'static str, &'static str)],
            ) -> Vec<(&'static str, &'static str)> {
                let mut v = first.to_vec();
                v.extend_from_slice(last);
                v.sort_by_key(|(n, _)| ARGUMENT.iter().position(|a| a.0 == *n));
                v
            }
            assert!(enough(&with(&[adress], place)), "address and {place:?}");
            assert!(enough(&with(&[day], place)), "a day and {place:?}");
            assert!(enough(&with(&year, place)), "a year and {place:?}");
            assert!(
                enough(&with(&leap_year, place)),
                "a leap year and {place:?}"
            );
            assert!(
                !enough(&with(&too_wide, place)),
                "a year and a day, {place:?}"
            );
            assert!(!enough(place), "a place alone: {place:?}");
            assert!(
                !enough(&with(&[("Kon", "MAN")], place)),
                "a place and kön: {place:?}"
            );
        }
        assert!(enough(&[adress, day]), "address and a day");
        assert!(!enough(&[adress]), "an address alone");
        assert!(!enough(&[day]), "a day alone");
        assert!(!enough(&[day, ("Kon", "KVINNA")]), "a day and kön");
        assert!(!enough(&[("Kon", "KVINNA")]), "kön alone");
        assert!(
            enough(&[name, too_wide[0], too_wide[1]]),
            "any range with a name"
        );
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date")
    }

    /// Every record where `arg` matches is every record where `direct` holds, and some do
    /// and some do not (a criterion that selects all or none proves little).
    fn agrees(
        posts: &[Folkbokforingspost],
        arg: &SokArgument,
        direct: impl Fn(&Folkbokforingspost) -> bool,
        what: &str,
    ) {
        let mut hits = 0;
        for post in posts {
            assert_eq!(arg.matches(post), direct(post), "{what}");
            hits += usize::from(direct(post));
            // The store's queries find every record the search matches.
            if arg.matches(post) {
                assert!(
                    arg.store_queries().iter().any(|q| q.matches(post)),
                    "{what}: no store query finds a hit"
                );
            }
        }
        assert!(0 < hits && hits < posts.len(), "{what}: {hits} hits");
    }

    fn folded_words(fields: &[&Option<String>]) -> Vec<String> {
        fields
            .iter()
            .filter_map(|f| f.as_deref())
            .flat_map(search::words)
            .collect()
    }

    fn svenska_adresser(post: &Folkbokforingspost) -> Vec<&crate::model::SvenskAdress> {
        let a = &post.personpost.adresser;
        [&a.folkbokforingsadress, &a.sarskild_postadress]
            .into_iter()
            .flatten()
            .collect()
    }

    #[test]
    fn name_and_address_arguments_match_as_the_record_fields_say() {
        let posts = crate::dev::generate::population(3_000, 1, today());
        let with_name = posts
            .iter()
            .find(|p| {
                let n = &p.personpost.namn;
                n.fornamn.is_some() && n.efternamn.is_some()
            })
            .expect("a named person");
        let n = &with_name.personpost.namn;
        let fornamn = folded_words(&[&n.fornamn])[0].clone();
        let efternamn = folded_words(&[&n.efternamn])[0].clone();
        let prefix: String = efternamn.chars().take(3).collect();
        let namn_of = |p: &Folkbokforingspost| {
            let n = &p.personpost.namn;
            (
                folded_words(&[&n.fornamn]),
                folded_words(&[&n.mellannamn, &n.efternamn]),
            )
        };
        agrees(
            &posts,
            &argument(&[("FornamnSokArgument", &fornamn)]),
            |p| namn_of(p).0.contains(&fornamn),
            "FornamnSokArgument",
        );
        agrees(
            &posts,
            &argument(&[("MellanEfternamnSokArgument", &format!("{prefix}*"))]),
            |p| namn_of(p).1.iter().any(|w| w.starts_with(&prefix)),
            "MellanEfternamnSokArgument with a wildcard",
        );
        agrees(
            &posts,
            &argument(&[("NamnSokArgument", &format!("{efternamn} {fornamn}"))]),
            |p| {
                let (f, e) = namn_of(p);
                let all: Vec<&String> = f.iter().chain(&e).collect();
                all.contains(&&fornamn) && all.contains(&&efternamn)
            },
            "NamnSokArgument in any order",
        );
        agrees(
            &posts,
            &argument(&[("NamnSokArgument", &format!("{prefix}*"))]),
            |p| {
                let (f, e) = namn_of(p);
                f.iter().chain(&e).any(|w| w.starts_with(&prefix))
            },
            "NamnSokArgument, a prefix alone",
        );
        let adressat = posts
            .iter()
            .find_map(|p| {
                svenska_adresser(p)
                    .into_iter()
                    .find_map(|a| a.utdelningsadress2.clone())
            })
            .expect("an address");
        let gata = folded_words(&[&Some(adressat)])[0].clone();
        agrees(
            &posts,
            &argument(&[("UtdelningsadressSokArgument", &gata)]),
            |p| {
                svenska_adresser(p).iter().any(|a| {
                    folded_words(&[&a.care_of, &a.utdelningsadress1, &a.utdelningsadress2])
                        .contains(&gata)
                })
            },
            "UtdelningsadressSokArgument",
        );
        let ort = posts
            .iter()
            .find_map(|p| {
                svenska_adresser(p)
                    .into_iter()
                    .find_map(|a| a.postort.clone())
            })
            .expect("a postort");
        let ort = folded_words(&[&Some(ort)])[0].clone();
        agrees(
            &posts,
            &argument(&[("PostortSokArgument", &ort)]),
            |p| {
                svenska_adresser(p)
                    .iter()
                    .any(|a| folded_words(&[&a.postort]).contains(&ort))
            },
            "PostortSokArgument",
        );
        agrees(
            &posts,
            &argument(&[("Kon", "KVINNA")]),
            |p| !p.pnr().is_male(),
            "Kon",
        );
    }

    #[test]
    fn postnummer_and_birth_date_arguments_match_as_the_record_fields_say() {
        let mut posts = crate::dev::generate::population(3_000, 1, today());
        let postnr = |p: &Folkbokforingspost| -> Vec<u32> {
            svenska_adresser(p)
                .iter()
                .filter_map(|a| a.post_nr.as_deref()?.parse().ok())
                .collect()
        };
        let one = posts
            .iter()
            .find_map(|p| postnr(p).first().copied())
            .expect("a postnummer");
        agrees(
            &posts,
            &argument(&[("PostNr", &one.to_string())]),
            |p| postnr(p).contains(&one),
            "PostNr",
        );
        agrees(
            &posts,
            &argument(&[("PostNrFrom", "20000"), ("PostNrTom", "49999")]),
            |p| postnr(p).iter().any(|n| (20000..=49999).contains(n)),
            "PostNrFrom/Tom",
        );
        // A samordningsnummer and a personnummer born on the range's last day, and one born
        // the day after: the range is of real birth dates, whatever the number adds to the day.
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("a date");
        for (born, samordning) in [
            (date(1985, 2, 28), true),
            (date(1985, 2, 28), false),
            (date(1985, 3, 1), true),
            (date(1985, 1, 15), true),
        ] {
            let mut extra = posts[0].clone();
            extra.personpost.person_id = Pnr::from_parts(born, 123, samordning).expect("a number");
            posts.push(extra);
        }
        let born = |p: &Folkbokforingspost| p.pnr().birth_date().expect("a valid number");
        let within =
            |p: &Folkbokforingspost| (date(1985, 1, 20)..=date(1985, 2, 28)).contains(&born(p));
        agrees(
            &posts,
            &argument(&[
                ("FodelsedatumFrom", "1985-01-20"),
                ("FodelsedatumTom", "1985-02-28"),
            ]),
            within,
            "FodelsedatumFrom/Tom",
        );
        assert!(
            posts.iter().any(|p| within(p)
                && p.pnr().kind() == crate::ids::pnr::PnrKind::Samordningsnummer),
            "a samordningsnummer in the range"
        );
        let day = born(&posts[10]);
        agrees(
            &posts,
            &argument(&[("Fodelsedatum", &day.format("%Y-%m-%d").to_string())]),
            |p| born(p) == day,
            "Fodelsedatum",
        );
        agrees(
            &posts,
            &argument(&[
                ("FodelsedatumFrom", "1950-01-01"),
                ("FodelsedatumTom", "1979-12-31"),
            ]),
            |p| (date(1950, 1, 1)..=date(1979, 12, 31)).contains(&born(p)),
            "a wide FodelsedatumFrom/Tom",
        );
    }

    #[test]
    fn lan_kommun_and_distrikt_arguments_match_as_the_folkbokforing_says() {
        let posts = crate::dev::generate::population(3_000, 1, today());
        let fb = |p: &Folkbokforingspost| p.personpost.folkbokforing.clone();
        let sample = posts
            .iter()
            .filter_map(fb)
            // DistriktKodTYPE has no leading 0 (the generator's codes for län 01–09 have one).
            .find(|f| f.distrikt.as_deref().is_some_and(|d| !d.starts_with('0')))
            .expect("a folkbokföring with a distrikt");
        let (lan, kommun) = (sample.lan_kod.clone(), sample.kommun_kod.clone());
        let distrikt: u32 = sample
            .distrikt
            .as_deref()
            .and_then(|d| d.parse().ok())
            .expect("six digits");
        let distrikt_of = |p: &Folkbokforingspost| {
            fb(p)
                .and_then(|f| f.distrikt)
                .and_then(|d| d.parse::<u32>().ok())
        };
        agrees(
            &posts,
            &argument(&[("LanKod", &lan)]),
            |p| fb(p).is_some_and(|f| f.lan_kod == lan),
            "LanKod",
        );
        agrees(
            &posts,
            &argument(&[("LanKod", &lan), ("KommunKod", &kommun)]),
            |p| fb(p).is_some_and(|f| f.lan_kod == lan && f.kommun_kod == kommun),
            "LanKod and KommunKod",
        );
        agrees(
            &posts,
            &argument(&[("KommunKod", &kommun)]),
            |p| fb(p).is_some_and(|f| f.kommun_kod == kommun),
            "KommunKod in every län",
        );
        agrees(
            &posts,
            &argument(&[("DistriktKod", &distrikt.to_string())]),
            |p| distrikt_of(p) == Some(distrikt),
            "DistriktKod",
        );
        let (from, tom) = (distrikt / 100 * 100, distrikt / 100 * 100 + 99);
        agrees(
            &posts,
            &argument(&[
                ("DistriktKodFrom", &from.to_string()),
                ("DistriktKodTom", &tom.to_string()),
            ]),
            |p| distrikt_of(p).is_some_and(|d| (from..=tom).contains(&d)),
            "DistriktKodFrom/Tom: one kommun's distrikt",
        );
        // Every criterion at once is their conjunction.
        let all = argument(&[
            ("FornamnSokArgument", "an*"),
            ("Kon", "KVINNA"),
            ("LanKod", &lan),
            ("DistriktKodFrom", &from.to_string()),
            ("DistriktKodTom", &tom.to_string()),
        ]);
        for post in &posts {
            let direct = !post.pnr().is_male()
                && fb(post).is_some_and(|f| f.lan_kod == lan)
                && distrikt_of(post).is_some_and(|d| (from..=tom).contains(&d))
                && folded_words(&[&post.personpost.namn.fornamn])
                    .iter()
                    .any(|w| w.starts_with("an"));
            assert_eq!(all.matches(post), direct);
        }
    }
}
