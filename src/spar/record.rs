//! One person as SPAR writes it: `AviseringPostTYPE` (`komponent/person/AviseringPost-1.2.xsd`
//! and the components it imports), rendered from an [`View`].
//!
//! Owns the mapping from the register's record to SPAR's elements and the one table of which
//! [`Term`] each SPAR element group belongs to ([`Del::term`]). Writes only the terms of the
//! view: what a caller may see was decided by `access`, including for protected persons.
//! Must never: write a value the view's terms do not grant (also not indirectly, as a date
//! or a direction derived from it), write a value that would not validate against SPAR's
//! schema (such a value is left out, never cut or guessed), or put a value into a log line
//! or an error.
//!
//! Where SPAR's schema and the register's model differ:
//! - **Dates of a group** (`DatumFrom`/`DatumTill`, optional in every group): folkreg keeps no
//!   history, so every group is the current one: `DatumTill` is 9999-12-31 (SPAR's mark of the
//!   current post) and `DatumFrom` is the group's own date where the record has one
//!   (folkbokföringsdatum, the utlandsadress' date), else the date of the record's last
//!   change — and that only when the caller may see it ([`Term::Arendeuppgift`]); otherwise
//!   the group has no dates, which SPAR's schema reads as current information too.
//! - **No SPAR element**: civilstånd, medborgarskap countries and dates (only
//!   `SvenskMedborgare` JA/NEJ), födelseort abroad, invandring, rösträtt, uppehållsrätt,
//!   nordiskt personnummer, the address UUIDs, historik, fastighetsbeteckning and fiktivt nummer
//!   of the folkbokföring, identitetsnivå, and relations other than make/maka/partner and
//!   vårdnadshavare (SPAR's `Relationstyp` has only those two) are not written.
//! - **Fastighet** (`fastighetstaxering-1.2`) is not written: SPAR requires a
//!   taxeringsenhetsnummer, a typkod (`FastighetKod`) and each owner's share, and the model
//!   holds only the beteckning and the kommun. Guessing them would write false facts.

use std::io::{self, Write};

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::ns;
use crate::access::{Term, TermMask, View};
use crate::ids::pnr::Pnr;
use crate::model::{
    AvregistreringsorsakKod, Datum, Folkbokforingspost, Identitetstyp, Personpost, Relation,
    Relationsperson, Relationstyp, SvenskAdress,
};

/// `SkyddadePersonuppgifter-1.1.xsd`: the markings and their dates.
const SKYDD: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/skyddadepersonuppgifter-1.1";
/// `Inkomsttaxering-1.2.xsd`: `SummeradInkomst`, `InkomstAr`.
const INKOMST: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/inkomsttaxering-1.2";
/// `namn/Namn-1.0.xsd`: `Namn`.
const NAMN: &str = "http://statenspersonadressregister.se/schema/komponent/person/namn/namn-1.0";
/// `namn/DeladeNamnElement-1.0.xsd`: the name parts (in `Namn` and `Relation`).
const DELADE_NAMN: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/namn/deladenamnelement-1.0";
/// `generellt/DatumTid-1.1.xsd`: `DatumFrom`, `DatumTill`.
const DATUMTID: &str =
    "http://statenspersonadressregister.se/schema/komponent/generellt/datumtid-1.1";
/// `Persondetaljer-1.2.xsd`.
const PERSONDETALJER: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/persondetaljer-1.2";
/// `Avregistrering-1.0.xsd` (in `Persondetaljer` and `Relation`).
const AVREGISTRERING: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/avregistrering-1.0";
/// `Hanvisning-1.0.xsd`.
const HANVISNING: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/hanvisning-1.0";
/// `Samordningsnummer-1.0.xsd`: the `Sn*` elements.
const SAMORDNING: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/samordningsnummer-1.0";
/// `Folkbokforing-1.0.xsd`.
const FOLKBOKFORING: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/folkbokforing-1.0";
/// `adress/Folkbokforingsadress-1.1.xsd`.
const FOLKBOKFORINGSADRESS: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/adress/folkbokforingsadress-1.1";
/// `adress/SarskildPostadress-1.1.xsd`.
const SARSKILD_POSTADRESS: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/adress/sarskildpostadress-1.1";
/// `adress/Utlandsadress-1.1.xsd`.
const UTLANDSADRESS: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/adress/utlandsadress-1.1";
/// `adress/DeladeAdressElement-1.1.xsd`: `SvenskAdress`, `InternationellAdress` and their parts.
const ADRESS: &str =
    "http://statenspersonadressregister.se/schema/komponent/person/adress/deladeadresselement-1.1";
/// `Relation-1.2.xsd`.
const RELATION: &str = "http://statenspersonadressregister.se/schema/komponent/person/relation-1.2";

/// The namespace declarations the element names of [`write_post`] use, as attributes. The
/// caller puts them on an ancestor of the posts, once ([`super::answer`] does so on its root).
pub const XMLNS: [(&str, &str); 16] = [
    ("xmlns:person", ns::PERSON),
    ("xmlns:skydd", SKYDD),
    ("xmlns:ink", INKOMST),
    ("xmlns:namn", NAMN),
    ("xmlns:dn", DELADE_NAMN),
    ("xmlns:dt", DATUMTID),
    ("xmlns:pdt", PERSONDETALJER),
    ("xmlns:avreg", AVREGISTRERING),
    ("xmlns:hanv", HANVISNING),
    ("xmlns:sn", SAMORDNING),
    ("xmlns:fb", FOLKBOKFORING),
    ("xmlns:fba", FOLKBOKFORINGSADRESS),
    ("xmlns:spa", SARSKILD_POSTADRESS),
    ("xmlns:ua", UTLANDSADRESS),
    ("xmlns:adr", ADRESS),
    ("xmlns:rel", RELATION),
];

/// The terms a view must hold to be a SPAR post at all: the schema requires `PersonId` and
/// both markings in every post. [`crate::access::Access::view`] always grants them.
pub const REQUIRED: TermMask = TermMask::of(&[Del::PersonId.term(), Del::Markeringar.term()]);

/// `DatumTill` of the current post (SPAR's `DatumIntervall` documentation).
const DATUM_TILL_AKTUELL: &str = "9999-12-31";

/// The element groups of `AviseringPostTYPE`, each written only when the view holds the
/// [`Term`] that [`Del::term`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Del {
    /// `person:PersonId` (`IdNummer`, `Typ`).
    PersonId,
    /// `skydd:Sekretessmarkering`, `skydd:SkyddadFolkbokforing` and their dates.
    Markeringar,
    /// `person:SenasteAndringSPAR`, and the record's date as a group's `DatumFrom`.
    SenasteAndring,
    /// `ink:SummeradInkomst`, `ink:InkomstAr`.
    Inkomst,
    /// `namn:Namn`.
    Namn,
    /// `Persondetaljer`: `avreg:AvregistreringsorsakKod`, `Avregistreringsdatum`, `Avlidendatum`.
    Avregistrering,
    /// `Persondetaljer`: `avreg:AntraffadDodDatum`.
    AntraffadDod,
    /// `Persondetaljer`: `pdt:Fodelsedatum`.
    Fodelsedatum,
    /// `Persondetaljer`: `pdt:FodelselanKod`, `pdt:Fodelseforsamling` (födelsehemort).
    Fodelsehemort,
    /// `Persondetaljer`: `pdt:Kon`, from the number.
    Kon,
    /// `Persondetaljer`: `pdt:SvenskMedborgare`.
    SvenskMedborgare,
    /// `Persondetaljer`: `hanv:Hanvisning`.
    Hanvisning,
    /// `Persondetaljer`: the `sn:Sn*` elements of a samordningsnummer.
    Samordningsnummer,
    /// `fb:Folkbokforing`.
    Folkbokforing,
    /// `fba:Folkbokforingsadress`.
    Folkbokforingsadress,
    /// `spa:SarskildPostadress`.
    SarskildPostadress,
    /// `ua:Utlandsadress`.
    Utlandsadress,
    /// `rel:Relation`.
    Relation,
}

impl Del {
    #[cfg(test)]
    const ALL: [Del; 18] = [
        Del::PersonId,
        Del::Markeringar,
        Del::SenasteAndring,
        Del::Inkomst,
        Del::Namn,
        Del::Avregistrering,
        Del::AntraffadDod,
        Del::Fodelsedatum,
        Del::Fodelsehemort,
        Del::Kon,
        Del::SvenskMedborgare,
        Del::Hanvisning,
        Del::Samordningsnummer,
        Del::Folkbokforing,
        Del::Folkbokforingsadress,
        Del::SarskildPostadress,
        Del::Utlandsadress,
        Del::Relation,
    ];

    /// THE mapping from SPAR's element groups to the register's terms.
    const fn term(self) -> Term {
        match self {
            Del::PersonId => Term::PersonId,
            Del::Markeringar => Term::Skydd,
            Del::SenasteAndring => Term::Arendeuppgift,
            Del::Inkomst => Term::Taxering,
            Del::Namn => Term::Namn,
            Del::Avregistrering => Term::Avregistrering,
            Del::AntraffadDod => Term::AntraffadDod,
            Del::Fodelsedatum => Term::Fodelsedatum,
            Del::Fodelsehemort => Term::Fodelsehemort,
            Del::Kon => Term::KonFodelsetid,
            Del::SvenskMedborgare => Term::Medborgarskap,
            Del::Hanvisning => Term::Hanvisning,
            Del::Samordningsnummer => Term::Samordningsuppgifter,
            Del::Folkbokforing => Term::Folkbokforing,
            Del::Folkbokforingsadress => Term::Folkbokforingsadress,
            Del::SarskildPostadress => Term::SarskildPostadress,
            Del::Utlandsadress => Term::Utlandsadress,
            Del::Relation => Term::Relationer,
        }
    }
}

/// Writes one post as `element` (e.g. `svar:PersonsokningSvarspost`) of SPAR's
/// `AviseringPostTYPE`, holding only what `view.terms` grants. The prefixes of [`XMLNS`] must
/// be declared on an ancestor.
///
/// A view without the [`REQUIRED`] terms cannot be a valid post without writing what it does
/// not grant: it is refused with [`io::ErrorKind::InvalidInput`] before anything is written.
pub fn write_post<W: Write>(w: &mut Writer<W>, element: &str, view: &View) -> io::Result<()> {
    if !view.terms.covers(REQUIRED) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a SPAR post needs the terms PersonId and Skydd",
        ));
    }
    let post = &view.post;
    let p = &post.personpost;
    let mut cx = Ctx {
        terms: view.terms,
        andrad: None,
    };
    if cx.has(Del::SenasteAndring) {
        cx.andrad = post
            .andringstidpunkt
            .get(..8)
            .and_then(|d| Datum::parse(d).ok())
            .and_then(spar_datum);
    }
    let mut out = Out { w };
    out.start(element)?;
    person_id(&mut out, p)?;
    markeringar(&mut out, post)?;
    if let Some(d) = &cx.andrad {
        out.text("person:SenasteAndringSPAR", d)?;
    }
    if cx.has(Del::Inkomst) {
        inkomst(&mut out, p)?;
    }
    if cx.has(Del::Namn) {
        namn(&mut out, &cx, p)?;
    }
    persondetaljer(&mut out, &cx, p)?;
    folkbokforing(&mut out, &cx, p)?;
    adresser(&mut out, &cx, p)?;
    if cx.has(Del::Relation) {
        for r in &p.relationer {
            relation(&mut out, &cx, r)?;
        }
    }
    out.end(element)
}

/// What of the record the caller may see, and the record's date when it may see that.
struct Ctx {
    terms: TermMask,
    /// The date of the record's last change (`YYYY-MM-DD`), if the caller may see it.
    andrad: Option<String>,
}

impl Ctx {
    fn has(&self, del: Del) -> bool {
        self.terms.contains(del.term())
    }

    /// A group's `DatumFrom`: its own date if complete, else the record's (module doc).
    fn datum_from(&self, own: Option<Datum>) -> Option<String> {
        own.and_then(spar_datum).or_else(|| self.andrad.clone())
    }
}

/// The simple elements of one group in schema order: qualified name and value.
type Leaves = Vec<(&'static str, String)>;

struct Out<'a, W: Write> {
    w: &'a mut Writer<W>,
}

impl<W: Write> Out<'_, W> {
    fn start(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::Start(BytesStart::new(name)))
    }

    fn end(&mut self, name: &str) -> io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }

    fn text(&mut self, name: &str, value: &str) -> io::Result<()> {
        self.start(name)?;
        self.w.write_event(Event::Text(BytesText::new(value)))?;
        self.end(name)
    }

    fn leaves(&mut self, leaves: &[(&'static str, String)]) -> io::Result<()> {
        for (name, value) in leaves {
            self.text(name, value)?;
        }
        Ok(())
    }

    /// `dt:DatumFrom`/`dt:DatumTill` of a current group, or nothing without a from-date.
    fn intervall(&mut self, from: Option<&str>) -> io::Result<()> {
        match from {
            Some(from) => {
                self.text("dt:DatumFrom", from)?;
                self.text("dt:DatumTill", DATUM_TILL_AKTUELL)
            }
            None => Ok(()),
        }
    }
}

/// `person:PersonId`: the number and its kind. A tilldelat personnummer is a personnummer.
fn person_id<W: Write>(out: &mut Out<'_, W>, p: &Personpost) -> io::Result<()> {
    let typ = match p.identitetstyp {
        Identitetstyp::Personnummer | Identitetstyp::TilldelatPersonnummer => "PERSONNUMMER",
        Identitetstyp::Samordningsnummer => "SAMORDNINGSNUMMER",
    };
    out.start("person:PersonId")?;
    out.text("person:IdNummer", p.person_id.as_str())?;
    out.text("person:Typ", typ)?;
    out.end("person:PersonId")
}

/// The two markings (required in every post) and, for a set one, the date the protection
/// was registered. The model keeps one date for both kinds. SPAR's own `sattAvSPAR` (a
/// sekretessmarkering SPAR adds to skyddad folkbokföring) is not imitated: the markings are
/// the register's.
fn markeringar<W: Write>(out: &mut Out<'_, W>, post: &Folkbokforingspost) -> io::Result<()> {
    let datum = post.skyddsdatum.and_then(spar_datum);
    out.text("skydd:Sekretessmarkering", ja_nej(post.sekretessmarkering))?;
    if let Some(d) = datum.as_deref().filter(|_| post.sekretessmarkering) {
        out.text("skydd:SekretessDatum", d)?;
    }
    out.text(
        "skydd:SkyddadFolkbokforing",
        ja_nej(post.skyddad_folkbokforing),
    )?;
    if let Some(d) = datum.as_deref().filter(|_| post.skyddad_folkbokforing) {
        out.text("skydd:SkyddadFolkbokforingDatum", d)?;
    }
    Ok(())
}

/// The highest `SummeradInkomstTYPE` (`[0-9]{1,11}`).
const MAX_INKOMST: i64 = 99_999_999_999;

/// `SummeradInkomst` with its `InkomstAr`, both or neither: a negative sum or a year outside
/// `2[0-9]{3}` has no valid SPAR form and is left out with its pair.
fn inkomst<W: Write>(out: &mut Out<'_, W>, p: &Personpost) -> io::Result<()> {
    let Some(i) = p.taxering.as_ref().and_then(|t| t.inkomst.as_ref()) else {
        return Ok(());
    };
    if !(0..=MAX_INKOMST).contains(&i.summa) || !(2000..=2999).contains(&i.ar) {
        return Ok(());
    }
    out.text("ink:SummeradInkomst", &i.summa.to_string())?;
    out.text("ink:InkomstAr", &i.ar.to_string())
}

/// `namn:Namn`; a part longer than SPAR allows is left out (not cut: a cut name is a wrong
/// one), and so is a tilltalsnamnsmarkering outside 10–99.
fn namn<W: Write>(out: &mut Out<'_, W>, cx: &Ctx, p: &Personpost) -> io::Result<()> {
    let n = &p.namn;
    let mut leaves = Leaves::new();
    push(
        &mut leaves,
        "dn:Aviseringsnamn",
        fits(&n.aviseringsnamn, 36),
    );
    push(&mut leaves, "dn:Fornamn", fits(&n.fornamn, 80));
    if let Some(t) = n.tilltalsnamnsmarkering.filter(|t| (10..=99).contains(t)) {
        leaves.push(("dn:Tilltalsnamn", t.to_string()));
    }
    push(&mut leaves, "dn:Mellannamn", fits(&n.mellannamn, 40));
    push(&mut leaves, "dn:Efternamn", fits(&n.efternamn, 60));
    if leaves.is_empty() {
        return Ok(());
    }
    out.start("namn:Namn")?;
    out.intervall(cx.andrad.as_deref())?;
    out.leaves(&leaves)?;
    out.end("namn:Namn")
}

/// `pdt:Persondetaljer`, if the caller may see any of it. The markings it may repeat are
/// left out: the post carries them already.
fn persondetaljer<W: Write>(out: &mut Out<'_, W>, cx: &Ctx, p: &Personpost) -> io::Result<()> {
    let mut fore = Leaves::new();
    let avreg = p
        .avregistrering
        .as_ref()
        .filter(|_| cx.has(Del::Avregistrering));
    if let Some(a) = avreg {
        fore.push(("avreg:AvregistreringsorsakKod", a.orsak.code().to_owned()));
        // SPAR: Avregistreringsdatum "for every avregistreringsorsak but avliden"; for AV the
        // date of death (none when only the date found dead is known).
        if a.orsak == AvregistreringsorsakKod::AV {
            push(
                &mut fore,
                "avreg:Avlidendatum",
                a.avliden_datum.map(ofullstandigt),
            );
        } else {
            fore.push(("avreg:Avregistreringsdatum", ofullstandigt(a.datum)));
        }
    }
    if cx.has(Del::AntraffadDod) {
        push(
            &mut fore,
            "avreg:AntraffadDodDatum",
            p.antraffad_dod.map(ofullstandigt),
        );
    }
    if cx.has(Del::Fodelsedatum) {
        push(
            &mut fore,
            "pdt:Fodelsedatum",
            p.fodelse.fodelsedatum.and_then(spar_datum),
        );
    }
    if let Some(h) = p
        .fodelse
        .hemort_sverige
        .as_ref()
        .filter(|_| cx.has(Del::Fodelsehemort))
    {
        push(&mut fore, "pdt:FodelselanKod", digits(&h.lan_kod, 2));
        push(
            &mut fore,
            "pdt:Fodelseforsamling",
            fits_str(&h.forsamling_kommun, 30),
        );
    }
    if cx.has(Del::Kon) {
        let kon = if p.person_id.is_male() {
            "MAN"
        } else {
            "KVINNA"
        };
        fore.push(("pdt:Kon", kon.to_owned()));
    }
    if cx.has(Del::SvenskMedborgare) {
        push(&mut fore, "pdt:SvenskMedborgare", svensk_medborgare(p));
    }
    let hanvisning: &[Pnr] = if cx.has(Del::Hanvisning) {
        &p.hanvisning
    } else {
        &[]
    };
    let efter = samordningsnummer(cx, p);
    if fore.is_empty() && hanvisning.is_empty() && efter.is_empty() {
        return Ok(());
    }
    out.start("pdt:Persondetaljer")?;
    out.intervall(cx.andrad.as_deref())?;
    out.leaves(&fore)?;
    let typ = hanvisning_typ(cx, p);
    for h in hanvisning {
        out.start("hanv:Hanvisning")?;
        out.text("person:IdNummer", h.as_str())?;
        if let Some(t) = typ {
            out.text("hanv:Typ", t)?;
        }
        out.end("hanv:Hanvisning")?;
    }
    out.leaves(&efter)?;
    out.end("pdt:Persondetaljer")
}

/// `SvenskMedborgare`: JA with Swedish citizenship; NEJ with only foreign ones or stateless
/// (`XS`); left out when the register knows none, or only "unknown" (`XX`) or "under
/// investigation" (`XU`).
fn svensk_medborgare(p: &Personpost) -> Option<String> {
    let landkoder = || p.medborgarskap.iter().map(|m| m.landkod.as_str());
    if landkoder().any(|l| l == "SE") {
        Some("JA".to_owned())
    } else if landkoder().any(|l| l != "XX" && l != "XU") {
        Some("NEJ".to_owned())
    } else {
        None
    }
}

/// A hänvisning's direction (DOMAIN.md §1): an old number (avregistrerad GN or GS) refers
/// `Till` the new one, a new number `Fran` the old one. Said only when the record has one
/// hänvisning (with more, which is which is not kept) and the caller may see the
/// avregistrering it is read from; else left out, which SPAR reads as "has or had another
/// number".
fn hanvisning_typ(cx: &Ctx, p: &Personpost) -> Option<&'static str> {
    if p.hanvisning.len() != 1 || !cx.has(Del::Avregistrering) {
        return None;
    }
    let gammalt = p.avregistrering.as_ref().is_some_and(|a| {
        matches!(
            a.orsak,
            AvregistreringsorsakKod::GN | AvregistreringsorsakKod::GS
        )
    });
    Some(if gammalt { "Till" } else { "Fran" })
}

/// The `sn:Sn*` elements of a samordningsnummer. The status is the register's word (SPAR's
/// schema has no code list for it); the vilande-orsak and -datum are the status' own when
/// the number is vilandeförklarat; the date of death is the avregistrering's (as Navet's
/// `DatumAvliden`), so it needs that term too.
fn samordningsnummer(cx: &Ctx, p: &Personpost) -> Leaves {
    let mut sn = Leaves::new();
    let Some(u) = p
        .samordning
        .as_ref()
        .filter(|_| cx.has(Del::Samordningsnummer))
    else {
        return sn;
    };
    let vilande = u.identitetsstatus.starts_with("Vilandeförklarat");
    push(
        &mut sn,
        "sn:SnStatus",
        fits_str(&u.identitetsstatus, usize::MAX),
    );
    push(
        &mut sn,
        "sn:SnTilldelningsdatum",
        u.tilldelningsdatum.map(ofullstandigt),
    );
    push(
        &mut sn,
        "sn:SnPreliminartVilandeforklaringsdatum",
        u.preliminart_vilandeforklaringsdatum.map(ofullstandigt),
    );
    push(
        &mut sn,
        "sn:SnFornyelsedatum",
        u.fornyelsedatum.map(ofullstandigt),
    );
    if vilande {
        push(
            &mut sn,
            "sn:SnVilandeorsak",
            fits(&u.identitetsstatus_orsak, usize::MAX),
        );
        push(
            &mut sn,
            "sn:SnVilandeforklaringsdatum",
            u.identitetsstatus_datum.map(ofullstandigt),
        );
    }
    if cx.has(Del::Avregistrering) {
        let avliden = p
            .avregistrering
            .as_ref()
            .filter(|a| a.orsak == AvregistreringsorsakKod::AV)
            .and_then(|a| a.avliden_datum);
        push(&mut sn, "sn:SnAvlidendatum", avliden.map(ofullstandigt));
    }
    sn
}

/// `fb:Folkbokforing`. `Hemvist` says "på kommunen skriven", or "skriven på adressen" when
/// the record names a fastighet; SPAR has no element for the fastighetsbeteckning itself.
fn folkbokforing<W: Write>(out: &mut Out<'_, W>, cx: &Ctx, p: &Personpost) -> io::Result<()> {
    let Some(f) = p
        .folkbokforing
        .as_ref()
        .filter(|_| cx.has(Del::Folkbokforing))
    else {
        return Ok(());
    };
    let mut leaves = Leaves::new();
    push(&mut leaves, "fb:FolkbokfordLanKod", digits(&f.lan_kod, 2));
    push(
        &mut leaves,
        "fb:FolkbokfordKommunKod",
        digits(&f.kommun_kod, 2),
    );
    let hemvist = if f.pa_kommun_skriven {
        Some("På kommunen skriven")
    } else {
        f.fastighetsbeteckning
            .as_ref()
            .map(|_| "Skriven på adressen")
    };
    push(&mut leaves, "fb:Hemvist", hemvist.map(str::to_owned));
    push(
        &mut leaves,
        "fb:Folkbokforingsdatum",
        spar_datum(f.folkbokforingsdatum),
    );
    let distrikt = f
        .distrikt
        .as_deref()
        .and_then(|d| digits(d, 6))
        .filter(|d| !d.starts_with('0'));
    push(&mut leaves, "fb:DistriktKod", distrikt);
    if leaves.is_empty() {
        return Ok(());
    }
    out.start("fb:Folkbokforing")?;
    out.intervall(cx.datum_from(Some(f.folkbokforingsdatum)).as_deref())?;
    out.leaves(&leaves)?;
    out.end("fb:Folkbokforing")
}

/// Folkbokföringsadress and särskild postadress (as `adr:SvenskAdress`), utlandsadress (as
/// `adr:InternationellAdress`), each its own term; one with no valid part is left out.
fn adresser<W: Write>(out: &mut Out<'_, W>, cx: &Ctx, p: &Personpost) -> io::Result<()> {
    let a = &p.adresser;
    if let Some(x) = a
        .folkbokforingsadress
        .as_ref()
        .filter(|_| cx.has(Del::Folkbokforingsadress))
    {
        svensk_adress(out, cx, "fba:Folkbokforingsadress", x)?;
    }
    if let Some(x) = a
        .sarskild_postadress
        .as_ref()
        .filter(|_| cx.has(Del::SarskildPostadress))
    {
        svensk_adress(out, cx, "spa:SarskildPostadress", x)?;
    }
    let Some(u) = a
        .utlandsadress
        .as_ref()
        .filter(|_| cx.has(Del::Utlandsadress))
    else {
        return Ok(());
    };
    let mut leaves = Leaves::new();
    push(
        &mut leaves,
        "adr:Utdelningsadress1",
        fits(&u.utdelningsadress1, 35),
    );
    push(
        &mut leaves,
        "adr:Utdelningsadress2",
        fits(&u.utdelningsadress2, 35),
    );
    push(
        &mut leaves,
        "adr:Utdelningsadress3",
        fits(&u.utdelningsadress3, 35),
    );
    push(&mut leaves, "adr:Land", fits(&u.land, 35));
    if leaves.is_empty() {
        return Ok(());
    }
    out.start("ua:Utlandsadress")?;
    out.start("adr:InternationellAdress")?;
    out.intervall(cx.datum_from(u.datum).as_deref())?;
    out.leaves(&leaves)?;
    out.end("adr:InternationellAdress")?;
    out.end("ua:Utlandsadress")
}

fn svensk_adress<W: Write>(
    out: &mut Out<'_, W>,
    cx: &Ctx,
    element: &str,
    a: &SvenskAdress,
) -> io::Result<()> {
    let mut leaves = Leaves::new();
    push(&mut leaves, "adr:CareOf", fits(&a.care_of, 35));
    push(
        &mut leaves,
        "adr:Utdelningsadress1",
        fits(&a.utdelningsadress1, 35),
    );
    push(
        &mut leaves,
        "adr:Utdelningsadress2",
        fits(&a.utdelningsadress2, 35),
    );
    let post_nr = a
        .post_nr
        .as_deref()
        .and_then(|n| digits(n, 5))
        .filter(|n| !n.starts_with('0'));
    push(&mut leaves, "adr:PostNr", post_nr);
    push(&mut leaves, "adr:Postort", fits(&a.postort, 27));
    if leaves.is_empty() {
        return Ok(());
    }
    out.start(element)?;
    out.start("adr:SvenskAdress")?;
    out.intervall(cx.andrad.as_deref())?;
    out.leaves(&leaves)?;
    out.end("adr:SvenskAdress")?;
    out.end(element)
}

/// SPAR's `Relationstyp` of a register relation. SPAR's answer gives only make/maka/partner
/// and vårdnadshavare (the person's own); vårdnadshavare för, föräldrar and barn have no
/// SPAR code and are left out.
fn relationstyp(typ: Relationstyp) -> Option<&'static str> {
    match typ {
        Relationstyp::M => Some("MAKE/MAKA/REGISTRERAD PARTNER"),
        Relationstyp::V => Some("VÅRDNADSHAVARE"),
        Relationstyp::VF
        | Relationstyp::MO
        | Relationstyp::FA
        | Relationstyp::F
        | Relationstyp::B => None,
    }
}

/// `rel:Relation`: by number, or by name and birth date (`Fodelsetid`) for one who never had
/// a number; the related person's avregistrering, with the date of death for AV.
fn relation<W: Write>(out: &mut Out<'_, W>, cx: &Ctx, r: &Relation) -> io::Result<()> {
    let Some(typ) = relationstyp(r.typ) else {
        return Ok(());
    };
    out.start("rel:Relation")?;
    out.intervall(cx.andrad.as_deref())?;
    out.text("rel:Relationstyp", typ)?;
    match &r.person {
        Relationsperson::PersonNr(pnr) => out.text("person:IdNummer", pnr.as_str())?,
        Relationsperson::Uppgifter {
            fodelsedatum,
            fornamn,
            efternamn,
        } => {
            let mut leaves = Leaves::new();
            push(&mut leaves, "dn:Fornamn", fits(fornamn, 80));
            push(&mut leaves, "dn:Efternamn", fits(efternamn, 60));
            push(&mut leaves, "rel:Fodelsetid", spar_datum(*fodelsedatum));
            out.leaves(&leaves)?;
        }
    }
    if let Some(kod) = r.avregistreringsorsak {
        out.text("avreg:AvregistreringsorsakKod", kod.code())?;
        if let Some(d) = r.avregistreringsdatum {
            let name = if kod == AvregistreringsorsakKod::AV {
                "avreg:Avlidendatum"
            } else {
                "avreg:Avregistreringsdatum"
            };
            out.text(name, &ofullstandigt(d))?;
        }
    }
    out.end("rel:Relation")
}

fn push(leaves: &mut Leaves, name: &'static str, value: Option<String>) {
    if let Some(v) = value {
        leaves.push((name, v));
    }
}

fn ja_nej(set: bool) -> &'static str {
    if set {
        "JA"
    } else {
        "NEJ"
    }
}

/// `value` when SPAR's schema takes it: 1 to `max` characters (the schema counts characters),
/// each one XML 1.0 can carry. Anything else is left out, never cut.
fn fits(value: &Option<String>, max: usize) -> Option<String> {
    value.as_deref().and_then(|v| fits_str(v, max))
}

fn fits_str(value: &str, max: usize) -> Option<String> {
    let n = value.chars().count();
    ((1..=max).contains(&n) && value.chars().all(xml_char)).then(|| value.to_owned())
}

/// XML 1.0's `Char` production.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `value` if it is exactly `n` ASCII digits.
fn digits(value: &str, n: usize) -> Option<String> {
    (value.len() == n && value.bytes().all(|b| b.is_ascii_digit())).then(|| value.to_owned())
}

/// `SparDatumTYPE` (`xs:date`): a complete date as `YYYY-MM-DD`; none for a date with an
/// unknown month or day.
fn spar_datum(d: Datum) -> Option<String> {
    let v = d.as_u32();
    d.to_date()
        .filter(|_| v / 10000 >= 1)
        .map(|_| format!("{:04}-{:02}-{:02}", v / 10000, v / 100 % 100, v % 100))
}

/// `SparOfullstandigtDatumTYPE`: eight digits as `YYYY-MM-DD`, zeros kept (`1947-00-00`).
fn ofullstandigt(d: Datum) -> String {
    let v = d.as_u32();
    format!("{:04}-{:02}-{:02}", v / 10000, v / 100 % 100, v % 100)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::access::{Access, Category, TERM_TABLE};
    use crate::model::{Inkomst, Samordningsuppgifter, Taxering};

    fn xml(view: &View) -> String {
        let mut w = Writer::new(Vec::new());
        write_post(&mut w, "svar:PersonsokningSvarspost", view).expect("written");
        String::from_utf8(w.into_inner()).expect("utf-8")
    }

    /// The element that shows a group was written, in every record of [`rich`].
    fn marker(del: Del) -> &'static str {
        match del {
            Del::PersonId => "<person:PersonId>",
            Del::Markeringar => "<skydd:Sekretessmarkering>",
            Del::SenasteAndring => "<person:SenasteAndringSPAR>",
            Del::Inkomst => "<ink:SummeradInkomst>",
            Del::Namn => "<namn:Namn>",
            Del::Avregistrering => "<avreg:AvregistreringsorsakKod>",
            Del::AntraffadDod => "<avreg:AntraffadDodDatum>",
            Del::Fodelsedatum => "<pdt:Fodelsedatum>",
            Del::Fodelsehemort => "<pdt:FodelselanKod>",
            Del::Kon => "<pdt:Kon>",
            Del::SvenskMedborgare => "<pdt:SvenskMedborgare>",
            Del::Hanvisning => "<hanv:Hanvisning>",
            Del::Samordningsnummer => "<sn:SnStatus>",
            Del::Folkbokforing => "<fb:Folkbokforing>",
            Del::Folkbokforingsadress => "<fba:Folkbokforingsadress>",
            Del::SarskildPostadress => "<spa:SarskildPostadress>",
            Del::Utlandsadress => "<ua:Utlandsadress>",
            Del::Relation => "<rel:Relation>",
        }
    }

    /// A record with a value for every group SPAR has.
    pub(crate) fn rich() -> Folkbokforingspost {
        let mut post = crate::loadfile::reader::tests::rich();
        let pp = &mut post.personpost;
        pp.taxering = Some(Taxering {
            inkomst: Some(Inkomst {
                ar: 2025,
                summa: 412_000,
            }),
            fastigheter: Vec::new(),
        });
        pp.samordning = Some(Samordningsuppgifter {
            identitetsstatus: "Vilandeförklarat".into(),
            identitetsstatus_datum: Datum::parse("20230101").ok(),
            identitetsstatus_orsak: Some("Tidsfrist".into()),
            tilldelningsdatum: Datum::parse("20150101").ok(),
            ..Samordningsuppgifter::default()
        });
        let other = Pnr::parse("201212121212").expect("pnr");
        pp.relationer.push(Relation {
            typ: Relationstyp::M,
            person: Relationsperson::PersonNr(other),
            avregistreringsorsak: None,
            avregistreringsdatum: None,
        });
        post
    }

    #[test]
    fn every_group_maps_to_a_term_of_the_access_table() {
        for del in Del::ALL {
            assert!(TERM_TABLE.iter().any(|(t, _)| *t == del.term()), "{del:?}");
        }
    }

    /// Table-driven: without its term, a group is gone, and every other group is still there.
    #[test]
    fn each_group_is_written_exactly_when_its_term_is_granted() {
        let post = rich();
        let all = xml(&View::whole(post.clone()));
        for del in Del::ALL {
            assert!(all.contains(marker(del)), "{del:?} missing with every term");
        }
        for del in Del::ALL {
            if REQUIRED.contains(del.term()) {
                continue;
            }
            let terms = TermMask::ALL.without(TermMask::of(&[del.term()]));
            let text = xml(&View {
                post: post.clone(),
                terms,
            });
            assert!(
                !text.contains(marker(del)),
                "{del:?} written without its term"
            );
            for other in Del::ALL.into_iter().filter(|o| o.term() != del.term()) {
                assert!(text.contains(marker(other)), "{other:?} lost with {del:?}");
            }
        }
    }

    #[test]
    fn a_view_without_the_required_terms_is_refused_before_anything_is_written() {
        let terms = TermMask::ALL.without(TermMask::of(&[Term::Skydd]));
        let mut w = Writer::new(Vec::new());
        let err = write_post(
            &mut w,
            "p",
            &View {
                post: rich(),
                terms,
            },
        )
        .expect_err("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(w.into_inner().is_empty());
    }

    #[test]
    fn the_record_maps_to_spars_codes_and_forms() {
        let text = xml(&View::whole(rich()));
        for expected in [
            "<person:PersonId><person:IdNummer>198602212394</person:IdNummer><person:Typ>PERSONNUMMER</person:Typ></person:PersonId>",
            "<skydd:Sekretessmarkering>JA</skydd:Sekretessmarkering><skydd:SekretessDatum>2022-01-01</skydd:SekretessDatum><skydd:SkyddadFolkbokforing>NEJ</skydd:SkyddadFolkbokforing><person:SenasteAndringSPAR>",
            "<person:SenasteAndringSPAR>2026-11-20</person:SenasteAndringSPAR>",
            "<ink:SummeradInkomst>412000</ink:SummeradInkomst><ink:InkomstAr>2025</ink:InkomstAr>",
            "<namn:Namn><dt:DatumFrom>2026-11-20</dt:DatumFrom><dt:DatumTill>9999-12-31</dt:DatumTill><dn:Aviseringsnamn>",
            "<dn:Tilltalsnamn>10</dn:Tilltalsnamn><dn:Mellannamn>Von &amp; &lt;Zoë&gt;</dn:Mellannamn>",
            // AV found dead: the date found, no date of death, no Avregistreringsdatum.
            "<avreg:AvregistreringsorsakKod>AV</avreg:AvregistreringsorsakKod><avreg:AntraffadDodDatum>2024-12-30</avreg:AntraffadDodDatum>",
            "<pdt:Fodelsedatum>1986-02-21</pdt:Fodelsedatum><pdt:FodelselanKod>01</pdt:FodelselanKod><pdt:Fodelseforsamling>Katarina</pdt:Fodelseforsamling><pdt:Kon>MAN</pdt:Kon><pdt:SvenskMedborgare>NEJ</pdt:SvenskMedborgare>",
            // Not an old number: the hänvisning is to the old one.
            "<hanv:Hanvisning><person:IdNummer>201212121212</person:IdNummer><hanv:Typ>Fran</hanv:Typ></hanv:Hanvisning>",
            "<sn:SnStatus>Vilandeförklarat</sn:SnStatus><sn:SnTilldelningsdatum>2015-01-01</sn:SnTilldelningsdatum><sn:SnVilandeorsak>Tidsfrist</sn:SnVilandeorsak><sn:SnVilandeforklaringsdatum>2023-01-01</sn:SnVilandeforklaringsdatum>",
            "<fb:Folkbokforing><dt:DatumFrom>2010-03-01</dt:DatumFrom><dt:DatumTill>9999-12-31</dt:DatumTill><fb:FolkbokfordLanKod>01</fb:FolkbokfordLanKod><fb:FolkbokfordKommunKod>80</fb:FolkbokfordKommunKod><fb:Hemvist>Skriven på adressen</fb:Hemvist><fb:Folkbokforingsdatum>2010-03-01</fb:Folkbokforingsdatum><fb:DistriktKod>102011</fb:DistriktKod></fb:Folkbokforing>",
            "<adr:CareOf>c/o &quot;Berg&quot;</adr:CareOf>",
            "<ua:Utlandsadress><adr:InternationellAdress><dt:DatumFrom>2020-01-01</dt:DatumFrom>",
            "<rel:Relation><dt:DatumFrom>2026-11-20</dt:DatumFrom><dt:DatumTill>9999-12-31</dt:DatumTill><rel:Relationstyp>MAKE/MAKA/REGISTRERAD PARTNER</rel:Relationstyp><person:IdNummer>201212121212</person:IdNummer></rel:Relation>",
        ] {
            assert!(text.contains(expected), "{expected}\nnot in\n{text}");
        }
        // Mor and far (one without a number) have no SPAR relation type.
        assert_eq!(text.matches("<rel:Relation>").count(), 1, "{text}");
        for absent in ["Avregistreringsdatum", "Fastighet", "SnAvlidendatum"] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
    }

    #[test]
    fn values_spar_cannot_take_are_left_out_not_cut() {
        let mut post = rich();
        let pp = &mut post.personpost;
        pp.namn.fornamn = Some("Å".repeat(81));
        pp.namn.efternamn = Some("Ö".repeat(60));
        pp.namn.tilltalsnamnsmarkering = Some(5);
        pp.namn.aviseringsnamn = Some(String::new());
        if let Some(t) = pp.taxering.as_mut().and_then(|t| t.inkomst.as_mut()) {
            t.summa = -12;
        }
        if let Some(f) = pp.folkbokforing.as_mut() {
            f.distrikt = Some("012345".into());
            f.folkbokforingsdatum = Datum::parse("20100300").expect("date");
        }
        if let Some(a) = pp.adresser.folkbokforingsadress.as_mut() {
            a.post_nr = Some("1164".into());
            a.postort = Some("S".repeat(28));
        }
        let text = xml(&View::whole(post));
        for absent in [
            "<dn:Fornamn>",
            "<dn:Tilltalsnamn>",
            "<dn:Aviseringsnamn>",
            "<ink:",
            "<fb:DistriktKod>",
            "<fb:Folkbokforingsdatum>",
            "<adr:PostNr>1164<",
            "<adr:Postort>SSS",
        ] {
            assert!(!text.contains(absent), "{absent} in {text}");
        }
        // Exactly at the limit is kept; an incomplete folkbokföringsdatum gives way to the
        // record's date as DatumFrom.
        assert!(text.contains(&format!("<dn:Efternamn>{}</dn:Efternamn>", "Ö".repeat(60))));
        assert!(text.contains("<fb:Folkbokforing><dt:DatumFrom>2026-11-20</dt:DatumFrom>"));
    }

    #[test]
    fn an_old_number_refers_to_the_new_one_and_several_hanvisningar_have_no_direction() {
        let mut post = rich();
        post.personpost.avregistrering = Some(crate::model::Avregistrering {
            orsak: AvregistreringsorsakKod::GN,
            datum: Datum::parse("20200101").expect("date"),
            avliden_datum: None,
        });
        let text = xml(&View::whole(post.clone()));
        assert!(text.contains("<hanv:Typ>Till</hanv:Typ>"), "{text}");
        assert!(
            text.contains("<avreg:Avregistreringsdatum>2020-01-01<"),
            "{text}"
        );
        // The direction is read from the avregistrering: not said without that term.
        let terms = TermMask::ALL.without(TermMask::of(&[Term::Avregistrering]));
        let text = xml(&View {
            post: post.clone(),
            terms,
        });
        assert!(text.contains("<hanv:Hanvisning>") && !text.contains("<hanv:Typ>"));
        post.personpost
            .hanvisning
            .push(Pnr::parse("194802280018").expect("pnr"));
        let text = xml(&View::whole(post));
        assert_eq!(text.matches("<hanv:Hanvisning>").count(), 2);
        assert!(!text.contains("<hanv:Typ>"), "{text}");
    }

    #[test]
    fn protection_dates_go_with_their_marking_and_the_change_date_only_with_its_term() {
        let mut post = rich();
        post.sekretessmarkering = false;
        post.skyddad_folkbokforing = true;
        post.skyddsdatum = Datum::parse("20210304").ok();
        let full = xml(&View::whole(post.clone()));
        assert!(full.contains(
            "<skydd:Sekretessmarkering>NEJ</skydd:Sekretessmarkering><skydd:SkyddadFolkbokforing>JA</skydd:SkyddadFolkbokforing><skydd:SkyddadFolkbokforingDatum>2021-03-04</skydd:SkyddadFolkbokforingDatum>"
        ), "{full}");
        // The minimal answer without sekretess: no change time, not even as a DatumFrom.
        let view = Access::new([Category::Grund], []).view(post).expect("seen");
        let minimal = xml(&view);
        assert!(!minimal.contains("2026-11-20"), "{minimal}");
        assert!(!minimal.contains("<dt:"), "{minimal}");
        assert!(minimal.contains("<pdt:Persondetaljer><avreg:AvregistreringsorsakKod>AV"));
    }
}
