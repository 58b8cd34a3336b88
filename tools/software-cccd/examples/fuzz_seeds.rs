//! Writes the seed inputs of the chip fuzz targets (fuzz/seeds/chip_*) from the software card:
//! every file of a fictitious card, EF.CardAccess, the test certificates and SM responses.
//!
//!     cargo run -p software-cccd --example fuzz_seeds
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::cast_possible_truncation, clippy::cast_lossless)]

use std::path::Path;

use citizen_chip::apdu::Response;
use citizen_chip::kdf::Cipher;
use citizen_chip::sm::SecureChannel;
use software_cccd::{CardOptions, SoftwareCard, TestPki, CITIZENS};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let pki = TestPki::default_test();
    let card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions { face_bytes: 200, ..CardOptions::default() });
    let tlv_dir = root.join("chip_tlv_dg13");
    for (fid, name) in [
        ([1, 0x1C], "card_access"),
        ([1, 0x1E], "com"),
        ([1, 1], "dg1"),
        ([1, 0x0D], "dg13"),
        ([1, 0x0E], "dg14"),
        ([1, 0x0F], "dg15"),
    ] {
        write(&tlv_dir, &format!("{name}.bin"), card.file(fid).unwrap());
    }
    let sod_dir = root.join("chip_sod");
    write(&sod_dir, "sod.bin", card.file([1, 0x1D]).unwrap());
    write(&sod_dir, "csca.der", &pki.csca);
    write(&sod_dir, "ds.der", &pki.ds);
    let sm_dir = root.join("chip_sm_unwrap");
    for (i, cipher) in [Cipher::Tdes, Cipher::Aes128].into_iter().enumerate() {
        let mut card_end = SecureChannel::from_secret(cipher, &[0x5A; 32]).unwrap();
        let resp = card_end.wrap_response(&Response::new(b"60145F0104".to_vec(), 0x9000)).unwrap();
        let mut seed = vec![i as u8];
        seed.extend_from_slice(&resp.encode());
        write(&sm_dir, &format!("response_{i}.bin"), &seed);
    }
    println!("seeds written under {}", root.display());
}
