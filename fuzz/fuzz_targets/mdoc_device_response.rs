//! Fuzz target of the mdoc verifier (`citizen_mdoc`, issue 13): DeviceResponse decoding through
//! `isomdl`/`ciborium`, the x5chain certificates, the MSO, the digests and device authentication.
//! Seeded with the ISO 18013-5 Annex D response, verified against the Annex D IACA and session
//! transcript so that mutations reach the checks behind the issuer signature.
//!
//! Nothing may panic, and with an empty trust list no input is ever valid.
#![no_main]

use std::sync::OnceLock;

use citizen_mdoc::{verify_device_response, TrustAnchor, VerifyRequest};
use libfuzzer_sys::fuzz_target;

/// 2021-06-01T00:00:00Z, inside the Annex D validity.
const NOW: i64 = 1_622_505_600;
const IACA: &str = include_str!("../../crates/citizen-mdoc/tests/data/annex_d_iaca_root.hex");
const TRANSCRIPT: &str =
    include_str!("../../crates/citizen-mdoc/tests/data/annex_d_session_transcript_bytes.hex");

fn hex(text: &str) -> Vec<u8> {
    let text: String = text.split_whitespace().collect();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

const RESPONSE: &str =
    include_str!("../../crates/citizen-mdoc/tests/data/annex_d_device_response.hex");

type Fixtures = (Vec<TrustAnchor>, Vec<u8>, Vec<u8>);

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let anchors = vec![TrustAnchor::from_der(&hex(IACA)).expect("IACA")];
        (anchors, hex(TRANSCRIPT), hex(RESPONSE))
    })
}

fuzz_target!(|data: &[u8]| {
    let (anchors, transcript, annex_d_response) = fixtures();
    let untrusted = verify_device_response(&VerifyRequest {
        device_response: data,
        session_transcript: transcript,
        trust_anchors: &[],
        now_unix: NOW,
        reader_ephemeral_key: None,
    });
    assert!(!untrusted.is_valid());
    let _ = verify_device_response(&VerifyRequest {
        device_response: data,
        session_transcript: transcript,
        trust_anchors: anchors,
        now_unix: NOW,
        reader_ephemeral_key: None,
    });
    // The same bytes as a session transcript.
    let _ = verify_device_response(&VerifyRequest {
        device_response: annex_d_response,
        session_transcript: data,
        trust_anchors: anchors,
        now_unix: NOW,
        reader_ephemeral_key: None,
    });
});
