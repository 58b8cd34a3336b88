import CitizenCore
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
        var error: UiError?

        func errors(for path: String) -> [FieldError] {
            fieldErrors.filter { $0.field == path }
        }
    }

    @Published private(set) var state = UiState()
    let events = AppEvents()
    private let core: CitizenCoreProtocol

    init(core: CitizenCoreProtocol) {
        self.core = core
        // The Task takes its own weak capture: reading the outer closure's `self` (a captured
        // var) inside the Task is an error since Swift 5.10.
        core.setOutboxObserver(observer: OutboxForwarder { [weak self] item in
            Task { @MainActor [weak self] in self?.outboxChanged(item) }
        })
    }

    deinit {
        core.clearOutboxObserver()
    }

    // MARK: Catalogue and cases

    /// The cached catalogue at once, then a refresh from the server (conditional request).
    func loadCatalogue() async {
        perform { try self.reloadLocal() }
        await run {
            if try await self.core.refreshCatalogue() {
                self.state.procedures = try self.core.procedures()
            }
        }
    }

    /// Deliver what is queued and fetch new case events.
    func sync() async {
        await run {
            _ = try await self.core.syncOutbox()
            _ = try await self.core.syncCases()
            try self.reloadLocal()
        }
    }

    // MARK: Form

    func open(procedureId: String) {
        perform {
            let draft = try self.core.createDraft(procedureId: procedureId)
            self.state.procedure = self.state.procedures.first { $0.id == procedureId }
            self.state.draft = draft
            self.state.fieldErrors = []
            self.state.submitted = nil
        }
    }

    /// Answer a supplement request of a case: a new draft with the original values.
    func supplement(_ caseInfo: CaseInfo) {
        perform {
            let draft = try self.core.createSupplementDraft(caseNumber: caseInfo.caseNumber)
            self.state.procedure = try self.core.procedures().first { $0.id == draft.procedureId }
            self.state.draft = draft
            self.state.fieldErrors = []
            self.state.submitted = nil
        }
    }

    /// `path` = `key` or `group.<index>.<key>`; an empty value clears the field.
    func setField(_ path: String, value: String) {
        guard let draft = state.draft else { return }
        perform {
            self.state.draft = try self.core.setField(draftId: draft.draftId, path: path, value: value)
            self.state.fieldErrors.removeAll { $0.field == path }
        }
    }

    func addGroupItem(_ group: String) {
        guard let draft = state.draft else { return }
        perform {
            _ = try self.core.addGroupItem(draftId: draft.draftId, group: group)
            self.state.draft = try self.core.draft(draftId: draft.draftId)
        }
    }

    func removeGroupItem(_ group: String, index: UInt32) {
        guard let draft = state.draft else { return }
        perform { self.state.draft = try self.core.removeGroupItem(draftId: draft.draftId, group: group, index: index) }
    }

    func attach(key: String, fileName: String, mimeType: String, data: Data) {
        guard let draft = state.draft else { return }
        perform {
            self.state.draft = try self.core.attachBytes(
                draftId: draft.draftId, key: key, fileName: fileName, mimeType: mimeType, data: data)
            self.state.fieldErrors.removeAll { $0.field == key }
        }
    }

    func removeAttachment(key: String) {
        guard let draft = state.draft else { return }
        perform { self.state.draft = try self.core.removeAttachment(draftId: draft.draftId, key: key) }
    }

    /// Every field error at once; true when the form can be submitted.
    @discardableResult
    func validate() -> Bool {
        guard let draft = state.draft else { return false }
        var valid = false
        perform {
            self.state.fieldErrors = try self.core.validateDraft(draftId: draft.draftId)
            valid = self.state.fieldErrors.isEmpty
        }
        return valid
    }

    /// Confirm with the passcode, sign with the device key, queue in the outbox. Returns at once,
    /// even offline; the outbox observer reports the delivery.
    func submit(passcode: String) async {
        guard let draft = state.draft, validate() else { return }
        await run {
            self.state.submitted = try await self.core.submitDraft(draftId: draft.draftId, passcode: passcode)
            self.state.draft = nil
            try self.reloadLocal()
        }
    }

    func close() {
        state.procedure = nil
        state.draft = nil
        state.fieldErrors = []
    }

    // MARK: Internals

    private func reloadLocal() throws {
        state.procedures = try core.procedures()
        state.outbox = try core.outbox()
        state.cases = try core.cases()
    }

    private func outboxChanged(_ item: OutboxItem) {
        if let index = state.outbox.firstIndex(where: { $0.submissionId == item.submissionId }) {
            state.outbox[index] = item
        } else {
            state.outbox.append(item)
        }
        if state.submitted?.submissionId == item.submissionId {
            state.submitted = item
        }
        if item.state == .delivered, let cases = try? core.cases() {
            state.cases = cases
        }
    }

    private func perform(_ action: () throws -> Void) {
        do {
            try action()
            state.error = nil
        } catch {
            fail(error)
        }
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

/// The core's `OutboxObserver`: called on a background thread; forwards to the view model.
final class OutboxForwarder: OutboxObserver {
    private let onItem: @Sendable (OutboxItem) -> Void

    init(_ onItem: @escaping @Sendable (OutboxItem) -> Void) {
        self.onItem = onItem
    }

    func onOutboxItem(item: OutboxItem) throws {
        onItem(item)
    }
}
