//! Platform traits: what the shells implement (one file per trait), and the Rust
//! implementations used by the desktop/kiosk shell and by tests.

mod data_key_wrapper;
mod device_key_store;
mod outbox_observer;
pub mod software;

pub use data_key_wrapper::{DataKeyWrapper, KeyWrapError};
pub use device_key_store::{DeviceKeyStore, DeviceKeyStoreError, DeviceSignature, KeyOptions, SignatureFormat};
pub use outbox_observer::{ObserverError, OutboxObserver};
