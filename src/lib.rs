//! citizen-core: the Rust core of the digital-citizen app.
//!
//! See `ARCHITECTURE.md` for where each concern lives. In short: domain logic is sans-I/O
//! ([`cccd`], [`protocol`], `passcode`, `session`), I/O sits at the edges (`net`, `store`), and
//! the UniFFI façade (`facade`) is a thin layer of small wrappers.

uniffi::setup_scaffolding!();

mod account;
pub mod activity;
pub mod admin_units;
pub mod cccd;
pub mod clock;
pub mod consent;
pub mod crypto;
pub mod datadir;
pub mod error;
mod facade;
mod facade_consent;
mod facade_services;
mod facade_share;
pub mod platform;
pub mod protocol;
pub mod sdjwt;
mod share;

pub use error::{AuthError, EnrollmentError, ErrorDetail, FieldError, NetworkErrorKind, PasscodeError, SetupError};
pub use platform::{
    DataKeyWrapper, DeviceKeyStore, DeviceKeyStoreError, DeviceSignature, KeyOptions, KeyWrapError, ObserverError,
    OutboxObserver, SignatureFormat,
};
pub mod net;
pub mod passcode;
pub mod services;
pub mod store;

pub use facade::*;
pub use facade_consent::*;
pub use facade_services::*;
pub use facade_share::*;
