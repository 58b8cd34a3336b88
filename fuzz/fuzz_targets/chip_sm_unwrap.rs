//! Fuzz target of secure-messaging unwrapping (`citizen_chip::sm`), both ends: the reader
//! opening a chip response and the card opening a reader command, for 3DES and AES channels.
//!
//! Nothing may panic; a forged response must not verify (only the keys' owner can MAC), and a
//! response wrapped by the card end must unwrap to exactly what was wrapped.
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

    // The reader opening an arbitrary response: a MAC forged by the fuzzer must not verify.
    if let Ok(resp) = Response::parse(input) {
        let mut reader = channel();
        if let Ok(opened) = reader.unwrap(&resp) {
            assert!(resp.data.is_empty() && opened == resp && resp.sw != 0x9000, "a forged response verified");
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
