//! The SOAP envelope parser: any bytes give a request whose parts are valid, or a caller's
//! fault (1101/1102) with its Swedish / English text — never a panic.
#![no_main]

use folkreg::ids::pnr::Pnr;
use folkreg::ids::{BestallningsId, OrgNr};
use folkreg::ops::{Operation, Personpost};
use folkreg::soap::Fault;
use libfuzzer_sys::fuzz_target;

fn check(r: Result<Operation, Fault>) {
    match r {
        Ok(req) => {
            let b = req.bestallning();
            assert_eq!(OrgNr::parse(&b.org_nr.to_string()), Ok(b.org_nr));
            assert_eq!(
                BestallningsId::parse(b.bestallnings_id.as_str()),
                Ok(b.bestallnings_id.clone())
            );
            if let Operation::Personpost(Personpost { person_id, .. }) = req {
                assert_eq!(Pnr::parse(person_id.as_str()), Ok(person_id));
            }
        }
        Err(f) => {
            assert!(matches!(f.code(), 1101 | 1102), "{f:?}");
            assert!(f.beskrivning().contains(" / Invalid input"));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(Operation::parse(data));
    check(Operation::parse_infil(data));
});
