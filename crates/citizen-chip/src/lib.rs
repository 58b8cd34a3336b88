//! Sans-I/O reader of the chip-based CCCD (thẻ căn cước gắn chip), an ICAO 9303 eMRTD.
//!
//! Nothing here touches a card reader: [`reader::Reader`] is a state machine that emits command
//! APDUs and consumes the responses, so the same code runs behind Android `IsoDep`, iOS CoreNFC,
//! PC/SC at a kiosk and the in-process software card of the tests. The modules follow the
//! protocol's layers: [`tlv`] and [`apdu`] (encoding), [`crypto`] and [`kdf`] (primitives),
//! [`sm`] (secure messaging), [`bac`] and [`pace`] (access control), [`lds`] (the files),
//! [`pa`] (passive authentication), [`ca`] and [`aa`] (chip and active authentication).
//!
//! This crate is on the RustCrypto `elliptic-curve` 0.14 line (brainpoolP256r1 arithmetic exists
//! only there), apart from the rest of the workspace; see ARCHITECTURE.md, decision 28.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aa;
pub mod apdu;
pub mod bac;
pub mod ca;
pub mod crypto;
pub mod ec;
pub mod error;
pub mod kdf;
pub mod lds;
pub mod oid;
pub mod pa;
pub mod pace;
pub mod reader;
pub mod sm;
pub mod tlv;

pub use error::ChipError;

/// A source of randomness for the reader's challenges, nonces and ephemeral keys. Injected so
/// that tests can replay the ICAO worked examples; [`OsRandom`] is the production source.
pub trait RandomSource {
    /// Fill `buf` with unpredictable bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// The operating system's random number generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // A failing OS RNG leaves no safe way to continue a cryptographic protocol.
        #[allow(clippy::expect_used)]
        getrandom::getrandom(buf).expect("the operating system's random number generator failed");
    }
}

/// Lower-case hex, for diagnostics of public values (never of keys or personal data).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decode hex (test vectors, fixtures). Whitespace is ignored.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}
