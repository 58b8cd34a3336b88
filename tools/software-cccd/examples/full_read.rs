//! One full read of the software CCCD (PACE-CAN on brainpoolP256r1, secure messaging, EF.COM,
//! DG14 + chip authentication, EF.SOD, DG1, DG13, DG15 + active authentication, DG2, passive
//! authentication), with short APDUs and with extended length: APDU count, bytes each way and
//! the reader's own time (the card's processing excluded).
//!
//!     cargo run -p software-cccd --example full_read
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::cast_possible_truncation, clippy::cast_lossless)]

use std::time::{Duration, Instant};

use citizen_chip::kdf::AccessKey;
use citizen_chip::pa::TrustList;
use citizen_chip::reader::{Action, Reader, ReaderConfig};
use citizen_chip::OsRandom;
use software_cccd::{CardOptions, SoftwareCard, TestPki, CITIZENS};

fn main() {
    let pki = TestPki::default_test();
    for (label, max_response_len, read_dg2) in [
        ("short APDUs, no DG2", 256, false),
        ("short APDUs, with DG2", 256, true),
        ("extended length, with DG2", 65536, true),
    ] {
        let mut card = SoftwareCard::new(&CITIZENS[0], &pki, CardOptions::default());
        card.power_on();
        let config = ReaderConfig {
            access_key: AccessKey::can(CITIZENS[0].can()).unwrap(),
            max_response_len,
            read_dg2,
            trust: TrustList::new(vec![pki.csca.clone()]).unwrap(),
            now: 1_796_083_200,
            aa_challenge: Some(*b"NONCE001"),
        };
        let mut reader = Reader::new(config, Box::new(OsRandom));
        let mut core = Duration::ZERO;
        let t = Instant::now();
        let mut action = reader.start().unwrap();
        core += t.elapsed();
        let out = loop {
            match action {
                Action::Send(apdu) => {
                    let answer = card.process(&apdu);
                    let t = Instant::now();
                    action = reader.on_response(&answer).unwrap();
                    core += t.elapsed();
                }
                Action::Done(out) => break out,
            }
        };
        let s = out.stats;
        println!(
            "{label}: {} APDUs, {} bytes sent, {} bytes received, {} file bytes, reader time {:.1} ms (debug build unless --release)",
            s.apdus,
            s.bytes_sent,
            s.bytes_received,
            s.file_bytes,
            core.as_secs_f64() * 1000.0
        );
        for (file, bytes) in &out.files {
            println!("  {:<7} {:>6} bytes", file.name(), bytes.len());
        }
    }
}
