//! The FFI layer: everything UniFFI exports — the [`CitizenCore`] object and its methods, the
//! records and enums they take and return, and the public errors — lives here, and nothing
//! outside this module imports from it. Each method is a small wrapper: it calls the engine
//! (`crate::account` and the feature modules) and converts domain types and the internal error
//! into their public forms (`From<&domain::X> for ffi::X` lives here only).
//!
//! The one documented exception is the platform traits in `crate::platform` (`DeviceKeyStore`,
//! `DataKeyWrapper`, `OutboxObserver`): they are ports the engine owns and calls, so they are
//! declared next to the engine and exported from there.

mod consent;
mod errors;
mod facade;
mod services;
mod share;

pub use consent::*;
pub use errors::*;
pub use facade::*;
pub use services::*;
pub use share::*;
