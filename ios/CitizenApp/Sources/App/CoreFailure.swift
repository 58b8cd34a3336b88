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

/// Any error of a core call, flattened: the `ErrorDetail` plus the extras the screens use.
/// One switch per error enum of the bindings, so a new case fails the build here.
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

    init(detail: ErrorDetail, kind: Kind = .other) {
        self.detail = detail
        self.kind = detail.code == Self.keyInvalidatedCode ? .needsEnrollment : kind
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    init(_ error: Error) {
        switch error {
        case let error as AuthError:
            switch error {
            case let .PasscodeIncorrect(detail, lockout, wipe):
                self.init(detail: detail)
                attemptsBeforeLockout = lockout
                attemptsBeforeWipe = wipe
            case let .LockedOut(detail, retryAfter):
                self.init(detail: detail)
                retryAfterSecs = retryAfter
            case let .NotLoggedIn(detail), let .SessionExpired(detail), let .SessionRevoked(detail):
                self.init(detail: detail, kind: .needsLogin)
            case let .NotEnrolled(detail), let .Wiped(detail), let .DeviceInactive(detail, _):
                self.init(detail: detail, kind: .needsEnrollment)
            case let .AccountLocked(detail), let .Rejected(detail), let .KeyStore(detail), let .Network(detail, _),
                 let .Storage(detail):
                self.init(detail: detail)
            }
        case let error as ConsentError:
            switch error {
            case let .PasscodeIncorrect(detail, lockout, wipe):
                self.init(detail: detail)
                attemptsBeforeLockout = lockout
                attemptsBeforeWipe = wipe
            case let .LockedOut(detail, retryAfter):
                self.init(detail: detail)
                retryAfterSecs = retryAfter
            case let .NotLoggedIn(detail):
                self.init(detail: detail, kind: .needsLogin)
            case let .NotEnrolled(detail), let .Wiped(detail), let .DeviceInactive(detail, _):
                self.init(detail: detail, kind: .needsEnrollment)
            case let .InvalidCode(detail), let .RelyingPartyRejected(detail), let .Expired(detail),
                 let .NotFound(detail), let .Refused(detail), let .ReceiptInvalid(detail), let .KeyStore(detail),
                 let .Network(detail, _), let .BadServerResponse(detail), let .Internal(detail):
                self.init(detail: detail)
            }
        case let error as EnrollmentError:
            switch error {
            case let .InvalidInput(detail, fields):
                self.init(detail: detail)
                self.fields = fields
            case let .OtpInvalid(detail, attemptsLeft):
                self.init(detail: detail)
                otpAttemptsLeft = attemptsLeft
            case let .NoMatch(detail), let .NoPendingEnrollment(detail), let .OtpExpired(detail),
                 let .OtpAttemptsExceeded(detail), let .AlreadyEnrolled(detail), let .AccountLocked(detail),
                 let .KeyStore(detail), let .Network(detail, _), let .Rejected(detail), let .Storage(detail):
                self.init(detail: detail)
            }
        case let error as PasscodeError:
            switch error {
            case let .InvalidFormat(detail, fields):
                self.init(detail: detail)
                self.fields = fields
            case let .Incorrect(detail, lockout, wipe):
                self.init(detail: detail)
                attemptsBeforeLockout = lockout
                attemptsBeforeWipe = wipe
            case let .LockedOut(detail, retryAfter):
                self.init(detail: detail)
                retryAfterSecs = retryAfter
            case let .OtpInvalid(detail, attemptsLeft):
                self.init(detail: detail)
                otpAttemptsLeft = attemptsLeft
            case let .Wiped(detail), let .NotEnrolled(detail), let .DeviceInactive(detail):
                self.init(detail: detail, kind: .needsEnrollment)
            case let .NoPendingReset(detail), let .OtpRejected(detail), let .KeyStore(detail),
                 let .Network(detail, _), let .Rejected(detail), let .Storage(detail):
                self.init(detail: detail)
            }
        case let error as ServiceError:
            switch error {
            case let .InvalidForm(detail, fields):
                self.init(detail: detail)
                self.fields = fields
            case let .PasscodeIncorrect(detail, lockout, wipe):
                self.init(detail: detail)
                attemptsBeforeLockout = lockout
                attemptsBeforeWipe = wipe
            case let .LockedOut(detail, retryAfter):
                self.init(detail: detail)
                retryAfterSecs = retryAfter
            case let .NotLoggedIn(detail):
                self.init(detail: detail, kind: .needsLogin)
            case let .NotEnrolled(detail), let .Wiped(detail), let .DeviceInactive(detail, _):
                self.init(detail: detail, kind: .needsEnrollment)
            case let .NotSynced(detail), let .NotFound(detail), let .WrongState(detail), let .KeyStore(detail),
                 let .Network(detail, _), let .BadServerResponse(detail), let .Rejected(detail), let .Storage(detail):
                self.init(detail: detail)
            }
        case let error as SetupError:
            switch error {
            case let .DataKeyUnavailable(detail):
                self.init(detail: detail, kind: .needsEnrollment)
            case let .InvalidConfig(detail), let .Storage(detail), let .AlreadyOpen(detail):
                self.init(detail: detail)
            }
        default:
            self.init(detail: ErrorDetail(
                code: "app.unexpected",
                messageVi: "Đã xảy ra lỗi không mong muốn.",
                messageEn: "Something unexpected went wrong."))
        }
    }
}
