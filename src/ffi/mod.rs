//! The FFI layer: everything UniFFI exports — the [`CitizenCore`] object and its methods, the
//! records and enums they take and return, and the public errors — lives here, and nothing
//! outside this module imports from it. Each method is a small wrapper: it calls the engine
//! (`crate::account` and the feature modules) and converts domain types and the internal error
//! into their public forms (`From<&domain::X> for ffi::X` lives here only).
//!
//! The one documented exception is the platform traits in `crate::platform` (`DeviceKeyStore`,
//! `DataKeyWrapper`): they are ports the engine owns and calls, so they are declared next to the
//! engine and exported from there. The outbox observer is not a port: the engine publishes
//! outbox events (`services::flows::OutboxListener`) and `services.rs` forwards them to it.

mod access_log;
mod account;
mod activity;
mod chip;
mod consent;
mod delegation;
mod documents;
mod errors;
mod facade;
mod lifecycle;
mod presentation;
mod recovery;
mod runtime;
mod services;
mod share;
mod types;
mod verifier;

pub use access_log::*;
pub use account::*;
pub use activity::*;
pub use chip::*;
pub use consent::*;
pub use delegation::*;
pub use documents::*;
pub use errors::*;
pub use facade::*;
pub use lifecycle::{core_version, erase_local_data, ObserverError, OutboxListener, StatusListener, Subscription};
pub use presentation::*;
pub use recovery::*;
pub use services::*;
pub use share::*;
pub use types::*;
pub use verifier::*;
