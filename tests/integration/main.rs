//! The core's integration tests, one binary (as matrix-rust-sdk does): the core and the
//! reference server are linked once instead of once per file. Run one group with
//! `cargo test -p citizen-core --test integration e2e::`.
//!
//! `outbox_kill` runs the `outbox_worker` example as a child process (built on demand when a
//! plain `cargo test --test integration` did not build examples).

mod activity;
mod concurrency;
mod e2e;
mod hostile_server;
mod outbox_faults;
mod outbox_kill;
mod qr_login;
mod qr_registry;
mod services;
mod share;
mod signed_overlap;
mod tls;
mod wycheproof;
