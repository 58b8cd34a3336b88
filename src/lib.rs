//! citizen-core: the Rust core of the digital-citizen app.
//!
//! See `ARCHITECTURE.md` for where each concern lives. In short: the wire protocol and the pure
//! domain rules live in the sans-I/O `citizen-protocol` crate, re-exported here under their old
//! paths ([`protocol`], [`cccd`], [`activity`], [`sdjwt`], [`admin_units`], [`clock`], the
//! primitives of [`crypto`] and the message catalogue of [`error`]); I/O sits at the edges
//! (`net`, `store`), and the engine is grouped by feature, each with its flows and its storage
//! ([`account`] incl. the passcode, [`services`], [`activity`], [`consent`] incl. sharing). The
//! UniFFI layer (`ffi`) is a thin layer of small wrappers that nothing else imports from (the
//! platform traits in [`platform`] are the one exception: ports the engine owns).

#![warn(missing_docs)]
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

uniffi::setup_scaffolding!();

pub mod account;
pub mod activity;
mod chip;
pub use citizen_protocol::admin_units;
pub use citizen_protocol::cccd;
pub use citizen_protocol::clock;
pub use citizen_protocol::jwt;
pub mod consent;
pub mod crypto;
pub mod datadir;
mod documents;
pub mod error;
mod ffi;
pub mod platform;
pub mod protocol;
pub use citizen_protocol::sdjwt;

pub use error::{ErrorDetail, FieldError, NetworkErrorKind, PublicError};
pub use platform::{
    DataKeyWrapper, DeviceKeyStore, DeviceKeyStoreError, DeviceSignature, KeyOptions, KeyWrapError, SignatureFormat,
};
pub mod net;
pub mod services;
pub mod store;
mod verifier;

pub use ffi::*;
