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
    private let core: CitizenCoreProtocol

    init(core: CitizenCoreProtocol) {
        self.core = core
    }

    func refresh() {
        perform {
            self.state.entries = try self.core.activityLog().reversed()
            self.state.receipts = try self.core.listReceipts()
            self.state.logExport = try self.core.exportActivityLog()
            self.state.receiptsExport = try self.state.receipts.isEmpty ? nil : self.core.exportReceipts()
        }
    }

    /// Hashes, links, counters, device signatures and server anchors, checked on the device.
    func verify() {
        perform { self.state.report = try self.core.verifyActivityLog() }
    }

    /// Anchor the head of the log at the server now.
    func anchor() async {
        state.busy = true
        defer { state.busy = false }
        do {
            // Nil when there was nothing new to anchor: keep the last one (as the Kotlin twin).
            if let anchor = try await core.anchorActivityLog() {
                state.lastAnchor = anchor
            }
            state.error = nil
            refresh()
        } catch {
            report(error)
        }
    }

    private func perform(_ action: () throws -> Void) {
        do {
            try action()
            state.error = nil
        } catch {
            report(error)
        }
    }

    private func report(_ error: Error) {
        let failure = CoreFailure(error)
        state.error = failure.uiError
        events.send(.failure(failure))
    }
}
