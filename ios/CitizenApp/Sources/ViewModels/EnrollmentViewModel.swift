import CitizenCore
import Foundation

/// Enrollment: identity (CCCD number, date of birth, phone) → OTP → passcode. Mirrors the Kotlin
/// `EnrollmentViewModel`.
@MainActor
final class EnrollmentViewModel: ObservableObject {
    enum Step: Equatable {
        case identity
        case otp
        case passcode
        case done
    }

    struct UiState: Equatable {
        var step: Step = .identity
        var busy = false
        var input: EnrollmentInput?
        var ticket: EnrollmentTicket?
        var outcome: EnrollmentOutcome?
        var fieldErrors: [FieldError] = []
        var otpAttemptsLeft: Int32?
        var error: UiError?
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let account: AccountClientProtocol
    private var otp = ""

    init(account: AccountClientProtocol) {
        self.account = account
    }

    /// Step 1: checked on the device first, then matched against the population register, which
    /// sends the OTP.
    func start(input: EnrollmentInput) async {
        let localErrors = account.validateEnrollment(input: input)
        guard localErrors.isEmpty else {
            state.fieldErrors = localErrors
            return
        }
        state.busy = true
        defer { state.busy = false }
        do {
            let ticket = try await account.startEnrollment(input: input)
            state = UiState(step: .otp, input: input, ticket: ticket)
        } catch {
            fail(error)
        }
    }

    /// Ask for a new OTP with the same details.
    func resendOtp() async {
        guard let input = state.input else { return }
        await start(input: input)
    }

    /// Step 2: the OTP is checked by the server together with the passcode (next step).
    func enterOtp(_ code: String) {
        let code = code.trimmingCharacters(in: .whitespaces)
        guard code.count == 6, code.allSatisfy(\.isASCIIDigit) else {
            state.error = .local("otp.format", vi: "Mã OTP phải gồm 6 chữ số.", en: "The OTP must be 6 digits.")
            return
        }
        otp = code
        state.error = nil
        state.step = .passcode
    }

    /// Step 3: create the device key in the Secure Enclave (Face ID / Touch ID bound), prove it to
    /// the server with the OTP, and set the passcode.
    func complete(passcode: String, confirmation: String) async {
        guard passcode == confirmation else {
            state.error = .local("passcode.mismatch", vi: "Hai mã bảo vệ không khớp.", en: "The passcodes do not match.")
            return
        }
        guard let ticket = state.ticket else {
            // No OTP was asked for in this flow (e.g. the app was restarted): start again.
            state.step = .identity
            state.error = .local("enrollment.not_started", vi: "Hãy nhập lại thông tin để nhận mã OTP.",
                                 en: "Enter your details again to get an OTP.")
            return
        }
        state.busy = true
        defer { state.busy = false }
        do {
            let options = keyOptionsFor(ticket: ticket)
            let outcome = try await account.completeEnrollment(otp: otp, passcode: passcode, keyOptions: options)
            state.outcome = outcome
            state.error = nil
            state.step = .done
        } catch let error as CitizenError {
            let failure = CoreFailure(error)
            switch error {
            case .OtpRejected, .NotFound:
                state.step = .otp // enter it again, or ask for a new one (as the Kotlin twin)
            default:
                break
            }
            state.otpAttemptsLeft = failure.otpAttemptsLeft
            state.fieldErrors = failure.fields
            state.error = failure.uiError
        } catch {
            fail(error)
        }
    }

    /// The options for the device key of `ticket`'s enrollment: Secure Enclave, Face ID / Touch ID
    /// bound, and the UTF-8 bytes of the enrollment id as the attestation challenge (as the Kotlin
    /// `EnrollmentViewModel.keyOptionsFor`). Secure Enclave keys have no attestation chain, so on
    /// iOS the challenge is unused; it is passed so both shells bind a key to its enrollment the
    /// same way (Android sets it on the key, and the chain then names this enrollment).
    func keyOptionsFor(ticket: EnrollmentTicket) -> KeyOptions {
        KeyOptions(requireUserAuthentication: true, preferStrongbox: true,
                   attestationChallenge: Data(ticket.enrollmentId.utf8))
    }

    /// The citizen saw the outcome and goes on to the passcode screen.
    func finish() {
        events.send(.enrolled)
    }

    func restart() {
        otp = ""
        state = UiState()
    }

    /// Shown on this screen; enrollment failures never change the screen.
    private func fail(_ error: Error) {
        let failure = CoreFailure(error)
        state.fieldErrors = failure.fields
        state.error = failure.uiError
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
