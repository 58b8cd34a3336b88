import CitizenCore
import Foundation

/// The activity log (verifiable, anchored at the server) and the consent receipts. Mirrors the
/// Kotlin `ActivityViewModel`.
@MainActor
final class ActivityViewModel: ObservableObject {
    struct UiState: Equatable {
        var busy = false
        /// Newest first for display (the core returns oldest first).
        var entries: [ActivityEntry] = []
        var receipts: [ReceiptInfo] = []
        var report: ActivityLogReport?
        var lastAnchor: ActivityAnchor?
        /// The log as JSON anyone can verify (`verifyActivityLogExport`), for the share sheet.
        var logExport: String?
        /// The receipts as JSON anyone can verify (`verifyReceiptExport`), for the share sheet.
        var receiptsExport: String?
        var error: UiError?
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let activity: ActivityClientProtocol
    private let consent: ConsentClientProtocol

    init(activity: ActivityClientProtocol, consent: ConsentClientProtocol) {
        self.activity = activity
        self.consent = consent
    }

    func refresh() {
        perform {
            self.state.entries = try await self.activity.listEntries().reversed()
            self.state.receipts = try await self.consent.listReceipts()
            self.state.logExport = try await self.activity.export()
            self.state.receiptsExport = self.state.receipts.isEmpty ? nil : try await self.consent.exportReceipts()
        }
    }

    /// Hashes, links, counters, device signatures and server anchors, checked on the device.
    func verify() {
        perform { self.state.report = try await self.activity.verify() }
    }

    /// Anchor the head of the log at the server now.
    func anchor() async {
        state.busy = true
        defer { state.busy = false }
        do {
            // Nil when there was nothing new to anchor: keep the last one (as the Kotlin twin).
            if let anchor = try await activity.anchor() {
                state.lastAnchor = anchor
            }
            state.error = nil
            refresh()
        } catch {
            report(error)
        }
    }

    /// Run a UI action's core calls in a task (the core does the work on its own runtime).
    private func perform(_ action: @escaping @MainActor () async throws -> Void) {
        Task {
            do {
                try await action()
                self.state.error = nil
            } catch {
                self.report(error)
            }
        }
    }

    private func report(_ error: Error) {
        let failure = CoreFailure(error)
        state.error = failure.uiError
        events.send(.failure(failure))
    }
}
