//! Fuzz target of the device engagement parser (`citizen_mdoc`, issue 13): the QR string
//! (`mdoc:` + base64url) and the DeviceEngagement CBOR behind it, through isomdl's
//! `Tag24<DeviceEngagement>` and our checks (cipher suite, P-256 EDeviceKey). Seeded with the
//! engagements of fuzz/seeds/mdoc_engagement (written by `cargo run -p citizen-mdoc --example
//! mdoc_fuzz_seeds`).
//!
//! Nothing may panic; an input accepted as CBOR is accepted as the QR code of the same bytes.
#![no_main]

use base64::Engine;
use citizen_mdoc::{validate_engagement_cbor, validate_engagement_qr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let as_cbor = validate_engagement_cbor(data);
    let qr = format!("mdoc:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data));
    let as_qr = validate_engagement_qr(&qr);
    if qr.len() <= citizen_mdoc::MAX_ENGAGEMENT_QR_CHARS {
        assert_eq!(as_cbor.is_ok(), as_qr.is_ok());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = validate_engagement_qr(text);
    }
});
