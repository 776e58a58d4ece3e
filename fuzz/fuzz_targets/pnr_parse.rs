//! Identity numbers: any string is a valid number that prints as it was read, or the error
//! that says what is wrong with it; the lenient forms give only valid numbers.
#![no_main]

use folkreg::ids::pnr::{Pnr, PnrError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let chars: Vec<char> = s.chars().collect();
    match Pnr::parse(s) {
        Ok(p) => assert_eq!(p.as_str(), s),
        Err(PnrError::Length(n)) => assert!(n == chars.len() && n != 12),
        Err(PnrError::NotDigit(at)) => {
            assert_eq!(chars.iter().position(|c| !c.is_ascii_digit()), Some(at - 1))
        }
        Err(PnrError::Date) | Err(PnrError::CheckDigit) => {
            assert!(chars.len() == 12 && chars.iter().all(|c| c.is_ascii_digit()))
        }
        Err(PnrError::Separator) => panic!("the strict form has no separator"),
    }
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    if let Ok(p) = Pnr::parse_lenient(s, today) {
        assert_eq!(Pnr::parse(p.as_str()), Ok(p));
    }
});
