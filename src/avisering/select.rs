//! What one person's change in one load means for one order: nothing, or the notices to put
//! in its next delivery (Navet 3.1, 9.6.2, 9.6.3, bilaga 2; DOMAIN.md §5).
//!
//! The rules, in the order they are applied:
//! - A person counts for an order if the record is in its population and the organisation may
//!   see it at all (number switches) and may see every term the population is chosen by
//!   (DOMAIN.md §4: without `sekretess`, a protected person is never in a population chosen
//!   by län, kommun, postnummer, birth data, kön or medborgarskap; an infil population is
//!   the receiver's own choice and keeps them, with the minimal terms). Neither before nor
//!   after: nothing. So a member who becomes protected leaves such a population with one
//!   notice (the marking, or the flyttsignal when ordered), and nothing follows while the
//!   protection lasts.
//! - Into the population (new, moved in, infil, protection lifted): a totalpost — the
//!   receiver has no copy. After a protection it holds today's terms only: no föregående
//!   adress, historik or taxering from the protected period.
//! - Removed from the register: a borttag.
//! - Out of the population: a sekretessmarkerad folkbokförd person with `flyttsignal` gets the
//!   number, the marking and län `99` only; anyone else gets the change as below, so that the
//!   new folkbokföring or avregistrering says where they went.
//! - Protection set or lifted: bilaga 2's tables (A = file without, B = file with protected
//!   persons, when the order chose fewer terms for them; otherwise one file).
//! - Otherwise: the terms the order receives for the record (its categories; for a protected
//!   person the minimal terms without `sekretess`, or the chosen fewer terms) that changed;
//!   none → nothing. So while a person stays protected, changes of terms the order does not
//!   receive for protected persons are never delivered.
//!
//! Ändringspost: the changed terms, the number, and the marking of a protected person with
//! `alltid_markering`. Totalpost: every received term. When the folkbokföringsadress changes,
//! the previous one goes with it (föregående folkbokföringsadress, 8.33).

use crate::access::{Access, Term, TermMask};
use crate::model::{Folkbokforingspost, SvenskAdress};
use crate::store::journal::Change;
use crate::xml::write::{write_post, PostStyle};

use crate::register::orders::{Order, Posttyp};

pub use crate::model::change::Fil;

/// One record for one order's delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    /// Which file.
    pub fil: Fil,
    /// Which kind.
    pub kind: Posttyp,
    /// The terms to write (for a borttag or flyttsignal: the number and the marking).
    pub terms: TermMask,
    /// The record as it is after the change (before it, for a borttag).
    pub post: Folkbokforingspost,
    /// The previous folkbokföringsadress, when it changed.
    pub foregaende_adress: Option<SvenskAdress>,
}

/// The number and the marking: in every notice.
const KEY_TERMS: TermMask = TermMask::of(&[Term::PersonId, Term::Skydd]);

/// The terms whose content differs between two records (rendered as the wire shows them).
pub fn changed_terms(old: &Folkbokforingspost, new: &Folkbokforingspost) -> TermMask {
    let render = |p: &Folkbokforingspost, t: Term| {
        let mut w = quick_xml::Writer::new(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = write_post(&mut w, p, PostStyle::answer(TermMask::of(&[t])));
        w.into_inner()
    };
    let mut out = TermMask::NONE;
    for t in Term::ALL {
        if t != Term::PersonId && render(old, t) != render(new, t) {
            out = out.union(TermMask::of(&[t]));
        }
    }
    out
}

/// The order's view of one person.
struct Side<'a> {
    post: &'a Folkbokforingspost,
    counts: bool,
}

/// The notices `change` gives `order` of an organisation with `access`. `in_infil` says
/// whether the number is in the order's infil; `year` is the delivery's year (ålder).
pub fn notices(
    order: &Order,
    access: &Access,
    change: &Change,
    in_infil: bool,
    year: i32,
) -> Vec<Notice> {
    let diff = match (&change.old, &change.new) {
        (Some(o), Some(n)) => changed_terms(o, n),
        _ => TermMask::NONE,
    };
    notices_with_diff(order, access, change, diff, in_infil, year)
}

/// The notice a person gives `order`'s grunduttag (Navet 3.1): a totalpost of every term
/// the order receives, if the person counts for the order now (`post` with the markings of
/// its hänvisning links); `None` otherwise.
pub fn grund_notice(
    order: &Order,
    access: &Access,
    post: &Folkbokforingspost,
    year: i32,
) -> Option<Notice> {
    counts(order, access, post, false, year).then(|| total(order, access, post, None))
}

/// Whether a person counts for an order: in its population, and the organisation may see
/// the record and every term the population is chosen by.
fn counts(
    order: &Order,
    access: &Access,
    post: &Folkbokforingspost,
    in_infil: bool,
    year: i32,
) -> bool {
    access.may_see(post)
        && access.may_be_chosen_by(post, order.terms_read())
        && order.includes(post, in_infil, year)
}

/// [`notices`] with the change's [`changed_terms`] computed by the caller (once per change,
/// however many orders it is offered to).
pub fn notices_with_diff(
    order: &Order,
    access: &Access,
    change: &Change,
    diff: TermMask,
    in_infil: bool,
    year: i32,
) -> Vec<Notice> {
    let counts = |p: &Folkbokforingspost| counts(order, access, p, in_infil, year);
    let old = change.old.as_ref().map(|post| Side {
        post,
        counts: counts(post),
    });
    let new = change.new.as_ref().map(|post| Side {
        post,
        counts: counts(post),
    });
    let was_in = old.as_ref().is_some_and(|s| s.counts);
    let is_in = new.as_ref().is_some_and(|s| s.counts);
    match (old, new) {
        (o, Some(n)) if is_in && !was_in => {
            let t = total(order, access, n.post, None);
            // Back in after a protection (DOMAIN.md §4): today's terms only.
            if o.is_some_and(|o| o.post.is_protected() && !n.post.is_protected()) {
                vec![after_protection(t)]
            } else {
                vec![t]
            }
        }
        (Some(o), None) if was_in => vec![Notice {
            fil: file(order, o.post),
            kind: Posttyp::Borttag,
            terms: KEY_TERMS,
            post: o.post.clone(),
            foregaende_adress: None,
        }],
        (Some(o), Some(n)) if was_in => {
            if !is_in
                && order.flyttsignal
                && n.post.sekretessmarkering
                && n.post.personpost.avregistrering.is_none()
            {
                let mut post = n.post.clone();
                if let Some(fb) = post.personpost.folkbokforing.as_mut() {
                    fb.lan_kod = "99".into();
                }
                return vec![Notice {
                    fil: file(order, n.post),
                    kind: Posttyp::Flyttsignal,
                    terms: KEY_TERMS,
                    post,
                    foregaende_adress: None,
                }];
            }
            changed(order, access, o.post, n.post, diff)
        }
        _ => Vec::new(),
    }
}

/// The file a record goes in.
fn file(order: &Order, post: &Folkbokforingspost) -> Fil {
    file_of(order.split(), post)
}

/// The file a record goes in for an order that does (`split`) or does not choose fewer terms
/// for protected persons.
pub(crate) fn file_of(split: bool, post: &Folkbokforingspost) -> Fil {
    if split && post.is_protected() {
        Fil::B
    } else {
        Fil::A
    }
}

/// The terms the order receives for this record.
fn received(order: &Order, access: &Access, post: &Folkbokforingspost) -> TermMask {
    received_terms(order.skyddade_termer, access, post)
}

/// The terms an order with these fewer terms for protected persons (if any) receives for
/// this record: its organisation's, and for a protected person no more than the fewer ones.
pub(crate) fn received_terms(
    skyddade_termer: Option<TermMask>,
    access: &Access,
    post: &Folkbokforingspost,
) -> TermMask {
    let mut terms = access.terms_for(post);
    if post.is_protected() {
        if let Some(fewer) = skyddade_termer {
            terms = terms.intersect(fewer).union(KEY_TERMS);
        }
    }
    terms
}

fn total(
    order: &Order,
    access: &Access,
    post: &Folkbokforingspost,
    foregaende: Option<&Folkbokforingspost>,
) -> Notice {
    let mut n = totalpost(order.skyddade_termer, access, post);
    n.foregaende_adress = foregaende_adress(foregaende, post, n.terms);
    n
}

/// A totalpost of `post` for an order with these fewer terms for protected persons (if any),
/// in the file it belongs in.
pub(crate) fn totalpost(
    skyddade_termer: Option<TermMask>,
    access: &Access,
    post: &Folkbokforingspost,
) -> Notice {
    Notice {
        fil: file_of(skyddade_termer.is_some(), post),
        kind: Posttyp::Total,
        terms: received_terms(skyddade_termer, access, post),
        post: post.clone(),
        foregaende_adress: None,
    }
}

fn foregaende_adress(
    old: Option<&Folkbokforingspost>,
    new: &Folkbokforingspost,
    terms: TermMask,
) -> Option<SvenskAdress> {
    let old = old?;
    let before = old.personpost.adresser.folkbokforingsadress.as_ref();
    (terms.contains(Term::Folkbokforingsadress)
        && before != new.personpost.adresser.folkbokforingsadress.as_ref())
    .then(|| before.cloned())
    .flatten()
}

/// A person who was in the population and still is (or just left), whose record changed.
fn changed(
    order: &Order,
    access: &Access,
    old: &Folkbokforingspost,
    new: &Folkbokforingspost,
    diff: TermMask,
) -> Vec<Notice> {
    let andring = |fil: Fil, terms: TermMask, post: &Folkbokforingspost| Notice {
        fil,
        kind: Posttyp::Andring,
        terms: terms.union(TermMask::of(&[Term::PersonId])),
        post: post.clone(),
        foregaende_adress: foregaende_adress(Some(old), post, terms),
    };
    match (old.is_protected(), new.is_protected()) {
        // Protection set.
        (false, true) => {
            if order.split() {
                // Bilaga 2: A says only that the marking is set (totalpost: all terms incl.
                // the marking); B gets the fewer terms as a totalpost.
                let a = match order.posttyp {
                    Posttyp::Andring => andring(Fil::A, KEY_TERMS, new),
                    // Totalpost (the register allows no other posttyp for an order).
                    _ => Notice {
                        fil: Fil::A,
                        kind: Posttyp::Total,
                        terms: access.terms_for(new),
                        post: new.clone(),
                        foregaende_adress: None,
                    },
                };
                vec![a, total(order, access, new, Some(old))]
            } else {
                one_file(order, access, old, new, diff)
            }
        }
        // Protection lifted.
        (true, false) => {
            if order.split() {
                // Bilaga 2: A gets the whole record (the receiver had the person only in B);
                // B says the marking is gone (totalpost: the fewer terms without it).
                let a = after_protection(total(order, access, new, Some(old)));
                let b = match order.posttyp {
                    Posttyp::Andring => andring(Fil::B, KEY_TERMS, new),
                    _ => Notice {
                        fil: Fil::B,
                        kind: Posttyp::Total,
                        terms: order
                            .skyddade_termer
                            .unwrap_or(KEY_TERMS)
                            .intersect(access.terms_for(new))
                            .union(KEY_TERMS),
                        post: new.clone(),
                        foregaende_adress: None,
                    },
                };
                vec![a, b]
            } else if order.totalpost_vid_havning || order.posttyp == Posttyp::Total {
                vec![after_protection(total(order, access, new, Some(old)))]
            } else {
                one_file(order, access, old, new, diff)
                    .into_iter()
                    .map(after_protection)
                    .collect()
            }
        }
        _ => one_file(order, access, old, new, diff),
    }
}

/// What a protected period leaves behind in a record: its history of folkbokföring and the
/// taxering terms (income, property) of the protected years.
pub(crate) const FROM_PROTECTED_PERIOD: TermMask = TermMask::of(&[Term::Historik, Term::Taxering]);

/// A notice sent when protection is lifted holds today's terms only (DOMAIN.md §4): no
/// previous address (the address before the change is the protected period's), no
/// historik, no taxering.
fn after_protection(mut n: Notice) -> Notice {
    n.foregaende_adress = None;
    n.terms = n.terms.without(FROM_PROTECTED_PERIOD);
    n
}

/// An ordinary change in the order's one file for the record.
fn one_file(
    order: &Order,
    access: &Access,
    old: &Folkbokforingspost,
    new: &Folkbokforingspost,
    diff: TermMask,
) -> Vec<Notice> {
    let terms = received(order, access, new);
    let relevant = diff.intersect(terms);
    // The change time alone is no change of anything the receiver holds.
    let substantive = relevant.terms().any(|t| t != Term::Arendeuppgift);
    if !substantive {
        return Vec::new();
    }
    match order.posttyp {
        Posttyp::Andring => {
            let mut t = relevant.union(TermMask::of(&[Term::PersonId]));
            if new.is_protected() && order.alltid_markering {
                t = t.union(TermMask::of(&[Term::Skydd]));
            }
            vec![Notice {
                fil: file(order, new),
                kind: Posttyp::Andring,
                terms: t,
                post: new.clone(),
                foregaende_adress: foregaende_adress(Some(old), new, t),
            }]
        }
        _ => vec![total(order, access, new, Some(old))],
    }
}

#[cfg(test)]
mod tests;
