//! The CLI's integration tests, one binary: the demo in-process and as the `citizen` binary, QR
//! login and receipts through the binary, and the passcode lockout across SIGKILL. The binary is
//! `CARGO_BIN_EXE_citizen`, which cargo builds before this target.
// Test code: may unwrap, cast freely, and share helpers across modules with plain `pub`.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_lossless
)]

mod env;
mod vpcd;

mod access;
mod chip;
mod demo;
mod documents;
mod exit_codes;
mod identity_qr;
mod kiosk;
mod passcode_kill;
mod qr;
mod verify;
