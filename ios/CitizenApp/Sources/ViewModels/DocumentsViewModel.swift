import CitizenCore
import Foundation

/// The documents wallet (issue 13): the held documents (CCCD, driving licence, health
/// insurance, vehicle registration), fetched and checked by `refresh`, listed offline, one opened
/// with its fields labelled in the app's language and its portrait, deleted from this device. A
/// failed refresh (offline, logged out, a document refused) keeps the held list and shows the
/// error. Mirrors the Kotlin `DocumentsViewModel`.
@MainActor
final class DocumentsViewModel: ObservableObject {
    /// One field of the open document, labelled in the app's language.
    struct UiField: Equatable, Identifiable {
        let identifier: String
        let label: String
        let value: String
        var id: String { identifier }
    }

    struct UiState: Equatable {
        var busy = false
        var documents: [DocumentSummary] = []
        /// The open document (nil: the list is shown).
        var detail: DocumentDetail?
        /// The open document's fields, labelled in the app's language.
        var fields: [UiField] = []
        /// When the trust list the held documents were checked against was fetched.
        var trustListFetchedAt: Date?
        var error: UiError?

        /// The open document's portrait (JPEG bytes), if it has one.
        var portrait: Data? { detail?.portrait }
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let documents: DocumentsClientProtocol

    /// Every call of `documents` is `async` and runs on the core's runtime (main-safe), so this
    /// `@MainActor` model calls it directly.
    init(documents: DocumentsClientProtocol) {
        self.documents = documents
    }

    /// A document's name in the app's language.
    func title(_ summary: DocumentSummary) -> String {
        AppLocale.isVietnamese ? summary.titleVi : summary.titleEn
    }

    /// The held documents (offline, never prompts).
    func load() async {
        await run {
            self.state.documents = try await self.documents.list()
            self.state.trustListFetchedAt = try await self.documents.trustListFetchedAt()
        }
    }

    /// Fetch the citizen's documents from the server (signed with the device key: may prompt),
    /// checked before anything is stored. On failure the held list stays and the error is shown.
    func refresh() async {
        await run {
            let listed = try await self.documents.refresh()
            let fetchedAt = try await self.documents.trustListFetchedAt()
            self.state.documents = listed
            self.state.trustListFetchedAt = fetchedAt
            // The refreshed set replaces the held one: an open document that is gone closes.
            if let open = self.state.detail?.summary.id, !listed.contains(where: { $0.id == open }) {
                self.close()
            }
        }
    }

    /// Open one held document: its fields labelled in the app's language and its portrait.
    func open(id: String) async {
        await run {
            let detail = try await self.documents.get(id: id)
            let vietnamese = AppLocale.isVietnamese
            self.state.detail = detail
            self.state.fields = detail.fields.map {
                UiField(identifier: $0.identifier, label: vietnamese ? $0.labelVi : $0.labelEn, value: $0.value)
            }
        }
    }

    /// Back to the list.
    func close() {
        state.detail = nil
        state.fields = []
        state.error = nil
    }

    /// Delete a held document from this device (`refresh` fetches it again).
    func delete(id: String) async {
        await run {
            try await self.documents.delete(id: id)
            self.state.documents = try await self.documents.list()
            if self.state.detail?.summary.id == id {
                self.close()
            }
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
