//! `BestallningsId`: the order id a caller names in every request (`Bestallning/BestallningsId`,
//! e.g. `00000079-FO01-0001`) and the register lists per organisation. Order ids are not
//! personal data and may be logged.

use std::fmt;

/// Longest `BestallningsId` accepted (Navet's are 18 characters; the bound keeps a request's
/// and a register's text small).
pub const MAX_LEN: usize = 64;

/// A syntactically valid `BestallningsId`: 1–[`MAX_LEN`] ASCII letters, digits and `-`.
/// Whether an organisation may use it is the register's decision.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BestallningsId(String);

/// Why a string is not a `BestallningsId`. Carries no input (it is echoed by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BestallningsIdError {
    /// Nothing at all.
    #[error("BestallningsId is empty")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("BestallningsId is longer than {MAX_LEN} characters")]
    TooLong,
    /// A character other than a letter, a digit or `-`.
    #[error("BestallningsId must be letters, digits and '-'")]
    Character,
}

impl BestallningsId {
    /// Parses an id as written (no trimming: the wire value is compared exactly).
    pub fn parse(s: &str) -> Result<BestallningsId, BestallningsIdError> {
        if s.is_empty() {
            Err(BestallningsIdError::Empty)
        } else if s.len() > MAX_LEN {
            Err(BestallningsIdError::TooLong)
        } else if !s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
            Err(BestallningsIdError::Character)
        } else {
            Ok(BestallningsId(s.to_owned()))
        }
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BestallningsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BestallningsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BestallningsId({})", self.0)
    }
}

impl PartialEq<str> for BestallningsId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for BestallningsId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::str::FromStr for BestallningsId {
    type Err = BestallningsIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BestallningsId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_hyphens_up_to_the_limit() {
        assert_eq!(
            BestallningsId::parse("00000079-FO01-0001").map(|b| b.to_string()),
            Ok("00000079-FO01-0001".to_owned())
        );
        assert_eq!(BestallningsId::parse(""), Err(BestallningsIdError::Empty));
        assert_eq!(
            BestallningsId::parse(&"A".repeat(MAX_LEN + 1)),
            Err(BestallningsIdError::TooLong)
        );
        assert!(BestallningsId::parse(&"A".repeat(MAX_LEN)).is_ok());
        for bad in ["0001 0001", "FO01_0001", "ÅÄÖ", "a/b", " x"] {
            assert_eq!(
                BestallningsId::parse(bad),
                Err(BestallningsIdError::Character),
                "{bad}"
            );
        }
    }
}
