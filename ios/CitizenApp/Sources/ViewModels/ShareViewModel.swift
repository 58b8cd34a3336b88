import CitizenCore
import Foundation

/// Data sharing: open a relying party's request (checked on the device) → pick the optional
/// claims → share after the passcode. Mirrors the Kotlin `ShareViewModel`.
@MainActor
final class ShareViewModel: ObservableObject {
    struct UiState: Equatable {
        var busy = false
        var request: ShareRequestInfo?
        var selectedOptional: Set<String> = []
        var outcome: ShareOutcome?
        var error: UiError?

        var relyingPartyName: String? {
            request.map { AppLocale.isVietnamese ? $0.relyingPartyNameVi : $0.relyingPartyNameEn }
        }

        var purpose: String? {
            request.map { AppLocale.isVietnamese ? $0.purposeVi : $0.purposeEn }
        }
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let consent: ConsentClientProtocol

    init(consent: ConsentClientProtocol) {
        self.consent = consent
    }

    /// The request JWS itself or `citizenid://share?request=…`.
    func open(_ request: String) async {
        state = UiState()
        await run { self.state.request = try await self.consent.openShareRequest(request: request) }
    }

    func toggleOptional(_ claim: String) {
        if state.selectedOptional.contains(claim) {
            state.selectedOptional.remove(claim)
        } else {
            state.selectedOptional.insert(claim)
        }
    }

    func share(passcode: String) async {
        guard let request = state.request else { return }
        // Keep the request's order, and only claims it offers.
        let optional = request.optional.map(\.name).filter(state.selectedOptional.contains)
        await run {
            self.state.outcome = try await self.consent.shareData(
                requestId: request.requestId, optionalClaims: optional, passcode: passcode)
        }
    }

    /// Decline or close: nothing is sent; the request simply expires.
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
