//! `DeviceKeyStore`: the phone's secure hardware (Android Keystore/StrongBox, iOS Secure Enclave).
//!
//! The private key never leaves it: the core hands over the bytes to sign and gets a signature
//! back. Keys are addressed by alias, so no key material crosses the FFI in either direction.

/// How a new device key is created.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct KeyOptions {
    /// Gate every use of the key on user verification (biometric or device credential).
    pub require_user_authentication: bool,
    /// Prefer StrongBox (Android) or the Secure Enclave (iOS); fall back to TEE if absent.
    pub prefer_strongbox: bool,
    /// Challenge for key attestation (Android); empty when the server asked none.
    pub attestation_challenge: Vec<u8>,
}

/// Encoding of a signature returned by a key store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum SignatureFormat {
    /// ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }` (Android `SHA256withECDSA`, iOS X9.62).
    Der,
    /// Fixed-width `r || s`, 64 bytes (IEEE P1363, JOSE).
    Raw,
}

/// A signature as the key store produced it; the core normalises and verifies it.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct DeviceSignature {
    /// Signature bytes.
    pub bytes: Vec<u8>,
    /// How `bytes` is encoded.
    pub format: SignatureFormat,
}

/// Errors a key store reports. Shells map their platform exceptions onto these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum DeviceKeyStoreError {
    /// No key under this alias.
    #[error("key not found")]
    KeyNotFound {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The key was permanently invalidated (Android `KeyPermanentlyInvalidatedException`,
    /// iOS biometry set changed). The core must start re-binding (re-enrollment).
    #[error("key invalidated")]
    KeyInvalidated {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The citizen cancelled the biometric/credential prompt.
    #[error("user cancelled")]
    UserCancelled {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// User verification failed or is not set up on the device.
    #[error("authentication failed")]
    AuthenticationFailed {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The secure hardware is unavailable or busy.
    #[error("unavailable")]
    Unavailable {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// Anything else.
    #[error("key store failure")]
    Failure {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for DeviceKeyStoreError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        DeviceKeyStoreError::Failure { reason: format!("unexpected callback error: {}", e.reason) }
    }
}

/// The platform's non-exportable P-256 signing keys. Implemented by the shells
/// (`AndroidKeystoreDeviceKeyStore`, `SecureEnclaveDeviceKeyStore`) and, for desktop and tests,
/// in Rust ([`crate::platform::software`]).
///
/// Methods may block (a biometric prompt); the core calls them off its async executor.
#[uniffi::export(foreign)]
pub trait DeviceKeyStore: Send + Sync {
    /// Create a new P-256 signing key under `alias` (replacing any key there) and return its
    /// public key: SEC1 uncompressed point (65 bytes) or X.509 SubjectPublicKeyInfo DER.
    fn create_key(&self, alias: String, options: KeyOptions) -> Result<Vec<u8>, DeviceKeyStoreError>;

    /// Sign `message` with ECDSA P-256 over SHA-256 (the key store hashes).
    fn sign(&self, alias: String, message: Vec<u8>) -> Result<DeviceSignature, DeviceKeyStoreError>;

    /// The public key of `alias`, in either encoding accepted by `create_key`.
    fn public_key(&self, alias: String) -> Result<Vec<u8>, DeviceKeyStoreError>;

    /// Delete the key. Deleting a missing key is not an error.
    fn delete_key(&self, alias: String) -> Result<(), DeviceKeyStoreError>;

    /// Whether the key lives in secure hardware (TEE, StrongBox, Secure Enclave).
    fn is_hardware_backed(&self, alias: String) -> Result<bool, DeviceKeyStoreError>;

    /// The key's attestation certificate chain (DER, leaf first), empty when the platform has
    /// none. Passed to the server unchanged.
    fn attestation_chain(&self, alias: String) -> Result<Vec<Vec<u8>>, DeviceKeyStoreError>;
}
