//! The load-file reader: any bytes (plain or gzip) give a header and records, each valid, or
//! an error — never a panic — and the records read without an error are as many as the
//! header says.
#![no_main]

use std::io::Cursor;

use folkreg::loadfile::DeliveryReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = DeliveryReader::new(Cursor::new(data.to_vec())) else {
        return;
    };
    let antal = reader.header().antal;
    let mut n = 0u64;
    for rec in reader {
        match rec {
            Ok(_) => n += 1,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                return;
            }
        }
    }
    assert_eq!(n, antal, "records went missing without an error");
});
