import CitizenCore
import Foundation

/// Showing a document in person (issue 13): the QR code to show, who asks (the reader's
/// organisation or name when its certificate chains to the trust list, nil when anonymous) and
/// for which elements (labelled in the app's language), the citizen's choice, approve with the
/// passcode (the device signature is made in the key store, which may prompt) or decline. One
/// session per QR code: `start` again for a new one. The BLE link is the `MdocTransport` the
/// app's adapter provides (`BleMdocHolderTransport`). Mirrors the Kotlin
/// `PresentDocumentViewModel`.
@MainActor
final class PresentDocumentViewModel: ObservableObject {
    /// One requested element, labelled in the app's language.
    struct UiElement: Equatable, Identifiable {
        let selection: ElementSelection
        let label: String
        let intentToRetain: Bool
        let held: Bool
        var id: String { "\(selection.docType)/\(selection.namespace)/\(selection.identifier)" }
    }

    struct UiState: Equatable {
        /// The QR code text to show (nil: no session).
        var qr: String?
        /// Who asks: the certificate's organisation or common name; nil when anonymous.
        var requester: String?
        var request: PresentationRequestInfo?
        var elements: [UiElement] = []
        /// The ids of the elements the citizen chose (all held ones by default).
        var chosen: Set<String> = []
        var outcome: PresentationOutcome?
        var declined = false
        var busy = false
        var error: UiError?
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let documents: DocumentsClientProtocol
    private var session: PresentationSessionProtocol?

    /// Every call is `async` and runs on the core's runtime (main-safe).
    init(documents: DocumentsClientProtocol) {
        self.documents = documents
    }

    /// A new session over `transport`: the QR code to show.
    func start(transport: MdocTransport) async {
        await run {
            let s = try await self.documents.startPresentation(transport: transport)
            self.session = s
            self.state = UiState(qr: s.engagementQr())
        }
    }

    /// Wait for the verifier's request (after it scanned the QR code). A reader under another
    /// root, or one asking beyond its authorisation, is refused here with its code.
    func awaitRequest() async {
        guard let session else { return }
        await run {
            let r = try await session.awaitRequest()
            let vietnamese = AppLocale.isVietnamese
            let who = r.requester.authenticated
                ? (r.requester.organisation ?? r.requester.commonName ?? r.requester.subject) : nil
            let elements = r.elements.map {
                UiElement(
                    selection: ElementSelection(docType: $0.docType, namespace: $0.namespace, identifier: $0.identifier),
                    label: vietnamese ? $0.labelVi : $0.labelEn,
                    intentToRetain: $0.intentToRetain,
                    held: $0.held
                )
            }
            self.state.request = r
            self.state.requester = who
            self.state.elements = elements
            self.state.chosen = Set(elements.filter(\.held).map(\.id))
        }
    }

    /// Include or leave out one element.
    func toggle(_ element: UiElement) {
        if state.chosen.contains(element.id) {
            state.chosen.remove(element.id)
        } else {
            state.chosen.insert(element.id)
        }
    }

    /// Disclose the chosen elements (passcode; the key store may prompt).
    func approve(passcode: String) async {
        guard let session else { return }
        let chosen = state.elements.filter { state.chosen.contains($0.id) }.map(\.selection)
        await run {
            self.state.outcome = try await session.approve(selection: chosen, passcode: passcode)
        }
    }

    /// Decline: the verifier is told, nothing is disclosed.
    func decline() async {
        guard let session else { return }
        await run {
            try await session.decline()
            self.state.declined = true
        }
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

/// The verifier mode (police, hospital, bank; no account): refresh the cached trust and status
/// lists when online, enrol the terminal as an authenticated reader once (the operator's
/// officials' token), then check a presentation offline. The verdict is shown with each check;
/// "partly unchecked" is never shown as valid. Mirrors the Kotlin `VerifierViewModel`.
@MainActor
final class VerifierViewModel: ObservableObject {
    /// One check, in the app's language: its outcome and, when not passed, why.
    struct UiCheck: Equatable, Identifiable {
        let name: String
        let passed: Bool
        let reason: String?
        var id: String { name }
    }

    struct UiState: Equatable {
        var trust: TrustStatus?
        /// The reader identity requests are signed with; nil: anonymous.
        var reader: EnrolledReader?
        var verdict: VerificationVerdict?
        /// "Valid", "Invalid: …" or "Partly unchecked" in the app's language.
        var headline: String?
        var checks: [UiCheck] = []
        var busy = false
        var error: UiError?
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let verifier: VerifierProtocol

    init(verifier: VerifierProtocol) {
        self.verifier = verifier
    }

    /// How old the cached lists are and which reader this terminal is (offline).
    func load() async {
        await run {
            self.state.trust = try await self.verifier.trustStatus()
            self.state.reader = try await self.verifier.enrolledReader()
        }
    }

    /// Fetch and cache the trust list and the status list (online).
    func refresh() async {
        await run { self.state.trust = try await self.verifier.refreshTrust() }
    }

    /// Enrol this terminal as an authenticated reader of `role` (online, the operator's token).
    func enrol(officialToken: String, role: VerifierRole) async {
        await run {
            self.state.reader = try await self.verifier.enrolReader(officialToken: officialToken, role: role)
        }
    }

    /// Scan `qr`, ask for `request` over `transport`, and verify the answer (offline).
    func verify(qr: String, request: VerifierRequest, transport: MdocTransport) async {
        await run {
            let check = try await self.verifier.startSession(engagementQr: qr, request: request, transport: transport)
            let v = try await check.awaitResponse()
            let vi = AppLocale.isVietnamese
            switch v.overall {
            case .valid:
                self.state.headline = vi ? "Hợp lệ" : "Valid"
            case let .invalid(failing):
                self.state.headline = (vi ? "Không hợp lệ: " : "Invalid: ") + (vi ? failing.messageVi : failing.messageEn)
            case .partlyUnchecked:
                self.state.headline = vi ? "Chưa kiểm tra đủ" : "Partly unchecked"
            }
            self.state.checks = v.checks.map { c in
                let reason: String?
                switch c.outcome {
                case .passed:
                    reason = nil
                case let .failed(detail), let .notChecked(detail):
                    reason = vi ? detail.messageVi : detail.messageEn
                case .notReached:
                    reason = vi ? "Chưa kiểm tra" : "Not reached"
                }
                var passed = false
                if case .passed = c.outcome { passed = true }
                return UiCheck(name: "\(c.check)", passed: passed, reason: reason)
            }
            self.state.verdict = v
            self.state.trust = v.trust
        }
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
