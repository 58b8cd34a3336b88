package vn.citizen.android.viewmodel

import vn.citizen.core.CaseInfo
import vn.citizen.core.ServicesClientInterface
import vn.citizen.core.Draft
import vn.citizen.core.Language
import vn.citizen.core.OutboxItem
import vn.citizen.core.OutboxSyncReport
import vn.citizen.core.Procedure
import vn.citizen.core.CitizenException

/**
 * Public services: catalogue → a draft auto-filled (and locked) from the population register →
 * the citizen fills the rest → offline validation → submit (signed, queued in the durable
 * outbox) → delivery → case status. Works offline from the catalogue download on: a submission
 * made without network is delivered by a later [sync].
 */
class ServicesViewModel(
    private val services: ServicesClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<ServicesViewModel.State>(State(), locale) {

    data class State(
        val procedures: List<Procedure> = emptyList(),
        /** The procedure of the open draft (its form: fields, options, rules). */
        val procedure: Procedure? = null,
        val draft: Draft? = null,
        /** Validation problems of the open draft, by field path. */
        val fieldErrors: List<UiFieldError> = emptyList(),
        /** The item the last [submit] queued. */
        val submitted: OutboxItem? = null,
        val outbox: List<OutboxItem> = emptyList(),
        val cases: List<CaseInfo> = emptyList(),
        val lastSync: OutboxSyncReport? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    ) {
        fun fieldError(path: String): UiFieldError? = fieldErrors.firstOrNull { it.field == path }
    }

    private fun fail(s: State, t: Throwable, e: UiError): State =
        s.copy(error = e, fieldErrors = if (t is CitizenException.InvalidInput) e.fields else s.fieldErrors)

    /**
     * Refresh the catalogue (conditional download) and the citizen's register record, which
     * auto-fill needs; offline, the stored catalogue is shown and the error kept in the state.
     */
    suspend fun loadCatalogue(): Boolean {
        val ok = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            services.refreshCatalogue()
            services.refreshProfile()
        } != null
        val procedures = services.listProcedures()
        update { it.copy(procedures = procedures, error = if (ok) null else it.error) }
        return ok
    }

    /** Start a new draft of [procedureId], auto-filled from the register. */
    suspend fun open(procedureId: String): Boolean {
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.createDraft(procedureId) } ?: return false
        val procedure = current.procedures.firstOrNull { it.id == procedureId }
            ?: services.listProcedures().firstOrNull { it.id == procedureId }
        update { it.copy(procedure = procedure, draft = draft, fieldErrors = emptyList(), submitted = null, error = null) }
        return true
    }

    /** Reopen a stored draft (drafts survive app restarts). */
    suspend fun resume(draftId: String): Boolean {
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.getDraft(draftId) } ?: return false
        val procedure = services.listProcedures().firstOrNull { it.id == draft.procedureId }
        update { it.copy(procedure = procedure, draft = draft, fieldErrors = emptyList(), error = null) }
        return true
    }

    /**
     * Save the citizen's edits in one write (`path` as the core names it, e.g. `reason` or
     * `guests.0.cccd`): call it when the citizen leaves the form or checks it, not per keystroke.
     * All or nothing: a locked (register) field or an unknown path is refused with a field error
     * and the draft keeps its values.
     */
    suspend fun updateFields(values: Map<String, String>): Boolean {
        val draftId = current.draft?.draftId ?: return false
        if (values.isEmpty()) return true
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.updateDraft(draftId, values) }
            ?: return false
        update { s -> s.copy(draft = draft, fieldErrors = s.fieldErrors.filterNot { it.field in values }, error = null) }
        return true
    }

    /** Add an item to a repeating group (e.g. one more guest); returns its index. */
    suspend fun addGroupItem(group: String): Int? {
        val draftId = current.draft?.draftId ?: return null
        val index = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.addGroupItem(draftId, group) } ?: return null
        val draft = services.getDraft(draftId)
        update { it.copy(draft = draft) }
        return index
    }

    /** Validate the whole draft offline; true when it can be submitted. */
    suspend fun validate(): Boolean {
        val draftId = current.draft?.draftId ?: return false
        val problems = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.validateDraft(draftId) } ?: return false
        update { it.copy(fieldErrors = problems.map { p -> p.toUi(locale) }) }
        return problems.isEmpty()
    }

    /**
     * Sign and queue the draft (the passcode authorises the signature), then try to deliver at
     * once. Queued is success: without network the item waits in the outbox for [sync].
     */
    suspend fun submit(passcode: String): Boolean {
        val draftId = current.draft?.draftId ?: return false
        if (!validate()) return false
        val item = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.submitDraft(draftId, passcode) } ?: return false
        val draft = services.getDraft(draftId)
        update { it.copy(submitted = item, draft = draft, error = null) }
        sync()
        return true
    }

    /**
     * Deliver what the outbox holds and fetch case updates; the outbox and case lists are
     * reloaded from the core either way (they are local).
     */
    suspend fun sync(): Boolean {
        val report = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            val report = services.syncOutbox()
            try {
                services.syncCases()
            } catch (e: CitizenException.Network) {
                // Offline: the delivery report below already says so.
            }
            report
        }
        val (outbox, cases) = services.listOutbox() to services.listCases()
        update { s ->
            s.copy(
                lastSync = report ?: s.lastSync,
                outbox = outbox,
                cases = cases,
                submitted = s.submitted?.let { sub -> outbox.firstOrNull { it.submissionId == sub.submissionId } ?: sub },
            )
        }
        return report != null
    }

    /** Close the form (the draft stays stored until deleted). */
    fun close() = update { it.copy(procedure = null, draft = null, fieldErrors = emptyList(), error = null) }
}
