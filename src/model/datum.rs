//! `Datum`: a register date `YYYYMMDD` where month and day may be `00` when unknown
//! (Navet gives "only zeros" for Swedish citizenship acquired before 1991-07-01).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A date as the register writes it: `YYYYMMDD`, with `00` allowed for an unknown month or
/// day, and `00000000` for "only zeros".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Datum(u32);

/// Why a string is not a register date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatumError {
    /// Not eight ASCII digits.
    #[error("date must be 8 digits YYYYMMDD")]
    Format,
    /// Month over 12, day over the month's length, or day without month.
    #[error("date is not a real date")]
    Impossible,
}

impl Datum {
    /// Parses `YYYYMMDD`.
    pub fn parse(s: &str) -> Result<Datum, DatumError> {
        if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DatumError::Format);
        }
        let v: u32 = s.parse().map_err(|_| DatumError::Format)?;
        let (y, m, d) = (v / 10000, v / 100 % 100, v % 100);
        if v == 0 {
            return Ok(Datum(0));
        }
        let ok = match (m, d) {
            (0, 0) => true,
            (0, _) => false,
            (1..=12, 0) => true,
            (1..=12, _) => NaiveDate::from_ymd_opt(y as i32, m, d).is_some(),
            _ => false,
        };
        if !ok || y == 0 {
            return Err(DatumError::Impossible);
        }
        Ok(Datum(v))
    }

    /// From a calendar date.
    pub fn from_date(d: NaiveDate) -> Datum {
        Datum(d.year().max(0) as u32 * 10000 + d.month() * 100 + d.day())
    }

    /// The calendar date, if complete.
    pub fn to_date(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt((self.0 / 10000) as i32, self.0 / 100 % 100, self.0 % 100)
    }

    /// The year (0 for "only zeros").
    pub fn year(self) -> u32 {
        self.0 / 10000
    }

    /// As the number `YYYYMMDD`.
    pub fn as_u32(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08}", self.0)
    }
}

impl fmt::Debug for Datum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Datum({:08})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_register_dates() {
        for s in ["20261123", "19470000", "19470300", "00000000", "20240229"] {
            assert_eq!(Datum::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn refuses_impossible_dates() {
        assert_eq!(Datum::parse("20230229"), Err(DatumError::Impossible));
        assert_eq!(Datum::parse("20231301"), Err(DatumError::Impossible));
        assert_eq!(Datum::parse("20230015"), Err(DatumError::Impossible));
        assert_eq!(Datum::parse("2023-01-01"), Err(DatumError::Format));
        assert_eq!(Datum::parse("2023011"), Err(DatumError::Format));
    }
}
