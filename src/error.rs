//! Error policy.
//!
//! * Inside the core, [`Error`] keeps detail (server codes, SQLite messages, key-store reasons)
//!   for logs and tests. It never holds personal data or secrets: values travel as bound SQL
//!   parameters and are never formatted into messages.
//!   It keeps its sources (`rusqlite`, `std::io`, `serde_json`, the key store) so code and tests
//!   can inspect them; `serde_json` errors are shown by category only (see [`JsonError`]).
//! * At the FFI boundary there is one public error, `CitizenError` (`src/ffi/errors.rs`), whose
//!   variants say what the app should do next (log in, enroll, passcode rejected, locked out,
//!   invalid input, OTP rejected, network, refused, key store, data key locked or lost, not
//!   found, internal); `From<Error>` there is the one mapping.
//!   Every variant carries an [`ErrorDetail`]: a stable code (`auth.locked_out`) plus a
//!   Vietnamese and an English message, so shells can show text without a translation table and
//!   match on codes without parsing.
//! * Codes are API: once shipped, a code is never renamed or reused.

use crate::platform::DeviceKeyStoreError;

pub use citizen_protocol::messages::{ErrorDetail, FieldError, Msg};

// UniFFI declarations of the protocol crate's two catalogue records that the core
// exports. `citizen-protocol` has no UniFFI dependency, so their foreign-language interface is
// declared here with `#[uniffi::remote(..)]`: the definitions mirror the protocol crate's (same
// fields in the same order, which the compiler checks; the docstrings here are the ones the
// bindings carry) and generate the FFI code for this crate's UniFFI tag. They sit in the module
// the types were defined in before the split (UniFFI's checksums include it), so the bindings are
// unchanged and stay in the one `citizen_core` module.

/// A stable code with its message in both languages.
#[uniffi::remote(Record)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `auth.locked_out`.
    pub code: String,
    /// Message for the citizen in Vietnamese.
    pub message_vi: String,
    /// Message for the citizen in English.
    pub message_en: String,
}

/// One invalid input field.
#[uniffi::remote(Record)]
pub struct FieldError {
    /// The field name as in the API (`cccd`, `date_of_birth`, `phone`, `passcode`).
    pub field: String,
    /// Stable code, e.g. `cccd.province`.
    pub code: String,
    /// Vietnamese message.
    pub message_vi: String,
    /// English message.
    pub message_en: String,
}

/// Network failure classes, so a shell can tell "you are offline" from "the server is down".
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum NetworkErrorKind {
    /// No connection could be made (no network, DNS failure, connection refused).
    Offline,
    /// The server did not answer in time.
    Timeout,
    /// TLS failed: unknown CA, wrong host name, pin mismatch, protocol error.
    Tls,
    /// The URL is not HTTPS (only loopback may be plain HTTP, and only when allowed).
    InsecureUrl,
    /// The server answered with a 5xx or an unexpected status.
    Server,
    /// The server's answer could not be understood (malformed, oversized, wrong audience).
    Protocol,
}

/// A network failure with internal detail (never shown to the citizen).
#[derive(Debug, Clone)]
pub struct NetError {
    /// Class.
    pub kind: NetworkErrorKind,
    /// Internal detail for logs; no personal data.
    pub detail: String,
    /// Seconds the server asked to wait (`Retry-After`), if it did.
    pub retry_after: Option<u64>,
}

/// The core's internal error: rich, for logs and tests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input validation failed.
    #[error("invalid input: {0:?}")]
    Fields(Vec<FieldError>),
    /// A domain condition with no extra data.
    #[error("{}", .0.code())]
    Domain(Msg),
    /// Wrong passcode.
    #[error("passcode incorrect ({before_lockout} before lockout, {before_wipe} before wipe)")]
    PasscodeIncorrect {
        /// Free attempts left before a delay.
        before_lockout: u32,
        /// Attempts left before the local data is wiped.
        before_wipe: u32,
    },
    /// Passcode locked for a while.
    #[error("locked out for {0} s")]
    LockedOut(u64),
    /// OTP rejected.
    #[error("{}: {attempts_left} left", msg.code())]
    Otp {
        /// Which OTP condition.
        msg: Msg,
        /// Attempts left.
        attempts_left: u32,
    },
    /// Device no longer active.
    #[error("device {0}")]
    DeviceInactive(String),
    /// Transport.
    #[error("network {:?}: {}", .0.kind, .0.detail)]
    Net(NetError),
    /// The server refused with a code the core maps to no domain condition.
    #[error("server refused: {status} {code}")]
    Server {
        /// HTTP status.
        status: u16,
        /// Server error code.
        code: String,
    },
    /// SQLite, with its source (its messages name tables and columns, never values: values
    /// travel as bound parameters).
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file system, with what the core was doing; only the error kind is shown (paths and
    /// OS messages stay in the source).
    #[error("storage: {context}: {:?}", source.kind())]
    Io {
        /// What the core was doing (`create data dir`, `lock data dir`, …).
        context: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// JSON encoding or decoding of stored or exported data (see [`JsonError`]).
    #[error("storage: {0}")]
    Json(#[from] JsonError),
    /// A storage invariant that failed without an underlying error.
    #[error("storage: {0}")]
    Storage(String),
    /// Platform key store.
    #[error("key store: {0}")]
    KeyStore(#[from] DeviceKeyStoreError),
    /// Data key wrapping or field decryption.
    #[error("crypto: {0}")]
    Crypto(String),
    /// The data key cannot be unwrapped *for now*: the device is locked (iOS
    /// `errSecInteractionNotAllowed`), the key needs a recent authentication (Android
    /// `UserNotAuthenticatedException`) or the key store is busy. Retry later; never offer to
    /// erase (`storage.data_key_locked`). Nothing was written.
    #[error("data key temporarily locked")]
    DataKeyLocked,
    /// The data key is gone for good: the wrapping key was deleted or permanently invalidated,
    /// or the wrapped blob does not open (restored onto another device). The local data cannot
    /// be read again; the citizen enrolls again (`storage.data_key_lost`).
    #[error("data key lost")]
    DataKeyLost,
    /// Bad configuration.
    #[error("config: {0}")]
    Config(String),
    /// The server's receipt does not verify (transient: the item is kept and resent).
    #[error("receipt: {0}")]
    BadReceipt(String),
}

/// Internal result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O failure while doing `context`.
    pub fn io(context: &'static str, source: std::io::Error) -> Self {
        Error::Io { context, source }
    }
}

/// A `serde_json` error kept as the source of [`Error::Json`]. Its own message can quote the
/// input it choked on (`invalid type: string "…"`), which may be a stored personal value, so
/// Display and Debug show only the category and position; the error itself stays reachable
/// through [`JsonError::get_ref`] (not through `source()`, which error reporters print).
pub struct JsonError(serde_json::Error);

impl JsonError {
    /// The underlying error (never format its message into logs).
    pub fn get_ref(&self) -> &serde_json::Error {
        &self.0
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JSON {:?} error at line {} column {}", self.0.classify(), self.0.line(), self.0.column())
    }
}

impl std::fmt::Debug for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JsonError({self})")
    }
}

impl std::error::Error for JsonError {}

impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> Self {
        JsonError(e)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Json(JsonError(e))
    }
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        Error::Net(e)
    }
}

/// The catalogue message of a network failure class.
pub(crate) fn net_msg(kind: NetworkErrorKind) -> Msg {
    match kind {
        NetworkErrorKind::Offline => Msg::Offline,
        NetworkErrorKind::Timeout => Msg::Timeout,
        NetworkErrorKind::Tls => Msg::Tls,
        NetworkErrorKind::InsecureUrl => Msg::InsecureUrl,
        NetworkErrorKind::Server => Msg::ServerError,
        NetworkErrorKind::Protocol => Msg::ProtocolError,
    }
}

/// The catalogue message of a key-store failure: an invalidated key and a cancelled prompt have
/// their own codes (the shell re-enrolls on the first and simply stays on the screen on the
/// second), every other failure is `keystore.failure`.
pub(crate) fn keystore_msg(e: &DeviceKeyStoreError) -> Msg {
    match e {
        DeviceKeyStoreError::KeyInvalidated { .. } => Msg::KeyInvalidated,
        DeviceKeyStoreError::UserCancelled { .. } => Msg::UserCancelled,
        _ => Msg::KeyStore,
    }
}

/// Access to the [`ErrorDetail`] every public error variant carries (Rust callers: CLI, tests).
/// The public enums themselves live in the FFI layer (`src/ffi/errors.rs`), generated from one
/// table; foreign callers get the same through the exported `detail()` method.
pub trait PublicError: std::error::Error {
    /// The code and messages.
    fn detail(&self) -> &ErrorDetail;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_kept_but_json_values_never_reach_display_or_debug() {
        use std::error::Error as _;
        let sql: Error = rusqlite::Error::QueryReturnedNoRows.into();
        assert!(matches!(&sql, Error::Sqlite(rusqlite::Error::QueryReturnedNoRows)));
        assert!(sql.source().is_some(), "the SQLite error is the source");
        let io = Error::io("open lock file", std::io::Error::new(std::io::ErrorKind::PermissionDenied, "/secret/path"));
        assert!(io.source().is_some());
        assert!(!format!("{io}").contains("/secret/path"), "{io}");
        // serde_json quotes the offending input; the core's error never shows it.
        let bad = serde_json::from_str::<u32>("\"482916\"").unwrap_err();
        let e: Error = bad.into();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("482916"), "{shown}");
        let Error::Json(j) = &e else { panic!("{e:?}") };
        assert!(j.get_ref().is_data(), "the source is kept for inspection");
    }
}
