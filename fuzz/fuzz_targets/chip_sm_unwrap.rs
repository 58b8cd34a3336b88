//! Fuzz target of secure-messaging unwrapping (`citizen_chip::sm`), both ends: the reader
//! opening a chip response and the card opening a reader command, for 3DES and AES channels.
//!
//! Nothing may panic; a response that verifies must be the card end's exact encoding of what it
//! opened to (only the key holder can MAC), and a response wrapped by the card end must unwrap
//! to exactly what was wrapped.
#![no_main]

use citizen_chip::apdu::{Command, Response};
use citizen_chip::kdf::Cipher;
use citizen_chip::sm::SecureChannel;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else { return };
    let cipher = [Cipher::Tdes, Cipher::Aes128, Cipher::Aes192, Cipher::Aes256][usize::from(selector & 3)];
    let secret = [0x5Au8; 32];
    let channel = || SecureChannel::from_secret(cipher, &secret).expect("valid keys");

    // The reader opening an arbitrary response. Only the key holder can produce a verifying MAC
    // (the seeds are genuine responses under this test key), so whatever verifies must be
    // exactly what the card end produces for the opened content: no second encoding of one
    // response is accepted (the outer SW1SW2 is not covered; DO'99' is what counts).
    if let Ok(resp) = Response::parse(input) {
        let mut reader = channel();
        if let Ok(opened) = reader.unwrap(&resp) {
            if resp.data.is_empty() {
                assert!(opened == resp && resp.sw != 0x9000, "a plain 9000 passed as secure messaging");
            } else {
                let rewrapped = channel().wrap_response(&opened).expect("wrap");
                assert_eq!(rewrapped.data, resp.data, "a non-canonical or forged response verified");
            }
        }
    }
    // The card opening an arbitrary command.
    if let Ok(cmd) = Command::decode(input) {
        let _ = channel().unwrap_command(&cmd);
    }
    // Round trip: card wraps, reader unwraps to the same bytes.
    let (mut card, mut reader) = (channel(), channel());
    let sw = if selector & 4 == 0 { 0x9000 } else { 0x6282 };
    let wrapped = card.wrap_response(&Response::new(input.to_vec(), sw)).expect("wrap");
    let opened = reader.unwrap(&Response::parse(&wrapped.encode()).expect("parse")).expect("unwrap");
    assert_eq!(opened, Response::new(input.to_vec(), sw));
});
