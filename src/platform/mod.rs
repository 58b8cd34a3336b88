//! Platform traits: the ports the engine owns and the shells implement (one file per trait),
//! and the Rust implementations used by the desktop/kiosk shell and by tests. These are the one
//! place outside `src/ffi/` with UniFFI exports: the engine calls them. (The outbox observer is
//! not a port: the engine publishes outbox events and `src/ffi/` forwards them to it.)

mod apdu_transport;
mod data_key_wrapper;
mod device_key_store;
mod mdoc_transport;
pub mod software;

pub use apdu_transport::{ApduTransport, ApduTransportError};
pub use data_key_wrapper::{DataKeyWrapper, KeyWrapError};
pub use device_key_store::{
    DeviceKeyStore, DeviceKeyStoreError, DeviceSignature, KeyOptions, SignPurpose, SignRequest, SignatureFormat,
};
pub(crate) use mdoc_transport::{receive_message, send_message};
pub use mdoc_transport::{LoopbackMdocTransport, MdocTransport, MdocTransportError};
