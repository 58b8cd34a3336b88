//! Fuzz target of the chip's BER-TLV parser and the LDS parsers built on it (DG13, DG1, EF.COM,
//! DG14, DG15, EF.CardAccess security infos), from `citizen-chip` only.
//!
//! Nothing may panic, and what the parsers accept must be consistent with the input: a parsed
//! TLV is a prefix of its input whose header plus value is its whole encoding, and every DG13
//! field's raw bytes occur in the input as read (the server re-hashes those bytes).
#![no_main]

use citizen_chip::{lds, pace, tlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((t, rest)) = tlv::parse_one(data) {
        assert_eq!(t.raw.len() + rest.len(), data.len());
        assert!(data.starts_with(t.raw));
        let (tag, hlen, len) = tlv::header(data).expect("header of a parsed TLV");
        assert_eq!((tag, hlen + len), (t.tag, t.raw.len()));
        if t.is_constructed() {
            let _ = t.children();
        }
    }
    if let Ok(all) = tlv::parse_all(data) {
        assert_eq!(all.iter().map(|t| t.raw.len()).sum::<usize>(), data.len());
    }
    if let Ok(dg13) = lds::parse_dg13(data) {
        for field in dg13.fields.values() {
            assert!(data.windows(field.raw.len()).any(|w| w == field.raw.as_slice()));
        }
    }
    let _ = lds::parse_dg1(data);
    let _ = lds::parse_com(data);
    let _ = lds::parse_dg14(data);
    let _ = lds::parse_dg15(data);
    let _ = pace::pace_options(data);
});
