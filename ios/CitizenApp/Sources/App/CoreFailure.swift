import CitizenCore
import Foundation

/// The language the app shows: Vietnamese unless the app runs in English.
/// (The core's own enum is `Language`, so `Locale` here is always Foundation's.)
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

/// Any error of a core call: the `ErrorDetail` plus the extras the screens use. The core throws
/// one error type, `CitizenError`, whose variant says what to do next, so this is a plain switch
/// over it (no table of codes).
struct CoreFailure: Equatable {
    enum Kind: Equatable {
        case other
        /// No session (never logged in, expired, revoked): back to the passcode screen.
        case needsLogin
        /// The account is gone from this device (wiped after too many passcodes, device
        /// replaced/revoked, device key invalidated by a biometrics change, data key lost):
        /// the citizen must enroll again.
        case needsEnrollment
        /// The data key is only locked for now (the phone is locked): retry, never erase.
        case retryLater
    }

    let detail: ErrorDetail
    var kind: Kind = .other
    var fields: [FieldError] = []
    var retryAfter: TimeInterval?
    var attemptsBeforeLockout: Int32?
    var attemptsBeforeWipe: Int32?
    var otpAttemptsLeft: Int32?

    var uiError: UiError { UiError(detail) }

    init(detail: ErrorDetail, kind: Kind = .other) {
        self.detail = detail
        self.kind = kind
    }

    init(_ error: Error) {
        guard let error = error as? CitizenError else {
            self.init(detail: ErrorDetail(
                code: "app.unexpected",
                messageVi: "Đã xảy ra lỗi không mong muốn.",
                messageEn: "Something unexpected went wrong."))
            return
        }
        self.init(detail: error.detail())
        switch error {
        case .NeedsLogin:
            kind = .needsLogin
        case .NeedsEnrollment, .DataKeyLost:
            kind = .needsEnrollment
        case let .KeyStore(_, problem) where problem == .invalidated:
            kind = .needsEnrollment
        case .DataKeyLocked:
            kind = .retryLater
        case let .PasscodeRejected(_, lockout, wipe):
            attemptsBeforeLockout = lockout
            attemptsBeforeWipe = wipe
        case let .LockedOut(_, wait):
            retryAfter = wait
        case let .InvalidInput(_, fields):
            self.fields = fields
        case let .OtpRejected(_, attemptsLeft):
            otpAttemptsLeft = attemptsLeft
        default:
            break
        }
    }
}
