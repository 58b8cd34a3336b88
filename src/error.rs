//! Error policy.
//!
//! * Inside the core, [`Error`] keeps detail (server codes, SQLite messages, key-store reasons)
//!   for logs and tests. It never holds personal data or secrets: values travel as bound SQL
//!   parameters and are never formatted into messages.
//! * At the FFI boundary each domain has one small public enum ([`SetupError`],
//!   [`EnrollmentError`], [`PasscodeError`], [`AuthError`]). Every variant carries an
//!   [`ErrorDetail`]: a stable code (`auth.locked_out`) plus a Vietnamese and an English message,
//!   so shells can show text without a translation table and match on codes without parsing.
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
    /// SQLite or file system.
    #[error("storage: {0}")]
    Storage(String),
    /// Platform key store.
    #[error("key store: {0}")]
    KeyStore(#[from] DeviceKeyStoreError),
    /// Data key wrapping or field decryption.
    #[error("crypto: {0}")]
    Crypto(String),
    /// Bad configuration.
    #[error("config: {0}")]
    Config(String),
    /// The server's receipt does not verify (transient: the item is kept and resent).
    #[error("receipt: {0}")]
    BadReceipt(String),
}

/// Internal result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

impl From<NetError> for Error {
    fn from(e: NetError) -> Self {
        Error::Net(e)
    }
}

fn net_msg(kind: NetworkErrorKind) -> Msg {
    match kind {
        NetworkErrorKind::Offline => Msg::Offline,
        NetworkErrorKind::Timeout => Msg::Timeout,
        NetworkErrorKind::Tls => Msg::Tls,
        NetworkErrorKind::InsecureUrl => Msg::InsecureUrl,
        NetworkErrorKind::Server => Msg::ServerError,
        NetworkErrorKind::Protocol => Msg::ProtocolError,
    }
}

fn keystore_msg(e: &DeviceKeyStoreError) -> Msg {
    match e {
        DeviceKeyStoreError::KeyInvalidated { .. } => Msg::KeyInvalidated,
        DeviceKeyStoreError::UserCancelled { .. } => Msg::UserCancelled,
        _ => Msg::KeyStore,
    }
}

/// Errors of constructing [`crate::CitizenCore`].
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SetupError {
    /// The configuration is invalid (bad URL, PEM, pins, data directory).
    #[error("{}", detail.code)]
    InvalidConfig { detail: ErrorDetail },
    /// The database could not be opened or migrated.
    #[error("{}", detail.code)]
    Storage { detail: ErrorDetail },
    /// The wrapped data key could not be unwrapped (e.g. restored from a backup on another device).
    #[error("{}", detail.code)]
    DataKeyUnavailable { detail: ErrorDetail },
    /// Another `CitizenCore` (in this process or another) has the data directory open; only one
    /// may at a time (`storage.already_open`). Close or drop the other one first.
    #[error("{}", detail.code)]
    AlreadyOpen { detail: ErrorDetail },
}

impl From<Error> for SetupError {
    fn from(e: Error) -> Self {
        tracing::warn!(error = %e, "setup failed");
        match e {
            Error::Config(_) | Error::Fields(_) => SetupError::InvalidConfig { detail: Msg::InvalidConfig.detail() },
            Error::Crypto(_) | Error::KeyStore(_) | Error::Domain(Msg::DataKeyUnavailable) => {
                SetupError::DataKeyUnavailable { detail: Msg::DataKeyUnavailable.detail() }
            }
            Error::Domain(Msg::AlreadyOpen) => SetupError::AlreadyOpen { detail: Msg::AlreadyOpen.detail() },
            _ => SetupError::Storage { detail: Msg::Storage.detail() },
        }
    }
}

/// Errors of enrollment.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum EnrollmentError {
    /// One or more fields are invalid; nothing was sent.
    #[error("{}", detail.code)]
    InvalidInput { detail: ErrorDetail, fields: Vec<FieldError> },
    /// No citizen in the register matches.
    #[error("{}", detail.code)]
    NoMatch { detail: ErrorDetail },
    /// No enrollment is waiting for an OTP.
    #[error("{}", detail.code)]
    NoPendingEnrollment { detail: ErrorDetail },
    /// Wrong OTP.
    #[error("{}", detail.code)]
    OtpInvalid { detail: ErrorDetail, attempts_left: u32 },
    /// OTP expired.
    #[error("{}", detail.code)]
    OtpExpired { detail: ErrorDetail },
    /// Too many wrong OTPs.
    #[error("{}", detail.code)]
    OtpAttemptsExceeded { detail: ErrorDetail },
    /// This device is already enrolled.
    #[error("{}", detail.code)]
    AlreadyEnrolled { detail: ErrorDetail },
    /// The account is locked server-side.
    #[error("{}", detail.code)]
    AccountLocked { detail: ErrorDetail },
    /// The platform key store failed or the user cancelled.
    #[error("{}", detail.code)]
    KeyStore { detail: ErrorDetail },
    /// Transport failure.
    #[error("{}", detail.code)]
    Network { detail: ErrorDetail, kind: NetworkErrorKind },
    /// The server refused for another reason.
    #[error("{}", detail.code)]
    Rejected { detail: ErrorDetail },
    /// Local storage failed.
    #[error("{}", detail.code)]
    Storage { detail: ErrorDetail },
}

impl From<Error> for EnrollmentError {
    fn from(e: Error) -> Self {
        tracing::info!(error = %e, "enrollment error");
        match e {
            Error::Fields(fields) => EnrollmentError::InvalidInput { detail: Msg::InvalidInput.detail(), fields },
            Error::Domain(m @ Msg::NoMatch) => EnrollmentError::NoMatch { detail: m.detail() },
            Error::Domain(m @ Msg::NoPendingEnrollment) => EnrollmentError::NoPendingEnrollment { detail: m.detail() },
            Error::Domain(m @ Msg::AlreadyEnrolled) => EnrollmentError::AlreadyEnrolled { detail: m.detail() },
            Error::Domain(m @ Msg::AccountLocked) => EnrollmentError::AccountLocked { detail: m.detail() },
            Error::Domain(m @ Msg::OtpExpired) => EnrollmentError::OtpExpired { detail: m.detail() },
            Error::Domain(m @ Msg::OtpAttemptsExceeded) => EnrollmentError::OtpAttemptsExceeded { detail: m.detail() },
            Error::Otp { msg: Msg::OtpInvalid, attempts_left } => {
                EnrollmentError::OtpInvalid { detail: Msg::OtpInvalid.detail(), attempts_left }
            }
            Error::Otp { msg: m @ Msg::OtpExpired, .. } => EnrollmentError::OtpExpired { detail: m.detail() },
            Error::Otp { msg, .. } => EnrollmentError::OtpAttemptsExceeded { detail: msg.detail() },
            Error::KeyStore(k) => EnrollmentError::KeyStore { detail: keystore_msg(&k).detail() },
            Error::Net(n) => EnrollmentError::Network { detail: net_msg(n.kind).detail(), kind: n.kind },
            Error::Storage(_) | Error::Crypto(_) => EnrollmentError::Storage { detail: Msg::Storage.detail() },
            Error::Domain(m) => EnrollmentError::Rejected { detail: m.detail() },
            _ => EnrollmentError::Rejected { detail: Msg::Rejected.detail() },
        }
    }
}

/// Errors of the passcode: change, reset, status.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PasscodeError {
    /// The new passcode is not acceptable.
    #[error("{}", detail.code)]
    InvalidFormat { detail: ErrorDetail, fields: Vec<FieldError> },
    /// Wrong passcode.
    #[error("{}", detail.code)]
    Incorrect { detail: ErrorDetail, attempts_before_lockout: u32, attempts_before_wipe: u32 },
    /// Too many wrong passcodes; wait.
    #[error("{}", detail.code)]
    LockedOut { detail: ErrorDetail, retry_after_secs: u64 },
    /// Too many wrong passcodes; the local account was erased.
    #[error("{}", detail.code)]
    Wiped { detail: ErrorDetail },
    /// No account on this device.
    #[error("{}", detail.code)]
    NotEnrolled { detail: ErrorDetail },
    /// No reset waiting for an OTP.
    #[error("{}", detail.code)]
    NoPendingReset { detail: ErrorDetail },
    /// Wrong OTP.
    #[error("{}", detail.code)]
    OtpInvalid { detail: ErrorDetail, attempts_left: u32 },
    /// OTP expired or too many wrong OTPs.
    #[error("{}", detail.code)]
    OtpRejected { detail: ErrorDetail },
    /// This device was replaced or revoked.
    #[error("{}", detail.code)]
    DeviceInactive { detail: ErrorDetail },
    /// Key store failure.
    #[error("{}", detail.code)]
    KeyStore { detail: ErrorDetail },
    /// Transport failure.
    #[error("{}", detail.code)]
    Network { detail: ErrorDetail, kind: NetworkErrorKind },
    /// The server refused for another reason.
    #[error("{}", detail.code)]
    Rejected { detail: ErrorDetail },
    /// Local storage failed.
    #[error("{}", detail.code)]
    Storage { detail: ErrorDetail },
}

impl From<Error> for PasscodeError {
    fn from(e: Error) -> Self {
        tracing::info!(error = %e, "passcode error");
        match e {
            Error::Fields(fields) => PasscodeError::InvalidFormat { detail: Msg::InvalidInput.detail(), fields },
            Error::PasscodeIncorrect { before_lockout, before_wipe } => PasscodeError::Incorrect {
                detail: Msg::PasscodeIncorrect.detail(),
                attempts_before_lockout: before_lockout,
                attempts_before_wipe: before_wipe,
            },
            Error::LockedOut(s) => PasscodeError::LockedOut { detail: Msg::LockedOut.detail(), retry_after_secs: s },
            Error::Domain(m @ Msg::Wiped) => PasscodeError::Wiped { detail: m.detail() },
            Error::Domain(m @ Msg::NotEnrolled) => PasscodeError::NotEnrolled { detail: m.detail() },
            Error::Domain(m @ Msg::NoPendingReset) => PasscodeError::NoPendingReset { detail: m.detail() },
            Error::Domain(m @ (Msg::OtpExpired | Msg::OtpAttemptsExceeded)) => {
                PasscodeError::OtpRejected { detail: m.detail() }
            }
            Error::Otp { msg: Msg::OtpInvalid, attempts_left } => {
                PasscodeError::OtpInvalid { detail: Msg::OtpInvalid.detail(), attempts_left }
            }
            Error::Otp { msg, .. } => PasscodeError::OtpRejected { detail: msg.detail() },
            Error::DeviceInactive(_) => PasscodeError::DeviceInactive { detail: Msg::DeviceInactive.detail() },
            Error::KeyStore(k) => PasscodeError::KeyStore { detail: keystore_msg(&k).detail() },
            Error::Net(n) => PasscodeError::Network { detail: net_msg(n.kind).detail(), kind: n.kind },
            Error::Storage(_) | Error::Crypto(_) => PasscodeError::Storage { detail: Msg::Storage.detail() },
            Error::Domain(m) => PasscodeError::Rejected { detail: m.detail() },
            _ => PasscodeError::Rejected { detail: Msg::Rejected.detail() },
        }
    }
}

/// Errors of login, sessions and device management.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum AuthError {
    /// No account on this device.
    #[error("{}", detail.code)]
    NotEnrolled { detail: ErrorDetail },
    /// Wrong passcode.
    #[error("{}", detail.code)]
    PasscodeIncorrect { detail: ErrorDetail, attempts_before_lockout: u32, attempts_before_wipe: u32 },
    /// Too many wrong passcodes; wait.
    #[error("{}", detail.code)]
    LockedOut { detail: ErrorDetail, retry_after_secs: u64 },
    /// Too many wrong passcodes; the local account was erased.
    #[error("{}", detail.code)]
    Wiped { detail: ErrorDetail },
    /// No session; log in first.
    #[error("{}", detail.code)]
    NotLoggedIn { detail: ErrorDetail },
    /// The session reached its idle or absolute timeout, or was ended.
    #[error("{}", detail.code)]
    SessionExpired { detail: ErrorDetail },
    /// A refresh token was reused: the server revoked the whole session.
    #[error("{}", detail.code)]
    SessionRevoked { detail: ErrorDetail },
    /// This device was replaced, transferred or revoked (`status` says which).
    #[error("{}", detail.code)]
    DeviceInactive { detail: ErrorDetail, status: crate::DeviceStatus },
    /// The account is locked server-side.
    #[error("{}", detail.code)]
    AccountLocked { detail: ErrorDetail },
    /// The server refused the signed request.
    #[error("{}", detail.code)]
    Rejected { detail: ErrorDetail },
    /// Key store failure, cancellation or invalidated key.
    #[error("{}", detail.code)]
    KeyStore { detail: ErrorDetail },
    /// Transport failure.
    #[error("{}", detail.code)]
    Network { detail: ErrorDetail, kind: NetworkErrorKind },
    /// Local storage failed.
    #[error("{}", detail.code)]
    Storage { detail: ErrorDetail },
}

impl From<Error> for AuthError {
    fn from(e: Error) -> Self {
        tracing::info!(error = %e, "auth error");
        match e {
            Error::PasscodeIncorrect { before_lockout, before_wipe } => AuthError::PasscodeIncorrect {
                detail: Msg::PasscodeIncorrect.detail(),
                attempts_before_lockout: before_lockout,
                attempts_before_wipe: before_wipe,
            },
            Error::LockedOut(s) => AuthError::LockedOut { detail: Msg::LockedOut.detail(), retry_after_secs: s },
            Error::Domain(m @ Msg::Wiped) => AuthError::Wiped { detail: m.detail() },
            Error::Domain(m @ Msg::NotEnrolled) => AuthError::NotEnrolled { detail: m.detail() },
            Error::Domain(m @ Msg::NotLoggedIn) => AuthError::NotLoggedIn { detail: m.detail() },
            Error::Domain(m @ Msg::SessionExpired) => AuthError::SessionExpired { detail: m.detail() },
            Error::Domain(m @ Msg::SessionRevoked) => AuthError::SessionRevoked { detail: m.detail() },
            Error::Domain(m @ Msg::AccountLocked) => AuthError::AccountLocked { detail: m.detail() },
            Error::DeviceInactive(status) => AuthError::DeviceInactive {
                detail: Msg::DeviceInactive.detail(),
                status: crate::DeviceStatus::from_wire(&status),
            },
            Error::KeyStore(k) => AuthError::KeyStore { detail: keystore_msg(&k).detail() },
            Error::Net(n) => AuthError::Network { detail: net_msg(n.kind).detail(), kind: n.kind },
            Error::Storage(_) | Error::Crypto(_) => AuthError::Storage { detail: Msg::Storage.detail() },
            Error::Fields(_) => AuthError::Rejected { detail: Msg::InvalidInput.detail() },
            Error::Domain(m) => AuthError::Rejected { detail: m.detail() },
            _ => AuthError::Rejected { detail: Msg::Rejected.detail() },
        }
    }
}

/// Access to the [`ErrorDetail`] every public error variant carries (Rust callers: CLI, tests).
pub trait PublicError: std::error::Error {
    /// The code and messages.
    fn detail(&self) -> &ErrorDetail;
}

macro_rules! impl_public_error {
    ($ty:ident: $($v:ident),+ $(,)?) => {
        impl PublicError for $ty {
            fn detail(&self) -> &ErrorDetail {
                match self { $( $ty::$v { detail, .. } => detail, )+ }
            }
        }
    };
}

impl_public_error!(SetupError: InvalidConfig, Storage, DataKeyUnavailable, AlreadyOpen);
impl_public_error!(EnrollmentError: InvalidInput, NoMatch, NoPendingEnrollment, OtpInvalid, OtpExpired,
    OtpAttemptsExceeded, AlreadyEnrolled, AccountLocked, KeyStore, Network, Rejected, Storage);
impl_public_error!(PasscodeError: InvalidFormat, Incorrect, LockedOut, Wiped, NotEnrolled, NoPendingReset, OtpInvalid,
    OtpRejected, DeviceInactive, KeyStore, Network, Rejected, Storage);
impl_public_error!(AuthError: NotEnrolled, PasscodeIncorrect, LockedOut, Wiped, NotLoggedIn, SessionExpired,
    SessionRevoked, DeviceInactive, AccountLocked, Rejected, KeyStore, Network, Storage);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_errors_keep_internal_detail_out() {
        let e: AuthError = Error::Storage("disk I/O error at /secret/path".into()).into();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("/secret/path"), "{shown}");
        assert!(shown.contains("storage.failure"));
    }
}
