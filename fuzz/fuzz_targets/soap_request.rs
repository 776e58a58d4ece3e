//! The SOAP envelope parser: any bytes give a request whose parts are valid, or a caller's
//! fault (FR1101/FR1102) with its Swedish / English text — never a panic.
#![no_main]

use folkreg::ids::pnr::Pnr;
use folkreg::soap::request::{parse, parse_infil};
use folkreg::soap::{Fault, Request};
use libfuzzer_sys::fuzz_target;

fn check(r: Result<Request, Fault>) {
    match r {
        Ok(req) => {
            let b = req.bestallning();
            assert!(b.org_nr.len() == 10 && b.org_nr.bytes().all(|c| c.is_ascii_digit()));
            if let Request::Personpost { person_id, .. } = req {
                assert_eq!(Pnr::parse(person_id.as_str()), Ok(person_id));
            }
        }
        Err(f) => {
            assert!(matches!(f.code(), "FR1101" | "FR1102"), "{f:?}");
            assert!(f.beskrivning().contains(" / Invalid input"));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(parse(data));
    check(parse_infil(data));
});
