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

/// Why the core asks for a signature: the shell may word its prompt after it (and must not show
/// one when the key was created without user authentication).
///
/// Mirrors the purposes of the signed statement (`citizen_protocol::protocol::Purpose`), with the
/// activity-log purpose split into its two uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum SignPurpose {
    /// Proof of possession of a new device key during enrollment.
    Enroll,
    /// Challenge–response login.
    Login,
    /// Submitting a public-service request.
    Submit,
    /// Consent to a relying party: approve or deny a QR login, share identity data.
    Consent,
    /// Asking for the identity credential bound to this device.
    Credential,
    /// An activity-log entry (bookkeeping: signed with the bookkeeping key, never prompts).
    ActivityEntry,
    /// Anchoring the activity log's head at the server (bookkeeping: never prompts).
    ActivityAnchor,
    /// Managing the account's devices: revoke one, approve a transfer.
    DeviceManagement,
    /// Resetting a forgotten passcode after an OTP.
    PasscodeReset,
    /// Raising the identity level with the chip-based ID card (CCCD): the upload of its files.
    Chip,
    /// Presenting a document in person (ISO 18013-5 device authentication to a verifier that
    /// the citizen sees on screen, e.g. the driving licence to the traffic police).
    DocumentPresentation,
    /// Showing the short identity QR code (valid 60 s) to someone with a camera.
    IdentityQr,
    /// Recovering the account on this new device without the old one (issue 15): the new key's
    /// proof with the chip read, and the completion after the waiting period.
    Recovery,
    /// Cancelling, on the old device, a recovery someone started on another device (issue 15).
    RecoveryCancel,
    /// Re-binding this device with a new key after the old one was invalidated (issue 15).
    Rebind,
}

impl SignPurpose {
    /// Whether this purpose is bookkeeping (signed with the bookkeeping key, without a prompt).
    pub fn is_bookkeeping(self) -> bool {
        matches!(self, SignPurpose::ActivityEntry | SignPurpose::ActivityAnchor)
    }
}

/// What a signature is for, handed to [`DeviceKeyStore::sign`] with the bytes.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct SignRequest {
    /// Why the core signs.
    pub purpose: SignPurpose,
    /// `true` when the citizen just asked for this operation (a prompt is expected); `false` for
    /// background bookkeeping (log entries, anchors), which the core signs only with the
    /// bookkeeping key, created without user authentication: a shell must never show a prompt
    /// for it and should fail rather than prompt if the key unexpectedly requires one.
    pub user_initiated: bool,
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
/// `create_key` and `sign` may wait for the citizen (a biometric prompt) or for slow hardware
/// (StrongBox key generation), so they are `async`: Kotlin `suspend fun`, Swift `async throws`,
/// Python `async def`. No thread is blocked while the prompt is up, and **dropping the core's
/// future cancels the foreign call**: UniFFI cancels the Kotlin coroutine (the implementation sees
/// a `CancellationException` and should cancel its `BiometricPrompt`) or the Swift `Task` (the
/// implementation should invalidate its `LAContext` in a cancellation handler). The other methods
/// are quick and synchronous; the core calls them off its async executor.
///
/// Two keys per device (ARCHITECTURE.md, decision 26): the *device key* (user authentication
/// required, every user-initiated statement) and the *bookkeeping key* (alias
/// `<device alias>.bookkeeping`, `require_user_authentication = false`, activity-log entries and
/// anchors only; the server refuses it for anything else). [`SignRequest`] says which use a
/// signature is for.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait DeviceKeyStore: Send + Sync {
    /// Create a new P-256 signing key under `alias` (replacing any key there) and return its
    /// public key: SEC1 uncompressed point (65 bytes) or X.509 SubjectPublicKeyInfo DER.
    async fn create_key(&self, alias: String, options: KeyOptions) -> Result<Vec<u8>, DeviceKeyStoreError>;

    /// Sign `message` with ECDSA P-256 over SHA-256 (the key store hashes). `request` says why;
    /// a prompt, if the key needs one, should name `request.purpose`. Cancelled when the core
    /// drops the call (see the trait documentation).
    async fn sign(
        &self,
        alias: String,
        message: Vec<u8>,
        request: SignRequest,
    ) -> Result<DeviceSignature, DeviceKeyStoreError>;

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
