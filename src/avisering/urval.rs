//! Urval (Navet 3.2), slumpmässigt urval (3.3) and urval mot infil (3.4, bilaga 1): an order
//! that selects persons as they are when it runs, and delivers them as one delivery fetched
//! with `hamtaAvisering` like an avisering delivery.
//!
//! - **Urval**: everyone matching the order's sökbegrepp, where intervals are allowed
//!   (section 4), as of the moment the selection runs: never "lived there between". Sorted by
//!   up to three keys (section 5: any sökbegrepp, efternamn, postort), then by number.
//! - **Slumpmässigt urval**: undergroups, each with a wanted count, each drawn uniformly at
//!   random without replacement from its population (a person drawn for one undergroup is not
//!   drawn again for a later one). The seed is recorded in the delivery header; the same seed
//!   over the same data draws the same persons.
//! - **Infil**: the persons of the order's infil (`lamnaInfil`): run once at night
//!   (`enstaka`, bilaga 1 a), at night after each new infil (`periodisk`, b), or at once when
//!   the upload is complete (`svar_direkt`, c).
//!
//! Every order selects only persons of its categories that the organisation may see at all;
//! protected persons get the terms of the organisation's access (the minimal terms without
//! `sekretess`), or the fewer terms the order chose for them in file B (bilaga 2), or are left
//! out when the order says `utan_skyddade`. A sort key never uses a term the receiver does not
//! get for that person: a hidden value sorts as missing (last), so the order reveals nothing.
//!
//! This module decides who is selected, in which order; [`super::feed`] writes the delivery.

use std::collections::HashSet;

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::access::{Access, Term, TermMask};
use crate::ids::pnr::Pnr;
use crate::model::Folkbokforingspost;
use crate::store::{Snapshot, StoreError};

use crate::register::orders;
use crate::register::orders::Sokbegrepp;
use crate::register::urval_orders::{Sorteringsnyckel, Urval, UrvalOrder};

/// The term that holds the key's value: without it, the value is not the receiver's.
fn key_term(k: Sorteringsnyckel) -> Term {
    match k {
        Sorteringsnyckel::Lan | Sorteringsnyckel::Kommun => Term::Folkbokforing,
        Sorteringsnyckel::Postnummer | Sorteringsnyckel::Postort => Term::Folkbokforingsadress,
        // Read from Födelsedatum (else the number): a term of its own, withheld with the
        // rest of a protected person's.
        Sorteringsnyckel::Fodelsetid | Sorteringsnyckel::Alder => Term::Fodelsedatum,
        Sorteringsnyckel::Kon => Term::KonFodelsetid,
        Sorteringsnyckel::Medborgarskap | Sorteringsnyckel::MedborgarskapDatum => {
            Term::Medborgarskap
        }
        Sorteringsnyckel::AvregistreringDatum => Term::Avregistrering,
        Sorteringsnyckel::Efternamn => Term::Namn,
    }
}

/// The key's value in a record.
fn key_value(k: Sorteringsnyckel, post: &Folkbokforingspost, year: i32) -> Option<String> {
    let p = &post.personpost;
    let fb = p.folkbokforing.as_ref();
    let adress = p.adresser.folkbokforingsadress.as_ref();
    match k {
        Sorteringsnyckel::Lan => fb.map(|f| f.lan_kod.clone()),
        Sorteringsnyckel::Kommun => fb.map(|f| f.kommunkod4()),
        Sorteringsnyckel::Postnummer => adress.and_then(|a| a.post_nr.clone()),
        Sorteringsnyckel::Postort => adress.and_then(|a| a.postort.clone()),
        Sorteringsnyckel::Fodelsetid => orders::birth_date(post),
        Sorteringsnyckel::Alder => orders::alder(post, year).map(|a| format!("{a:03}")),
        Sorteringsnyckel::Kon => Some(if p.person_id.is_male() { "M" } else { "K" }.into()),
        Sorteringsnyckel::Medborgarskap => p.medborgarskap.first().map(|m| m.landkod.clone()),
        Sorteringsnyckel::MedborgarskapDatum => p
            .medborgarskap
            .iter()
            .find(|m| m.landkod == "SE")
            .and_then(|m| m.datum)
            .map(|d| d.to_string()),
        Sorteringsnyckel::AvregistreringDatum => {
            p.avregistrering.as_ref().map(|a| a.datum.to_string())
        }
        Sorteringsnyckel::Efternamn => p.namn.efternamn.clone(),
    }
}

/// Whether `post` may be delivered at all: the organisation may see it, it is of the
/// order's categories, and it is not a protected person the order left out.
fn counts(order: &UrvalOrder, access: &Access, post: &Folkbokforingspost) -> bool {
    access.may_see(post)
        && access.may_be_chosen_by(post, order.terms_read())
        && orders::kategori_of(post).is_some_and(|k| order.kategorier.contains(&k))
        && !(order.utan_skyddade && post.is_protected())
}

/// The key `post` sorts by, from the terms the receiver gets for it only.
fn sort_key(
    order: &UrvalOrder,
    received: TermMask,
    post: &Folkbokforingspost,
    year: i32,
) -> Vec<u8> {
    let mut key = Vec::new();
    for k in &order.sortering {
        let value = received
            .contains(key_term(*k))
            .then(|| key_value(*k, post, year))
            .flatten();
        collation::push(&mut key, value.as_deref());
    }
    key
}

/// The kind of an urval delivery, as its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UrvalTyp {
    /// By sökbegrepp.
    Urval,
    /// Slumpmässigt urval.
    SlumpmassigtUrval,
    /// Mot infil, at night.
    Infil,
    /// Svar direkt mot infil.
    SvarDirekt,
}

impl UrvalTyp {
    /// As the header writes it.
    pub fn name(self) -> &'static str {
        match self {
            UrvalTyp::Urval => "urval",
            UrvalTyp::SlumpmassigtUrval => "slumpmassigt_urval",
            UrvalTyp::Infil => "infil",
            UrvalTyp::SvarDirekt => "svar_direkt",
        }
    }
}

/// One selected person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Whom.
    pub pnr: Pnr,
    /// The undergroup (1-based) of a slumpmässigt urval.
    pub undergrupp: Option<u16>,
    key: Vec<u8>,
}

/// What a run selected, in delivery order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The persons, sorted.
    pub hits: Vec<Hit>,
    /// Per undergroup: (wanted, population, drawn).
    pub undergrupper: Vec<(u32, u64, u32)>,
    /// Infil numbers not delivered (not in the register, or not for this receiver: the two
    /// are not told apart).
    pub ej_funna: u64,
}

/// Runs `order` over `snapshot` for an organisation with `access`. `year` is the run's year
/// (ålder); `seed` draws a slumpmässigt urval; `infil` holds the numbers of an infil order.
pub fn select(
    order: &UrvalOrder,
    access: &Access,
    snapshot: &Snapshot<'_>,
    year: i32,
    seed: u64,
    infil: &[Pnr],
) -> Result<Selection, StoreError> {
    let hit = |post: &Folkbokforingspost, undergrupp: Option<u16>| Hit {
        pnr: post.pnr(),
        undergrupp,
        key: sort_key(order, access_terms(order, access, post), post, year),
    };
    // A record of the scan that `sok` chooses for this receiver: the criteria first (they
    // read no marking), then the hänvisning links of the few that match.
    let chosen = |post: Result<Folkbokforingspost, StoreError>,
                  sok: &Sokbegrepp|
     -> Result<Option<Folkbokforingspost>, StoreError> {
        let post = post?;
        if !sok.matches(&post, year) {
            return Ok(None);
        }
        let post = snapshot.with_linked_markings(post)?;
        Ok(counts(order, access, &post).then_some(post))
    };
    let mut selection = Selection::default();
    match &order.urval {
        Urval::Sokbegrepp(sok) => {
            for post in snapshot.iter() {
                if let Some(post) = chosen(post, sok)? {
                    selection.hits.push(hit(&post, None));
                }
            }
        }
        Urval::Infil(_) => {
            let mut seen = HashSet::new();
            for pnr in infil {
                if !seen.insert(*pnr) {
                    continue;
                }
                match snapshot.get_marked(pnr)? {
                    Some(post) if counts(order, access, &post) => {
                        selection.hits.push(hit(&post, None))
                    }
                    _ => selection.ej_funna += 1,
                }
            }
        }
        Urval::Slump {
            sok, undergrupper, ..
        } => {
            let mut populations: Vec<Vec<Pnr>> = vec![Vec::new(); undergrupper.len()];
            for post in snapshot.iter() {
                let Some(post) = chosen(post, sok)? else {
                    continue;
                };
                for (g, u) in undergrupper.iter().enumerate() {
                    if u.sok.matches(&post, year) {
                        populations[g].push(post.pnr());
                    }
                }
            }
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
            let mut drawn: HashSet<Pnr> = HashSet::new();
            for (g, (u, mut population)) in undergrupper.iter().zip(populations).enumerate() {
                population.retain(|p| !drawn.contains(p));
                let size = population.len() as u64;
                let picked = draw(&mut rng, &mut population, u.antal as usize);
                let label = u16::try_from(g + 1).unwrap_or(u16::MAX);
                for pnr in picked {
                    drawn.insert(*pnr);
                    if let Some(post) = snapshot.get_marked(pnr)? {
                        selection.hits.push(hit(&post, Some(label)));
                    }
                }
                let got = selection
                    .hits
                    .iter()
                    .filter(|h| h.undergrupp == Some(label))
                    .count();
                selection.undergrupper.push((
                    u.antal,
                    size,
                    u32::try_from(got).unwrap_or(u32::MAX),
                ));
            }
        }
    }
    selection.hits.sort_by(|a, b| {
        (&a.key, a.undergrupp, a.pnr.as_bytes()).cmp(&(&b.key, b.undergrupp, b.pnr.as_bytes()))
    });
    Ok(selection)
}

/// The terms the receiver gets for `post` (the file B terms for a protected person when the
/// order chose fewer).
pub fn access_terms(order: &UrvalOrder, access: &Access, post: &Folkbokforingspost) -> TermMask {
    super::select::received_terms(order.skyddade_termer, access, post)
}

/// Draws `n` of `population` uniformly at random without replacement (a partial
/// Fisher–Yates shuffle): every subset of size `n` is equally likely. All when there are
/// not more than `n`.
fn draw<'a, R: Rng>(rng: &mut R, population: &'a mut [Pnr], n: usize) -> &'a [Pnr] {
    let n = n.min(population.len());
    for i in 0..n {
        let j = rng.gen_range(i..population.len());
        population.swap(i, j);
    }
    &population[..n]
}

/// Swedish alphabetical order (SAOL/Svenska Akademien): letters a–z, then å, ä, ö; case and
/// accents do not count (é is e, ü is y, æ is ä, ø is ö); digits before letters, numerically
/// for numbers of equal length (kommunkod, postnummer, dates).
pub mod collation {
    use unicode_normalization::UnicodeNormalization;

    /// Ends a present value: sorts before any character, so a prefix comes first.
    const END: u8 = 0;
    /// Starts a present value.
    const PRESENT: u8 = 1;
    /// A missing (or hidden) value: after every present one.
    const MISSING: u8 = 2;

    /// The weight of one character.
    fn weight(c: char) -> u8 {
        let c = match c {
            'å' => return 40,
            'ä' | 'æ' => return 41,
            'ö' | 'ø' => return 42,
            'ü' => 'y',
            c => c,
        };
        // Other accented letters sort as their base letter.
        let base = c.nfd().next().unwrap_or(c);
        match base {
            '0'..='9' => 4 + (base as u8 - b'0'),
            'a'..='z' => 14 + (base as u8 - b'a'),
            c if c.is_whitespace() || c == '-' => 3,
            _ => 43,
        }
    }

    /// Appends `value`'s key to `key`: comparing whole keys byte-wise compares the values
    /// one by one, each in Swedish order, missing values last.
    pub fn push(key: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(v) => {
                key.push(PRESENT);
                key.extend(v.chars().flat_map(char::to_lowercase).map(weight));
                key.push(END);
            }
            None => key.push(MISSING),
        }
    }

    /// The key of one value.
    pub fn key(value: &str) -> Vec<u8> {
        let mut k = Vec::new();
        push(&mut k, Some(value));
        k
    }
}

#[cfg(test)]
mod tests;
