//! A delivery in file A and file B (Navet's Bilaga 2), as Navet makes it for a receiver that
//! chose fewer terms for protected persons: file A holds everyone else with every term, file
//! B the protected persons with the fewer terms only; when a protection is set or lifted the
//! person is in both, as Bilaga 2's tables say.

use std::collections::{BTreeMap, HashSet};

use crate::ids::pnr::Pnr;
use crate::model::change::{DeliveryRecord, Fil, Posttyp, ALWAYS_CARRIED};
use crate::model::term::{Term, TermMask};
use crate::model::Folkbokforingspost;

/// One record of a file, with the terms it is written with.
pub type Part = (DeliveryRecord, TermMask);

/// Where a grunduttag's record goes: a protected person to file B (1) with `fewer` terms,
/// everyone else to file A (0) with every term.
pub fn full_one(r: DeliveryRecord, fewer: TermMask) -> (usize, Part) {
    if r.post.is_protected() {
        (1, (r, fewer))
    } else {
        (0, (r, TermMask::ALL))
    }
}

/// Splits a delta's records by Bilaga 2's tables: `protected_before` are the numbers protected
/// before the delta, `after` the population after it (whole records), `fewer` file B's terms.
pub fn delta(
    records: Vec<DeliveryRecord>,
    protected_before: &HashSet<Pnr>,
    after: &BTreeMap<Pnr, Folkbokforingspost>,
    fewer: TermMask,
) -> [Vec<Part>; 2] {
    let marking = ALWAYS_CARRIED.union(TermMask::of(&[Term::Skydd]));
    let mut out: [Vec<Part>; 2] = [Vec::new(), Vec::new()];
    let mut put = |fil: Fil, part: Part| out[usize::from(fil == Fil::B)].push(part);
    for r in records {
        let pnr = r.post.pnr();
        let was = protected_before.contains(&pnr);
        match r.posttyp {
            Posttyp::Borttag | Posttyp::Flyttsignal => {
                put(if was { Fil::B } else { Fil::A }, (r, TermMask::ALL))
            }
            Posttyp::Total if r.post.is_protected() => put(Fil::B, (r, fewer)),
            Posttyp::Total => put(Fil::A, (r, TermMask::ALL)),
            Posttyp::Andring => {
                let whole = after.get(&pnr).cloned().unwrap_or_else(|| r.post.clone());
                let total = |post: Folkbokforingspost| DeliveryRecord {
                    posttyp: Posttyp::Total,
                    post,
                    present: TermMask::ALL,
                };
                let number_and_marking = |post: Folkbokforingspost| DeliveryRecord {
                    posttyp: Posttyp::Andring,
                    post,
                    present: marking,
                };
                match (was, whole.is_protected()) {
                    (false, false) => put(Fil::A, (r, TermMask::ALL)),
                    // Set: A the number and the marking; B a totalpost of the fewer terms.
                    (false, true) => {
                        put(Fil::A, (number_and_marking(whole.clone()), TermMask::ALL));
                        put(Fil::B, (total(whole), fewer));
                    }
                    // Lifted: A a totalpost of every term; B the number and the lifted marking.
                    (true, false) => {
                        put(Fil::A, (total(whole.clone()), TermMask::ALL));
                        put(Fil::B, (number_and_marking(whole), TermMask::ALL));
                    }
                    // Still protected: B, the changed terms among the fewer ones, if any.
                    (true, true) => {
                        if !r.present.intersect(fewer).without(marking).is_empty()
                            || r.present.contains(Term::Skydd)
                        {
                            put(Fil::B, (r, fewer));
                        }
                    }
                }
            }
        }
    }
    out
}
