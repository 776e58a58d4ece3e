//! Namnsökning semantics: how names and words are folded, what a query is, and whether a
//! record matches it (WIRE.md, "Requests", Decision on search semantics).
//!
//! Owns the one folding rule the indexes and the final match both use, so an index can never
//! disagree with the check on the record. Never decides visibility (that is `access`); the
//! store simply does not index protected persons.

use unicode_normalization::UnicodeNormalization;

use crate::model::{Folkbokforingspost, Kon, SvenskAdress};

/// Fewest non-wildcard characters before a trailing `*`: a one-letter prefix would scan a
/// large part of the register for one request.
pub const MIN_PREFIX_CHARS: usize = 2;

/// Folds text for matching: lower case, diacritics removed (é → e, ü → u) except that å, ä and
/// ö stay distinct letters as Swedish sorts them; æ → ä and ø → ö as Swedish collation treats
/// them. Characters other than letters and digits become spaces.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.nfd().peekable();
    while let Some(c) = chars.next() {
        let mut c = c;
        // Combine a base letter with the marks that make å, ä, ö; drop other marks.
        while let Some(&m) = chars.peek() {
            if !is_combining(m) {
                break;
            }
            chars.next();
            c = match (c.to_ascii_lowercase(), m) {
                ('a', '\u{030A}') => 'å',
                ('a', '\u{0308}') => 'ä',
                ('o', '\u{0308}') => 'ö',
                _ => c,
            };
        }
        for l in c.to_lowercase() {
            match l {
                'æ' => out.push('ä'),
                'ø' => out.push('ö'),
                l if l.is_alphanumeric() => out.push(l),
                _ => out.push(' '),
            }
        }
    }
    out
}

fn is_combining(c: char) -> bool {
    ('\u{0300}'..='\u{036F}').contains(&c)
}

/// The words of a text, folded: what the name, postort and address indexes hold.
pub fn words(text: &str) -> impl Iterator<Item = String> {
    fold(text)
        .split_whitespace()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into_iter()
}

/// One word of a search criterion: whole word, or a prefix with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordPattern {
    /// The folded word or prefix.
    pub folded: String,
    /// `true` for `sar*`.
    pub prefix: bool,
}

impl WordPattern {
    /// Whether a folded word matches.
    pub fn matches(&self, word: &str) -> bool {
        if self.prefix {
            word.starts_with(&self.folded)
        } else {
            word == self.folded
        }
    }
}

/// Why a criterion's text is not a valid pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Nothing to match after folding.
    #[error("criterion has no letters or digits")]
    Empty,
    /// `*` anywhere but at the end of a word.
    #[error("'*' is allowed only at the end of a word")]
    Wildcard,
    /// A wildcard after fewer than [`MIN_PREFIX_CHARS`] characters.
    #[error("a wildcard needs at least {MIN_PREFIX_CHARS} characters before it")]
    ShortPrefix,
}

/// Parses a criterion into word patterns: every word must match some word of the field.
pub fn parse_patterns(text: &str) -> Result<Vec<WordPattern>, PatternError> {
    let mut out = Vec::new();
    for raw in text.split_whitespace() {
        let (body, prefix) = match raw.strip_suffix('*') {
            Some(b) => (b, true),
            None => (raw, false),
        };
        if body.contains('*') {
            return Err(PatternError::Wildcard);
        }
        let folded: Vec<String> = words(body).collect();
        if prefix {
            // "Britt-Ma*": all words but the last are whole, the last is the prefix.
            let n = folded.len();
            for (i, w) in folded.into_iter().enumerate() {
                let last = i + 1 == n;
                if last && w.chars().count() < MIN_PREFIX_CHARS {
                    return Err(PatternError::ShortPrefix);
                }
                out.push(WordPattern {
                    folded: w,
                    prefix: last,
                });
            }
            if n == 0 {
                return Err(PatternError::ShortPrefix);
            }
        } else {
            out.extend(folded.into_iter().map(|w| WordPattern {
                folded: w,
                prefix: false,
            }));
        }
    }
    if out.is_empty() {
        return Err(PatternError::Empty);
    }
    Ok(out)
}

/// A namnsökning query, parsed and validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Förnamn words.
    pub fornamn: Vec<WordPattern>,
    /// Words matched against efternamn or mellannamn.
    pub efter_mellan: Vec<WordPattern>,
    /// Postort words.
    pub postort: Vec<WordPattern>,
    /// Address words (utdelningsadress).
    pub adress: Vec<WordPattern>,
    /// First birth date, inclusive, as `YYYYMMDD`.
    pub fodelse_from: Option<u32>,
    /// Last birth date, inclusive, as `YYYYMMDD`.
    pub fodelse_tom: Option<u32>,
    /// Kön.
    pub kon: Option<Kon>,
    /// First postnummer, inclusive.
    pub postnr_from: Option<u32>,
    /// Last postnummer, inclusive.
    pub postnr_tom: Option<u32>,
    /// Kategori `FB`: only persons who are folkbokförda (not deregistered).
    pub endast_folkbokforda: bool,
}

impl SearchQuery {
    /// Whether the query has a name plus one more criterion, as a search needs (fault 1102).
    pub fn is_specific_enough(&self) -> bool {
        let names =
            usize::from(!self.fornamn.is_empty()) + usize::from(!self.efter_mellan.is_empty());
        let others = usize::from(!self.postort.is_empty())
            + usize::from(!self.adress.is_empty())
            + usize::from(self.fodelse_from.is_some() || self.fodelse_tom.is_some())
            + usize::from(self.kon.is_some())
            + usize::from(self.postnr_from.is_some() || self.postnr_tom.is_some());
        names >= 1 && names + others >= 2
    }

    /// The authoritative check of a record against every criterion.
    pub fn matches(&self, post: &Folkbokforingspost) -> bool {
        let p = &post.personpost;
        let n = &p.namn;
        if !all_words_match(&self.fornamn, [n.fornamn.as_deref()]) {
            return false;
        }
        if !all_words_match(
            &self.efter_mellan,
            [n.efternamn.as_deref(), n.mellannamn.as_deref()],
        ) {
            return false;
        }
        let addrs = [
            p.adresser.folkbokforingsadress.as_ref(),
            p.adresser.sarskild_postadress.as_ref(),
        ];
        if !all_words_match(
            &self.postort,
            addrs.map(|a| a.and_then(|a| a.postort.as_deref())),
        ) {
            return false;
        }
        if !self.adress.is_empty()
            && !addrs
                .iter()
                .flatten()
                .any(|a| adress_matches(&self.adress, a))
        {
            return false;
        }
        if self.fodelse_from.is_some() || self.fodelse_tom.is_some() {
            let born = fodelsetid(post);
            if self.fodelse_from.is_some_and(|f| born < f)
                || self.fodelse_tom.is_some_and(|t| born > t)
            {
                return false;
            }
        }
        if let Some(kon) = self.kon {
            if (kon == Kon::M) != post.pnr().is_male() {
                return false;
            }
        }
        if self.postnr_from.is_some() || self.postnr_tom.is_some() {
            let in_range = |a: &&SvenskAdress| {
                a.post_nr
                    .as_deref()
                    .and_then(|s| s.parse::<u32>().ok())
                    .is_some_and(|nr| {
                        self.postnr_from.is_none_or(|f| nr >= f)
                            && self.postnr_tom.is_none_or(|t| nr <= t)
                    })
            };
            if !addrs.iter().flatten().any(in_range) {
                return false;
            }
        }
        if self.endast_folkbokforda && (p.avregistrering.is_some() || p.folkbokforing.is_none()) {
            return false;
        }
        true
    }
}

/// Birth date from the identity number as `YYYYMMDD` (the `Fodelsetid` term).
pub fn fodelsetid(post: &Folkbokforingspost) -> u32 {
    use chrono::Datelike;
    post.pnr()
        .birth_date()
        .map(|d| d.year() as u32 * 10000 + d.month() * 100 + d.day())
        .unwrap_or(0)
}

fn adress_matches(patterns: &[WordPattern], a: &SvenskAdress) -> bool {
    all_words_match(
        patterns,
        [
            a.utdelningsadress1.as_deref(),
            a.utdelningsadress2.as_deref(),
            a.care_of.as_deref(),
        ],
    )
}

/// Every pattern matches some word of some of the fields.
fn all_words_match<const N: usize>(patterns: &[WordPattern], fields: [Option<&str>; N]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let ws: Vec<String> = fields.iter().flatten().flat_map(|f| words(f)).collect();
    patterns.iter().all(|p| ws.iter().any(|w| p.matches(w)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_swedish_letters_distinct() {
        assert_eq!(fold("Åsa Öberg-Ängström"), "åsa öberg ängström");
        assert_eq!(fold("José Zoë Müller"), "jose zoe muller");
        assert_eq!(fold("ÅSA"), fold("åsa"));
        assert_ne!(fold("Åsa"), fold("Asa"));
        assert_eq!(fold("Bjørn Dæhlie"), "björn dählie");
        // Precomposed and decomposed forms fold the same.
        assert_eq!(fold("O\u{0308}berg"), fold("Öberg"));
    }

    #[test]
    fn patterns_need_two_characters_before_a_wildcard() {
        assert_eq!(
            parse_patterns("sar*").unwrap(),
            vec![WordPattern {
                folded: "sar".into(),
                prefix: true
            }]
        );
        assert_eq!(parse_patterns("s*"), Err(PatternError::ShortPrefix));
        assert_eq!(parse_patterns("*"), Err(PatternError::ShortPrefix));
        assert_eq!(parse_patterns("s*r"), Err(PatternError::Wildcard));
        assert_eq!(parse_patterns(" - "), Err(PatternError::Empty));
        assert_eq!(parse_patterns("Britt-Ma*").unwrap().len(), 2);
    }

    #[test]
    fn whole_words_not_substrings() {
        let p = parse_patterns("Sara").unwrap();
        assert!(p[0].matches("sara"));
        assert!(!p[0].matches("sarah"));
        let w = parse_patterns("sar*").unwrap();
        assert!(w[0].matches("sarah"));
        assert!(!w[0].matches("isar"));
    }

    #[test]
    fn a_query_needs_a_name_and_one_more_criterion() {
        let name = parse_patterns("anna").unwrap();
        let q = SearchQuery {
            fornamn: name.clone(),
            ..Default::default()
        };
        assert!(!q.is_specific_enough());
        let q = SearchQuery {
            fornamn: name.clone(),
            kon: Some(Kon::K),
            ..Default::default()
        };
        assert!(q.is_specific_enough());
        let q = SearchQuery {
            fornamn: name.clone(),
            efter_mellan: name,
            ..Default::default()
        };
        assert!(q.is_specific_enough());
        let q = SearchQuery {
            kon: Some(Kon::K),
            postnr_from: Some(11000),
            ..Default::default()
        };
        assert!(!q.is_specific_enough());
    }

    #[test]
    fn matches_checks_every_criterion() {
        let post = crate::model::tests::sample();
        let mut q = SearchQuery {
            fornamn: parse_patterns("asa").unwrap(),
            efter_mellan: parse_patterns("öb*").unwrap(),
            ..Default::default()
        };
        assert!(!q.matches(&post), "å and a are distinct");
        q.fornamn = parse_patterns("ÅSA").unwrap();
        assert!(q.matches(&post));
        q.postort = parse_patterns("stockholm").unwrap();
        q.postnr_from = Some(11600);
        q.postnr_tom = Some(11699);
        q.fodelse_from = Some(19860101);
        q.fodelse_tom = Some(19861231);
        q.kon = Some(Kon::M);
        q.adress = parse_patterns("götg*").unwrap();
        q.endast_folkbokforda = true;
        assert!(q.matches(&post));
        q.kon = Some(Kon::K);
        assert!(!q.matches(&post));
    }
}
