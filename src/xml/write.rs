//! The one XML rendering of `Folkbokforingspost`, shared by load files, SOAP answers and
//! avisering.
//!
//! The element order here is the order `wsdl/epersondata.xsd` fixes (WIRE.md,
//! "Folkbokforingspost"); change both together. A term without a value is left out, never
//! written empty — except in an ändringspost, where an empty element clears that group.

use std::io::Write;

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use crate::access::{Term, TermMask};
use crate::ids::pnr::Pnr;
use crate::model::change::{Group, GroupSet, Posttyp};
use crate::model::{
    Adresser, Avregistrering, Civilstand, Datum, Fodelse, Folkbokforing, Folkbokforingspost,
    HistorikPost, Identitetstyp, Medborgarskap, Namn, NordisktPersonnummer, Personpost, Relation,
    Relationsperson, Samordningsuppgifter, SvenskAdress, Taxering, Uppehallsratt,
};

/// How a record is written.
#[derive(Debug, Clone, Copy)]
pub struct PostStyle {
    /// `Posttyp` attribute (load files only).
    pub posttyp: Option<Posttyp>,
    /// Add `xmlns=""` (load files, whose envelope has a default namespace).
    pub reset_namespace: bool,
    /// For an ändringspost: the groups to write.
    pub present: GroupSet,
    /// The terms the reader may see (`access`); every term in load files.
    pub terms: TermMask,
}

impl PostStyle {
    /// As in SOAP answers: the terms the caller may see, no attributes.
    pub fn answer(terms: TermMask) -> PostStyle {
        PostStyle {
            posttyp: None,
            reset_namespace: false,
            present: GroupSet::ALL,
            terms,
        }
    }
}

struct W<'a, T: Write> {
    w: &'a mut Writer<T>,
}

impl<T: Write> W<'_, T> {
    fn start(&mut self, name: &str) -> std::io::Result<()> {
        self.w.write_event(Event::Start(BytesStart::new(name)))
    }
    fn end(&mut self, name: &str) -> std::io::Result<()> {
        self.w.write_event(Event::End(BytesEnd::new(name)))
    }
    fn empty(&mut self, name: &str) -> std::io::Result<()> {
        self.w.write_event(Event::Empty(BytesStart::new(name)))
    }
    fn text(&mut self, name: &str, value: &str) -> std::io::Result<()> {
        self.start(name)?;
        self.w.write_event(Event::Text(BytesText::new(value)))?;
        self.end(name)
    }
    fn opt(&mut self, name: &str, value: Option<&str>) -> std::io::Result<()> {
        match value {
            Some(v) => self.text(name, v),
            None => Ok(()),
        }
    }
    fn date(&mut self, name: &str, value: Option<Datum>) -> std::io::Result<()> {
        match value {
            Some(d) => self.text(name, &d.to_string()),
            None => Ok(()),
        }
    }
    /// In an ändringspost, the empty element that clears a group without a value; otherwise
    /// nothing.
    fn clear(&mut self, s: Scope, name: &str) -> std::io::Result<()> {
        if s.andring {
            self.empty(name)
        } else {
            Ok(())
        }
    }
    /// A date element, or [`Self::clear`] without one.
    fn date_or_clear(&mut self, s: Scope, name: &str, value: Option<Datum>) -> std::io::Result<()> {
        match value {
            Some(d) => self.text(name, &d.to_string()),
            None => self.clear(s, name),
        }
    }
}

/// What of a record is written: the groups and terms a [`PostStyle`] selects, and whether
/// the record is an ändringspost (an absent group is written empty, to clear it) or a
/// borttag (only the identity number).
#[derive(Clone, Copy)]
struct Scope {
    present: GroupSet,
    terms: TermMask,
    andring: bool,
    borttag: bool,
}

impl Scope {
    /// Whether the record carries group `g`.
    fn has(self, g: Group) -> bool {
        self.present.contains(g) && !self.borttag
    }
    /// Whether the reader may see term `t`.
    fn may(self, t: Term) -> bool {
        self.terms.contains(t)
    }
    /// Whether a part that is one group and one term is written.
    fn part(self, g: Group, t: Term) -> bool {
        self.has(g) && self.may(t)
    }
}

/// Writes one `Folkbokforingspost`: the terms in `style.terms` (the access rules' mask) of the
/// groups in `style.present`.
pub fn write_post<T: Write>(
    writer: &mut Writer<T>,
    post: &Folkbokforingspost,
    style: PostStyle,
) -> std::io::Result<()> {
    let mut root = BytesStart::new("Folkbokforingspost");
    if style.reset_namespace {
        root.push_attribute(("xmlns", ""));
    }
    if let Some(t) = style.posttyp {
        root.push_attribute(("Posttyp", t.code()));
    }
    writer.write_event(Event::Start(root))?;
    let mut w = W { w: writer };
    let s = Scope {
        present: style.present,
        terms: style.terms,
        andring: style.posttyp == Some(Posttyp::Andring),
        borttag: style.posttyp == Some(Posttyp::Borttag),
    };
    if s.may(Term::Arendeuppgift) {
        w.w.write_event(Event::Empty(
            BytesStart::new("Arendeuppgift")
                .with_attributes([("andringstidpunkt", post.andringstidpunkt.as_str())]),
        ))?;
    }
    personpost(&mut w, s, &post.personpost)?;
    if s.part(Group::Skydd, Term::Skydd) {
        skydd(&mut w, s, post)?;
    }
    w.end("Folkbokforingspost")
}

/// `Personpost`: its parts in the order the format fixes, each only if it is carried and
/// the reader may see it.
fn personpost<T: Write>(w: &mut W<'_, T>, s: Scope, p: &Personpost) -> std::io::Result<()> {
    w.start("Personpost")?;
    person_id(w, p)?;
    if s.part(Group::Hanvisning, Term::Hanvisning) {
        hanvisning(w, s, &p.hanvisning)?;
    }
    if s.part(Group::Avregistrering, Term::Avregistrering) {
        avregistrering(w, s, p.avregistrering.as_ref())?;
    }
    if s.part(Group::AntraffadDod, Term::AntraffadDod) {
        w.date_or_clear(s, "AntraffadDodDatum", p.antraffad_dod)?;
    }
    if s.part(Group::Namn, Term::Namn) {
        namn(w, s, &p.namn)?;
    }
    if s.part(Group::Folkbokforing, Term::Folkbokforing) {
        folkbokforing(w, s, p.folkbokforing.as_ref())?;
    }
    if s.has(Group::Adresser) {
        adresser(w, s, &p.adresser)?;
    }
    if s.has(Group::Fodelse) {
        fodelse(w, s, &p.fodelse)?;
    }
    if s.part(Group::Invandring, Term::Invandring) {
        invandring(w, s, p.invandringsdatum)?;
    }
    if s.part(Group::Rostratt, Term::Rostratt) {
        w.date_or_clear(s, "RostrattDatum", p.rostratt_datum)?;
    }
    if s.part(Group::Civilstand, Term::Civilstand) {
        civilstand(w, s, p.civilstand.as_ref())?;
    }
    if s.part(Group::Medborgarskap, Term::Medborgarskap) {
        medborgarskap(w, s, &p.medborgarskap)?;
    }
    if s.part(Group::Relationer, Term::Relationer) {
        relationer(w, s, &p.relationer)?;
    }
    if s.part(Group::Uppehallsratt, Term::Uppehallsratt) {
        uppehallsratt(w, s, p.uppehallsratt.as_ref())?;
    }
    if s.part(Group::NordisktPersonnummer, Term::NordisktPersonnummer) {
        nordiskt_personnummer(w, s, p.nordiskt_personnummer.as_ref())?;
    }
    if !s.borttag && !s.andring && s.may(Term::KonFodelsetid) {
        kon_fodelsetid(w, p)?;
    }
    if s.part(Group::Taxering, Term::Taxering) {
        taxering(w, s, p.taxering.as_ref())?;
    }
    if s.part(Group::Historik, Term::Historik) {
        historik(w, s, &p.historik)?;
    }
    if s.part(Group::Samordning, Term::Samordningsuppgifter) {
        samordning(w, s, p.samordning.as_ref())?;
    }
    w.end("Personpost")
}

/// `PersonId`: the number, in the element its kind calls for.
fn person_id<T: Write>(w: &mut W<'_, T>, p: &Personpost) -> std::io::Result<()> {
    w.start("PersonId")?;
    let id_elem = match p.identitetstyp {
        Identitetstyp::Personnummer => "PersonNr",
        _ => "TilldelatPersonNrSamordningsNr",
    };
    w.text(id_elem, p.person_id.as_str())?;
    w.end("PersonId")
}

/// Every `HanvisningsPersonNr`.
fn hanvisning<T: Write>(w: &mut W<'_, T>, s: Scope, hanvisning: &[Pnr]) -> std::io::Result<()> {
    if hanvisning.is_empty() && s.andring {
        w.empty("HanvisningsPersonNr")?;
    }
    for h in hanvisning {
        w.text("HanvisningsPersonNr", h.as_str())?;
    }
    Ok(())
}

/// `Avregistrering`.
fn avregistrering<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    avregistrering: Option<&Avregistrering>,
) -> std::io::Result<()> {
    match avregistrering {
        Some(a) => {
            w.start("Avregistrering")?;
            w.text("AvregistreringsorsakKod", a.orsak.code())?;
            w.text("Avregistreringsdatum", &a.datum.to_string())?;
            w.date("AvlidenDatum", a.avliden_datum)?;
            w.end("Avregistrering")
        }
        None => w.clear(s, "Avregistrering"),
    }
}

/// `Namn`, if any of its terms has a value.
fn namn<T: Write>(w: &mut W<'_, T>, s: Scope, n: &Namn) -> std::io::Result<()> {
    let any = n.tilltalsnamnsmarkering.is_some()
        || n.fornamn.is_some()
        || n.mellannamn.is_some()
        || n.efternamn.is_some()
        || n.aviseringsnamn.is_some();
    if !any {
        return w.clear(s, "Namn");
    }
    w.start("Namn")?;
    if let Some(t) = n.tilltalsnamnsmarkering {
        w.text("Tilltalsnamnsmarkering", &format!("{t:02}"))?;
    }
    w.opt("Fornamn", n.fornamn.as_deref())?;
    w.opt("Mellannamn", n.mellannamn.as_deref())?;
    w.opt("Efternamn", n.efternamn.as_deref())?;
    w.opt("Aviseringsnamn", n.aviseringsnamn.as_deref())?;
    w.end("Namn")
}

/// `Folkbokforing`.
fn folkbokforing<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    folkbokforing: Option<&Folkbokforing>,
) -> std::io::Result<()> {
    let Some(f) = folkbokforing else {
        return w.clear(s, "Folkbokforing");
    };
    w.start("Folkbokforing")?;
    w.text("Folkbokforingsdatum", &f.folkbokforingsdatum.to_string())?;
    w.text("LanKod", &f.lan_kod)?;
    w.text("KommunKod", &f.kommun_kod)?;
    w.opt("Fastighetsbeteckning", f.fastighetsbeteckning.as_deref())?;
    w.opt("FiktivtNr", f.fiktivt_nr.as_deref())?;
    w.opt("Distrikt", f.distrikt.as_deref())?;
    if f.pa_kommun_skriven {
        w.text("PaKommunSkriven", "J")?;
    }
    w.end("Folkbokforing")
}

/// `Adresser`: each address the reader may see (one term per address).
fn adresser<T: Write>(w: &mut W<'_, T>, s: Scope, a: &Adresser) -> std::io::Result<()> {
    let folkbokforingsadress = a
        .folkbokforingsadress
        .as_ref()
        .filter(|_| s.may(Term::Folkbokforingsadress));
    let sarskild_postadress = a
        .sarskild_postadress
        .as_ref()
        .filter(|_| s.may(Term::SarskildPostadress));
    let utlandsadress = a
        .utlandsadress
        .as_ref()
        .filter(|_| s.may(Term::Utlandsadress));
    let uuid = a.uuid.as_ref().filter(|_| s.may(Term::AdressUuid));
    if folkbokforingsadress.is_none()
        && sarskild_postadress.is_none()
        && utlandsadress.is_none()
        && uuid.is_none()
    {
        return w.clear(s, "Adresser");
    }
    w.start("Adresser")?;
    if let Some(x) = folkbokforingsadress {
        svensk(w, "Folkbokforingsadress", x)?;
    }
    if let Some(x) = sarskild_postadress {
        svensk(w, "SarskildPostadress", x)?;
    }
    if let Some(u) = utlandsadress {
        w.start("Utlandsadress")?;
        w.opt("Utdelningsadress1", u.utdelningsadress1.as_deref())?;
        w.opt("Utdelningsadress2", u.utdelningsadress2.as_deref())?;
        w.opt("Utdelningsadress3", u.utdelningsadress3.as_deref())?;
        w.opt("Land", u.land.as_deref())?;
        w.date("Datum", u.datum)?;
        w.end("Utlandsadress")?;
    }
    if let Some(u) = uuid {
        w.start("UUID")?;
        w.opt("Fastighet", u.fastighet.as_deref())?;
        w.opt("Adress", u.adress.as_deref())?;
        w.opt("Lagenhet", u.lagenhet.as_deref())?;
        w.end("UUID")?;
    }
    w.end("Adresser")
}

/// `Fodelse`: the date, hemort and place abroad the reader may see (one term each).
fn fodelse<T: Write>(w: &mut W<'_, T>, s: Scope, f: &Fodelse) -> std::io::Result<()> {
    let datum = f.fodelsedatum.filter(|_| s.may(Term::Fodelsedatum));
    let hemort = f
        .hemort_sverige
        .as_ref()
        .filter(|_| s.may(Term::Fodelsehemort));
    let utlandet = f
        .ort_utlandet
        .as_ref()
        .filter(|_| s.may(Term::FodelseortUtlandet));
    if datum.is_none() && hemort.is_none() && utlandet.is_none() {
        return w.clear(s, "Fodelse");
    }
    w.start("Fodelse")?;
    w.date("Fodelsedatum", datum)?;
    if let Some(h) = hemort {
        w.start("HemortSverige")?;
        w.text("LanKod", &h.lan_kod)?;
        w.text("ForsamlingKommun", &h.forsamling_kommun)?;
        w.end("HemortSverige")?;
    }
    if let Some(o) = utlandet {
        w.start("OrtUtlandet")?;
        w.text("Fodelseort", &o.fodelseort)?;
        w.text("Fodelseland", &o.fodelseland)?;
        w.end("OrtUtlandet")?;
    }
    w.end("Fodelse")
}

/// `Invandring`: its date.
fn invandring<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    invandringsdatum: Option<Datum>,
) -> std::io::Result<()> {
    let Some(d) = invandringsdatum else {
        return w.clear(s, "Invandring");
    };
    w.start("Invandring")?;
    w.text("Invandringsdatum", &d.to_string())?;
    w.end("Invandring")
}

/// `Civilstand`.
fn civilstand<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    civilstand: Option<&Civilstand>,
) -> std::io::Result<()> {
    let Some(c) = civilstand else {
        return w.clear(s, "Civilstand");
    };
    w.start("Civilstand")?;
    w.text("CivilstandKod", c.kod.code())?;
    w.date("CivilstandDatum", c.datum)?;
    w.end("Civilstand")
}

/// Every `Medborgarskap`.
fn medborgarskap<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    medborgarskap: &[Medborgarskap],
) -> std::io::Result<()> {
    if medborgarskap.is_empty() && s.andring {
        w.empty("Medborgarskap")?;
    }
    for m in medborgarskap {
        w.start("Medborgarskap")?;
        w.text("MedborgarskapslandKod", &m.landkod)?;
        w.date("Medborgarskapsdatum", m.datum)?;
        w.end("Medborgarskap")?;
    }
    Ok(())
}

/// `Relationer`: each `Relation`, by number or by birth date and name.
fn relationer<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    relationer: &[Relation],
) -> std::io::Result<()> {
    if relationer.is_empty() {
        return w.clear(s, "Relationer");
    }
    w.start("Relationer")?;
    for r in relationer {
        w.start("Relation")?;
        w.text("Relationstyp", r.typ.code())?;
        match &r.person {
            Relationsperson::PersonNr(pnr) => w.text("PersonNr", pnr.as_str())?,
            Relationsperson::Uppgifter {
                fodelsedatum,
                fornamn,
                efternamn,
            } => {
                w.text("Fodelsedatum", &fodelsedatum.to_string())?;
                w.opt("Fornamn", fornamn.as_deref())?;
                w.opt("Efternamn", efternamn.as_deref())?;
            }
        }
        w.opt(
            "Avregistreringsorsak",
            r.avregistreringsorsak.map(|k| k.code()),
        )?;
        w.date("Avregistreringsdatum", r.avregistreringsdatum)?;
        w.end("Relation")?;
    }
    w.end("Relationer")
}

/// `Uppehallsratt`.
fn uppehallsratt<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    uppehallsratt: Option<&Uppehallsratt>,
) -> std::io::Result<()> {
    let Some(u) = uppehallsratt else {
        return w.clear(s, "Uppehallsratt");
    };
    w.start("Uppehallsratt")?;
    w.text("Typ", &u.typ)?;
    w.date("Datum", u.datum)?;
    w.end("Uppehallsratt")
}

/// `NordisktPersonnummer`.
fn nordiskt_personnummer<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    nordiskt: Option<&NordisktPersonnummer>,
) -> std::io::Result<()> {
    let Some(n) = nordiskt else {
        return w.clear(s, "NordisktPersonnummer");
    };
    w.start("NordisktPersonnummer")?;
    w.text("Nummer", &n.nummer)?;
    w.text("Landkod", &n.landkod)?;
    w.end("NordisktPersonnummer")
}

/// `Kon` and `Fodelsetid`: derived from the number; part of grund, written with every full
/// record.
fn kon_fodelsetid<T: Write>(w: &mut W<'_, T>, p: &Personpost) -> std::io::Result<()> {
    w.text("Kon", if p.person_id.is_male() { "M" } else { "K" })?;
    let born = p.person_id.birth_date().map(Datum::from_date);
    w.date("Fodelsetid", born)
}

/// `Taxering`, if it has an income or a property.
fn taxering<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    taxering: Option<&Taxering>,
) -> std::io::Result<()> {
    let Some(t) = taxering.filter(|t| t.inkomst.is_some() || !t.fastigheter.is_empty()) else {
        return w.clear(s, "Taxering");
    };
    w.start("Taxering")?;
    if let Some(i) = &t.inkomst {
        w.start("Inkomst")?;
        w.text("Ar", &i.ar.to_string())?;
        w.text("Summa", &i.summa.to_string())?;
        w.end("Inkomst")?;
    }
    for f in &t.fastigheter {
        w.start("Fastighet")?;
        w.text("Beteckning", &f.beteckning)?;
        w.text("Kommun", &f.kommun)?;
        w.end("Fastighet")?;
    }
    w.end("Taxering")
}

/// `Historik`: each earlier `Folkbokforing`.
fn historik<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    historik: &[HistorikPost],
) -> std::io::Result<()> {
    if historik.is_empty() {
        return w.clear(s, "Historik");
    }
    w.start("Historik")?;
    for h in historik {
        w.start("Folkbokforing")?;
        w.text("FolkbokforingstypKod", h.typ.code())?;
        w.text("Folkbokforingsdatum", &h.datum.to_string())?;
        w.opt("LanKod", h.lan_kod.as_deref())?;
        w.opt("KommunKod", h.kommun_kod.as_deref())?;
        w.opt("Fastighetsbeteckning", h.fastighetsbeteckning.as_deref())?;
        w.end("Folkbokforing")?;
    }
    w.end("Historik")
}

/// `Samordningsnummeruppgifter`.
fn samordning<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    samordning: Option<&Samordningsuppgifter>,
) -> std::io::Result<()> {
    let Some(u) = samordning else {
        return w.clear(s, "Samordningsnummeruppgifter");
    };
    w.start("Samordningsnummeruppgifter")?;
    w.text("Identitetsstatus", &u.identitetsstatus)?;
    w.date("IdentitetsstatusDatum", u.identitetsstatus_datum)?;
    w.opt("IdentitetsstatusOrsak", u.identitetsstatus_orsak.as_deref())?;
    w.date("Tilldelningsdatum", u.tilldelningsdatum)?;
    w.date(
        "PreliminartVilandeforklaringsdatum",
        u.preliminart_vilandeforklaringsdatum,
    )?;
    w.date("Fornyelsedatum", u.fornyelsedatum)?;
    w.opt("Identitetsniva", u.identitetsniva.as_deref())?;
    w.date("IdentitetsnivaDatum", u.identitetsniva_datum)?;
    w.end("Samordningsnummeruppgifter")
}

/// `Sekretessmarkering`, `SkyddadFolkbokforing`, `Skyddsdatum`, after `Personpost`. A flag
/// is written only when set, except in an ändringspost, where `N` lifts it.
fn skydd<T: Write>(w: &mut W<'_, T>, s: Scope, post: &Folkbokforingspost) -> std::io::Result<()> {
    let flag = |set: bool| if set { "J" } else { "N" };
    if post.sekretessmarkering || s.andring {
        w.text("Sekretessmarkering", flag(post.sekretessmarkering))?;
    }
    if post.skyddad_folkbokforing || s.andring {
        w.text("SkyddadFolkbokforing", flag(post.skyddad_folkbokforing))?;
    }
    w.date("Skyddsdatum", post.skyddsdatum)
}

fn svensk<T: Write>(w: &mut W<'_, T>, name: &str, a: &SvenskAdress) -> std::io::Result<()> {
    w.start(name)?;
    w.opt("CareOf", a.care_of.as_deref())?;
    w.opt("Utdelningsadress1", a.utdelningsadress1.as_deref())?;
    w.opt("Utdelningsadress2", a.utdelningsadress2.as_deref())?;
    w.opt("PostNr", a.post_nr.as_deref())?;
    w.opt("Postort", a.postort.as_deref())?;
    w.end(name)
}

/// Writes a Swedish address as element `name` (e.g. a föregående folkbokföringsadress).
pub fn write_svensk_adress<T: Write>(
    writer: &mut Writer<T>,
    name: &str,
    a: &SvenskAdress,
) -> std::io::Result<()> {
    svensk(&mut W { w: writer }, name, a)
}
