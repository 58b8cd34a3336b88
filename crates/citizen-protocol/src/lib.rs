//! citizen-protocol: the sans-I/O half of citizen-core, shared by the core (the UniFFI library
//! on the phone), the reference server, the CLI and the fuzz target.
//!
//! Everything here is pure: byte and JSON formats, validation, hashing, signing and verifying
//! with keys held in memory. No networking, no SQLite, no UniFFI — so a server or a fuzz target
//! can link the wire protocol without the FFI stack, and everything here is testable without
//! I/O. The core re-exports each module under its old path (`citizen_core::protocol`,
//! `citizen_core::cccd`, …) and declares the records it exports to UniFFI itself.
//!
//! * [`protocol`]: the signed statement, wire DTOs, paths and error codes; [`protocol::services`]
//!   (public services) and [`protocol::rp`] (relying parties: registry, QR frame codec,
//!   receipts, share requests, the PID credential).
//! * [`cccd`]: CCCD number, date and phone rules; [`admin_units`]: the 2025 administrative units.
//! * [`crypto`]: P-256 key parsing, signature normalisation and low-S checks, HKDF, sealing,
//!   base64url. [`sdjwt`]: the SD-JWT PID credential and its presentations.
//! * [`jwt`]: the `typ` header of every JWT kind (RFC 8725 explicit typing).
//! * [`activity`]: the activity log's hash chain and its verification.
//! * [`clock`]: injectable time. [`messages`]: the message catalogue (codes, vi/en texts).

#![forbid(unsafe_code)]
// Stricter than the workspace table: this crate was already clean, keep it so without `-D warnings`.
#![deny(missing_docs, unreachable_pub)]
#![deny(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_possible_wrap)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_possible_wrap,
        clippy::cast_lossless
    )
)]

pub mod access;
pub mod activity;
pub mod admin_units;
pub mod cccd;
pub mod clock;
pub mod crypto;
pub mod jwt;
pub mod messages;
pub mod protocol;
pub mod sdjwt;
