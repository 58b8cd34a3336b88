import CitizenCore
import CitizenCoreKit
import Foundation

/// Public services: catalogue → draft auto-filled from the register → set fields → validate →
/// submit (durable outbox, works offline) → delivery and case status. Mirrors the Kotlin
/// `ServicesViewModel`.
@MainActor
final class ServicesViewModel: ObservableObject {
    struct UiState: Equatable {
        var busy = false
        var procedures: [Procedure] = []
        /// The open form.
        var procedure: Procedure?
        var draft: Draft?
        var fieldErrors: [FieldError] = []
        /// The last submission, updated as the outbox delivers it.
        var submitted: OutboxItem?
        var outbox: [OutboxItem] = []
        var cases: [CaseInfo] = []
        /// The citizen's edits of the open draft not saved yet (by path): saved in one
        /// `updateDraft` when the form is checked, submitted or closed, not one write per keystroke.
        var edits: [String: String] = [:]
        var error: UiError?

        /// A field's value as the form shows it: the pending edit, else the stored value.
        func value(_ path: String) -> String {
            edits[path] ?? draft?.values[path] ?? ""
        }

        func errors(for path: String) -> [FieldError] {
            fieldErrors.filter { $0.field == path }
        }
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let services: ServicesClientProtocol

    /// Every call of `services` is `async` and runs on the core's runtime (main-safe), so this
    /// `@MainActor` model calls it directly.
    init(services: ServicesClientProtocol) {
        self.services = services
        // The outbox as a stream (CitizenCoreKit): the current items first, then every change in
        // order, on the main actor; the task ends with the core (or with this model).
        let updates = services.outboxUpdates()
        outboxTask = Task { @MainActor [weak self] in
            for await items in updates {
                self?.outboxChanged(items)
            }
        }
    }

    private var outboxTask: Task<Void, Never>?

    deinit {
        outboxTask?.cancel()
    }

    // MARK: Catalogue and cases

    /// The cached catalogue at once, then a refresh from the server (conditional request).
    func loadCatalogue() async {
        await run { try await self.reloadLocal() }
        await run {
            if try await self.services.refreshCatalogue() {
                self.state.procedures = try await self.services.listProcedures()
            }
        }
    }

    /// Deliver what is queued and fetch new case events.
    func sync() async {
        await run {
            _ = try await self.services.syncOutbox()
            _ = try await self.services.syncCases()
            try await self.reloadLocal()
        }
    }

    // MARK: Form

    func open(procedureId: String) {
        perform {
            let draft = try await self.services.createDraft(procedureId: procedureId)
            self.state.edits = [:]
            self.state.procedure = self.state.procedures.first { $0.id == procedureId }
            self.state.draft = draft
            self.state.fieldErrors = []
            self.state.submitted = nil
        }
    }

    /// Answer a supplement request of a case: a new draft with the original values.
    func supplement(_ caseInfo: CaseInfo) {
        perform {
            let draft = try await self.services.createSupplementDraft(caseNumber: caseInfo.caseNumber)
            self.state.edits = [:]
            self.state.procedure = try await self.services.listProcedures().first { $0.id == draft.procedureId }
            self.state.draft = draft
            self.state.fieldErrors = []
            self.state.submitted = nil
        }
    }

    /// `path` = `key` or `group.<index>.<key>`; an empty value clears the field. Kept as a
    /// pending edit (no write per keystroke); `saveEdits` stores them all in one `updateDraft`.
    func setField(_ path: String, value: String) {
        guard state.draft != nil else { return }
        state.edits[path] = value
        state.fieldErrors.removeAll { $0.field == path }
    }

    func addGroupItem(_ group: String) {
        guard let draft = state.draft else { return }
        perform {
            try await self.saveEdits()
            _ = try await self.services.addGroupItem(draftId: draft.draftId, group: group)
            self.state.draft = try await self.services.getDraft(draftId: draft.draftId)
        }
    }

    func removeGroupItem(_ group: String, index: Int32) {
        guard let draft = state.draft else { return }
        perform {
            try await self.saveEdits()
            self.state.draft = try await self.services.removeGroupItem(draftId: draft.draftId, group: group, index: index)
        }
    }

    func attach(key: String, fileName: String, mimeType: String, data: Data) {
        guard let draft = state.draft else { return }
        perform {
            self.state.draft = try await self.services.attachBytes(
                draftId: draft.draftId, key: key, fileName: fileName, mimeType: mimeType, data: data)
            self.state.fieldErrors.removeAll { $0.field == key }
        }
    }

    func removeAttachment(key: String) {
        guard let draft = state.draft else { return }
        perform { self.state.draft = try await self.services.removeAttachment(draftId: draft.draftId, key: key) }
    }

    /// Save the pending edits, then every field error at once; true when the form can be submitted.
    @discardableResult
    func validate() async -> Bool {
        guard let draft = state.draft else { return false }
        var valid = false
        await run {
            try await self.saveEdits()
            self.state.fieldErrors = try await self.services.validateDraft(draftId: draft.draftId)
            valid = self.state.fieldErrors.isEmpty
        }
        return valid
    }

    /// Confirm with the passcode, sign with the device key, queue in the outbox. Returns at once,
    /// even offline; the outbox observer reports the delivery.
    func submit(passcode: String) async {
        guard let draft = state.draft, await validate() else { return }
        await run {
            self.state.submitted = try await self.services.submitDraft(draftId: draft.draftId, passcode: passcode)
            self.state.draft = nil
            try await self.reloadLocal()
        }
    }

    /// Close the form; pending edits are saved first (the draft stays stored until deleted).
    func close() {
        perform {
            try await self.saveEdits()
            self.state.procedure = nil
            self.state.draft = nil
            self.state.fieldErrors = []
        }
    }

    // MARK: Internals

    /// Store the pending edits in one write (all or nothing: a refused field keeps every edit
    /// pending and shows its error). Edits typed while the write runs stay pending.
    private func saveEdits() async throws {
        guard let draft = state.draft, !state.edits.isEmpty else { return }
        let edits = state.edits
        state.draft = try await services.updateDraft(draftId: draft.draftId, values: edits)
        for (path, value) in edits where state.edits[path] == value {
            state.edits[path] = nil
        }
    }

    private func reloadLocal() async throws {
        state.procedures = try await services.listProcedures()
        state.outbox = try await services.listOutbox()
        state.cases = try await services.listCases()
    }

    private func outboxChanged(_ items: [OutboxItem]) {
        let delivered = items.contains { item in
            item.state == .delivered && state.outbox.first { $0.submissionId == item.submissionId }?.state != .delivered
        }
        state.outbox = items
        if let submitted = state.submitted, let item = items.first(where: { $0.submissionId == submitted.submissionId }) {
            state.submitted = item
        }
        if delivered {
            Task { [weak self] in
                guard let self, let cases = try? await self.services.listCases() else { return }
                self.state.cases = cases
            }
        }
    }

    /// Run a UI action's core calls in a task (the core does the work on its own runtime).
    private func perform(_ action: @escaping @MainActor () async throws -> Void) {
        Task { await self.run(action) }
    }

    private func run(_ action: () async throws -> Void) async {
        state.busy = true
        defer { state.busy = false }
        do {
            try await action()
            state.error = nil
        } catch {
            fail(error)
        }
    }

    private func fail(_ error: Error) {
        let failure = CoreFailure(error)
        if !failure.fields.isEmpty {
            state.fieldErrors = failure.fields
        }
        state.error = failure.uiError
        events.send(.failure(failure))
    }
}
