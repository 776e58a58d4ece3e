//! Secondary index keys: what namnsökning and hänvisning look up without reading records.
//!
//! All indexes live in one sled tree per generation; the first byte of a key names the index.
//! Word keys are `kind | folded word | 0x00 | pnr` so a prefix scan over `kind | prefix` finds
//! every word starting with it and a scan over `kind | word | 0x00` the whole word only.
//!
//! Protected persons get no search keys at all: a search cannot find, count or spend time on
//! them (DOMAIN.md §4), which is stronger than filtering them out afterwards.

use crate::ids::pnr::Pnr;
use crate::model::Folkbokforingspost;
use crate::search::{fodelsetid, words};

/// Förnamn words.
pub const FORNAMN: u8 = b'F';
/// Efternamn and mellannamn words.
pub const EFTER_MELLAN: u8 = b'E';
/// Postort words of folkbokföringsadress and särskild postadress.
pub const POSTORT: u8 = b'P';
/// Utdelningsadress words of the same addresses.
pub const ADRESS: u8 = b'A';
/// Birth date `YYYYMMDD` from the identity number.
pub const FODELSETID: u8 = b'D';
/// Postnummer, five digits.
pub const POSTNUMMER: u8 = b'N';
/// Hänvisning: `H | referred number | referring number`.
pub const HANVISNING: u8 = b'H';
/// Postort and efternamn/mellannamn together, the commonest namnsökning:
/// `C | postort word | 0x00 | name word | 0x00 | pnr`.
pub const POSTORT_NAMN: u8 = b'C';
/// Efternamn/mellannamn and förnamn together: `G | name word | 0x00 | förnamn word | 0x00 | pnr`.
pub const NAMN_FORNAMN: u8 = b'G';

/// Every index key of a record, sorted and without duplicates.
pub fn keys(post: &Folkbokforingspost) -> Vec<Vec<u8>> {
    let pnr = post.pnr();
    let p = &post.personpost;
    let mut out = Vec::with_capacity(16);
    for target in &p.hanvisning {
        let mut k = Vec::with_capacity(25);
        k.push(HANVISNING);
        k.extend_from_slice(target.as_bytes());
        k.extend_from_slice(pnr.as_bytes());
        out.push(k);
    }
    if !post.is_protected() {
        let n = &p.namn;
        let fornamn: Vec<String> = n.fornamn.iter().flat_map(|s| words(s)).collect();
        let names: Vec<String> = n
            .efternamn
            .iter()
            .chain(n.mellannamn.iter())
            .flat_map(|s| words(s))
            .collect();
        for w in &fornamn {
            out.push(word_key(FORNAMN, w, &pnr));
        }
        for w in &names {
            out.push(word_key(EFTER_MELLAN, w, &pnr));
            for f in &fornamn {
                out.push(pair_key(NAMN_FORNAMN, w, f, &pnr));
            }
        }
        let a = &p.adresser;
        for addr in a
            .folkbokforingsadress
            .iter()
            .chain(a.sarskild_postadress.iter())
        {
            for ort in addr.postort.iter().flat_map(|s| words(s)) {
                for name in &names {
                    out.push(pair_key(POSTORT_NAMN, &ort, name, &pnr));
                }
            }
            for w in addr.postort.iter().flat_map(|s| words(s)) {
                out.push(word_key(POSTORT, &w, &pnr));
            }
            for w in addr
                .utdelningsadress1
                .iter()
                .chain(addr.utdelningsadress2.iter())
                .flat_map(|s| words(s))
            {
                out.push(word_key(ADRESS, &w, &pnr));
            }
            if let Some(nr) = addr.post_nr.as_deref().filter(|s| s.len() == 5) {
                let mut k = Vec::with_capacity(18);
                k.push(POSTNUMMER);
                k.extend_from_slice(nr.as_bytes());
                k.extend_from_slice(pnr.as_bytes());
                out.push(k);
            }
        }
        let mut k = Vec::with_capacity(21);
        k.push(FODELSETID);
        k.extend_from_slice(format!("{:08}", fodelsetid(post)).as_bytes());
        k.extend_from_slice(pnr.as_bytes());
        out.push(k);
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `kind | word | 0x00 | pnr`.
fn word_key(kind: u8, word: &str, pnr: &Pnr) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + word.len() + 12);
    k.push(kind);
    k.extend_from_slice(word.as_bytes());
    k.push(0);
    k.extend_from_slice(pnr.as_bytes());
    k
}

/// The scan prefix for a word pattern: the whole word ends with the 0x00 separator.
pub fn word_prefix(kind: u8, folded: &str, prefix: bool) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + folded.len());
    k.push(kind);
    k.extend_from_slice(folded.as_bytes());
    if !prefix {
        k.push(0);
    }
    k
}

/// `kind | first | 0x00 | second | 0x00 | pnr`: a combined index of two words.
fn pair_key(kind: u8, first: &str, second: &str, pnr: &Pnr) -> Vec<u8> {
    let mut k = pair_prefix(kind, first, second, false);
    k.extend_from_slice(pnr.as_bytes());
    k
}

/// The scan prefix of a combined index ([`POSTORT_NAMN`], [`NAMN_FORNAMN`]) for a whole first
/// word and a pattern for the second.
pub fn pair_prefix(kind: u8, first: &str, second: &str, prefix: bool) -> Vec<u8> {
    let mut k = Vec::with_capacity(16 + first.len() + second.len());
    k.push(kind);
    k.extend_from_slice(first.as_bytes());
    k.push(0);
    k.extend_from_slice(second.as_bytes());
    if !prefix {
        k.push(0);
    }
    k
}

/// The identity number at the end of any index key.
pub fn pnr_of(key: &[u8]) -> Option<[u8; 12]> {
    let start = key.len().checked_sub(12)?;
    key[start..].try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_persons_have_no_search_keys() {
        let mut p = crate::model::tests::sample();
        assert!(keys(&p).iter().any(|k| k[0] == FORNAMN));
        p.sekretessmarkering = true;
        assert!(keys(&p).iter().all(|k| k[0] == HANVISNING));
        p.sekretessmarkering = false;
        p.skyddad_folkbokforing = true;
        assert!(keys(&p).is_empty());
    }

    #[test]
    fn word_keys_fold_and_split() {
        let p = crate::model::tests::sample();
        let ks = keys(&p);
        assert!(ks.contains(&word_key(FORNAMN, "åsa", &p.pnr())));
        assert!(ks.contains(&word_key(FORNAMN, "karin", &p.pnr())));
        assert!(ks.contains(&word_key(EFTER_MELLAN, "öberg", &p.pnr())));
        assert!(ks.contains(&word_key(ADRESS, "götgatan", &p.pnr())));
        let ort = words(
            p.personpost
                .adresser
                .folkbokforingsadress
                .as_ref()
                .unwrap()
                .postort
                .as_deref()
                .unwrap(),
        )
        .next()
        .unwrap();
        let pair = pair_prefix(POSTORT_NAMN, &ort, "öb", true);
        assert_eq!(ks.iter().filter(|k| k.starts_with(&pair)).count(), 1);
        let whole = pair_prefix(POSTORT_NAMN, &ort, "öb", false);
        assert!(!ks.iter().any(|k| k.starts_with(&whole)));
        let names = pair_prefix(NAMN_FORNAMN, "öberg", "kar", true);
        assert_eq!(ks.iter().filter(|k| k.starts_with(&names)).count(), 1);
        assert!(ks.contains(&pair_key(NAMN_FORNAMN, "öberg", "åsa", &p.pnr())));
        assert!(ks.iter().all(|k| pnr_of(k) == Some(*p.pnr().as_bytes())));
    }
}
