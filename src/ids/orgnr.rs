//! `OrgNr`: the Swedish organisationsnummer that names a caller, in the register, in the
//! certificate subject and in the request's `Bestallning/OrgNr`.
//!
//! Owns parsing and the check digit. The forms accepted are the ten digits (`2021004748`),
//! the same with the usual hyphen (`202100-4748`) and the twelve-digit wire form with the
//! `16` prefix (`162021004748`, WIRE.md). Organisation numbers are not personal data and may
//! be logged.

use std::fmt;
use std::str::FromStr;

/// A valid organisationsnummer: ten ASCII digits whose last is the Luhn check digit of the
/// first nine (the same rule as for personnummer).
///
/// Displays as the ten digits; [`OrgNr::wire`] gives the twelve-digit form sent in requests.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgNr([u8; 10]);

/// Why a string is not an organisationsnummer. Carries lengths and positions, not digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgNrError {
    /// Neither 10 digits, `NNNNNN-NNNN`, nor 12 digits starting with `16`.
    #[error("organisationsnummer has {0} characters; expected 10 digits (or 12 starting with 16)")]
    Length(usize),
    /// Twelve digits that do not start with the organisation prefix `16`.
    #[error("a 12-digit organisationsnummer must start with 16")]
    Prefix,
    /// A character that is not an ASCII digit (1-based position).
    #[error("organisationsnummer has a non-digit at position {0}")]
    NotDigit(usize),
    /// The Luhn check digit (the tenth digit) does not match.
    #[error("organisationsnummer check digit is wrong")]
    CheckDigit,
}

impl OrgNr {
    /// Parses `NNNNNNNNNN`, `NNNNNN-NNNN` or `16NNNNNNNNNN` and checks the Luhn digit.
    pub fn parse(s: &str) -> Result<OrgNr, OrgNrError> {
        let b = s.as_bytes();
        let ten: [u8; 10] = match b.len() {
            10 => digits(b, 0)?,
            11 if b[6] == b'-' => {
                let mut joined = [0u8; 10];
                joined[..6].copy_from_slice(&b[..6]);
                joined[6..].copy_from_slice(&b[7..]);
                digits(&joined, 0).map_err(|e| match e {
                    OrgNrError::NotDigit(p) if p > 6 => OrgNrError::NotDigit(p + 1),
                    other => other,
                })?
            }
            12 => {
                let all: [u8; 12] = digits(b, 0)?;
                if &all[..2] != b"16" {
                    return Err(OrgNrError::Prefix);
                }
                let mut ten = [0u8; 10];
                ten.copy_from_slice(&all[2..]);
                ten
            }
            _ => return Err(OrgNrError::Length(s.chars().count())),
        };
        if luhn_check_digit(&ten[..9]) != ten[9] - b'0' {
            return Err(OrgNrError::CheckDigit);
        }
        Ok(OrgNr(ten))
    }

    /// Builds a valid number from its first nine digits by appending the check digit
    /// (the development PKI uses this to make real-looking numbers). `None` unless nine digits.
    pub fn from_nine(nine: &str) -> Option<OrgNr> {
        let b = nine.as_bytes();
        if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut ten = [0u8; 10];
        ten[..9].copy_from_slice(b);
        ten[9] = b'0' + luhn_check_digit(b);
        Some(OrgNr(ten))
    }

    /// The ten digits.
    pub fn as_str(&self) -> &str {
        // Invariant: constructed only from ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or("0000000000")
    }

    /// The twelve-digit form used on the wire (`Bestallning/OrgNr`): `16` + the ten digits.
    pub fn wire(&self) -> String {
        format!("16{}", self.as_str())
    }
}

/// Copies `N` bytes, refusing any that is not an ASCII digit (reported 1-based from `offset`).
fn digits<const N: usize>(b: &[u8], offset: usize) -> Result<[u8; N], OrgNrError> {
    let mut out = [0u8; N];
    for (i, (&c, o)) in b.iter().zip(out.iter_mut()).enumerate() {
        if !c.is_ascii_digit() {
            return Err(OrgNrError::NotDigit(offset + i + 1));
        }
        *o = c;
    }
    Ok(out)
}

/// The Luhn check digit over nine ASCII digits.
fn luhn_check_digit(nine: &[u8]) -> u8 {
    let sum: u32 = nine
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0') * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl FromStr for OrgNr {
    type Err = OrgNrError;

    fn from_str(s: &str) -> Result<OrgNr, OrgNrError> {
        OrgNr::parse(s)
    }
}

impl fmt::Display for OrgNr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for OrgNr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgNr({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_three_forms_and_normalises_to_ten_digits() {
        for s in ["2021004748", "202100-4748", "162021004748"] {
            let o = OrgNr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(o.to_string(), "2021004748");
            assert_eq!(o.wire(), "162021004748");
        }
    }

    #[test]
    fn refuses_with_the_precise_reason() {
        let cases = [
            ("2021004747", OrgNrError::CheckDigit),
            ("202100474", OrgNrError::Length(9)),
            ("20210047480", OrgNrError::Length(11)),
            ("152021004748", OrgNrError::Prefix),
            ("20210O4748", OrgNrError::NotDigit(6)),
            ("202100-47x8", OrgNrError::NotDigit(10)),
            ("16202100474x", OrgNrError::NotDigit(12)),
            ("", OrgNrError::Length(0)),
        ];
        for (s, want) in cases {
            assert_eq!(OrgNr::parse(s), Err(want), "{s}");
        }
    }

    #[test]
    fn from_nine_appends_a_valid_check_digit() {
        let o = OrgNr::from_nine("202100474");
        assert_eq!(o.map(|o| o.to_string()), Some("2021004748".to_owned()));
        assert!(OrgNr::from_nine("12345678").is_none());
        assert!(OrgNr::from_nine("12345678x").is_none());
    }

    proptest::proptest! {
        #[test]
        fn every_nine_digits_make_a_number_that_parses_back(n in 0u32..1_000_000_000) {
            let nine = format!("{n:09}");
            let o = OrgNr::from_nine(&nine).expect("nine digits");
            proptest::prop_assert_eq!(OrgNr::parse(&o.to_string()), Ok(o));
            proptest::prop_assert_eq!(OrgNr::parse(&o.wire()), Ok(o));
        }

        #[test]
        fn changing_one_digit_breaks_the_check(n in 0u32..1_000_000_000, pos in 0usize..10, delta in 1u8..10) {
            let o = OrgNr::from_nine(&format!("{n:09}")).expect("nine digits");
            let mut b = o.to_string().into_bytes();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(b).expect("ascii");
            proptest::prop_assert_eq!(OrgNr::parse(&s), Err(OrgNrError::CheckDigit));
        }
    }
}
