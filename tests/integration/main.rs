//! The core's integration tests, one binary (as matrix-rust-sdk does): the core and the
//! reference server are linked once instead of once per file, and they share one environment
//! ([`env`]: the server on loopback TLS, an OTP outbox, one manual clock, devices with in-memory
//! key stores). Each module keeps what only it needs as a small extension of `Env` (a relay, a
//! hostile proxy, the portal's key, the demo bank's client). Run one group with
//! `cargo test -p citizen-core --test integration e2e::`. `tls` and `wycheproof` need no server.
//!
//! `outbox_kill` runs the `outbox_worker` example as a child process (built on demand when a
//! plain `cargo test --test integration` did not build examples).
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

mod access_log;
mod activity;
mod bookkeeping;
mod chip;
mod commits;
mod concurrency;
mod delegation;
mod documents;
mod e2e;
mod ffi_errors;
mod hostile_server;
mod identity_qr;
mod migration_kill;
mod outbox_faults;
mod outbox_kill;
mod presentation;
mod qr_login;
mod qr_registry;
mod recovery;
mod services;
mod share;
mod signed_overlap;
mod subscriptions;
mod tls;
mod wycheproof;
