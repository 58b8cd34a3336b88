//! `DataKeyWrapper`: a non-exportable platform key (Android Keystore AES-GCM, iOS Keychain)
//! that wraps the core's 32-byte data key. The data key exists on disk only wrapped, so a copy of
//! the database is useless without the phone that made it.

/// Errors a data-key wrapper reports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum KeyWrapError {
    /// The wrapping key is gone or permanently invalidated (app reinstalled, restored from
    /// backup, keystore reset): the data key is **lost** (`storage.data_key_lost`, re-enroll).
    #[error("wrapping key unavailable")]
    KeyUnavailable {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The wrapped blob does not open under the wrapping key: the data key is **lost**.
    #[error("unwrap failed")]
    UnwrapFailed {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// The wrapping key exists but cannot be used **right now**: the device is locked (iOS
    /// `errSecInteractionNotAllowed`), the key needs a recent user authentication (Android
    /// `UserNotAuthenticatedException`), or the key store is busy. The core reports
    /// `storage.data_key_locked` (retry later), never "lost", and touches nothing.
    #[error("wrapping key temporarily unavailable")]
    TemporarilyUnavailable {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
    /// Anything else. Treated like [`KeyWrapError::TemporarilyUnavailable`] when unwrapping
    /// (an unexplained failure must never lead to erasing the citizen's data).
    #[error("wrap failure")]
    Failure {
        /// What the platform reported (for logs; never shown to the user).
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for KeyWrapError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        KeyWrapError::Failure { reason: format!("unexpected callback error: {}", e.reason) }
    }
}

/// Wraps and unwraps the core's data key with a platform key that never leaves the platform.
#[uniffi::export(foreign)]
pub trait DataKeyWrapper: Send + Sync {
    /// Encrypt (wrap) the 32-byte `data_key` under the platform key `key_alias`, creating that
    /// key on first use. Returns an opaque blob the core stores.
    fn wrap(&self, key_alias: String, data_key: Vec<u8>) -> Result<Vec<u8>, KeyWrapError>;

    /// Decrypt (unwrap) a blob made by `wrap` and return the 32-byte data key.
    fn unwrap(&self, key_alias: String, wrapped: Vec<u8>) -> Result<Vec<u8>, KeyWrapError>;

    /// Delete the platform key `key_alias` for good (called by `erase_local_data`, so a shell
    /// never hard-codes the core's key aliases). Deleting a missing key is not an error; a later
    /// `wrap` creates a new key.
    fn delete_key(&self, key_alias: String) -> Result<(), KeyWrapError>;
}
