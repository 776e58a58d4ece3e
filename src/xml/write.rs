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
use crate::model::change::{Group, GroupSet, Posttyp};
use crate::model::{Datum, Folkbokforingspost, Identitetstyp, Relationsperson, SvenskAdress};

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
    let andring = style.posttyp == Some(Posttyp::Andring);
    let borttag = style.posttyp == Some(Posttyp::Borttag);
    let has = |g: Group| style.present.contains(g) && !borttag;
    let may = |t: Term| style.terms.contains(t);
    let p = &post.personpost;

    if may(Term::Arendeuppgift) {
        w.w.write_event(Event::Empty(
            BytesStart::new("Arendeuppgift")
                .with_attributes([("andringstidpunkt", post.andringstidpunkt.as_str())]),
        ))?;
    }
    w.start("Personpost")?;
    w.start("PersonId")?;
    let id_elem = match p.identitetstyp {
        Identitetstyp::Personnummer => "PersonNr",
        _ => "TilldelatPersonNrSamordningsNr",
    };
    w.text(id_elem, p.person_id.as_str())?;
    w.end("PersonId")?;
    if has(Group::Hanvisning) && may(Term::Hanvisning) {
        if p.hanvisning.is_empty() && andring {
            w.empty("HanvisningsPersonNr")?;
        }
        for h in &p.hanvisning {
            w.text("HanvisningsPersonNr", h.as_str())?;
        }
    }
    if has(Group::Avregistrering) && may(Term::Avregistrering) {
        match &p.avregistrering {
            Some(a) => {
                w.start("Avregistrering")?;
                w.text("AvregistreringsorsakKod", a.orsak.code())?;
                w.text("Avregistreringsdatum", &a.datum.to_string())?;
                w.date("AvlidenDatum", a.avliden_datum)?;
                w.end("Avregistrering")?;
            }
            None if andring => w.empty("Avregistrering")?,
            None => {}
        }
    }
    if has(Group::AntraffadDod) && may(Term::AntraffadDod) {
        match p.antraffad_dod {
            Some(d) => w.text("AntraffadDodDatum", &d.to_string())?,
            None if andring => w.empty("AntraffadDodDatum")?,
            None => {}
        }
    }
    if has(Group::Namn) && may(Term::Namn) {
        let n = &p.namn;
        let any = n.tilltalsnamnsmarkering.is_some()
            || n.fornamn.is_some()
            || n.mellannamn.is_some()
            || n.efternamn.is_some()
            || n.aviseringsnamn.is_some();
        if any {
            w.start("Namn")?;
            if let Some(t) = n.tilltalsnamnsmarkering {
                w.text("Tilltalsnamnsmarkering", &format!("{t:02}"))?;
            }
            w.opt("Fornamn", n.fornamn.as_deref())?;
            w.opt("Mellannamn", n.mellannamn.as_deref())?;
            w.opt("Efternamn", n.efternamn.as_deref())?;
            w.opt("Aviseringsnamn", n.aviseringsnamn.as_deref())?;
            w.end("Namn")?;
        } else if andring {
            w.empty("Namn")?;
        }
    }
    if has(Group::Folkbokforing) && may(Term::Folkbokforing) {
        match &p.folkbokforing {
            Some(f) => {
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
                w.end("Folkbokforing")?;
            }
            None if andring => w.empty("Folkbokforing")?,
            None => {}
        }
    }
    if has(Group::Adresser) {
        let a = &p.adresser;
        let fb = a
            .folkbokforingsadress
            .as_ref()
            .filter(|_| may(Term::Folkbokforingsadress));
        let sp = a
            .sarskild_postadress
            .as_ref()
            .filter(|_| may(Term::SarskildPostadress));
        let ut = a
            .utlandsadress
            .as_ref()
            .filter(|_| may(Term::Utlandsadress));
        let uuid = a.uuid.as_ref().filter(|_| may(Term::AdressUuid));
        if fb.is_some() || sp.is_some() || ut.is_some() || uuid.is_some() {
            w.start("Adresser")?;
            if let Some(x) = fb {
                svensk(&mut w, "Folkbokforingsadress", x)?;
            }
            if let Some(x) = sp {
                svensk(&mut w, "SarskildPostadress", x)?;
            }
            if let Some(u) = ut {
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
            w.end("Adresser")?;
        } else if andring {
            w.empty("Adresser")?;
        }
    }
    if has(Group::Fodelse) {
        let f = &p.fodelse;
        let datum = f.fodelsedatum.filter(|_| may(Term::Fodelsedatum));
        let hemort = f
            .hemort_sverige
            .as_ref()
            .filter(|_| may(Term::Fodelsehemort));
        let utlandet = f
            .ort_utlandet
            .as_ref()
            .filter(|_| may(Term::FodelseortUtlandet));
        if datum.is_some() || hemort.is_some() || utlandet.is_some() {
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
            w.end("Fodelse")?;
        } else if andring {
            w.empty("Fodelse")?;
        }
    }
    if has(Group::Invandring) && may(Term::Invandring) {
        match p.invandringsdatum {
            Some(d) => {
                w.start("Invandring")?;
                w.text("Invandringsdatum", &d.to_string())?;
                w.end("Invandring")?;
            }
            None if andring => w.empty("Invandring")?,
            None => {}
        }
    }
    if has(Group::Rostratt) && may(Term::Rostratt) {
        match p.rostratt_datum {
            Some(d) => w.text("RostrattDatum", &d.to_string())?,
            None if andring => w.empty("RostrattDatum")?,
            None => {}
        }
    }
    if has(Group::Civilstand) && may(Term::Civilstand) {
        match &p.civilstand {
            Some(c) => {
                w.start("Civilstand")?;
                w.text("CivilstandKod", c.kod.code())?;
                w.date("CivilstandDatum", c.datum)?;
                w.end("Civilstand")?;
            }
            None if andring => w.empty("Civilstand")?,
            None => {}
        }
    }
    if has(Group::Medborgarskap) && may(Term::Medborgarskap) {
        if p.medborgarskap.is_empty() && andring {
            w.empty("Medborgarskap")?;
        }
        for m in &p.medborgarskap {
            w.start("Medborgarskap")?;
            w.text("MedborgarskapslandKod", &m.landkod)?;
            w.date("Medborgarskapsdatum", m.datum)?;
            w.end("Medborgarskap")?;
        }
    }
    if has(Group::Relationer) && may(Term::Relationer) {
        if p.relationer.is_empty() {
            if andring {
                w.empty("Relationer")?;
            }
        } else {
            w.start("Relationer")?;
            for r in &p.relationer {
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
            w.end("Relationer")?;
        }
    }
    if has(Group::Uppehallsratt) && may(Term::Uppehallsratt) {
        match &p.uppehallsratt {
            Some(u) => {
                w.start("Uppehallsratt")?;
                w.text("Typ", &u.typ)?;
                w.date("Datum", u.datum)?;
                w.end("Uppehallsratt")?;
            }
            None if andring => w.empty("Uppehallsratt")?,
            None => {}
        }
    }
    if has(Group::NordisktPersonnummer) && may(Term::NordisktPersonnummer) {
        match &p.nordiskt_personnummer {
            Some(n) => {
                w.start("NordisktPersonnummer")?;
                w.text("Nummer", &n.nummer)?;
                w.text("Landkod", &n.landkod)?;
                w.end("NordisktPersonnummer")?;
            }
            None if andring => w.empty("NordisktPersonnummer")?,
            None => {}
        }
    }
    if !borttag && !andring && may(Term::KonFodelsetid) {
        // Derived from the number; part of grund, written with every full record.
        w.text("Kon", if p.person_id.is_male() { "M" } else { "K" })?;
        let born = p.person_id.birth_date().map(Datum::from_date);
        w.date("Fodelsetid", born)?;
    }
    if has(Group::Taxering) && may(Term::Taxering) {
        match &p.taxering {
            Some(t) if t.inkomst.is_some() || !t.fastigheter.is_empty() => {
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
                w.end("Taxering")?;
            }
            _ if andring => w.empty("Taxering")?,
            _ => {}
        }
    }
    if has(Group::Historik) && may(Term::Historik) {
        if p.historik.is_empty() {
            if andring {
                w.empty("Historik")?;
            }
        } else {
            w.start("Historik")?;
            for h in &p.historik {
                w.start("Folkbokforing")?;
                w.text("FolkbokforingstypKod", h.typ.code())?;
                w.text("Folkbokforingsdatum", &h.datum.to_string())?;
                w.opt("LanKod", h.lan_kod.as_deref())?;
                w.opt("KommunKod", h.kommun_kod.as_deref())?;
                w.opt("Fastighetsbeteckning", h.fastighetsbeteckning.as_deref())?;
                w.end("Folkbokforing")?;
            }
            w.end("Historik")?;
        }
    }
    if has(Group::Samordning) && may(Term::Samordningsuppgifter) {
        match &p.samordning {
            Some(s) => {
                w.start("Samordningsnummeruppgifter")?;
                w.text("Identitetsstatus", &s.identitetsstatus)?;
                w.date("IdentitetsstatusDatum", s.identitetsstatus_datum)?;
                w.opt("IdentitetsstatusOrsak", s.identitetsstatus_orsak.as_deref())?;
                w.date("Tilldelningsdatum", s.tilldelningsdatum)?;
                w.date(
                    "PreliminartVilandeforklaringsdatum",
                    s.preliminart_vilandeforklaringsdatum,
                )?;
                w.date("Fornyelsedatum", s.fornyelsedatum)?;
                w.opt("Identitetsniva", s.identitetsniva.as_deref())?;
                w.date("IdentitetsnivaDatum", s.identitetsniva_datum)?;
                w.end("Samordningsnummeruppgifter")?;
            }
            None if andring => w.empty("Samordningsnummeruppgifter")?,
            None => {}
        }
    }
    w.end("Personpost")?;
    if has(Group::Skydd) && may(Term::Skydd) {
        let flag = |set: bool| if set { "J" } else { "N" };
        if post.sekretessmarkering || andring {
            w.text("Sekretessmarkering", flag(post.sekretessmarkering))?;
        }
        if post.skyddad_folkbokforing || andring {
            w.text("SkyddadFolkbokforing", flag(post.skyddad_folkbokforing))?;
        }
        w.date("Skyddsdatum", post.skyddsdatum)?;
    }
    w.end("Folkbokforingspost")
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
