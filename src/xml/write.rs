//! The one XML rendering of `Folkbokforingspost`, shared by load files, SOAP answers and
//! avisering.
//!
//! What is written where is [`shape::RECORD`] (Navet's `FolkbokforingspostTYPE`, 7_2_28): every
//! part is gated by the term the shape gives it, and the tests check the output against the
//! shape. A term without a value is left out — except in an ändringspost of a delivery file,
//! which carries exactly the terms it changes: a changed term without a value is written as
//! Navet clears one, an empty element (complex) or `xsi:nil="true"` (text), both valid
//! against Navet's schema. What a record in a file does is said by its `Arendeuppgift`
//! (`@totalpost`, `Arendetyp` `BORTTAG`); a flyttsignal is Navet's län `99`.

use std::io::Write;

use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::shape::{self, El, Wire};
use crate::access::{Term, TermMask};
use crate::ids::pnr::Pnr;
use crate::model::change::Posttyp;
use crate::model::{
    Datum, Fodelse, Folkbokforing, Folkbokforingspost, HistorikPost, Identitetstyp, Namn,
    Personpost, Relation, Relationsperson, SvenskAdress, Taxering,
};

/// How a record is written.
#[derive(Debug, Clone, Copy)]
pub struct PostStyle {
    /// Set in delivery files (`Navetavisering`): what the record does, said by its
    /// `Arendeuppgift`.
    pub posttyp: Option<Posttyp>,
    /// For an ändringspost: the terms it carries (every term for the others).
    pub present: TermMask,
    /// The terms the reader may see (`access`); every term in load files.
    pub terms: TermMask,
    /// Whether the terms folkreg keeps that Navet's schema does not have ([`Wire::File`]) are
    /// written: only in files made for folkreg's own loads on request, never on Navet's wire.
    pub extensions: bool,
}

impl PostStyle {
    /// As in SOAP answers: the terms the caller may see, no attributes.
    pub fn answer(terms: TermMask) -> PostStyle {
        PostStyle {
            posttyp: None,
            present: TermMask::ALL,
            terms,
            extensions: false,
        }
    }

    /// As in a delivery file: what the record does, the terms it carries (an ändringspost's
    /// changed terms, every term else) and those the receiver may see.
    pub fn file(posttyp: Posttyp, present: TermMask, terms: TermMask) -> PostStyle {
        PostStyle {
            posttyp: Some(posttyp),
            present,
            terms,
            extensions: false,
        }
    }
}

/// The XML Schema instance namespace, for `xsi:nil`.
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

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
    /// A cleared term's element: empty if it has children, `xsi:nil="true"` if it is text.
    fn cleared(&mut self, el: &El) -> std::io::Result<()> {
        let mut e = BytesStart::new(el.name);
        if el.kids.is_empty() {
            e.push_attribute(("xsi:nil", "true"));
        }
        self.w.write_event(Event::Empty(e))
    }
}

/// What of a record is written: the groups and terms a [`PostStyle`] selects, whether
/// folkreg's own load-file terms are written, and whether the record is a borttag (only the
/// identity number).
#[derive(Clone, Copy)]
struct Scope {
    present: TermMask,
    terms: TermMask,
    files: bool,
    borttag: bool,
    andring: bool,
}

impl Scope {
    /// Whether element `el` (a part of [`shape::RECORD`]) is written: it may appear here, the
    /// record carries its term and the reader may see it.
    fn writes(self, el: &El) -> bool {
        (self.files || el.wire == Wire::Navet)
            && el
                .term
                .is_none_or(|t| self.present.contains(t) && !self.borttag && self.terms.contains(t))
    }

    /// Whether `el`, having no value, is written cleared: an ändringspost carries its term.
    fn clears(self, el: &El) -> bool {
        self.andring && el.term.is_some() && self.writes(el)
    }
}

/// Writes one `Folkbokforingspost` as [`shape::RECORD`] describes it: the terms in
/// `style.terms` (the access rules' mask) of the groups in `style.present`.
pub fn write_post<T: Write>(
    writer: &mut Writer<T>,
    post: &Folkbokforingspost,
    style: PostStyle,
) -> std::io::Result<()> {
    let mut root = BytesStart::new(shape::RECORD.name);
    let andring = style.posttyp == Some(Posttyp::Andring);
    if andring {
        root.push_attribute(("xmlns:xsi", XSI_NS));
    }
    writer.write_event(Event::Start(root))?;
    let mut w = W { w: writer };
    let flyttsignal = style.posttyp == Some(Posttyp::Flyttsignal);
    let s = Scope {
        present: style.present,
        terms: style.terms,
        files: style.extensions,
        borttag: matches!(style.posttyp, Some(Posttyp::Borttag | Posttyp::Flyttsignal)),
        andring,
    };
    let andring = andring || flyttsignal;
    let flag = |set: bool| if set { "J" } else { "N" };
    // A marking is written when set; in a change, `N` lifts it.
    // A flyttsignal carries the marking it is sent for (Navet 9.6.2).
    if (s.writes(&shape::SEKRETESSMARKERING) || flyttsignal) && (post.sekretessmarkering || andring)
    {
        w.text(
            shape::SEKRETESSMARKERING.name,
            flag(post.sekretessmarkering),
        )?;
    }
    if (s.writes(&shape::SKYDDAD_FOLKBOKFORING) || flyttsignal)
        && (post.skyddad_folkbokforing || andring)
    {
        w.text(
            shape::SKYDDAD_FOLKBOKFORING.name,
            flag(post.skyddad_folkbokforing),
        )?;
    }
    if s.terms.contains(Term::Arendeuppgift) || style.posttyp.is_some() {
        let mut e = BytesStart::new(shape::ARENDEUPPGIFT.name)
            .with_attributes([("andringstidpunkt", post.andringstidpunkt.as_str())]);
        if let Some(t) = style.posttyp {
            e.push_attribute(("totalpost", if t == Posttyp::Total { "J" } else { "N" }));
        }
        if style.posttyp == Some(Posttyp::Borttag) {
            w.w.write_event(Event::Start(e))?;
            w.text("Arendetyp", super::read::BORTTAG)?;
            w.end(shape::ARENDEUPPGIFT.name)?;
        } else {
            w.w.write_event(Event::Empty(e))?;
        }
    }
    personpost(&mut w, s, &post.personpost, flyttsignal)?;
    if s.writes(&shape::HISTORIK) && !post.personpost.historik.is_empty() {
        historik(&mut w, &post.personpost.historik)?;
    } else if s.clears(&shape::HISTORIK) {
        w.cleared(&shape::HISTORIK)?;
    }
    if s.writes(&shape::SKYDDSDATUM) {
        w.date(shape::SKYDDSDATUM.name, post.skyddsdatum)?;
    }
    w.end(shape::RECORD.name)
}

/// `Personpost`: its parts in the order of [`shape::PERSONPOST`], each only if it has a value,
/// is carried and the reader may see it.
fn personpost<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    p: &Personpost,
    flyttsignal: bool,
) -> std::io::Result<()> {
    w.start(shape::PERSONPOST.name)?;
    person_id(w, s, p)?;
    if s.writes(&shape::HANVISNINGS_PERSON_NR) {
        if p.hanvisning.is_empty() && s.andring {
            w.cleared(&shape::HANVISNINGS_PERSON_NR)?;
        }
        hanvisning(w, &p.hanvisning)?;
    }
    avregistrering(w, s, p)?;
    if s.writes(&shape::FODELSEDATUM) {
        match p.fodelse.fodelsedatum {
            Some(d) => w.text(shape::FODELSEDATUM.name, &d.to_string())?,
            None if s.andring => w.cleared(&shape::FODELSEDATUM)?,
            None => {}
        }
    }
    if s.writes(&shape::NAMN) {
        if p.namn == Namn::default() && s.andring {
            w.cleared(&shape::NAMN)?;
        }
        namn(w, shape::NAMN.name, &p.namn)?;
    }
    if flyttsignal {
        // Navet 9.6.2: the number, the marking and län 99, nothing of where.
        w.start(shape::FOLKBOKFORING.name)?;
        w.text("LanKod", "99")?;
        w.end(shape::FOLKBOKFORING.name)?;
    } else if s.writes(&shape::FOLKBOKFORING) {
        match &p.folkbokforing {
            Some(f) => folkbokforing(w, s, f)?,
            None if s.andring => w.cleared(&shape::FOLKBOKFORING)?,
            None => {}
        }
    }
    adresser(w, s, p)?;
    if s.writes(&shape::CIVILSTAND) {
        match &p.civilstand {
            Some(c) => {
                w.start(shape::CIVILSTAND.name)?;
                w.text("CivilstandKod", c.kod.code())?;
                w.date("Civilstandsdatum", c.datum)?;
                w.end(shape::CIVILSTAND.name)?;
            }
            None if s.andring => w.cleared(&shape::CIVILSTAND)?,
            None => {}
        }
    }
    fodelse(w, s, &p.fodelse)?;
    invandring(w, s, p)?;
    if s.writes(&shape::RELATIONER) {
        if !p.relationer.is_empty() {
            relationer(w, &p.relationer)?;
        } else if s.andring {
            w.cleared(&shape::RELATIONER)?;
        }
    }
    if s.writes(&shape::MEDBORGARSKAP) {
        if p.medborgarskap.is_empty() && s.andring {
            w.cleared(&shape::MEDBORGARSKAP)?;
        }
        for m in &p.medborgarskap {
            w.start(shape::MEDBORGARSKAP.name)?;
            w.text("MedborgarskapslandKod", &m.landkod)?;
            w.date("Medborgarskapsdatum", m.datum)?;
            w.end(shape::MEDBORGARSKAP.name)?;
        }
    }
    if s.writes(&shape::SAMORDNINGSNUMMERUPPGIFTER) {
        samordning(w, s, p)?;
    }
    if s.writes(&shape::TAXERING) {
        taxering(w, s, p.taxering.as_ref())?;
    }
    w.end(shape::PERSONPOST.name)
}

/// `PersonId`: the number, in the element its kind calls for, and a samordningsnummer's
/// identity status and level.
fn person_id<T: Write>(w: &mut W<'_, T>, s: Scope, p: &Personpost) -> std::io::Result<()> {
    w.start(shape::PERSON_ID.name)?;
    let id_elem = match p.identitetstyp {
        Identitetstyp::Personnummer => "PersonNr",
        _ => "TilldelatPersonNrSamordningsNr",
    };
    w.text(id_elem, p.person_id.as_str())?;
    let el = &shape::IDENTITETSSTATUS_ELEMENT;
    if let Some(u) = &p.samordning {
        if s.writes(el) {
            if let Some(varde) = shape::code_of(&shape::IDENTITETSSTATUS, &u.identitetsstatus) {
                w.start(el.name)?;
                w.text("IdentitetsstatusVarde", varde)?;
                w.date("IdentitetsstatusDatum", u.identitetsstatus_datum)?;
                w.opt(
                    "IdentitetsstatusOrsak",
                    u.identitetsstatus_orsak
                        .as_deref()
                        .and_then(|o| shape::code_of(&shape::IDENTITETSSTATUS_ORSAK, o)),
                )?;
                w.end(el.name)?;
            }
            w.opt(
                "Identitetsniva",
                u.identitetsniva
                    .as_deref()
                    .and_then(|n| shape::code_of(&shape::IDENTITETSNIVA, n)),
            )?;
            w.date("Identitetsnivadatum", u.identitetsniva_datum)?;
        }
    }
    w.end(shape::PERSON_ID.name)
}

/// The first hänvisning as `HanvisningsPersonNr`; all of them in `Hanvisningar` when there
/// is more than one.
fn hanvisning<T: Write>(w: &mut W<'_, T>, hanvisning: &[Pnr]) -> std::io::Result<()> {
    let Some(first) = hanvisning.first() else {
        return Ok(());
    };
    w.text(shape::HANVISNINGS_PERSON_NR.name, first.as_str())?;
    if hanvisning.len() > 1 {
        w.start(shape::HANVISNINGAR.name)?;
        for h in hanvisning {
            w.start("Hanvisning")?;
            w.text("HanvisningsPersonNr", h.as_str())?;
            w.end("Hanvisning")?;
        }
        w.end(shape::HANVISNINGAR.name)?;
    }
    Ok(())
}

/// `Avregistrering`: code and date, and the date a person was found dead (a term of its own).
fn avregistrering<T: Write>(w: &mut W<'_, T>, s: Scope, p: &Personpost) -> std::io::Result<()> {
    let a = p
        .avregistrering
        .as_ref()
        .filter(|_| s.writes(&shape::AVREGISTRERING));
    let antraffad = p.antraffad_dod.filter(|_| s.writes(&shape::ANTRAFFAD_DOD));
    let clear = p.avregistrering.is_none() && s.clears(&shape::AVREGISTRERING);
    let clear_antraffad = p.antraffad_dod.is_none() && s.clears(&shape::ANTRAFFAD_DOD);
    if a.is_none() && antraffad.is_none() {
        // An empty element clears the avregistrering (and with it the date found dead).
        if clear {
            return w.cleared(&shape::AVREGISTRERING);
        }
        if !clear_antraffad {
            return Ok(());
        }
    }
    w.start(shape::AVREGISTRERING.name)?;
    if let Some(a) = a {
        w.text("AvregistreringsorsakKod", a.orsak.code())?;
        w.text("Avregistreringsdatum", &a.datum.to_string())?;
    }
    match antraffad {
        Some(d) => w.text(shape::ANTRAFFAD_DOD.name, &d.to_string())?,
        None if clear_antraffad => w.cleared(&shape::ANTRAFFAD_DOD)?,
        None => {}
    }
    w.end(shape::AVREGISTRERING.name)
}

/// A `NamnTYPE` element.
fn namn<T: Write>(w: &mut W<'_, T>, name: &str, n: &Namn) -> std::io::Result<()> {
    let any = n.tilltalsnamnsmarkering.is_some()
        || n.fornamn.is_some()
        || n.mellannamn.is_some()
        || n.efternamn.is_some()
        || n.aviseringsnamn.is_some();
    if !any {
        return Ok(());
    }
    w.start(name)?;
    if let Some(t) = n.tilltalsnamnsmarkering {
        w.text("Tilltalsnamnsmarkering", &format!("{t:02}"))?;
    }
    w.opt("Fornamn", n.fornamn.as_deref())?;
    w.opt("Mellannamn", n.mellannamn.as_deref())?;
    w.opt("Efternamn", n.efternamn.as_deref())?;
    w.opt("Aviseringsnamn", n.aviseringsnamn.as_deref())?;
    w.end(name)
}

/// `Folkbokforing` (its distrikt is written under `Adresser`).
fn folkbokforing<T: Write>(w: &mut W<'_, T>, s: Scope, f: &Folkbokforing) -> std::io::Result<()> {
    w.start(shape::FOLKBOKFORING.name)?;
    w.text("Folkbokforingsdatum", &f.folkbokforingsdatum.to_string())?;
    w.text("LanKod", &f.lan_kod)?;
    w.text("KommunKod", &f.kommun_kod)?;
    w.opt("Fastighetsbeteckning", f.fastighetsbeteckning.as_deref())?;
    w.opt("FiktivtNr", f.fiktivt_nr.as_deref())?;
    if f.pa_kommun_skriven && s.files {
        w.text("PaKommunSkriven", "J")?;
    }
    w.end(shape::FOLKBOKFORING.name)
}

/// `Adresser`: each address the reader may see (one term per address), the distrikt of the
/// folkbokföring and the date of rösträtt (inside `Utlandsadress`, as Navet keeps it).
fn adresser<T: Write>(w: &mut W<'_, T>, s: Scope, p: &Personpost) -> std::io::Result<()> {
    let a = &p.adresser;
    let folkbokforingsadress = a
        .folkbokforingsadress
        .as_ref()
        .filter(|_| s.writes(&shape::FOLKBOKFORINGSADRESS));
    let uuid = a.uuid.as_ref().filter(|_| s.writes(&shape::UUID));
    let distrikt = p
        .folkbokforing
        .as_ref()
        .and_then(|f| f.distrikt.as_deref())
        .filter(|_| s.writes(&shape::DISTRIKT));
    let sarskild = a
        .sarskild_postadress
        .as_ref()
        .filter(|_| s.writes(&shape::SARSKILD_POSTADRESS));
    let utland = a
        .utlandsadress
        .as_ref()
        .filter(|_| s.writes(&shape::UTLANDSADRESS));
    let rostratt = p
        .rostratt_datum
        .filter(|_| s.writes(&shape::ROSTRATTSDATUM));
    // In an ändringspost, the changed terms that have no value.
    let clear = |el: &El, none: bool| none && s.clears(el);
    let clear_fadress = clear(
        &shape::FOLKBOKFORINGSADRESS,
        a.folkbokforingsadress.is_none(),
    );
    let clear_uuid = clear(&shape::UUID, a.uuid.is_none());
    let clear_distrikt = clear(
        &shape::DISTRIKT,
        p.folkbokforing
            .as_ref()
            .is_none_or(|f| f.distrikt.is_none()),
    );
    let clear_sarskild = clear(&shape::SARSKILD_POSTADRESS, a.sarskild_postadress.is_none());
    let clear_utland = clear(&shape::UTLANDSADRESS, a.utlandsadress.is_none());
    let clear_rostratt = clear(&shape::ROSTRATTSDATUM, p.rostratt_datum.is_none());
    if folkbokforingsadress.is_none()
        && uuid.is_none()
        && distrikt.is_none()
        && sarskild.is_none()
        && utland.is_none()
        && rostratt.is_none()
        && !(clear_fadress
            || clear_uuid
            || clear_distrikt
            || clear_sarskild
            || clear_utland
            || clear_rostratt)
    {
        return Ok(());
    }
    w.start(shape::ADRESSER.name)?;
    if let Some(x) = folkbokforingsadress {
        svensk(w, shape::FOLKBOKFORINGSADRESS.name, x)?;
    } else if clear_fadress {
        w.cleared(&shape::FOLKBOKFORINGSADRESS)?;
    }
    if let Some(u) = uuid {
        w.start(shape::UUID.name)?;
        w.opt("Fastighet", u.fastighet.as_deref())?;
        w.opt("Adress", u.adress.as_deref())?;
        w.opt("Lagenhet", u.lagenhet.as_deref())?;
        w.end(shape::UUID.name)?;
    } else if clear_uuid {
        w.cleared(&shape::UUID)?;
    }
    if let Some(d) = distrikt {
        w.start(shape::DISTRIKT.name)?;
        w.text("Distriktskod", d)?;
        w.end(shape::DISTRIKT.name)?;
    } else if clear_distrikt {
        w.cleared(&shape::DISTRIKT)?;
    }
    if let Some(x) = sarskild {
        svensk(w, shape::SARSKILD_POSTADRESS.name, x)?;
    } else if clear_sarskild {
        w.cleared(&shape::SARSKILD_POSTADRESS)?;
    }
    if utland.is_some() || rostratt.is_some() || clear_rostratt {
        w.start(shape::UTLANDSADRESS.name)?;
        if let Some(u) = utland {
            w.opt("Utdelningsadress1", u.utdelningsadress1.as_deref())?;
            w.opt("Utdelningsadress2", u.utdelningsadress2.as_deref())?;
            w.opt("Utdelningsadress3", u.utdelningsadress3.as_deref())?;
            w.opt("Land", u.land.as_deref())?;
            w.date("Utlandsadressdatum", u.datum)?;
        }
        match rostratt {
            Some(d) => w.text(shape::ROSTRATTSDATUM.name, &d.to_string())?,
            None if clear_rostratt => w.cleared(&shape::ROSTRATTSDATUM)?,
            None => {}
        }
        w.end(shape::UTLANDSADRESS.name)?;
    } else if clear_utland {
        w.cleared(&shape::UTLANDSADRESS)?;
    }
    w.end(shape::ADRESSER.name)
}

/// `Fodelse`: hemort in Sweden and place abroad, each a term of its own.
fn fodelse<T: Write>(w: &mut W<'_, T>, s: Scope, f: &Fodelse) -> std::io::Result<()> {
    let hemort = f
        .hemort_sverige
        .as_ref()
        .filter(|_| s.writes(&shape::HEMORT_SVERIGE));
    let utlandet = f
        .ort_utlandet
        .as_ref()
        .filter(|_| s.writes(&shape::ORT_UTLANDET));
    let clear_hemort = f.hemort_sverige.is_none() && s.clears(&shape::HEMORT_SVERIGE);
    let clear_utlandet = f.ort_utlandet.is_none() && s.clears(&shape::ORT_UTLANDET);
    if hemort.is_none() && utlandet.is_none() && !clear_hemort && !clear_utlandet {
        return Ok(());
    }
    w.start(shape::FODELSE.name)?;
    if let Some(h) = hemort {
        w.start(shape::HEMORT_SVERIGE.name)?;
        w.text("FodelselanKod", &h.lan_kod)?;
        w.text("Fodelseforsamling", &h.forsamling_kommun)?;
        w.end(shape::HEMORT_SVERIGE.name)?;
    } else if clear_hemort {
        w.cleared(&shape::HEMORT_SVERIGE)?;
    }
    if let Some(o) = utlandet {
        w.start(shape::ORT_UTLANDET.name)?;
        w.text("FodelseortUtland", &o.fodelseort)?;
        w.text("Fodelseland", &o.fodelseland)?;
        w.end(shape::ORT_UTLANDET.name)?;
    } else if clear_utlandet {
        w.cleared(&shape::ORT_UTLANDET)?;
    }
    w.end(shape::FODELSE.name)
}

/// `Invandring`: the date, uppehållsrätt (`J`) and the nordic number, each a term of its own.
fn invandring<T: Write>(w: &mut W<'_, T>, s: Scope, p: &Personpost) -> std::io::Result<()> {
    let datum = p
        .invandringsdatum
        .filter(|_| s.writes(&shape::INVANDRINGSDATUM));
    let uppehall = p
        .uppehallsratt
        .as_ref()
        .filter(|_| s.writes(&shape::UPPEHALLSRATT));
    let nordiskt = p.nordiskt_personnummer.as_ref().and_then(|n| {
        let (_, el) = shape::NORDISKT_PNR
            .iter()
            .find(|(land, _)| *land == n.landkod)?;
        s.writes(el).then_some((el.name, n.nummer.as_str()))
    });
    let clear_datum = p.invandringsdatum.is_none() && s.clears(&shape::INVANDRINGSDATUM);
    let clear_uppehall = p.uppehallsratt.is_none() && s.clears(&shape::UPPEHALLSRATT);
    // A cleared nordic number is written as the first of them, nil.
    let nordiskt_el = &shape::NORDISKT_PNR[0].1;
    let clear_nordiskt = p.nordiskt_personnummer.is_none() && s.clears(nordiskt_el);
    if datum.is_none()
        && uppehall.is_none()
        && nordiskt.is_none()
        && !(clear_datum || clear_uppehall || clear_nordiskt)
    {
        return Ok(());
    }
    w.start(shape::INVANDRING.name)?;
    match datum {
        Some(d) => w.text(shape::INVANDRINGSDATUM.name, &d.to_string())?,
        None if clear_datum => w.cleared(&shape::INVANDRINGSDATUM)?,
        None => {}
    }
    if uppehall.is_some() {
        w.text(shape::UPPEHALLSRATT.name, "J")?;
    } else if clear_uppehall {
        w.cleared(&shape::UPPEHALLSRATT)?;
    }
    if let Some((name, nummer)) = nordiskt {
        w.text(name, nummer)?;
    } else if clear_nordiskt {
        w.cleared(nordiskt_el)?;
    }
    w.end(shape::INVANDRING.name)
}

/// `Relationer`: each `Relation`, by number or by birth date (`FodelsetidNr`) and name.
fn relationer<T: Write>(w: &mut W<'_, T>, relationer: &[Relation]) -> std::io::Result<()> {
    w.start(shape::RELATIONER.name)?;
    for r in relationer {
        w.start("Relation")?;
        w.start("RelationId")?;
        match &r.person {
            Relationsperson::PersonNr(pnr) => w.text("PersonNr", pnr.as_str())?,
            Relationsperson::Uppgifter { fodelsedatum, .. } => {
                w.text("FodelsetidNr", &fodelsedatum.to_string())?
            }
        }
        w.end("RelationId")?;
        w.text("Relationstyp", r.typ.code())?;
        if let Relationsperson::Uppgifter {
            fornamn, efternamn, ..
        } = &r.person
        {
            let n = Namn {
                fornamn: fornamn.clone(),
                efternamn: efternamn.clone(),
                ..Namn::default()
            };
            namn(w, "Namn", &n)?;
        }
        if let Some(kod) = r.avregistreringsorsak {
            w.start("Avregistrering")?;
            w.text("AvregistreringsorsakKod", kod.code())?;
            w.date("Avregistreringsdatum", r.avregistreringsdatum)?;
            w.end("Avregistrering")?;
        }
        w.end("Relation")?;
    }
    w.end(shape::RELATIONER.name)
}

/// `Samordningsnummeruppgifter`: the dates (the status and level are in `PersonId`); the date
/// of death of a deceased samordningsnummer person as `DatumAvliden`.
fn samordning<T: Write>(w: &mut W<'_, T>, s: Scope, p: &Personpost) -> std::io::Result<()> {
    let Some(u) = &p.samordning else {
        if s.andring {
            w.cleared(&shape::SAMORDNINGSNUMMERUPPGIFTER)?;
        }
        return Ok(());
    };
    let avliden = p.avregistrering.as_ref().and_then(|a| a.avliden_datum);
    if u.tilldelningsdatum.is_none()
        && u.preliminart_vilandeforklaringsdatum.is_none()
        && u.fornyelsedatum.is_none()
        && avliden.is_none()
    {
        return Ok(());
    }
    w.start(shape::SAMORDNINGSNUMMERUPPGIFTER.name)?;
    w.date("Tilldelningsdatum", u.tilldelningsdatum)?;
    w.date(
        "PreliminartVilandeforklaringsdatum",
        u.preliminart_vilandeforklaringsdatum,
    )?;
    w.date("Fornyelsedatum", u.fornyelsedatum)?;
    w.date("DatumAvliden", avliden)?;
    w.end(shape::SAMORDNINGSNUMMERUPPGIFTER.name)
}

/// `Taxering` (load files only), if it has an income or a property.
fn taxering<T: Write>(
    w: &mut W<'_, T>,
    s: Scope,
    taxering: Option<&Taxering>,
) -> std::io::Result<()> {
    let Some(t) = taxering.filter(|t| t.inkomst.is_some() || !t.fastigheter.is_empty()) else {
        if s.andring {
            w.cleared(&shape::TAXERING)?;
        }
        return Ok(());
    };
    w.start(shape::TAXERING.name)?;
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
    w.end(shape::TAXERING.name)
}

/// `Historik`: each earlier folkbokföring as a `FolkbokforingTYPE`, newest first.
fn historik<T: Write>(w: &mut W<'_, T>, historik: &[HistorikPost]) -> std::io::Result<()> {
    w.start(shape::HISTORIK.name)?;
    for h in historik {
        w.start("Folkbokforing")?;
        w.text("Folkbokforingsdatum", &h.datum.to_string())?;
        w.opt("LanKod", h.lan_kod.as_deref())?;
        w.opt("KommunKod", h.kommun_kod.as_deref())?;
        w.opt("Fastighetsbeteckning", h.fastighetsbeteckning.as_deref())?;
        w.text("Folkbokforingstyp", h.typ.code())?;
        w.end("Folkbokforing")?;
    }
    w.end(shape::HISTORIK.name)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Relationsperson, Samordningsuppgifter};
    use crate::xml::read::Node;
    use quick_xml::Reader;

    /// The element tree of a written record (names only: the shape is about names).
    fn tree(xml: &[u8]) -> Node {
        let mut reader = Reader::from_reader(xml);
        let mut stack: Vec<Node> = vec![Node::default()];
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf).expect("well-formed") {
                Event::Start(e) => stack.push(Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                }),
                Event::Empty(e) => {
                    let n = Node {
                        name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                        ..Node::default()
                    };
                    stack.last_mut().expect("parent").children.push(n);
                }
                Event::End(_) => {
                    let n = stack.pop().expect("open element");
                    stack.last_mut().expect("parent").children.push(n);
                }
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        stack.pop().expect("root").children.pop().expect("record")
    }

    /// The richest records: a personnummer with every term, and a deceased samordningsnummer
    /// with its identity status, several hänvisningar and a relation without a number.
    fn records() -> Vec<Folkbokforingspost> {
        let mut rich = crate::loadfile::reader::tests::rich();
        rich.personpost
            .hanvisning
            .push(crate::ids::pnr::Pnr::parse("194802280018").expect("pnr"));
        let mut samordning = rich.clone();
        let pp = &mut samordning.personpost;
        pp.person_id = crate::ids::pnr::Pnr::parse("198602812391").expect("samordningsnummer");
        pp.identitetstyp = Identitetstyp::Samordningsnummer;
        pp.antraffad_dod = None;
        pp.avregistrering = Some(crate::model::Avregistrering {
            orsak: crate::model::AvregistreringsorsakKod::AV,
            datum: Datum::parse("20240101").expect("date"),
            avliden_datum: Datum::parse("20240101").ok(),
        });
        pp.samordning = Some(Samordningsuppgifter {
            identitetsstatus: "Avregistrerat".into(),
            identitetsstatus_datum: Datum::parse("20240101").ok(),
            identitetsstatus_orsak: Some("Avliden".into()),
            tilldelningsdatum: Datum::parse("20150101").ok(),
            preliminart_vilandeforklaringsdatum: Datum::parse("20201231").ok(),
            fornyelsedatum: Datum::parse("20190101").ok(),
            identitetsniva: Some("Osäker".into()),
            identitetsniva_datum: Datum::parse("20150101").ok(),
        });
        assert!(pp
            .relationer
            .iter()
            .any(|r| matches!(r.person, Relationsperson::Uppgifter { .. })));
        vec![rich, samordning]
    }

    fn written(post: &Folkbokforingspost, style: PostStyle) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        write_post(&mut w, post, style).expect("write");
        w.into_inner()
    }

    #[test]
    fn what_is_written_has_the_shape_of_the_record() {
        for post in records() {
            let answer = written(&post, PostStyle::answer(TermMask::ALL));
            shape::check(&shape::RECORD, &tree(&answer), false)
                .unwrap_or_else(|m| panic!("answer: {m:?}"));
            let text = String::from_utf8(answer).expect("utf-8");
            for file_only in ["Taxering", "Skyddsdatum", "PaKommunSkriven", "<Kon>"] {
                assert!(!text.contains(file_only), "{file_only} on Navet's wire");
            }
            let file = written(
                &post,
                PostStyle {
                    extensions: true,
                    ..PostStyle::file(Posttyp::Total, TermMask::ALL, TermMask::ALL)
                },
            );
            shape::check(&shape::RECORD, &tree(&file), true)
                .unwrap_or_else(|m| panic!("load file: {m:?}"));
        }
    }

    /// The richest records, as answers, validate against Navet's own `Navetavisering.xsd`.
    #[test]
    fn answers_validate_against_navets_schema() {
        let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/reference/navet/v4-2023/schema/Navetavisering.xsd");
        let mut doc = String::from("<Navetavisering><Folkbokforingsposter>");
        for post in records() {
            let answer = written(&post, PostStyle::answer(TermMask::ALL));
            doc.push_str(std::str::from_utf8(&answer).expect("utf-8"));
        }
        doc.push_str("</Folkbokforingsposter></Navetavisering>");
        let dir = tempfile::tempdir().expect("temp dir");
        let f = dir.path().join("records.xml");
        std::fs::write(&f, &doc).expect("write");
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--schema"])
            .arg(&schema)
            .arg(&f)
            .output()
            .expect("xmllint (libxml2-utils) is installed by .ci/run");
        assert!(
            out.status.success(),
            "{}\n{doc}",
            String::from_utf8_lossy(&out.stderr)
        );
        for element in [
            "<Identitetsstatus><IdentitetsstatusVarde>AVREGISTRERAT</IdentitetsstatusVarde>",
            "<Identitetsniva>OSAKER</Identitetsniva>",
            "<DatumAvliden>20240101</DatumAvliden>",
            "<Hanvisningar><Hanvisning>",
            "<RelationId><FodelsetidNr>",
            "<AntraffadDod>",
            "<Distrikt><Distriktskod>102011</Distriktskod></Distrikt>",
            "<Rostrattsdatum>",
            "<Uppehallsratt>J</Uppehallsratt>",
            "<NordisktPnrNo>",
            "<Historik><Folkbokforing>",
        ] {
            assert!(doc.contains(element), "{element} is not written");
        }
    }
}
