//! The software CCCD on standard input/output, for binding tests that cannot link the Rust card
//! (the Python suite's `ApduTransport`): one command APDU per line in hex, one response per line
//! in hex; an empty response line means the card left the field. Test support only (it is built
//! from the core's dev-dependency `software-cccd`; the shipped library does not contain it).
//!
//! ```text
//! software_card_stdio [--citizen N] [--clone] [--write-csca PATH]
//! ```
//! `--citizen N`: the N-th fictitious citizen of the software card (0–2, the register's first
//! three); `--clone`: a copy with the same files but without the chip's private keys;
//! `--write-csca PATH`: write the test CSCA certificate (DER) there and exit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, Write};

use software_cccd::{CardOptions, SoftwareCard, TestPki, CITIZENS};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let pki = TestPki::default_test();
    if let Some(path) = value("--write-csca") {
        std::fs::write(path, &pki.csca).expect("write the CSCA");
        return;
    }
    let n: usize = value("--citizen").map_or(0, |v| v.parse().expect("--citizen takes 0, 1 or 2"));
    let mut card = SoftwareCard::new(&CITIZENS[n], &pki, CardOptions::default());
    if args.iter().any(|a| a == "--clone") {
        card = SoftwareCard::clone_without_keys(&card);
    }
    card.power_on();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let command = citizen_chip::unhex(&line.expect("stdin")).expect("hex command");
        let response = card.process(&command);
        writeln!(out, "{}", citizen_chip::hex(&response)).expect("stdout");
        out.flush().expect("stdout");
    }
}
