//! The public errors, one enum per domain, and the one table that maps the core's internal
//! [`Error`] onto them.
//!
//! Every domain shares the same conditions — invalid fields, wrong passcode, lockout, wipe, not
//! enrolled, not logged in, device inactive (with its status), key store (with
//! `keystore.key_invalidated` and `keystore.user_cancelled` kept apart), network (with its kind),
//! storage. [`classify`] turns an internal error into one of those, with its public detail, once;
//! [`public_error!`] generates each domain's enum, its `From<Error>` (the domain's own conditions
//! first, then the shared table), [`PublicError`] and the exported `detail()` method. A domain
//! picks a shared condition by naming it after a variant (`KeyStore {} = KeyStore`); a shared
//! condition a domain has no variant for goes to the domain's fallback.
//!
//! Display of a public error is its code only: internal detail is logged (without personal data)
//! when the error crosses the boundary, never shown.

use crate::error::{keystore_msg, net_msg, Error, ErrorDetail, FieldError, Msg, NetworkErrorKind, PublicError};

use super::facade::DeviceStatus;

/// The shared conditions, each with its public detail: what [`classify`] makes of an internal
/// error. Field names are those of the public variants, so the generated code copies them.
pub(crate) enum Shared {
    /// Invalid input fields (`input.invalid`).
    Fields { detail: ErrorDetail, fields: Vec<FieldError> },
    /// Wrong passcode.
    PasscodeIncorrect { detail: ErrorDetail, attempts_before_lockout: u32, attempts_before_wipe: u32 },
    /// Too many wrong passcodes; wait.
    LockedOut { detail: ErrorDetail, retry_after_secs: u64 },
    /// The local account was erased.
    Wiped { detail: ErrorDetail },
    /// No account on this device.
    NotEnrolled { detail: ErrorDetail },
    /// Not logged in, or the session expired or was revoked (the detail says which).
    NotLoggedIn { detail: ErrorDetail },
    /// The device was replaced, transferred or revoked.
    DeviceInactive { detail: ErrorDetail, status: DeviceStatus },
    /// The platform key store failed, the citizen cancelled, or the key was invalidated.
    KeyStore { detail: ErrorDetail },
    /// Transport failure of a kind.
    Network { detail: ErrorDetail, kind: NetworkErrorKind },
    /// Local storage (SQLite, files, sealed data).
    Storage { detail: ErrorDetail },
    /// A domain condition of no shared class, with its own message.
    Rejected { detail: ErrorDetail },
    /// Anything else (a server code the core does not know, configuration, a bad receipt, an
    /// OTP condition outside enrollment and passcode reset).
    Other,
}

impl Shared {
    /// What a domain without a variant for this condition shows under its catch-all variant:
    /// the condition's own message when it came from the catalogue as a domain condition, else
    /// the generic `auth.rejected`.
    pub(crate) fn fallback_detail(self) -> ErrorDetail {
        match self {
            Shared::Fields { detail, .. }
            | Shared::Wiped { detail }
            | Shared::NotEnrolled { detail }
            | Shared::NotLoggedIn { detail }
            | Shared::Rejected { detail } => detail,
            _ => Msg::Rejected.detail(),
        }
    }
}

/// The one table from the internal error to the shared public conditions.
pub(crate) fn classify(e: Error) -> Shared {
    match e {
        Error::Fields(fields) => Shared::Fields { detail: Msg::InvalidInput.detail(), fields },
        Error::PasscodeIncorrect { before_lockout, before_wipe } => Shared::PasscodeIncorrect {
            detail: Msg::PasscodeIncorrect.detail(),
            attempts_before_lockout: before_lockout,
            attempts_before_wipe: before_wipe,
        },
        Error::LockedOut(s) => Shared::LockedOut { detail: Msg::LockedOut.detail(), retry_after_secs: s },
        Error::Domain(m @ Msg::Wiped) => Shared::Wiped { detail: m.detail() },
        Error::Domain(m @ Msg::NotEnrolled) => Shared::NotEnrolled { detail: m.detail() },
        Error::Domain(m @ (Msg::NotLoggedIn | Msg::SessionExpired | Msg::SessionRevoked)) => {
            Shared::NotLoggedIn { detail: m.detail() }
        }
        Error::DeviceInactive(status) => {
            Shared::DeviceInactive { detail: Msg::DeviceInactive.detail(), status: DeviceStatus::from_wire(&status) }
        }
        Error::KeyStore(k) => Shared::KeyStore { detail: keystore_msg(&k).detail() },
        Error::Net(n) => Shared::Network { detail: net_msg(n.kind).detail(), kind: n.kind },
        Error::Sqlite(_) | Error::Io { .. } | Error::Json(_) | Error::Storage(_) | Error::Crypto(_) => {
            Shared::Storage { detail: Msg::Storage.detail() }
        }
        // Locked (retry, never erase) and lost (re-enroll) keep their own codes in every domain.
        Error::DataKeyLocked => Shared::Storage { detail: Msg::DataKeyLocked.detail() },
        Error::DataKeyLost => Shared::Storage { detail: Msg::DataKeyLost.detail() },
        Error::Domain(m) => Shared::Rejected { detail: m.detail() },
        Error::Otp { .. } | Error::Server { .. } | Error::Config(_) | Error::BadReceipt(_) => Shared::Other,
    }
}

/// Declares a domain's public error enum and generates the rest (see the module docs):
///
/// ```text
/// public_error! {
///     /// Docs.
///     pub enum XError {
///         /// Docs.
///         Variant { extra: Type } = SharedCondition,   // or no `= …` for a domain-only variant
///     }
///     domain |e| { match e { Error::… => return Self::…, e => e } }
///     fallback |s| Self::Rejected { detail: s.fallback_detail() }
/// }
/// ```
///
/// Every variant gets `detail: ErrorDetail` first and displays its code.
macro_rules! public_error {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $var:ident { $($field:ident : $fty:ty),* $(,)? } $(= $shared:ident)?
            ),* $(,)?
        }
        domain |$e:ident| $domain:block
        fallback |$s:ident| $fallback:expr
    ) => {
        $(#[$meta])*
        #[derive(Debug, thiserror::Error, uniffi::Error)]
        pub enum $name {
            $(
                $(#[$vmeta])*
                #[error("{}", detail.code)]
                $var {
                    /// Stable code and Vietnamese/English messages (`ErrorDetail`).
                    detail: ErrorDetail,
                    $(
                        /// Data of this condition, described in the variant's documentation.
                        $field: $fty
                    ),*
                },
            )*
        }

        impl From<Error> for $name {
            fn from($e: Error) -> Self {
                tracing::info!(error = %$e, domain = stringify!($name), "error at the FFI boundary");
                let $e: Error = $domain;
                let shared = classify($e);
                $( public_error!(@arm $name, shared, $var { $($field),* } $(= $shared)?); )*
                let $s = shared;
                $fallback
            }
        }

        impl PublicError for $name {
            fn detail(&self) -> &ErrorDetail {
                match self {
                    $( $name::$var { detail, .. } => detail, )*
                }
            }
        }

        #[uniffi::export]
        impl $name {
            /// The stable code and the messages in Vietnamese and English, whatever the variant.
            #[uniffi::method(name = "detail")]
            pub fn error_detail(&self) -> ErrorDetail {
                PublicError::detail(self).clone()
            }
        }
    };
    (@arm $name:ident, $s:ident, $var:ident { $($field:ident),* } = $shared:ident) => {
        if let Shared::$shared { detail, $($field),* } = $s {
            return $name::$var { detail, $($field),* };
        }
    };
    (@arm $name:ident, $s:ident, $var:ident { $($field:ident),* }) => {};
}

public_error! {
    /// Errors of constructing [`crate::CitizenCore`].
    pub enum SetupError {
        /// The configuration is invalid (bad URL, PEM, pins, data directory).
        InvalidConfig {},
        /// The database could not be opened or migrated.
        Storage {} = Storage,
        /// The data key cannot be unwrapped **for now** (device locked, key store busy): retry
        /// later (`storage.data_key_locked`). The local data is intact: never offer to erase it.
        DataKeyLocked {},
        /// The data key is gone for good (e.g. restored from a backup on another device, wrapping
        /// key deleted or invalidated): enroll again (`storage.data_key_lost`).
        DataKeyLost {},
        /// Another `CitizenCore` (in this process or another) has the data directory open; only one
        /// may at a time (`storage.already_open`). Close or drop the other one first.
        AlreadyOpen {},
    }
    domain |e| {
        match e {
            Error::Config(_) | Error::Fields(_) => return Self::InvalidConfig { detail: Msg::InvalidConfig.detail() },
            Error::DataKeyLocked => return Self::DataKeyLocked { detail: Msg::DataKeyLocked.detail() },
            Error::Crypto(_) | Error::KeyStore(_) | Error::DataKeyLost => {
                return Self::DataKeyLost { detail: Msg::DataKeyLost.detail() }
            }
            Error::Domain(Msg::AlreadyOpen) => return Self::AlreadyOpen { detail: Msg::AlreadyOpen.detail() },
            Error::Domain(Msg::SchemaNewer) => return Self::Storage { detail: Msg::SchemaNewer.detail() },
            e => e,
        }
    }
    fallback |_s| Self::Storage { detail: Msg::Storage.detail() }
}

public_error! {
    /// Errors of enrollment.
    pub enum EnrollmentError {
        /// One or more fields are invalid; nothing was sent.
        InvalidInput { fields: Vec<FieldError> } = Fields,
        /// No citizen in the register matches.
        NoMatch {},
        /// No enrollment is waiting for an OTP.
        NoPendingEnrollment {},
        /// Wrong OTP.
        OtpInvalid { attempts_left: u32 },
        /// OTP expired.
        OtpExpired {},
        /// Too many wrong OTPs.
        OtpAttemptsExceeded {},
        /// This device is already enrolled.
        AlreadyEnrolled {},
        /// The account is locked server-side.
        AccountLocked {},
        /// The platform key store failed or the user cancelled.
        KeyStore {} = KeyStore,
        /// Transport failure.
        Network { kind: NetworkErrorKind } = Network,
        /// The server refused for another reason.
        Rejected {} = Rejected,
        /// Local storage failed.
        Storage {} = Storage,
    }
    domain |e| {
        match e {
            Error::Domain(m @ Msg::NoMatch) => return Self::NoMatch { detail: m.detail() },
            Error::Domain(m @ Msg::NoPendingEnrollment) => return Self::NoPendingEnrollment { detail: m.detail() },
            Error::Domain(m @ Msg::AlreadyEnrolled) => return Self::AlreadyEnrolled { detail: m.detail() },
            Error::Domain(m @ Msg::AccountLocked) => return Self::AccountLocked { detail: m.detail() },
            Error::Domain(m @ Msg::OtpExpired) => return Self::OtpExpired { detail: m.detail() },
            Error::Domain(m @ Msg::OtpAttemptsExceeded) => return Self::OtpAttemptsExceeded { detail: m.detail() },
            Error::Otp { msg: Msg::OtpInvalid, attempts_left } => {
                return Self::OtpInvalid { detail: Msg::OtpInvalid.detail(), attempts_left }
            }
            Error::Otp { msg: m @ Msg::OtpExpired, .. } => return Self::OtpExpired { detail: m.detail() },
            Error::Otp { msg, .. } => return Self::OtpAttemptsExceeded { detail: msg.detail() },
            e => e,
        }
    }
    fallback |s| Self::Rejected { detail: s.fallback_detail() }
}

public_error! {
    /// Errors of the passcode: change, reset, status.
    pub enum PasscodeError {
        /// The new passcode is not acceptable.
        InvalidFormat { fields: Vec<FieldError> } = Fields,
        /// Wrong passcode.
        Incorrect { attempts_before_lockout: u32, attempts_before_wipe: u32 } = PasscodeIncorrect,
        /// Too many wrong passcodes; wait.
        LockedOut { retry_after_secs: u64 } = LockedOut,
        /// Too many wrong passcodes; the local account was erased.
        Wiped {} = Wiped,
        /// No account on this device.
        NotEnrolled {} = NotEnrolled,
        /// No reset waiting for an OTP.
        NoPendingReset {},
        /// Wrong OTP.
        OtpInvalid { attempts_left: u32 },
        /// OTP expired or too many wrong OTPs.
        OtpRejected {},
        /// This device was replaced, transferred or revoked (`status` says which).
        DeviceInactive { status: DeviceStatus } = DeviceInactive,
        /// Key store failure, cancellation or invalidated key.
        KeyStore {} = KeyStore,
        /// Transport failure.
        Network { kind: NetworkErrorKind } = Network,
        /// The server refused for another reason.
        Rejected {} = Rejected,
        /// Local storage failed.
        Storage {} = Storage,
    }
    domain |e| {
        match e {
            Error::Domain(m @ Msg::NoPendingReset) => return Self::NoPendingReset { detail: m.detail() },
            Error::Domain(m @ (Msg::OtpExpired | Msg::OtpAttemptsExceeded)) => {
                return Self::OtpRejected { detail: m.detail() }
            }
            Error::Otp { msg: Msg::OtpInvalid, attempts_left } => {
                return Self::OtpInvalid { detail: Msg::OtpInvalid.detail(), attempts_left }
            }
            Error::Otp { msg, .. } => return Self::OtpRejected { detail: msg.detail() },
            e => e,
        }
    }
    fallback |s| Self::Rejected { detail: s.fallback_detail() }
}

public_error! {
    /// Errors of login, sessions and device management.
    pub enum AuthError {
        /// No account on this device.
        NotEnrolled {} = NotEnrolled,
        /// Wrong passcode.
        PasscodeIncorrect { attempts_before_lockout: u32, attempts_before_wipe: u32 } = PasscodeIncorrect,
        /// Too many wrong passcodes; wait.
        LockedOut { retry_after_secs: u64 } = LockedOut,
        /// Too many wrong passcodes; the local account was erased.
        Wiped {} = Wiped,
        /// No session; log in first.
        NotLoggedIn {} = NotLoggedIn,
        /// The session reached its idle or absolute timeout, or was ended.
        SessionExpired {},
        /// A refresh token was reused: the server revoked the whole session.
        SessionRevoked {},
        /// This device was replaced, transferred or revoked (`status` says which).
        DeviceInactive { status: DeviceStatus } = DeviceInactive,
        /// The account is locked server-side.
        AccountLocked {},
        /// The server refused the signed request.
        Rejected {} = Rejected,
        /// Key store failure, cancellation or invalidated key.
        KeyStore {} = KeyStore,
        /// Transport failure.
        Network { kind: NetworkErrorKind } = Network,
        /// Local storage failed.
        Storage {} = Storage,
    }
    domain |e| {
        match e {
            Error::Domain(m @ Msg::SessionExpired) => return Self::SessionExpired { detail: m.detail() },
            Error::Domain(m @ Msg::SessionRevoked) => return Self::SessionRevoked { detail: m.detail() },
            Error::Domain(m @ Msg::AccountLocked) => return Self::AccountLocked { detail: m.detail() },
            e => e,
        }
    }
    fallback |s| Self::Rejected { detail: s.fallback_detail() }
}

public_error! {
    /// Errors of the public-service requests.
    pub enum ServiceError {
        /// The form has errors (every field at once), or an edit was refused (`field.locked`, …).
        InvalidForm { fields: Vec<FieldError> } = Fields,
        /// No account on this device.
        NotEnrolled {} = NotEnrolled,
        /// Not logged in, or the session ended: log in again.
        NotLoggedIn {} = NotLoggedIn,
        /// The citizen's record or the catalogue is not on the device yet (sync first).
        NotSynced {},
        /// Unknown procedure, draft or case.
        NotFound {},
        /// The draft was submitted already, or the case is not waiting for a supplement.
        WrongState {},
        /// Wrong passcode when signing the submission.
        PasscodeIncorrect { attempts_before_lockout: u32, attempts_before_wipe: u32 } = PasscodeIncorrect,
        /// Too many wrong passcodes; wait.
        LockedOut { retry_after_secs: u64 } = LockedOut,
        /// Too many wrong passcodes; the local account was erased.
        Wiped {} = Wiped,
        /// This device was replaced or revoked.
        DeviceInactive { status: DeviceStatus } = DeviceInactive,
        /// Key store failure, cancellation or invalidated key (`keystore.key_invalidated`: enroll
        /// again).
        KeyStore {} = KeyStore,
        /// Transport failure (the request, if queued, stays queued).
        Network { kind: NetworkErrorKind } = Network,
        /// The server's answer was not acceptable (bad receipt, malformed data); nothing was lost.
        BadServerResponse {},
        /// The server refused.
        Rejected {} = Rejected,
        /// Local storage failed.
        Storage {} = Storage,
    }
    domain |e| {
        match e {
            Error::Domain(m @ (Msg::ProfileMissing | Msg::CatalogueMissing)) => {
                return Self::NotSynced { detail: m.detail() }
            }
            Error::Domain(m @ (Msg::UnknownProcedure | Msg::UnknownDraft | Msg::UnknownCase)) => {
                return Self::NotFound { detail: m.detail() }
            }
            Error::Domain(m @ (Msg::DraftNotEditable | Msg::CaseNotAwaitingSupplement)) => {
                return Self::WrongState { detail: m.detail() }
            }
            Error::BadReceipt(_) => return Self::BadServerResponse { detail: Msg::ReceiptInvalid.detail() },
            Error::Net(n) if n.kind == NetworkErrorKind::Protocol => {
                return Self::BadServerResponse { detail: Msg::ProtocolError.detail() }
            }
            e => e,
        }
    }
    fallback |s| Self::Rejected { detail: s.fallback_detail() }
}

public_error! {
    /// Errors of QR login, data sharing and consent receipts. Every variant carries a stable code
    /// (`consent.frame_stale`, …) and the message in both languages.
    pub enum ConsentError {
        /// What was scanned or opened is not a valid login code, link or request (too long, wrong
        /// version, malformed), or a local input was refused (passcode format).
        InvalidCode {},
        /// The relying party failed a check against the signed registry: unknown, bad signature,
        /// unregistered origin or redirect, a claim or purpose it may not ask for. Likely a fake site.
        RelyingPartyRejected {},
        /// The request or the scanned frame is too old (scan the code on the screen again).
        Expired {},
        /// No such login session or share request (or it was already answered on this device), or
        /// no credential on the device.
        NotFound {},
        /// The server or the relying party refused (already scanned or decided, wrong verification
        /// code, mismatched approval, presentation refused).
        Refused {} = Rejected,
        /// A receipt export did not verify: changed content, bad device signature, bad server
        /// countersignature, or another server key than the pinned one.
        ReceiptInvalid {},
        /// No account on this device.
        NotEnrolled {} = NotEnrolled,
        /// Not logged in, or the session ended: log in again.
        NotLoggedIn {} = NotLoggedIn,
        /// Wrong passcode.
        PasscodeIncorrect { attempts_before_lockout: u32, attempts_before_wipe: u32 } = PasscodeIncorrect,
        /// Too many wrong passcodes; wait.
        LockedOut { retry_after_secs: u64 } = LockedOut,
        /// Too many wrong passcodes; the local account was erased.
        Wiped {} = Wiped,
        /// This device was replaced or revoked.
        DeviceInactive { status: DeviceStatus } = DeviceInactive,
        /// Key store failure, cancellation or invalidated key.
        KeyStore {} = KeyStore,
        /// Transport failure.
        Network { kind: NetworkErrorKind } = Network,
        /// The server's answer did not verify (registry, countersignature, malformed data).
        BadServerResponse {},
        /// Local storage or another unexpected failure.
        Internal {},
    }
    domain |e| {
        match e {
            Error::Domain(m) if consent_variant(m).is_some() => {
                return consent_variant(m).expect("checked")(m.detail())
            }
            Error::Fields(fields) => {
                let detail = fields
                    .first()
                    .map(|f| ErrorDetail {
                        code: f.code.clone(),
                        message_vi: f.message_vi.clone(),
                        message_en: f.message_en.clone(),
                    })
                    .unwrap_or_else(|| Msg::InvalidInput.detail());
                return Self::InvalidCode { detail };
            }
            Error::BadReceipt(_) => {
                return Self::BadServerResponse { detail: Msg::ConsentCountersignatureInvalid.detail() }
            }
            Error::Net(n) if n.kind == NetworkErrorKind::Protocol => {
                return Self::BadServerResponse { detail: Msg::ProtocolError.detail() }
            }
            Error::Server { code, .. } => {
                return Self::Refused {
                    detail: ErrorDetail {
                        code: format!("server.{code}"),
                        message_vi: format!("Máy chủ từ chối yêu cầu ({code})."),
                        message_en: format!("The server refused the request ({code})."),
                    },
                }
            }
            e => e,
        }
    }
    fallback |_s| Self::Internal { detail: Msg::Internal.detail() }
}

/// Which public variant a consent message belongs to.
fn consent_variant(m: Msg) -> Option<fn(ErrorDetail) -> ConsentError> {
    use Msg::*;
    Some(match m {
        ConsentQrNotLoginCode
        | ConsentQrTooLong
        | ConsentQrVersion
        | ConsentQrMalformed
        | ConsentShareRequestInvalid
        | ConsentClaimNotOffered
        | ConsentExportInvalid => |detail| ConsentError::InvalidCode { detail },
        ConsentRpUnknown
        | ConsentRpSignatureInvalid
        | ConsentOriginUnregistered
        | ConsentClaimNotAllowed
        | ConsentPurposeNotRegistered => |detail| ConsentError::RelyingPartyRejected { detail },
        ConsentRequestExpired | ConsentFrameStale => |detail| ConsentError::Expired { detail },
        ConsentUnknownSession | ConsentUnknownShareRequest | ConsentNoCredential => {
            |detail| ConsentError::NotFound { detail }
        }
        ConsentFrameForged
        | ConsentAlreadyScanned
        | ConsentAlreadyDecided
        | ConsentSessionMismatch
        | ConsentClaimsChanged
        | ConsentWrongCode
        | ConsentPresentationRejected
        | ConsentPresentationReplayed
        | ConsentPresentationWrongAudience => |detail| ConsentError::Refused { detail },
        ConsentServerKeyMismatch
        | ConsentReceiptTampered
        | ConsentReceiptSignatureInvalid
        | ConsentReceiptChainBroken
        | ConsentReceiptsTruncated
        | ConsentDeliveryInvalid => |detail| ConsentError::ReceiptInvalid { detail },
        ConsentRegistryInvalid | ConsentCountersignatureInvalid | ReceiptInvalid | ProtocolError => {
            |detail| ConsentError::BadServerResponse { detail }
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::NetError;
    use crate::platform::DeviceKeyStoreError;

    fn invalidated() -> Error {
        Error::KeyStore(DeviceKeyStoreError::KeyInvalidated { reason: "platform reason 7f3a".into() })
    }

    #[test]
    fn public_errors_keep_internal_detail_out() {
        let e: AuthError = Error::Storage("disk I/O error at /secret/path".into()).into();
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("/secret/path"), "{shown}");
        assert!(shown.contains("storage.failure"));
        let e: ServiceError = invalidated().into();
        assert!(!format!("{e} {e:?}").contains("7f3a"), "{e:?}");
    }

    /// Every domain that reports key-store failures keeps an invalidated key and a cancelled
    /// prompt apart from other failures (the shell re-enrolls only on the first).
    #[test]
    fn every_domain_reports_an_invalidated_key_as_such() {
        let cancelled = || Error::KeyStore(DeviceKeyStoreError::UserCancelled { reason: String::new() });
        let failed = || Error::KeyStore(DeviceKeyStoreError::Unavailable { reason: String::new() });
        let codes = |f: &dyn Fn() -> Error| -> Vec<String> {
            vec![
                EnrollmentError::from(f()).error_detail().code,
                PasscodeError::from(f()).error_detail().code,
                AuthError::from(f()).error_detail().code,
                ServiceError::from(f()).error_detail().code,
                ConsentError::from(f()).error_detail().code,
            ]
        };
        assert!(codes(&invalidated).iter().all(|c| c == "keystore.key_invalidated"), "{:?}", codes(&invalidated));
        assert!(codes(&cancelled).iter().all(|c| c == "keystore.user_cancelled"), "{:?}", codes(&cancelled));
        assert!(codes(&failed).iter().all(|c| c == "keystore.failure"), "{:?}", codes(&failed));
        assert!(matches!(ServiceError::from(invalidated()), ServiceError::KeyStore { .. }));
        // Setup has no key-store variant: a key-store failure there means the data key is gone.
        assert!(matches!(SetupError::from(invalidated()), SetupError::DataKeyLost { .. }));
    }

    /// A temporarily locked data key and a lost one stay apart, with their own codes, in setup
    /// and in every other domain (issue 11, item 8).
    #[test]
    fn a_locked_data_key_is_not_a_lost_one() {
        let e = SetupError::from(Error::DataKeyLocked);
        assert!(matches!(e, SetupError::DataKeyLocked { .. }), "{e:?}");
        assert_eq!(e.error_detail().code, "storage.data_key_locked");
        let e = SetupError::from(Error::DataKeyLost);
        assert!(matches!(e, SetupError::DataKeyLost { .. }), "{e:?}");
        assert_eq!(e.error_detail().code, "storage.data_key_lost");
        assert_eq!(ServiceError::from(Error::DataKeyLocked).error_detail().code, "storage.data_key_locked");
        assert_eq!(AuthError::from(Error::DataKeyLost).error_detail().code, "storage.data_key_lost");
    }

    #[test]
    fn every_domain_with_a_device_inactive_variant_carries_the_status() {
        let e = || Error::DeviceInactive("replaced".into());
        assert!(matches!(
            PasscodeError::from(e()),
            PasscodeError::DeviceInactive { status: DeviceStatus::Replaced, .. }
        ));
        assert!(matches!(AuthError::from(e()), AuthError::DeviceInactive { status: DeviceStatus::Replaced, .. }));
        assert!(matches!(ServiceError::from(e()), ServiceError::DeviceInactive { status: DeviceStatus::Replaced, .. }));
        assert!(matches!(ConsentError::from(e()), ConsentError::DeviceInactive { status: DeviceStatus::Replaced, .. }));
    }

    /// The codes of the catch-all variants are API: a domain condition keeps its own message, the
    /// rest say `auth.rejected` (or `internal` for consent).
    #[test]
    fn catch_alls_keep_their_codes() {
        let throttled = Error::Domain(Msg::RateLimited);
        assert!(
            matches!(AuthError::from(throttled), AuthError::Rejected { detail } if detail.code == "network.rate_limited")
        );
        let server = || Error::Server { status: 400, code: "odd".into() };
        assert_eq!(AuthError::from(server()).error_detail().code, "auth.rejected");
        assert_eq!(ConsentError::from(server()).error_detail().code, "server.odd");
        assert_eq!(ConsentError::from(Error::Storage("x".into())).error_detail().code, "internal");
        assert_eq!(EnrollmentError::from(Error::DeviceInactive("revoked".into())).error_detail().code, "auth.rejected");
        assert_eq!(PasscodeError::from(Error::Domain(Msg::NotLoggedIn)).error_detail().code, "auth.not_logged_in");
        let e = AuthError::from(Error::Fields(vec![]));
        assert!(matches!(e, AuthError::Rejected { detail } if detail.code == "input.invalid"));
        let protocol =
            || Error::Net(NetError { kind: NetworkErrorKind::Protocol, detail: String::new(), retry_after: None });
        assert!(matches!(ServiceError::from(protocol()), ServiceError::BadServerResponse { .. }));
        assert!(matches!(AuthError::from(protocol()), AuthError::Network { kind: NetworkErrorKind::Protocol, .. }));
        assert!(matches!(SetupError::from(Error::Domain(Msg::AlreadyOpen)), SetupError::AlreadyOpen { .. }));
    }
}
