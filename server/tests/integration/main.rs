//! The server's integration tests, one binary (as matrix-rust-sdk does): one link of the server
//! and the core instead of one per file, and one shared harness ([`common`]: an in-process server
//! on loopback with a manual clock, an HTTPS client, a software device). Run one group with
//! `cargo test -p citizen-server --test integration login::`.
//!
//! `binary` and `flood` run the `citizen-server` binary itself (`CARGO_BIN_EXE_citizen-server`,
//! which cargo builds before this target).
// Test code: may unwrap, cast freely, and share helpers across modules with plain `pub`.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_lossless
)]

mod common;

mod access_log;
mod binary;
mod bookkeeping;
mod chip;
mod concurrency;
mod corrections;
mod delegation;
mod documents;
mod enrollment;
mod flood;
mod identity;
mod lockout;
mod login;
mod lost_phone;
mod public_url;
mod qr;
mod recovery;
mod services;
mod sessions;
mod shedding;
