//! The one public error, [`CitizenError`], and the one place that maps the core's internal
//! [`Error`] onto it.
//!
//! **Why one type.** Six per-domain enums (72 variants) made every shell carry a table to flatten
//! them, and Swift's untyped `throws` could not say which one to expect. Each variant here says
//! what the app should do next — log in, enroll, ask for the passcode again, wait, fix a field,
//! retry when online, give up on this request, re-enroll after a lost data key, retry after a
//! locked one — so a shell switches on a handful of variants and shows `detail`'s message.
//! Every variant carries an [`ErrorDetail`] (stable code, Vietnamese and English message); the
//! code keeps the finer condition (`consent.frame_stale`, `enrollment.no_match`, …).
//!
//! Display of a public error is its code only: internal detail is logged (without personal data)
//! when the error crosses the boundary, never shown.

use crate::error::{keystore_msg, net_msg, Error, ErrorDetail, FieldError, Msg, NetworkErrorKind, PublicError};
use crate::platform::DeviceKeyStoreError;

use std::time::Duration;

use super::facade::DeviceStatus;
use super::types::int;

/// Why the citizen must enroll (again) on this device.
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum EnrollmentReason {
    /// There is no account on this device (never enrolled, or erased by the citizen).
    NotEnrolled,
    /// Too many wrong passcodes: the local account was erased.
    Wiped,
    /// The server deactivated this device (another device enrolled, the citizen revoked it, a
    /// recovery replaced it) or locked it remotely (`Locked`, code `auth.device_locked`: keep the
    /// data; it is unlocked at a counter or replaced by a recovery — never erase for this).
    DeviceDeactivated {
        /// Replaced, transferred, revoked, recovered or locked.
        status: DeviceStatus,
    },
}

/// What went wrong with the platform key store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, uniffi::Enum)]
pub enum KeyStoreProblem {
    /// The device key is gone for good (biometrics changed, key store reset): enroll again
    /// (`keystore.key_invalidated`).
    Invalidated,
    /// The citizen cancelled the prompt: stay on the screen (`keystore.user_cancelled`).
    UserCancelled,
    /// Any other failure of the key store (`keystore.failure`): retry later.
    Failed,
}

/// The one error every exported call throws. The variant says what the app should do next;
/// `detail` has the stable code and the message in Vietnamese and English (also through the
/// exported `detail()` method).
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CitizenError {
    /// No session, or it expired or was revoked: show the passcode screen and log in.
    #[error("{}", detail.code)]
    NeedsLogin {
        /// `auth.not_logged_in`, `auth.session_expired` or `auth.session_revoked`.
        detail: ErrorDetail,
    },
    /// The account is not (or no longer) on this device: start enrollment.
    #[error("{}", detail.code)]
    NeedsEnrollment {
        /// `auth.not_enrolled`, `auth.wiped` or `auth.device_inactive`.
        detail: ErrorDetail,
        /// Why.
        reason: EnrollmentReason,
    },
    /// Wrong passcode: ask again, showing what is left.
    #[error("{}", detail.code)]
    PasscodeRejected {
        /// `auth.passcode_incorrect`.
        detail: ErrorDetail,
        /// Wrong passcodes left before a delay.
        attempts_before_lockout: i32,
        /// Wrong passcodes left before the local account is erased.
        attempts_before_wipe: i32,
    },
    /// Too many wrong passcodes: wait before the next attempt.
    #[error("{}", detail.code)]
    LockedOut {
        /// `auth.locked_out`.
        detail: ErrorDetail,
        /// How long to wait.
        retry_after: Duration,
    },
    /// Something the citizen (or the app) entered is not valid; nothing was sent. `fields` lists
    /// every invalid field at once (empty when the input was one value, e.g. a scanned code).
    #[error("{}", detail.code)]
    InvalidInput {
        /// `input.invalid` with fields, else the condition (`consent.qr_malformed`, …).
        detail: ErrorDetail,
        /// The invalid fields.
        fields: Vec<FieldError>,
    },
    /// The OTP was wrong, expired or tried too often: ask for it again (or a new one when
    /// `attempts_left` is 0).
    #[error("{}", detail.code)]
    OtpRejected {
        /// `otp.invalid`, `otp.expired` or `otp.attempts_exceeded`.
        detail: ErrorDetail,
        /// Attempts left with this OTP.
        attempts_left: i32,
    },
    /// The network or the server failed: retry when the connection is back (a queued request
    /// stays queued).
    #[error("{}", detail.code)]
    Network {
        /// `network.*`, or `receipt.invalid` for a server receipt that did not verify.
        detail: ErrorDetail,
        /// Offline, timeout, TLS, … (`Protocol`: the server's answer was not acceptable).
        kind: NetworkErrorKind,
    },
    /// The server, a relying party or a rule refused this request; retrying the same will not
    /// help. The code says which (`enrollment.no_match`, `consent.frame_stale`, …).
    #[error("{}", detail.code)]
    Refused {
        /// The refusal's code and message.
        detail: ErrorDetail,
    },
    /// The platform key store failed; `problem` says whether the device key is gone
    /// (`keystore.key_invalidated`: enroll again), the citizen cancelled, or something else.
    #[error("{}", detail.code)]
    KeyStore {
        /// `keystore.key_invalidated`, `keystore.user_cancelled` or `keystore.failure`.
        detail: ErrorDetail,
        /// What happened.
        problem: KeyStoreProblem,
    },
    /// The data key is temporarily unavailable (e.g. the phone is locked): retry later. Never
    /// offer to erase the data for this.
    #[error("{}", detail.code)]
    DataKeyLocked {
        /// `storage.data_key_locked`.
        detail: ErrorDetail,
    },
    /// The data key is gone for good (restored onto another phone, key store reset): the local
    /// data cannot be read; erase it (`eraseLocalData`) and enroll again.
    #[error("{}", detail.code)]
    DataKeyLost {
        /// `storage.data_key_lost`.
        detail: ErrorDetail,
    },
    /// What was asked for does not exist here (draft, case, procedure, login session, share
    /// request, credential), or is not on the device yet (sync first).
    #[error("{}", detail.code)]
    NotFound {
        /// `draft.unknown`, `profile.missing`, `consent.unknown_session`, …
        detail: ErrorDetail,
    },
    /// The ID card's chip could not be read or did not verify on the device: wrong CAN or MRZ
    /// data (`chip.access_denied`), card removed (`chip.card_removed`), a secure-messaging
    /// failure, malformed data, a data group that does not match the issuer's signature, an
    /// untrusted or expired signer, a copied chip (`chip.not_genuine`). When `retryable`, ask the
    /// citizen to hold the card still and read again; otherwise to check the CAN or the card.
    #[error("{}", detail.code)]
    Card {
        /// A `chip.*` code.
        detail: ErrorDetail,
        /// Whether reading again may succeed.
        retryable: bool,
    },
    /// The citizen (or the system) cancelled the operation, e.g. dismissed the NFC sheet;
    /// nothing changed (`chip.cancelled`). Stay on the screen.
    #[error("{}", detail.code)]
    Cancelled {
        /// `chip.cancelled`.
        detail: ErrorDetail,
    },
    /// An unexpected failure (storage, configuration, the core closed): report it; retrying may
    /// not help.
    #[error("{}", detail.code)]
    Internal {
        /// `storage.failure`, `setup.invalid_config`, `storage.already_open`, `core.closed`, …
        detail: ErrorDetail,
    },
}

impl PublicError for CitizenError {
    fn detail(&self) -> &ErrorDetail {
        match self {
            CitizenError::NeedsLogin { detail }
            | CitizenError::NeedsEnrollment { detail, .. }
            | CitizenError::PasscodeRejected { detail, .. }
            | CitizenError::LockedOut { detail, .. }
            | CitizenError::InvalidInput { detail, .. }
            | CitizenError::OtpRejected { detail, .. }
            | CitizenError::Network { detail, .. }
            | CitizenError::Refused { detail }
            | CitizenError::KeyStore { detail, .. }
            | CitizenError::DataKeyLocked { detail }
            | CitizenError::DataKeyLost { detail }
            | CitizenError::NotFound { detail }
            | CitizenError::Card { detail, .. }
            | CitizenError::Cancelled { detail }
            | CitizenError::Internal { detail } => detail,
        }
    }
}

#[uniffi::export]
impl CitizenError {
    /// The stable code and the messages in Vietnamese and English, whatever the variant. Pure:
    /// main-safe, never prompts, never throws.
    #[uniffi::method(name = "detail")]
    pub fn error_detail(&self) -> ErrorDetail {
        PublicError::detail(self).clone()
    }
}

/// The detail of a server code: the catalogue's when the core knows the code, else a generic
/// message naming it (`server.<code>`).
pub(crate) fn detail_of_code(code: &str) -> ErrorDetail {
    Msg::all().iter().find(|m| m.code() == code).map(|m| m.detail()).unwrap_or_else(|| ErrorDetail {
        code: format!("server.{code}"),
        message_vi: format!("Máy chủ từ chối yêu cầu ({code})."),
        message_en: format!("The server refused the request ({code})."),
    })
}

/// The variant of a catalogue condition the engine reported as [`Error::Domain`].
fn domain(m: Msg) -> CitizenError {
    use Msg::*;
    let detail = m.detail();
    match m {
        NotLoggedIn | SessionExpired | SessionRevoked => CitizenError::NeedsLogin { detail },
        NotEnrolled => CitizenError::NeedsEnrollment { detail, reason: EnrollmentReason::NotEnrolled },
        Wiped => CitizenError::NeedsEnrollment { detail, reason: EnrollmentReason::Wiped },
        OtpExpired | OtpAttemptsExceeded => CitizenError::OtpRejected { detail, attempts_left: 0 },
        DataKeyLost => CitizenError::DataKeyLost { detail },
        DataKeyLocked => CitizenError::DataKeyLocked { detail },
        // Nothing to act on here: not on the device, or unknown.
        UnknownDraft
        | UnknownProcedure
        | UnknownCase
        | ProfileMissing
        | CatalogueMissing
        | NoPendingEnrollment
        | NoPendingReset
        | ConsentUnknownSession
        | ConsentUnknownShareRequest
        | ConsentNoCredential
        | DocumentUnknown
        | RecoveryUnknown
        | DelegationUnknown
        | NoPendingRebind
        | LockUnknown
        | NothingHeld => CitizenError::NotFound { detail },
        // Input that is not valid as a whole (a scanned code, a link, a file, a choice).
        ConsentQrNotLoginCode
        | ConsentQrTooLong
        | ConsentQrVersion
        | ConsentQrMalformed
        | TransferCodeInvalid
        | ConsentShareRequestInvalid
        | ConsentClaimNotOffered
        | ConsentExportInvalid
        | InvalidInput => CitizenError::InvalidInput { detail, fields: vec![] },
        // The server's answers that could not be accepted: like a network failure, retry later.
        ConsentRegistryInvalid | ConsentCountersignatureInvalid | ReceiptInvalid | ProtocolError => {
            CitizenError::Network { detail, kind: NetworkErrorKind::Protocol }
        }
        Storage | SchemaNewer | AlreadyOpen | CoreClosed | InvalidConfig | Internal => {
            CitizenError::Internal { detail }
        }
        // Everything else is a refusal with its own code: no match, account locked, rate
        // limited, already enrolled, wrong state, the relying party's and the portal's refusals.
        _ => CitizenError::Refused { detail },
    }
}

impl From<Error> for CitizenError {
    fn from(e: Error) -> Self {
        tracing::info!(error = %e, "error at the FFI boundary");
        match e {
            Error::Fields(fields) => CitizenError::InvalidInput { detail: Msg::InvalidInput.detail(), fields },
            Error::PasscodeIncorrect { before_lockout, before_wipe } => CitizenError::PasscodeRejected {
                detail: Msg::PasscodeIncorrect.detail(),
                attempts_before_lockout: int(before_lockout),
                attempts_before_wipe: int(before_wipe),
            },
            Error::LockedOut(s) => {
                CitizenError::LockedOut { detail: Msg::LockedOut.detail(), retry_after: Duration::from_secs(s) }
            }
            Error::Otp { msg, attempts_left } => {
                CitizenError::OtpRejected { detail: msg.detail(), attempts_left: int(attempts_left) }
            }
            // A remote lock (issue 15) has its own code: the shell offers recovery or the
            // counter, never erasing the data (the outbox is kept, held for the citizen).
            Error::DeviceInactive(status) => CitizenError::NeedsEnrollment {
                detail: if status == "locked" { Msg::DeviceLocked } else { Msg::DeviceInactive }.detail(),
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::from_wire(&status) },
            },
            Error::KeyStore(k) => CitizenError::KeyStore {
                detail: keystore_msg(&k).detail(),
                problem: match k {
                    DeviceKeyStoreError::KeyInvalidated { .. } => KeyStoreProblem::Invalidated,
                    DeviceKeyStoreError::UserCancelled { .. } => KeyStoreProblem::UserCancelled,
                    _ => KeyStoreProblem::Failed,
                },
            },
            Error::Net(n) => CitizenError::Network { detail: net_msg(n.kind).detail(), kind: n.kind },
            Error::BadReceipt(_) => {
                CitizenError::Network { detail: Msg::ReceiptInvalid.detail(), kind: NetworkErrorKind::Protocol }
            }
            Error::Server { code, .. } => CitizenError::Refused { detail: detail_of_code(&code) },
            Error::DataKeyLocked => CitizenError::DataKeyLocked { detail: Msg::DataKeyLocked.detail() },
            Error::DataKeyLost => CitizenError::DataKeyLost { detail: Msg::DataKeyLost.detail() },
            Error::Domain(m) => domain(m),
            Error::Config(_) => CitizenError::Internal { detail: Msg::InvalidConfig.detail() },
            Error::Sqlite(_) | Error::Io { .. } | Error::Json(_) | Error::Storage(_) | Error::Crypto(_) => {
                CitizenError::Internal { detail: Msg::Storage.detail() }
            }
        }
    }
}

/// Opening a core: a key-store or crypto failure while the data key is unwrapped means the data
/// key cannot be used: it is lost. The wrapper's "temporarily unavailable" arrives as
/// [`Error::DataKeyLocked`] and stays locked (retry, never erase).
pub(crate) fn setup_error(e: Error) -> CitizenError {
    match e {
        Error::Crypto(_) | Error::KeyStore(_) => CitizenError::from(Error::DataKeyLost),
        Error::Fields(_) => CitizenError::Internal { detail: Msg::InvalidConfig.detail() },
        e => CitizenError::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NetError;

    fn invalidated() -> Error {
        Error::KeyStore(DeviceKeyStoreError::KeyInvalidated { reason: "platform reason 7f3a".into() })
    }

    #[test]
    fn public_errors_keep_internal_detail_out() {
        let e: CitizenError = Error::Storage("disk I/O error at /secret/path".into()).into();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("/secret/path"), "{shown}");
        assert!(shown.contains("storage.failure"));
        let e: CitizenError = invalidated().into();
        assert!(!format!("{e} {e:?}").contains("7f3a"), "{e:?}");
    }

    /// An invalidated key and a cancelled prompt stay apart from other failures (the shell
    /// re-enrolls only on the first).
    #[test]
    fn key_store_problems_are_told_apart() {
        let e = CitizenError::from(invalidated());
        assert!(matches!(e, CitizenError::KeyStore { problem: KeyStoreProblem::Invalidated, .. }), "{e:?}");
        assert_eq!(e.error_detail().code, "keystore.key_invalidated");
        let cancelled =
            CitizenError::from(Error::KeyStore(DeviceKeyStoreError::UserCancelled { reason: String::new() }));
        assert!(matches!(cancelled, CitizenError::KeyStore { problem: KeyStoreProblem::UserCancelled, .. }));
        assert_eq!(cancelled.error_detail().code, "keystore.user_cancelled");
        let failed = CitizenError::from(Error::KeyStore(DeviceKeyStoreError::Unavailable { reason: String::new() }));
        assert!(matches!(failed, CitizenError::KeyStore { problem: KeyStoreProblem::Failed, .. }));
        assert_eq!(failed.error_detail().code, "keystore.failure");
        // Opening: a key-store failure while unwrapping means the data key cannot be used.
        assert!(matches!(setup_error(invalidated()), CitizenError::DataKeyLost { .. }));
    }

    /// A locked data key (retry) and a lost one (re-enroll) never share a variant: the shells
    /// offer to erase only for the second.
    #[test]
    fn a_locked_data_key_is_not_a_lost_one() {
        let locked = CitizenError::from(Error::DataKeyLocked);
        assert!(matches!(locked, CitizenError::DataKeyLocked { .. }), "{locked:?}");
        assert_eq!(locked.error_detail().code, "storage.data_key_locked");
        assert!(matches!(setup_error(Error::DataKeyLocked), CitizenError::DataKeyLocked { .. }));
        let lost = CitizenError::from(Error::DataKeyLost);
        assert!(matches!(lost, CitizenError::DataKeyLost { .. }), "{lost:?}");
        assert_eq!(lost.error_detail().code, "storage.data_key_lost");
    }

    /// A remote lock is told apart from a deactivation by its code and status (issue 15).
    #[test]
    fn a_locked_device_has_its_own_code_and_status() {
        let e = CitizenError::from(Error::DeviceInactive("locked".into()));
        assert_eq!(e.error_detail().code, "auth.device_locked");
        assert!(matches!(
            e,
            CitizenError::NeedsEnrollment {
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Locked },
                ..
            }
        ));
        let e = CitizenError::from(Error::DeviceInactive("recovered".into()));
        assert_eq!(e.error_detail().code, "auth.device_inactive");
    }

    #[test]
    fn a_deactivated_device_carries_its_status() {
        let e = CitizenError::from(Error::DeviceInactive("replaced".into()));
        assert!(matches!(
            e,
            CitizenError::NeedsEnrollment {
                reason: EnrollmentReason::DeviceDeactivated { status: DeviceStatus::Replaced },
                ..
            }
        ));
    }

    /// The variant says what to do next; the code keeps the finer condition.
    #[test]
    fn conditions_land_on_the_variant_of_what_to_do_next() {
        let code = |e: Error| CitizenError::from(e).error_detail().code;
        assert!(matches!(CitizenError::from(Error::Domain(Msg::SessionExpired)), CitizenError::NeedsLogin { .. }));
        assert!(matches!(
            CitizenError::from(Error::Domain(Msg::Wiped)),
            CitizenError::NeedsEnrollment { reason: EnrollmentReason::Wiped, .. }
        ));
        assert!(matches!(
            CitizenError::from(Error::Domain(Msg::RateLimited)),
            CitizenError::Refused { detail } if detail.code == "network.rate_limited"
        ));
        assert_eq!(code(Error::Server { status: 400, code: "odd".into() }), "server.odd");
        assert_eq!(
            code(Error::Server { status: 409, code: "consent.already_decided".into() }),
            "consent.already_decided"
        );
        assert!(matches!(CitizenError::from(Error::Domain(Msg::UnknownDraft)), CitizenError::NotFound { .. }));
        assert!(matches!(
            CitizenError::from(Error::Domain(Msg::ConsentQrMalformed)),
            CitizenError::InvalidInput { fields, .. } if fields.is_empty()
        ));
        assert!(matches!(
            CitizenError::from(Error::Otp { msg: Msg::OtpInvalid, attempts_left: 2 }),
            CitizenError::OtpRejected { attempts_left: 2, .. }
        ));
        let protocol =
            || Error::Net(NetError { kind: NetworkErrorKind::Protocol, detail: String::new(), retry_after: None });
        assert!(matches!(
            CitizenError::from(protocol()),
            CitizenError::Network { kind: NetworkErrorKind::Protocol, .. }
        ));
        assert!(matches!(
            CitizenError::from(Error::BadReceipt("x".into())),
            CitizenError::Network { kind: NetworkErrorKind::Protocol, detail } if detail.code == "receipt.invalid"
        ));
        assert!(matches!(CitizenError::from(Error::Domain(Msg::AlreadyOpen)), CitizenError::Internal { .. }));
        assert_eq!(code(Error::Domain(Msg::CoreClosed)), "core.closed");
        assert_eq!(code(Error::Config("x".into())), "setup.invalid_config");
    }
}
