//! Swedish identity numbers: personnummer, samordningsnummer, tilldelat personnummer.
//!
//! Owns parsing, validation (date, Luhn check digit) and normalisation to the 12-digit form
//! `YYYYMMDDNNNC` that every wire format and the store use (Navet 8.1–8.3). Inner code only
//! ever sees a [`Pnr`]; a raw string from outside is turned into one here or refused with a
//! [`PnrError`] that says what is wrong — never the number itself, so errors are safe to log.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A valid identity number in its 12-digit form (ASCII digits).
///
/// Ordering is the byte order of the digits, which is also the key order in the store.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pnr([u8; 12]);

/// Which kind of number a [`Pnr`] is, as far as the digits tell.
///
/// A tilldelat personnummer looks like a personnummer; the record says which it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PnrKind {
    /// Personnummer (or tilldelat personnummer): the day is the birth day.
    Personnummer,
    /// Samordningsnummer: 60 is added to the birth day (61–91).
    Samordningsnummer,
}

/// Why a string is not an identity number. Carries positions and counts, never digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PnrError {
    /// Wrong number of digits for any accepted form.
    #[error("identity number has {0} characters; expected 12 digits (YYYYMMDDNNNC) or 10 digits with '-' or '+'")]
    Length(usize),
    /// A character that is not an ASCII digit where one is needed.
    #[error("identity number has a non-digit at position {0} (only ASCII digits 0-9)")]
    NotDigit(usize),
    /// The separator in a 10/12-digit form with separator is neither '-' nor '+'.
    #[error("identity number separator must be '-' or '+'")]
    Separator,
    /// The date part is no real date (for samordningsnummer after subtracting 60 from the day).
    #[error("identity number has an impossible date")]
    Date,
    /// The Luhn check digit does not match.
    #[error("identity number check digit is wrong")]
    CheckDigit,
}

impl Pnr {
    /// Parses the strict wire form: exactly 12 ASCII digits with a valid date and check digit.
    pub fn parse(s: &str) -> Result<Pnr, PnrError> {
        // Counted in characters, not bytes: twelve full-width digits (36 bytes) are twelve
        // characters, the first of which is not an ASCII digit — not a length error.
        let n = s.chars().count();
        if n != 12 {
            return Err(PnrError::Length(n));
        }
        let mut digits = [0u8; 12];
        for (i, c) in s.chars().enumerate() {
            if !c.is_ascii_digit() {
                return Err(PnrError::NotDigit(i + 1));
            }
            digits[i] = c as u8;
        }
        let p = Pnr(digits);
        p.validate()?;
        Ok(p)
    }

    /// Parses every human form and normalises to 12 digits:
    /// `YYYYMMDDNNNC`, `YYYYMMDD-NNNC`, `YYMMDD-NNNC`, `YYMMDD+NNNC` and `YYMMDDNNNC`.
    ///
    /// For the 10-digit forms the century is chosen as the Tax Agency does: with `-` (or none)
    /// the person is under 100 years old on `today`, with `+` 100 or older.
    pub fn parse_lenient(s: &str, today: NaiveDate) -> Result<Pnr, PnrError> {
        let s = s.trim();
        if let Some(i) = s.chars().position(|c| !c.is_ascii()) {
            // Only ASCII forms exist; this also keeps the byte slicing below on char boundaries.
            return Err(PnrError::NotDigit(i + 1));
        }
        let b = s.as_bytes();
        match b.len() {
            12 => Pnr::parse(s),
            13 => {
                if b[8] != b'-' && b[8] != b'+' {
                    return Err(PnrError::Separator);
                }
                let joined = format!("{}{}", &s[..8], &s[9..]);
                Pnr::parse(&joined).map_err(|e| shift_pos(e, 8))
            }
            10 | 11 => {
                let (head, sep, tail) = if b.len() == 11 {
                    if !s.is_char_boundary(6) || !s.is_char_boundary(7) {
                        return Err(PnrError::NotDigit(7));
                    }
                    let sep = b[6];
                    if sep != b'-' && sep != b'+' {
                        return Err(PnrError::Separator);
                    }
                    (&s[..6], sep, &s[7..])
                } else {
                    if !s.is_char_boundary(6) {
                        return Err(PnrError::NotDigit(7));
                    }
                    (&s[..6], b'-', &s[6..])
                };
                for (i, c) in head.bytes().chain(tail.bytes()).enumerate() {
                    if !c.is_ascii_digit() {
                        return Err(PnrError::NotDigit(if i < 6 || b.len() == 10 {
                            i + 1
                        } else {
                            i + 2
                        }));
                    }
                }
                let yy: i32 = (b[0] - b'0') as i32 * 10 + (b[1] - b'0') as i32;
                let centuries = [
                    today.year() / 100 * 100,
                    today.year() / 100 * 100 - 100,
                    today.year() / 100 * 100 - 200,
                ];
                // The most recent century in which the birth date is not in the future.
                let mut candidate = None;
                for base in centuries {
                    let year = base + yy;
                    let trial = format!("{year:04}{}{}", &head[2..], tail);
                    if let Ok(p) = Pnr::parse(&trial) {
                        if p.birth_date().is_some_and(|d| d <= today) {
                            candidate = Some((p, year));
                            break;
                        }
                    }
                }
                let (p, year) = match candidate {
                    Some(c) => c,
                    None => {
                        // Report the real problem (date or check digit) of the nearest century.
                        let trial = format!("{:04}{}{}", centuries[0] + yy, &head[2..], tail);
                        return Err(Pnr::parse(&trial).err().unwrap_or(PnrError::Date));
                    }
                };
                if sep == b'+' {
                    // 100 years or older: one more century back unless already that old.
                    let born = p.birth_date().ok_or(PnrError::Date)?;
                    let hundred = NaiveDate::from_ymd_opt(
                        born.year() + 100,
                        born.month(),
                        born.day().min(28),
                    )
                    .ok_or(PnrError::Date)?;
                    if hundred > today {
                        let trial = format!("{:04}{}{}", year - 100, &head[2..], tail);
                        return Pnr::parse(&trial);
                    }
                }
                Ok(p)
            }
            n => Err(PnrError::Length(
                s.chars().count().max(n.min(s.chars().count())),
            )),
        }
    }

    /// Builds a number from a birth date and a three-digit serial, computing the check digit.
    /// `samordning` adds 60 to the day. Returns `None` if the serial is over 999.
    pub fn from_parts(date: NaiveDate, serial: u16, samordning: bool) -> Option<Pnr> {
        if serial > 999 || !(1000..=9999).contains(&date.year()) {
            return None;
        }
        let day = date.day() + if samordning { 60 } else { 0 };
        let s = format!(
            "{:04}{:02}{:02}{:03}",
            date.year(),
            date.month(),
            day,
            serial
        );
        let mut digits = [0u8; 12];
        digits[..11].copy_from_slice(s.as_bytes());
        digits[11] = b'0' + luhn_check_digit(&digits[2..11]);
        Some(Pnr(digits))
    }

    /// The 12 ASCII digits.
    pub fn as_bytes(&self) -> &[u8; 12] {
        &self.0
    }

    /// The 12 digits as a string slice.
    pub fn as_str(&self) -> &str {
        // Invariant: constructed only from ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("000000000000")
    }

    /// Rebuilds a number from store key bytes, validating it again.
    pub fn from_key(key: &[u8]) -> Result<Pnr, PnrError> {
        let s = std::str::from_utf8(key).map_err(|_| PnrError::NotDigit(1))?;
        Pnr::parse(s)
    }

    /// Personnummer or samordningsnummer, by the day digits.
    pub fn kind(&self) -> PnrKind {
        if self.raw_day() > 60 {
            PnrKind::Samordningsnummer
        } else {
            PnrKind::Personnummer
        }
    }

    /// The birth date the number encodes (for samordningsnummer, day minus 60).
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let day = self.raw_day();
        let day = if day > 60 { day - 60 } else { day };
        NaiveDate::from_ymd_opt(self.num(0, 4) as i32, self.num(4, 2), day)
    }

    /// Kön as the number encodes it: the ninth digit of the ten is odd for men.
    pub fn is_male(&self) -> bool {
        (self.0[10] - b'0') % 2 == 1
    }

    fn raw_day(&self) -> u32 {
        self.num(6, 2)
    }

    fn num(&self, from: usize, len: usize) -> u32 {
        self.0[from..from + len]
            .iter()
            .fold(0u32, |acc, d| acc * 10 + (d - b'0') as u32)
    }

    fn validate(&self) -> Result<(), PnrError> {
        let year = self.num(0, 4);
        if !(1800..=2199).contains(&year) || self.birth_date().is_none() {
            return Err(PnrError::Date);
        }
        if luhn_check_digit(&self.0[2..11]) != self.0[11] - b'0' {
            return Err(PnrError::CheckDigit);
        }
        Ok(())
    }
}

fn shift_pos(e: PnrError, after: usize) -> PnrError {
    match e {
        PnrError::NotDigit(p) if p > after => PnrError::NotDigit(p + 1),
        PnrError::Length(_) => PnrError::Length(13),
        other => other,
    }
}

/// The Luhn check digit over nine ASCII digits (`YYMMDDNNN`).
fn luhn_check_digit(nine: &[u8]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = ((d - b'0') as u32) * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Pnr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Debug never prints the digits, so a `{:?}` in a log line cannot leak an identity number.
impl fmt::Debug for Pnr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pnr(…)")
    }
}

impl std::str::FromStr for Pnr {
    type Err = PnrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pnr::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn known_valid_numbers() {
        // The examples in WIRE.md and the Tax Agency's test numbers.
        for s in ["198602212394", "201212121212", "189001012385"] {
            assert!(Pnr::parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn samordningsnummer_day_plus_sixty() {
        let d = NaiveDate::from_ymd_opt(1990, 5, 17).unwrap();
        let p = Pnr::from_parts(d, 123, true).unwrap();
        assert_eq!(&p.as_str()[6..8], "77");
        assert_eq!(p.kind(), PnrKind::Samordningsnummer);
        assert_eq!(p.birth_date(), Some(d));
        assert!(Pnr::parse(p.as_str()).is_ok());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(Pnr::parse("19860221239"), Err(PnrError::Length(11)));
        assert_eq!(Pnr::parse("1986022123944"), Err(PnrError::Length(13)));
        assert_eq!(Pnr::parse("19860221239X"), Err(PnrError::NotDigit(12)));
        assert_eq!(Pnr::parse("198602212395"), Err(PnrError::CheckDigit));
        assert_eq!(Pnr::parse("198613212394"), Err(PnrError::Date));
        assert_eq!(Pnr::parse("198602302394").unwrap_err(), PnrError::Date);
        // Full-width digits are twelve characters, but not ASCII digits.
        assert_eq!(
            Pnr::parse("１９８６０２２１２３９４"),
            Err(PnrError::NotDigit(1))
        );
        assert_eq!(Pnr::parse("19860221239é"), Err(PnrError::NotDigit(12)));
    }

    #[test]
    fn ten_digit_forms_choose_the_century() {
        let t = today();
        assert_eq!(
            Pnr::parse_lenient("860221-2394", t).unwrap().as_str(),
            "198602212394"
        );
        assert_eq!(
            Pnr::parse_lenient("8602212394", t).unwrap().as_str(),
            "198602212394"
        );
        assert_eq!(
            Pnr::parse_lenient("19860221-2394", t).unwrap().as_str(),
            "198602212394"
        );
        let kid =
            Pnr::from_parts(NaiveDate::from_ymd_opt(2012, 12, 12).unwrap(), 121, false).unwrap();
        let ten = format!("{}-{}", &kid.as_str()[2..8], &kid.as_str()[8..]);
        assert_eq!(Pnr::parse_lenient(&ten, t).unwrap(), kid);
        // '+' means 100 years or older.
        let old =
            Pnr::from_parts(NaiveDate::from_ymd_opt(1912, 12, 12).unwrap(), 121, false).unwrap();
        let plus = format!("{}+{}", &old.as_str()[2..8], &old.as_str()[8..]);
        assert_eq!(Pnr::parse_lenient(&plus, t).unwrap(), old);
        assert_eq!(
            Pnr::parse_lenient("860221*2394", t),
            Err(PnrError::Separator)
        );
    }

    #[test]
    fn debug_hides_digits() {
        let p = Pnr::parse("198602212394").unwrap();
        assert!(!format!("{p:?}").contains("2394"));
    }

    fn arb_pnr() -> impl Strategy<Value = Pnr> {
        (
            1850i32..2100,
            1u32..=12,
            1u32..=31,
            0u16..1000,
            any::<bool>(),
        )
            .prop_filter_map("real date", |(y, m, d, serial, samordning)| {
                NaiveDate::from_ymd_opt(y, m, d)
                    .and_then(|date| Pnr::from_parts(date, serial, samordning))
            })
    }

    proptest! {
        #[test]
        fn every_generated_number_round_trips(p in arb_pnr()) {
            prop_assert_eq!(Pnr::parse(p.as_str()), Ok(p));
            let pretty = format!("{}-{}", &p.as_str()[..8], &p.as_str()[8..]);
            prop_assert_eq!(Pnr::parse_lenient(&pretty, today()), Ok(p));
        }

        #[test]
        fn any_text_is_an_answer_never_a_panic(s in "\\PC{0,16}", digits in "[0-9+ -]{8,14}") {
            let _ = Pnr::parse(&s);
            let _ = Pnr::parse_lenient(&s, today());
            let _ = Pnr::parse_lenient(&digits, today());
        }

        #[test]
        fn every_single_digit_change_is_rejected(p in arb_pnr(), pos in 0usize..12, delta in 1u8..10) {
            let mut b = *p.as_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = std::str::from_utf8(&b).unwrap();
            // A change in the century digits keeps a valid Luhn sum (they are not covered) but
            // then names another person; only the 10 covered digits must always be caught.
            if pos >= 2 {
                prop_assert!(Pnr::parse(s).is_err(), "accepted a changed digit at {}", pos);
            }
        }
    }
}
