import CitizenCore
import Foundation

/// QR login: scan (or same-device link) → the verified relying party, what it asks for and three
/// codes → approve with the code the site shows and the passcode, or deny. Mirrors the Kotlin
/// `QrLoginViewModel`.
@MainActor
final class QrLoginViewModel: ObservableObject {
    struct UiState: Equatable {
        var busy = false
        /// Checked on the device against the signed registry before it is shown.
        var request: LoginRequestInfo?
        /// One of `request.codeChoices`: the one the site shows.
        var chosenCode: String?
        var approval: LoginApproval?
        var denied = false
        var error: UiError?

        /// The relying party's name in the app's language.
        var relyingPartyName: String? {
            request.map { AppLocale.isVietnamese ? $0.relyingPartyNameVi : $0.relyingPartyNameEn }
        }

        /// After a same-device approval: the relying party's redirect (carrying the ID token) if
        /// it may be opened (`DeepLink.browserRedirect`: https, or loopback http in Debug). Nil for
        /// a QR code approved for another screen, which has no redirect.
        func redirectToOpen(allowLoopbackHttp: Bool) -> URL? {
            DeepLink.browserRedirect(approval?.redirectUrl, allowLoopbackHttp: allowLoopbackHttp)
        }
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let consent: ConsentClientProtocol

    init(consent: ConsentClientProtocol) {
        self.consent = consent
    }

    /// A QR code was read. Ignored while a request is open or being checked.
    func scan(_ frame: String) async {
        guard !state.busy, state.request == nil else { return }
        await run { self.state.request = try await self.consent.scanLoginCode(frame: frame) }
    }

    /// Same-device flow: `citizenid://login?p=…` (see `DeepLink`); the core makes the same checks
    /// as for a scan. Replaces whatever was on this flow; then `chooseCode` and `approve`.
    func openLink(_ url: String) async {
        guard !state.busy else { return }
        reset()
        await run { self.state.request = try await self.consent.openLoginLink(url: url) }
    }

    func chooseCode(_ code: String) {
        state.chosenCode = code
    }

    /// Approve with the chosen code and the passcode.
    func approve(passcode: String) async {
        guard let request = state.request, let code = state.chosenCode else { return }
        await run {
            self.state.approval = try await self.consent.approveLogin(
                sessionId: request.sessionId, verificationCode: code, passcode: passcode)
        }
        // Same-device login: back to the relying party in the browser (AppModel opens it).
        if let redirect = state.redirectToOpen(allowLoopbackHttp: DeepLink.allowLoopbackHttp) {
            events.send(.openURL(redirect))
        }
    }

    func deny() async {
        guard let request = state.request else { return }
        await run {
            try await self.consent.denyLogin(sessionId: request.sessionId)
            self.state.denied = true
        }
    }

    func reset() {
        state = UiState()
    }

    private func run(_ action: () async throws -> Void) async {
        state.busy = true
        defer { state.busy = false }
        do {
            try await action()
            state.error = nil
        } catch {
            let failure = CoreFailure(error)
            state.error = failure.uiError
            events.send(.failure(failure))
        }
    }
}
