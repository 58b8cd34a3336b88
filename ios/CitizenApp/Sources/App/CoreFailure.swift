import CitizenCore
import Foundation

/// The language the app shows: Vietnamese unless the app runs in English.
/// (Always `Foundation.Locale`: the core's bindings declare their own `Locale` enum.)
enum AppLocale {
    static var isVietnamese: Bool {
        (Bundle.main.preferredLocalizations.first ?? "vi").hasPrefix("vi")
    }
}

/// An error as a screen shows it: the core's `ErrorDetail` code and its message in the app's
/// language.
struct UiError: Equatable, Identifiable {
    let code: String
    let message: String
    var id: String { code }

    init(_ detail: ErrorDetail) {
        code = detail.code
        message = AppLocale.isVietnamese ? detail.messageVi : detail.messageEn
    }

    /// An error found by the app itself (not the core), with both languages.
    static func local(_ code: String, vi: String, en: String) -> UiError {
        UiError(ErrorDetail(code: code, messageVi: vi, messageEn: en))
    }
}

/// Any error of a core call, flattened: the `ErrorDetail` plus the extras the screens use. The
/// detail comes from the core's exported `detail()` (every error enum has it), so no switch over
/// variants lives here; what the app does next is decided by the stable code.
struct CoreFailure: Equatable {
    enum Kind: Equatable {
        case other
        /// No session (never logged in, expired, revoked): back to the passcode screen.
        case needsLogin
        /// The account is gone from this device (wiped after too many passcodes, device
        /// replaced/revoked, device key invalidated by a biometrics change, data key lost):
        /// the citizen must enroll again.
        case needsEnrollment
    }

    let detail: ErrorDetail
    var kind: Kind = .other
    var fields: [FieldError] = []
    var retryAfterSecs: UInt64?
    var attemptsBeforeLockout: UInt32?
    var attemptsBeforeWipe: UInt32?
    var otpAttemptsLeft: UInt32?

    var uiError: UiError { UiError(detail) }

    static let keyInvalidatedCode = "keystore.key_invalidated"
    static let needsLoginCodes: Set<String> = ["auth.not_logged_in", "auth.session_expired", "auth.session_revoked"]
    static let needsEnrollmentCodes: Set<String> = [
        "auth.not_enrolled", "auth.wiped", "auth.device_inactive", "storage.data_key_lost", keyInvalidatedCode,
    ]

    init(detail: ErrorDetail, kind: Kind = .other) {
        self.detail = detail
        if Self.needsEnrollmentCodes.contains(detail.code) {
            self.kind = .needsEnrollment
        } else if Self.needsLoginCodes.contains(detail.code) {
            self.kind = .needsLogin
        } else {
            self.kind = kind
        }
    }

    /// The core's detail of `error`, or nil for an error that is not the core's.
    static func coreDetail(_ error: Error) -> ErrorDetail? {
        switch error {
        case let error as AuthError: return error.detail()
        case let error as ConsentError: return error.detail()
        case let error as EnrollmentError: return error.detail()
        case let error as PasscodeError: return error.detail()
        case let error as ServiceError: return error.detail()
        case let error as SetupError: return error.detail()
        default: return nil
        }
    }

    init(_ error: Error) {
        guard let detail = Self.coreDetail(error) else {
            self.init(detail: ErrorDetail(
                code: "app.unexpected",
                messageVi: "Đã xảy ra lỗi không mong muốn.",
                messageEn: "Something unexpected went wrong."))
            return
        }
        self.init(detail: detail)
        // The extras some variants carry.
        switch error {
        case let AuthError.PasscodeIncorrect(_, lockout, wipe), let ConsentError.PasscodeIncorrect(_, lockout, wipe),
             let ServiceError.PasscodeIncorrect(_, lockout, wipe), let PasscodeError.Incorrect(_, lockout, wipe):
            attemptsBeforeLockout = lockout
            attemptsBeforeWipe = wipe
        case let AuthError.LockedOut(_, retryAfter), let ConsentError.LockedOut(_, retryAfter),
             let ServiceError.LockedOut(_, retryAfter), let PasscodeError.LockedOut(_, retryAfter):
            retryAfterSecs = retryAfter
        case let EnrollmentError.InvalidInput(_, fields), let PasscodeError.InvalidFormat(_, fields),
             let ServiceError.InvalidForm(_, fields):
            self.fields = fields
        case let EnrollmentError.OtpInvalid(_, attemptsLeft), let PasscodeError.OtpInvalid(_, attemptsLeft):
            otpAttemptsLeft = attemptsLeft
        default:
            break
        }
    }
}
