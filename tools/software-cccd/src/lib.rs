//! A software CCCD chip for tests: the card side of ICAO 9303 as the CCCD speaks it — file
//! system (EF.CardAccess, EF.COM, EF.SOD, DG1, DG2, DG3 (unreadable), DG13, DG14, DG15), PACE-GM
//! with the CAN or MRZ, BAC, secure messaging, chip authentication, active authentication,
//! wrong-password counters and status words, and a switch that removes the card mid-read —
//! with a generated test PKI (CSCA → document signer → EF.SOD) and fictitious citizens that
//! match the reference server's register.
//!
//! One entry point, [`SoftwareCard::process`]: command APDU in, response APDU (data ‖ SW1SW2)
//! out, so the same card can sit in-process behind the reader or behind a `vpcd` virtual
//! reader. Test-only: keys derive from labels and the card's randomness is seeded.
// A test tool (never shipped): like test code, it may cast freely (decision 25).
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap, clippy::cast_lossless)]
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod card;
pub mod citizens;
pub mod keys;
pub mod pki;

pub use card::{CardOptions, SoftwareCard};
pub use citizens::{Citizen, CITIZENS};
pub use pki::TestPki;
