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
    /// `FodelsetidFrom`: the lowest födelsetid, inclusive, as the identity number writes it
    /// (`YYYYMMDD`, a samordningsnummer's day + 60), widened by [`Bound::From`].
    pub fodelse_from: Option<u32>,
    /// `FodelsetidTom`: the highest födelsetid, inclusive, widened by [`Bound::Tom`].
    pub fodelse_tom: Option<u32>,
    /// Kön.
    pub kon: Option<Kon>,
    /// `PostnummerFrom`: the lowest postnummer, inclusive, widened by [`Bound::From`].
    pub postnr_from: Option<u32>,
    /// `PostnummerTom`: the highest postnummer, inclusive, widened by [`Bound::Tom`].
    pub postnr_tom: Option<u32>,
    /// `Kategori`: everyone, or the folkbokförda only.
    pub kategori: Kategori,
}

/// `Kategori` of a namnsökning (`KategoriTYPE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kategori {
    /// `AL`: everyone (the default; also an empty, nil or absent `Kategori`).
    #[default]
    Alla,
    /// `FB`: only persons who are folkbokförda now ([`folkbokford`]).
    Folkbokforda,
}

/// Whether the person is folkbokförd now: has a current folkbokföring and is not
/// deregistered. A samordningsnummer holder, never folkbokförd, is not.
pub fn folkbokford(post: &Folkbokforingspost) -> bool {
    let p = &post.personpost;
    p.folkbokforing.is_some() && p.avregistrering.is_none()
}

/// Which end of an inclusive range a leading part of a number bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The lower end: the digits not given are 0 (`From 1985` = from `19850000`).
    From,
    /// The upper end: the digits not given are 9 (`Tom 1985` = through `19859999`), so every
    /// number starting with the given digits is inside.
    Tom,
}

impl Bound {
    /// The `width`-digit bound of a leading part of `digits.len()` (1 to `width`) digits.
    fn widen(self, digits: &str, width: usize) -> Option<u32> {
        if digits.is_empty() || digits.len() > width || !digits.bytes().all(|c| c.is_ascii_digit())
        {
            return None;
        }
        let given: u32 = digits.parse().ok()?;
        let scale = 10u32.pow((width - digits.len()) as u32);
        Some(match self {
            Bound::From => given * scale,
            Bound::Tom => (given + 1) * scale - 1,
        })
    }
}

/// Why a `Fodelsetid…` or `Postnummer…` criterion is not a leading part of a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    /// Not 1 to 8 ASCII digits.
    #[error("must be 1 to 8 digits, a leading part of YYYYMMDD")]
    Fodelsetid,
    /// A month (or its first digit) that no month has.
    #[error("has no month 01-12")]
    Month,
    /// A day (or its first digit) that no day has.
    #[error("has no day 01-31, or 61-91 for a samordningsnummer")]
    Day,
    /// Not 1 to 5 ASCII digits.
    #[error("must be 1 to 5 digits, a leading part of the postnummer")]
    Postnummer,
}

/// A `FodelsetidFrom`/`FodelsetidTom` bound: 1 to 8 leading digits of `YYYYMMDD`, the month
/// 01–12, the day 01–31 or 61–91 (a samordningsnummer's day + 60), as far as they are given;
/// widened by `end`. The calendar is not checked (`19850231` bounds as well as any), and a
/// partial value bounds by prefix: `From 1985` and `Tom 1985` together are the persons and
/// samordningsnummer born in 1985; `From 19850161` starts at the samordningsnummer born on
/// 1 January 1985.
pub fn fodelsetid_bound(v: &str, end: Bound) -> Result<u32, BoundError> {
    let bound = end.widen(v, 8).ok_or(BoundError::Fodelsetid)?;
    let digit = |i: usize| v.as_bytes().get(i).map(|c| c - b'0');
    match (digit(4), digit(5)) {
        (Some(t), _) if t > 1 => return Err(BoundError::Month),
        (Some(t), Some(u)) if !(1..=12).contains(&(t * 10 + u)) => return Err(BoundError::Month),
        _ => {}
    }
    match (digit(6), digit(7)) {
        (Some(4 | 5), _) => return Err(BoundError::Day),
        (Some(t), Some(u)) => {
            let day = t * 10 + u;
            if !(1..=31).contains(&day) && !(61..=91).contains(&day) {
                return Err(BoundError::Day);
            }
        }
        _ => {}
    }
    Ok(bound)
}

/// A `PostnummerFrom`/`PostnummerTom` bound: 1 to 5 leading digits of the postnummer
/// (spaces ignored, so `114 00` is `11400`), widened by `end`: `From 12` is from `12000`,
/// `Tom 12` through `12999`.
pub fn postnummer_bound(v: &str, end: Bound) -> Result<u32, BoundError> {
    let digits: String = v.chars().filter(|c| *c != ' ').collect();
    end.widen(&digits, 5).ok_or(BoundError::Postnummer)
}

impl SearchQuery {
    /// Whether the query has a name criterion (`Fornamn` or `EfterMellanNamn`), as a search
    /// needs (fault 1102). One name alone is a valid search (WIRE.md, "Requests").
    pub fn has_name(&self) -> bool {
        !self.fornamn.is_empty() || !self.efter_mellan.is_empty()
    }

    /// The birth dates (`YYYYMMDD` of [`fodelsetid`], a samordningsnummer's real day) of
    /// every record the födelsetid criteria can match, for a scan of the index: the bounds
    /// are on the number as written, where a samordningsnummer's day is 60 more, so the
    /// lower end moves down by 60. A wider range than the match: the records decide.
    pub fn fodelsetid_range(&self) -> Option<(u32, u32)> {
        if self.fodelse_from.is_none() && self.fodelse_tom.is_none() {
            return None;
        }
        Some((
            self.fodelse_from.unwrap_or(0).saturating_sub(60),
            self.fodelse_tom.unwrap_or(99_999_999),
        ))
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
            let born = fodelsetid_skriven(post);
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
        if self.kategori == Kategori::Folkbokforda && !folkbokford(post) {
            return false;
        }
        true
    }
}

/// The födelsetid as the identity number writes it: its first eight digits, `YYYYMMDD`
/// with a samordningsnummer's day + 60 — what `FodelsetidFrom`/`Tom` bound.
pub fn fodelsetid_skriven(post: &Folkbokforingspost) -> u32 {
    post.pnr().as_bytes()[..8]
        .iter()
        .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
}

/// Birth date from the identity number as `YYYYMMDD` (the `Fodelsetid` term; a
/// samordningsnummer's real day): the key of the store's födelsetid index.
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
    fn one_name_criterion_is_a_search_and_none_is_not() {
        let name = parse_patterns("anna").unwrap();
        for (q, has_name) in [
            (
                SearchQuery {
                    fornamn: name.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                SearchQuery {
                    efter_mellan: name.clone(),
                    ..Default::default()
                },
                true,
            ),
            (
                SearchQuery {
                    fornamn: name.clone(),
                    efter_mellan: name,
                    ..Default::default()
                },
                true,
            ),
            (
                SearchQuery {
                    kon: Some(Kon::K),
                    postnr_from: Some(11000),
                    postort: parse_patterns("lund").unwrap(),
                    ..Default::default()
                },
                false,
            ),
            (SearchQuery::default(), false),
        ] {
            assert_eq!(q.has_name(), has_name, "{q:?}");
        }
    }

    #[test]
    fn a_leading_part_of_a_fodelsetid_bounds_by_prefix() {
        use Bound::{From, Tom};
        for (v, end, want) in [
            ("19850221", From, 19850221),
            ("19850221", Tom, 19850221),
            ("1985", From, 19850000),
            ("1985", Tom, 19859999),
            ("198502", From, 19850200),
            ("198502", Tom, 19850299),
            ("1985016", Tom, 19850169),
            ("19850161", From, 19850161),
            ("19850191", Tom, 19850191),
            ("19850131", Tom, 19850131),
            ("1", From, 10000000),
            ("1", Tom, 19999999),
            ("19850231", From, 19850231), // a bound, not a date: the calendar is not checked
        ] {
            assert_eq!(fodelsetid_bound(v, end), Ok(want), "{v} {end:?}");
        }
        for (v, err) in [
            ("", BoundError::Fodelsetid),
            ("198502211", BoundError::Fodelsetid),
            ("1985-02", BoundError::Fodelsetid),
            ("１９８５", BoundError::Fodelsetid),
            ("19852", BoundError::Month),
            ("198500", BoundError::Month),
            ("198513", BoundError::Month),
            ("1985024", BoundError::Day),
            ("1985025", BoundError::Day),
            ("19850200", BoundError::Day),
            ("19850232", BoundError::Day),
            ("19850260", BoundError::Day),
            ("19850292", BoundError::Day),
        ] {
            assert_eq!(fodelsetid_bound(v, Bound::From), Err(err), "{v}");
        }
    }

    #[test]
    fn a_leading_part_of_a_postnummer_bounds_by_prefix() {
        use Bound::{From, Tom};
        for (v, end, want) in [
            ("12", From, 12000),
            ("12", Tom, 12999),
            ("11400", From, 11400),
            ("114 00", Tom, 11400),
            ("1", Tom, 19999),
            ("9", From, 90000),
            ("1234", Tom, 12349),
        ] {
            assert_eq!(postnummer_bound(v, end), Ok(want), "{v} {end:?}");
        }
        for v in ["", " ", "123456", "12a", "-12", "１２"] {
            assert_eq!(
                postnummer_bound(v, Bound::From),
                Err(BoundError::Postnummer),
                "{v:?}"
            );
        }
    }

    /// `sample()` with another identity number.
    fn numbered(pnr: &str) -> Folkbokforingspost {
        let mut post = crate::model::tests::sample();
        post.personpost.person_id = crate::ids::Pnr::parse(pnr).unwrap();
        post
    }

    #[test]
    fn fodelsetid_bounds_the_number_as_written_so_day_61_to_91_finds_samordningsnummer() {
        let born = chrono::NaiveDate::from_ymd_opt(1985, 1, 1).unwrap();
        let number = |samordning| crate::ids::Pnr::from_parts(born, 123, samordning).unwrap();
        let person = numbered(number(false).as_str());
        let samordning = numbered(number(true).as_str());
        assert_eq!(fodelsetid_skriven(&samordning), 19850161);
        assert_eq!(fodelsetid(&samordning), 19850101);
        let range = |from: &str, tom: &str| SearchQuery {
            fornamn: parse_patterns("åsa").unwrap(),
            fodelse_from: (!from.is_empty()).then(|| fodelsetid_bound(from, Bound::From).unwrap()),
            fodelse_tom: (!tom.is_empty()).then(|| fodelsetid_bound(tom, Bound::Tom).unwrap()),
            ..Default::default()
        };
        // (From, Tom, finds the person born 1985-01-01, finds the samordningsnummer of that day)
        for (from, tom, p, s) in [
            ("1985", "1985", true, true),
            ("198501", "198501", true, true),
            ("19850101", "19850101", true, false),
            ("19850161", "19850161", false, true),
            ("19850161", "", false, true),
            ("19850102", "", false, true),
            ("", "19850131", true, false),
            ("", "1985016", true, true),
            ("1986", "", false, false),
            ("", "1984", false, false),
        ] {
            let q = range(from, tom);
            assert_eq!(q.matches(&person), p, "person, From {from} Tom {tom}");
            assert_eq!(
                q.matches(&samordning),
                s,
                "samordningsnummer, From {from} Tom {tom}"
            );
            // The index range holds the real birth date of everything the query matches.
            let (lo, hi) = q.fodelsetid_range().unwrap();
            for post in [&person, &samordning] {
                if q.matches(post) {
                    assert!(
                        (lo..=hi).contains(&fodelsetid(post)),
                        "From {from} Tom {tom}"
                    );
                }
            }
        }
        assert_eq!(SearchQuery::default().fodelsetid_range(), None);
    }

    #[test]
    fn kategori_fb_finds_only_the_folkbokforda() {
        let folkbokforda = crate::model::tests::sample();
        let mut avregistrerad = folkbokforda.clone();
        avregistrerad.personpost.avregistrering = Some(crate::model::Avregistrering {
            orsak: crate::model::AvregistreringsorsakKod::UV,
            datum: crate::model::Datum::parse("20200101").unwrap(),
            avliden_datum: None,
        });
        let mut ej_folkbokford = folkbokforda.clone();
        ej_folkbokford.personpost.folkbokforing = None;
        let q = |kategori| SearchQuery {
            fornamn: parse_patterns("åsa").unwrap(),
            kategori,
            ..Default::default()
        };
        for (post, fb) in [
            (&folkbokforda, true),
            (&avregistrerad, false),
            (&ej_folkbokford, false),
        ] {
            assert!(q(Kategori::Alla).matches(post));
            assert_eq!(q(Kategori::Folkbokforda).matches(post), fb);
            assert_eq!(folkbokford(post), fb);
        }
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
        q.fodelse_tom = Some(19861291);
        q.kon = Some(Kon::M);
        q.adress = parse_patterns("götg*").unwrap();
        q.kategori = Kategori::Folkbokforda;
        assert!(q.matches(&post));
        q.kon = Some(Kon::K);
        assert!(!q.matches(&post));
    }
}
