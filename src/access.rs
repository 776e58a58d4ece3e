//! Access rules: what an organisation's categories and switches let it see (DOMAIN.md §1, §3,
//! §4). THE one place that decides visibility.
//!
//! Two decisions, both here:
//! - **whether** the caller may see a record at all, by [`Channel`]: a direct lookup
//!   (personpostXML, namnsökning — [`Access::view`], [`Access::may_find`]) gives every
//!   organisation the Navet 3.5 baseline, samordningsnummer and tilldelat personnummer
//!   included; a delivery (avisering, urval — [`Access::may_see`]) only with the switch, and
//!   a record it may not see is left out exactly as one that does not exist. A protected
//!   person (on its own or through hänvisning, [`Protection`]) is never found by a search;
//! - **which terms** of it ([`TermMask`]): [`TERM_TABLE`] says per term which category or
//!   switch allows it; the categories of the caller become one mask, and the renderer
//!   (`xml::write::write_post`) writes only the terms in it. Operations never check a
//!   category themselves.
//!
//! Must never: let a protected person into a search result, or give a caller without
//! `sekretess` more of a protected person than [`PROTECTED_MINIMAL`].

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

pub use crate::model::term::{Term, TermMask};
use crate::model::{Folkbokforingspost, Identitetstyp};

/// A category or switch name that does not exist (register file, command line).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    /// "category" or "switch".
    pub what: &'static str,
    /// The name given.
    pub name: String,
}

/// An access category (behörighet, DOMAIN.md §3). The categories are separate: none
/// includes another. `grund` is implied for every organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Identity, name, folkbokföring, addresses, avregistrering, protection markings.
    Grund,
    /// Make/maka/partner, vårdnadshavare, föräldrar, barn, civilstånd.
    Relationer,
    /// Medborgarskap with dates.
    Medborgarskap,
    /// Födelsehemort, inkomst, fastighetsinnehav.
    Taxering,
    /// The protected person's terms (DOMAIN.md §4).
    Sekretess,
}

impl Category {
    /// Every category, in the register's order.
    pub const ALL: [Category; 5] = [
        Category::Grund,
        Category::Relationer,
        Category::Medborgarskap,
        Category::Taxering,
        Category::Sekretess,
    ];

    /// The name used in the register file and in `certs-dev/index.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Grund => "grund",
            Category::Relationer => "relationer",
            Category::Medborgarskap => "medborgarskap",
            Category::Taxering => "taxering",
            Category::Sekretess => "sekretess",
        }
    }

    /// The category with this register name.
    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// An organisation-level switch (DOMAIN.md §1 and §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Switch {
    /// Samordningsnummer are delivered (Navet 8.3).
    Samordningsnummer,
    /// Tilldelade personnummer are delivered (Navet 8.2).
    TilldelatPersonnummer,
    /// Uppehållsrätt and nordiskt personnummer are delivered (Navet 8.24–8.25).
    SarskildaUppgifter,
}

impl Switch {
    /// Every switch, in the register's order.
    pub const ALL: [Switch; 3] = [
        Switch::Samordningsnummer,
        Switch::TilldelatPersonnummer,
        Switch::SarskildaUppgifter,
    ];

    /// The name used in the register file and in `certs-dev/index.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Samordningsnummer => "samordningsnummer",
            Switch::TilldelatPersonnummer => "tilldelat_personnummer",
            Switch::SarskildaUppgifter => "sarskilda_uppgifter",
        }
    }

    /// The switch with this register name.
    pub fn parse(s: &str) -> Option<Switch> {
        Switch::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

macro_rules! name_traits {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, UnknownName> {
                <$t>::parse(s).ok_or_else(|| UnknownName {
                    what: $what,
                    name: s.to_owned(),
                })
            }
        }
    };
}
name_traits!(Category, "category");
name_traits!(Switch, "switch");

/// What grants a term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Every answer about a record carries it.
    Always,
    /// Granted by this category.
    Category(Category),
    /// Granted by this organisation switch.
    Switch(Switch),
}

/// THE term table (DOMAIN.md §3): which category or switch allows each term. Terms the
/// source names under no category belong to `grund`; uppehållsrätt and nordiskt personnummer
/// need the switch `sarskilda_uppgifter` (Navet 8.24–8.25); födelsehemort is `taxering`'s.
/// The identity number and the protection markings are in every answer.
pub const TERM_TABLE: [(Term, Grant); 26] = {
    use Category::*;
    use Grant::{Always, Category as C, Switch as S};
    [
        (Term::PersonId, Always),
        (Term::Arendeuppgift, C(Grund)),
        (Term::Hanvisning, C(Grund)),
        (Term::Avregistrering, C(Grund)),
        (Term::AntraffadDod, C(Grund)),
        (Term::Namn, C(Grund)),
        (Term::Folkbokforing, C(Grund)),
        (Term::Folkbokforingsadress, C(Grund)),
        (Term::SarskildPostadress, C(Grund)),
        (Term::Utlandsadress, C(Grund)),
        (Term::AdressUuid, C(Grund)),
        (Term::Fodelsedatum, C(Grund)),
        (Term::Fodelsehemort, C(Taxering)),
        (Term::FodelseortUtlandet, C(Grund)),
        (Term::Invandring, C(Grund)),
        (Term::Rostratt, C(Grund)),
        (Term::Civilstand, C(Relationer)),
        (Term::Medborgarskap, C(Medborgarskap)),
        (Term::Relationer, C(Relationer)),
        (Term::Uppehallsratt, S(Switch::SarskildaUppgifter)),
        (Term::NordisktPersonnummer, S(Switch::SarskildaUppgifter)),
        (Term::KonFodelsetid, C(Grund)),
        (Term::Taxering, C(Taxering)),
        (Term::Historik, C(Grund)),
        (Term::Samordningsuppgifter, C(Grund)),
        // Every answer about a protected person carries the marking (DOMAIN.md §4).
        (Term::Skydd, Always),
    ]
};

/// All a caller without `sekretess` learns of a protected person (DOMAIN.md §4, SPAR page):
/// the number, the marking(s) with the date registered, avregistrering (with the date of
/// death), hänvisningspersonnummer. No name, no address, no relation, no change time.
pub const PROTECTED_MINIMAL: TermMask = TermMask::of(&[
    Term::PersonId,
    Term::Skydd,
    Term::Avregistrering,
    Term::Hanvisning,
]);

/// What one caller may see: its categories and switches, made into a mask once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The terms of ordinary records: the union of what the categories and switches grant.
    mask: TermMask,
    /// `sekretess`: a protected person's terms as any other's.
    sekretess: bool,
    /// Switch `samordningsnummer`.
    samordningsnummer: bool,
    /// Switch `tilldelat_personnummer`.
    tilldelat_personnummer: bool,
}

impl Access {
    /// Access with exactly these categories and switches.
    pub fn new(
        categories: impl IntoIterator<Item = Category>,
        switches: impl IntoIterator<Item = Switch>,
    ) -> Access {
        let categories: BTreeSet<Category> = categories.into_iter().collect();
        let switches: BTreeSet<Switch> = switches.into_iter().collect();
        Access::from_sets(&categories, &switches)
    }

    /// The access these categories and switches give.
    pub fn from_sets(categories: &BTreeSet<Category>, switches: &BTreeSet<Switch>) -> Access {
        let mut mask = TermMask::NONE;
        for (term, grant) in TERM_TABLE {
            let granted = match grant {
                Grant::Always => true,
                Grant::Category(c) => categories.contains(&c),
                Grant::Switch(s) => switches.contains(&s),
            };
            if granted {
                mask = mask.union(TermMask::of(&[term]));
            }
        }
        Access {
            mask,
            sekretess: categories.contains(&Category::Sekretess),
            samordningsnummer: switches.contains(&Switch::Samordningsnummer),
            tilldelat_personnummer: switches.contains(&Switch::TilldelatPersonnummer),
        }
    }

    /// Access for a caller with every category and switch (tools and tests).
    pub fn full() -> Access {
        Access::new(Category::ALL, Switch::ALL)
    }

    /// The mask for ordinary records.
    pub fn mask(&self) -> TermMask {
        self.mask
    }

    /// Whether the caller may know this record exists when it reaches it by `channel`.
    ///
    /// - [`Channel::Lookup`] (personpostXML, namnsökning): every record. Every organisation
    ///   may see samordningsnummer and tilldelat personnummer with number, name, address,
    ///   folkbokföring and avregistrering, whatever its switches (Navet 3.5, DOMAIN.md §1).
    /// - [`Channel::Delivery`] (avisering, urval): samordningsnummer and tilldelat
    ///   personnummer only with their switch (Navet 8.2, 8.3). One it may not see is left
    ///   out exactly as a record that does not exist.
    pub fn may_see_on(&self, channel: Channel, post: &Folkbokforingspost) -> bool {
        match (channel, post.personpost.identitetstyp) {
            (Channel::Lookup, _) => true,
            (Channel::Delivery, Identitetstyp::Personnummer) => true,
            (Channel::Delivery, Identitetstyp::Samordningsnummer) => self.samordningsnummer,
            (Channel::Delivery, Identitetstyp::TilldelatPersonnummer) => {
                self.tilldelat_personnummer
            }
        }
    }

    /// Whether the caller may know this record exists in a **delivery** (avisering, urval):
    /// [`Access::may_see_on`] with [`Channel::Delivery`].
    pub fn may_see(&self, post: &Folkbokforingspost) -> bool {
        self.may_see_on(Channel::Delivery, post)
    }

    /// Whether a delivery population chosen by criteria that read `read` (an order's
    /// sökbegrepp: län, kommun, postnummer, birth data, kön, medborgarskap) may hold this
    /// record: only when the caller may see every one of those terms for it. So a protected
    /// person never enters a population an organisation without `sekretess` chose by
    /// terms withheld from it, and membership reveals nothing (DOMAIN.md §4). Judged on the
    /// record's markings: a delivery marks a record linked to a protected one first
    /// ([`Protection::mark`]).
    pub fn may_be_chosen_by(&self, post: &Folkbokforingspost, read: TermMask) -> bool {
        self.terms_for(post).covers(read)
    }

    /// Whether the record may be in a namnsökning result: never a protected person — on its
    /// own or through a hänvisning link (`protection`, from the store snapshot) — whatever
    /// the categories (DOMAIN.md §4). A record refused here is skipped before hits are
    /// counted, so the answer does not differ from "no hit".
    pub fn may_find(&self, post: &Folkbokforingspost, protection: Protection) -> bool {
        !post.is_protected() && !protection.any() && self.may_see_on(Channel::Lookup, post)
    }

    /// The terms of this record the caller may see, judged on its markings (a record linked
    /// to a protected one is marked first: [`Protection::mark`]).
    pub fn terms_for(&self, post: &Folkbokforingspost) -> TermMask {
        if post.is_protected() && !self.sekretess {
            union_always(self.mask.intersect(PROTECTED_MINIMAL))
        } else {
            self.mask
        }
    }

    /// A record as a **direct lookup** (personpostXML, namnsökning) answers it: the record
    /// with the terms to render; `None` if the caller may not see it at all.
    ///
    /// `found` is the record with what the store snapshot found by following its hänvisning
    /// links ([`crate::store::Snapshot::get_for_answer`]): a record linked to a protected
    /// record is answered as protected — the minimal answer without `sekretess`, and the
    /// protection marking(s) of the linked record in every answer (DOMAIN.md §4: "a person
    /// is protected under every number"). A bare record is taken as having no links
    /// ([`Protection::unlinked`]): for tools and tests holding one record.
    pub fn view(&self, found: impl Into<Found>) -> Option<View> {
        let Found {
            mut post,
            protection,
        } = found.into();
        // Every organisation may see samordningsnummer and tilldelat personnummer in a
        // lookup, also as a hänvisning (Navet 3.5): the switches are a delivery's rule.
        if !self.may_see_on(Channel::Lookup, &post) {
            return None;
        }
        // Marked, the record is protected exactly when it or a linked record is.
        protection.mark(&mut post);
        let terms = self.terms_for(&post);
        Some(View { post, terms })
    }
}

impl Access {
    /// A record of an avisering or urval delivery as it leaves when it is **fetched**
    /// (DOMAIN.md §4: access is applied when data leaves, with the receiver's categories and
    /// switches of that moment, never those of the moment the delivery was produced).
    ///
    /// `chosen` is what the order chose for the record when the delivery was produced (its
    /// terms, its file B's fewer terms). The receiver gets those narrowed by what it may see
    /// now — never widened. `None` when it may not see the record in a delivery now (a
    /// samordningsnummer or tilldelat personnummer without its switch). Without the
    /// samordningsnummer switch no samordningsnummer leaves inside the record either: not as
    /// a hänvisning, not as a relation person (DOMAIN.md §1).
    pub fn delivered(&self, mut post: Folkbokforingspost, chosen: TermMask) -> Option<View> {
        if !self.may_see_on(Channel::Delivery, &post) {
            return None;
        }
        if !self.samordningsnummer {
            let samordning =
                |p: &crate::ids::Pnr| p.kind() == crate::ids::PnrKind::Samordningsnummer;
            post.personpost.hanvisning.retain(|h| !samordning(h));
            post.personpost.relationer.retain(|r| {
                !matches!(&r.person, crate::model::Relationsperson::PersonNr(p) if samordning(p))
            });
        }
        let terms = chosen.intersect(self.terms_for(&post));
        Some(View { post, terms })
    }
}

/// How a record leaves folkreg: the rules of DOMAIN.md §1 differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A direct lookup: personpostXML or namnsökning (Navet 3.5's baseline applies).
    Lookup,
    /// An avisering or urval delivery (the organisation's switches apply, Navet 8.2–8.3).
    Delivery,
}

/// Whether a record is protected, on its own or through hänvisning: a fact the store
/// snapshot finds ([`crate::store::Snapshot::get_for_answer`]) and [`Access`] takes as input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Protection {
    /// The record itself holds sekretessmarkering and/or skyddad folkbokföring.
    pub own: bool,
    /// A record reachable from it through hänvisning links (either direction, followed
    /// transitively) is protected — or the links could not all be followed within the bound
    /// (then it is answered as protected: the rule fails closed).
    pub linked: bool,
    /// A linked record holds sekretessmarkering.
    pub linked_sekretessmarkering: bool,
    /// A linked record holds skyddad folkbokföring.
    pub linked_skyddad_folkbokforing: bool,
}

impl Protection {
    /// Most records (the record itself included) followed through hänvisning links.
    pub const MAX_LINKED: usize = 16;

    /// The protection of a record that has no hänvisning links (nothing linked to follow):
    /// its own markings. For tools and tests holding one record; a lookup in the store
    /// takes the snapshot's answer instead.
    pub fn unlinked(post: &Folkbokforingspost) -> Protection {
        Protection {
            own: post.is_protected(),
            ..Protection::default()
        }
    }

    /// Notes a linked record's markings.
    pub fn add_linked(&mut self, linked: &Folkbokforingspost) {
        if linked.is_protected() {
            self.linked = true;
            self.linked_sekretessmarkering |= linked.sekretessmarkering;
            self.linked_skyddad_folkbokforing |= linked.skyddad_folkbokforing;
        }
    }

    /// Protected on its own or through a link.
    pub fn any(self) -> bool {
        self.own || self.linked
    }

    /// Puts the linked record's markings on `post`: from here on it is judged, and
    /// answered, as the protected person it is (DOMAIN.md §4: "a person is protected under
    /// every number"). Links left unfollowed at the bound mark it sekretessmarkerad: the
    /// rule fails closed.
    pub fn mark(self, post: &mut Folkbokforingspost) {
        post.sekretessmarkering |= self.linked_sekretessmarkering;
        post.skyddad_folkbokforing |= self.linked_skyddad_folkbokforing;
        if self.linked && !post.is_protected() {
            post.sekretessmarkering = true;
        }
    }
}

/// A record with its [`Protection`]: what a lookup hands to [`Access::view`].
#[derive(Debug, Clone)]
pub struct Found {
    /// The record.
    pub post: Folkbokforingspost,
    /// Whether it is protected, on its own or through a hänvisning link.
    pub protection: Protection,
}

impl From<Folkbokforingspost> for Found {
    /// A record on its own, taken as having no hänvisning links ([`Protection::unlinked`]).
    fn from(post: Folkbokforingspost) -> Found {
        let protection = Protection::unlinked(&post);
        Found { post, protection }
    }
}

/// This set plus the terms every answer carries.
fn union_always(terms: TermMask) -> TermMask {
    TERM_TABLE
        .into_iter()
        .filter(|(_, grant)| *grant == Grant::Always)
        .fold(terms, |m, (term, _)| m.union(TermMask::of(&[term])))
}

/// A record as one caller may see it: what the renderer writes.
#[derive(Debug, Clone)]
pub struct View {
    /// The record.
    pub post: Folkbokforingspost,
    /// The terms of it to write.
    pub terms: TermMask,
}

impl View {
    /// The whole record (load files and tools).
    pub fn whole(post: Folkbokforingspost) -> View {
        View {
            post,
            terms: TermMask::ALL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_every_term_once_in_order() {
        let terms: Vec<Term> = TERM_TABLE.iter().map(|(t, _)| *t).collect();
        assert_eq!(terms, Term::ALL.to_vec());
    }

    #[test]
    fn categories_are_separate() {
        // No category's terms are a subset of another's (the SPAR page: none includes another).
        let only = |c: Category| Access::new([c], []).mask();
        for a in Category::ALL {
            for b in Category::ALL {
                if a != b && a != Category::Sekretess && b != Category::Sekretess {
                    let (ma, mb) = (only(a), only(b));
                    let extra = ma.without(mb).without(TermMask::of(&[Term::PersonId]));
                    assert_ne!(extra, TermMask::NONE, "{a:?} adds nothing over {b:?}");
                }
            }
        }
    }

    #[test]
    fn a_protected_person_without_sekretess_is_the_minimal_answer() {
        let mut post = crate::model::tests::sample();
        post.sekretessmarkering = true;
        let grund = Access::new([Category::Grund], []);
        assert_eq!(grund.terms_for(&post), PROTECTED_MINIMAL);
        // Without grund, only what every answer carries.
        let none = Access::new([], []);
        assert_eq!(
            none.terms_for(&post),
            TermMask::of(&[Term::PersonId, Term::Skydd])
        );
        // With sekretess, the terms of the other categories.
        let sekretess = Access::new([Category::Grund, Category::Sekretess], []);
        assert_eq!(sekretess.terms_for(&post), sekretess.mask());
        post.sekretessmarkering = false;
        assert_eq!(grund.terms_for(&post), grund.mask());
    }

    #[test]
    fn protected_persons_are_never_found_but_may_be_looked_up() {
        let mut post = crate::model::tests::sample();
        post.skyddad_folkbokforing = true;
        let all = Access::full();
        assert!(all.may_see(&post));
        assert!(!all.may_find(&post, Protection::unlinked(&post)));
    }

    #[test]
    fn lookups_see_every_number_kind_deliveries_only_with_the_switch() {
        let grund = Access::new([Category::Grund], []);
        let mut post = crate::model::tests::sample();
        for (typ, switch) in [
            (Identitetstyp::Samordningsnummer, Switch::Samordningsnummer),
            (
                Identitetstyp::TilldelatPersonnummer,
                Switch::TilldelatPersonnummer,
            ),
        ] {
            post.personpost.identitetstyp = typ;
            // Direct lookups: the 3.5 baseline, whatever the switches.
            assert!(grund.may_see_on(Channel::Lookup, &post), "{typ:?}");
            assert!(
                grund.may_find(&post, Protection::unlinked(&post)),
                "{typ:?}"
            );
            let v = grund.view(post.clone()).expect("answered in a lookup");
            for t in [
                Term::PersonId,
                Term::Namn,
                Term::Folkbokforing,
                Term::Folkbokforingsadress,
                Term::Avregistrering,
            ] {
                assert!(v.terms.contains(t), "{typ:?} {t:?}");
            }
            // Deliveries: only with the switch.
            assert!(!grund.may_see(&post), "{typ:?}");
            assert!(!grund.may_see_on(Channel::Delivery, &post), "{typ:?}");
            let with = Access::new([Category::Grund], [switch]);
            assert!(with.may_see(&post), "{typ:?}");
        }
        // A hänvisning to a samordningsnummer is kept in a lookup.
        let mut post = crate::model::tests::sample();
        let samordning = crate::ids::pnr::Pnr::from_parts(
            chrono::NaiveDate::from_ymd_opt(1990, 5, 5).expect("a date"),
            100,
            true,
        )
        .expect("a samordningsnummer");
        post.personpost.hanvisning = vec![samordning];
        let v = grund.view(post).expect("answered");
        assert_eq!(v.post.personpost.hanvisning, vec![samordning]);
    }

    #[test]
    fn a_record_linked_to_a_protected_one_is_answered_and_searched_as_protected() {
        let post = crate::model::tests::sample();
        let mut linked = crate::model::tests::sample();
        linked.sekretessmarkering = true;
        let mut protection = Protection::unlinked(&post);
        protection.add_linked(&linked);
        assert!(protection.linked && !protection.own);
        let grund = Access::new([Category::Grund], []);
        assert!(!Access::full().may_find(&post, protection));
        let found = |protection| Found {
            post: post.clone(),
            protection,
        };
        let v = grund.view(found(protection)).expect("answered");
        assert_eq!(v.terms, PROTECTED_MINIMAL);
        assert!(v.post.sekretessmarkering, "carries the linked marking");
        let sekretess = Access::new([Category::Grund, Category::Sekretess], []);
        let v = sekretess.view(found(protection)).expect("answered");
        assert_eq!(v.terms, sekretess.mask());
        // Unlinked and unprotected: the ordinary answer.
        let v = grund.view(post.clone()).expect("answered");
        assert_eq!(v.terms, grund.mask());
        assert!(Access::full().may_find(&post, Protection::unlinked(&post)));
    }
}
