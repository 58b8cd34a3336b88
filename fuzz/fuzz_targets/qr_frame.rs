//! Fuzz target of the login QR frame parser (`citizen_protocol::protocol::rp::QrFrame::parse`).
//!
//! Every input is tried two ways:
//! 1. as the scanned text itself (when it is UTF-8): exercises the size limit, the prefix and the
//!    base64url decoder;
//! 2. as the binary frame behind the prefix, `CZQR1:` + base64url(input): reaches the binary
//!    parser (magic, version, flags, length-prefixed fields, field validation, trailing bytes)
//!    with byte-level mutations instead of mutations of base64 text.
//!
//! The parser must never panic, and it must be canonical: whatever it accepts re-encodes to the
//! exact text it was given. A second encoding of the same frame would let one photographed code
//! take several forms (and a MAC-bound frame two identities), so acceptance of a non-canonical
//! form is a bug just like a crash.
//!
//! It links only the sans-I/O `citizen-protocol` crate (no UniFFI, reqwest or SQLite), so the
//! instrumented build is small.
#![no_main]

use citizen_protocol::protocol::rp::{QrFrame, SignedLoginRequest, QR_PREFIX};
use libfuzzer_sys::fuzz_target;

fn check_text(text: &str) {
    if let Ok(frame) = QrFrame::parse(text) {
        // Whatever the parser accepts, the encoder can encode (every length-prefixed field
        // within its bound), and to the same text.
        let encoded = frame.to_text().expect("an accepted frame encodes");
        assert_eq!(encoded, text, "accepted a non-canonical frame");
        assert_eq!(QrFrame::parse(&encoded).as_ref(), Ok(&frame), "re-parse differs");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_text(text);
    }
    check_text(&format!("{QR_PREFIX}{}", citizen_protocol::crypto::b64(data)));
    // The RP-signed request alone (what `POST /v1/qr/sessions` carries) is the same codec
    // without step and MAC: equally strict and canonical.
    if let Ok(signed) = SignedLoginRequest::from_bytes(data) {
        assert_eq!(signed.to_bytes().as_deref(), Ok(data), "accepted a non-canonical signed request");
    }
});
