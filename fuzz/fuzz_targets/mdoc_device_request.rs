//! Fuzz target of the holder's request parsers (`citizen_mdoc`, issue 13). The first byte picks
//! the parser:
//! - 0: the rest is a `SessionEstablishment` given to a fresh holder engagement (size bound,
//!   isomdl decoding, the EReaderKey check before isomdl's key agreement, decryption);
//! - otherwise: the rest is a decrypted `DeviceRequest`, checked as the holder does (version,
//!   reader authentication chain/usage/signature over the fixture session transcript,
//!   authorisation extension), once against the fixture reader CA and once against no anchor.
//!
//! Seeds in fuzz/seeds/mdoc_device_request (`cargo run -p citizen-mdoc --example
//! mdoc_fuzz_seeds`). Nothing may panic; with no reader trust anchor no request is ever
//! authenticated.
#![no_main]

use std::sync::OnceLock;

use citizen_mdoc::{check_device_request, HolderEngagement, ReaderIdentity, TrustAnchor};
use libfuzzer_sys::fuzz_target;

/// 2026-06-01T00:00:00Z, inside the fixture reader certificate's validity.
const NOW: i64 = 1_780_272_000;
const TRANSCRIPT: &[u8] = include_bytes!("../../crates/citizen-mdoc/tests/data/fuzz_session_transcript.cbor");
const READER_CA: &[u8] = include_bytes!("../../crates/citizen-mdoc/tests/data/fuzz_reader_ca.der");

fn anchors() -> &'static [TrustAnchor] {
    static A: OnceLock<Vec<TrustAnchor>> = OnceLock::new();
    A.get_or_init(|| vec![TrustAnchor::from_der(READER_CA).expect("reader CA")])
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector == 0 {
        let engagement = HolderEngagement::new(None).expect("engagement");
        let _ = engagement.accept(rest, Vec::new(), anchors(), NOW);
    } else {
        let _ = check_device_request(rest, TRANSCRIPT, anchors(), NOW);
        let untrusted = check_device_request(rest, TRANSCRIPT, &[], NOW);
        assert!(!matches!(untrusted, Ok(ReaderIdentity::Authenticated(_))));
    }
});
