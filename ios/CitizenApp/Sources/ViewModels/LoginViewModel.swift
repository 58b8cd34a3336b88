import CitizenCore
import Foundation

/// Passcode login and logout, with the lockout state (attempts left, locked until). Mirrors the
/// Kotlin `LoginViewModel`.
@MainActor
final class LoginViewModel: ObservableObject {
    struct UiState: Equatable {
        var busy = false
        var session: SessionInfo?
        var attemptsBeforeLockout: Int32?
        var attemptsBeforeWipe: Int32?
        /// Attempts are refused until then.
        var lockedUntil: Date?
        /// Wiped, replaced/revoked device, or device key invalidated: enroll again.
        var needsEnrollment = false
        var error: UiError?
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let core: CitizenCoreProtocol

    init(core: CitizenCoreProtocol) {
        self.core = core
    }

    /// Read the persisted lockout state (e.g. when the passcode screen appears).
    func refresh() {
        Task { await self.reload() }
    }

    private func reload() async {
        do {
            let status = try await core.account().passcodeStatus()
            state.attemptsBeforeLockout = status.attemptsBeforeLockout
            state.attemptsBeforeWipe = status.attemptsBeforeWipe
            state.lockedUntil = status.lockedUntil.flatMap { $0 > Date() ? $0 : nil }
        } catch {
            fail(error)
        }
    }

    func login(passcode: String) async {
        state.busy = true
        defer { state.busy = false }
        do {
            state.session = try await core.account().login(passcode: passcode)
            state.error = nil
            state.lockedUntil = nil
            state.attemptsBeforeLockout = nil
            events.send(.loggedIn)
        } catch {
            fail(error)
        }
    }

    func logout() async {
        state.busy = true
        defer { state.busy = false }
        do {
            try await core.account().logout()
        } catch {
            // The local session is gone either way; a network error only delays the server side.
            state.error = CoreFailure(error).uiError
        }
        state.session = nil
        events.send(.loggedOut)
    }

    /// Erase the account from this device (after a wipe, an invalidated key or a replaced
    /// device) so that enrollment can start again.
    func resetForEnrollment() async {
        state.busy = true
        defer { state.busy = false }
        do {
            try await core.account().resetDevice()
        } catch {
            let failure = CoreFailure(error)
            // Already gone from this device (e.g. wiped): nothing left to erase.
            guard failure.kind == .needsEnrollment else {
                state.error = failure.uiError
                return
            }
        }
        state = UiState()
        events.send(.reset)
    }

    /// Another screen found the account unusable here (invalidated key, replaced device…).
    func accountLost(_ failure: CoreFailure?) {
        state.session = nil
        state.needsEnrollment = true
        if let failure { state.error = failure.uiError }
    }

    private func fail(_ error: Error) {
        let failure = CoreFailure(error)
        state.error = failure.uiError
        if let lockout = failure.attemptsBeforeLockout { state.attemptsBeforeLockout = lockout }
        if let wipe = failure.attemptsBeforeWipe { state.attemptsBeforeWipe = wipe }
        if let retryAfter = failure.retryAfter {
            state.lockedUntil = Date().addingTimeInterval(retryAfter)
        }
        // Stay on this screen either way: a lost account shows "enroll again" here.
        if failure.kind == .needsEnrollment {
            state.needsEnrollment = true
        }
    }
}
