package vn.citizen.android.viewmodel

import vn.citizen.core.CaseInfo
import vn.citizen.core.CaseStatus
import vn.citizen.core.CitizenException
import vn.citizen.core.CitizenProfile
import vn.citizen.core.Draft
import vn.citizen.core.Language
import vn.citizen.core.OutboxItem
import vn.citizen.core.OutboxState
import vn.citizen.core.ServicesClientInterface

/**
 * Propose a correction or an addition to the citizen's own register record from the profile
 * screen (issue 16 item 1, decision 50): pick the field → the value (the form key depends on the
 * field) and the reason → evidence where the field needs it → submit (signed, queued in the
 * outbox like any submission) → follow the decision. An approval refreshes the profile (the core
 * does it on [refresh]); a supplement request is answered with [answerSupplement]; a rejection
 * or a refusal by the server (e.g. `correction.unchanged`) is shown with its message.
 */
class CorrectionViewModel(
    private val services: ServicesClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<CorrectionViewModel.State>(State(), locale) {

    /** The fields a citizen may correct or add, with the form key holding their value. */
    enum class Field(val wire: String, val valueKey: String, val needsEvidence: Boolean) {
        PLACE_OF_ORIGIN("place_of_origin", "new_value", true),
        OCCUPATION("occupation", "new_value", false),
        EDUCATION("education", "new_education", true),
        BLOOD_GROUP("blood_group", "new_blood_group", true),
        CONTACT_ADDRESS("contact_address", "new_value", false),
        EMAIL("email", "new_email", false),
    }

    data class State(
        val profile: CitizenProfile? = null,
        val field: Field? = null,
        val draft: Draft? = null,
        val fieldErrors: List<UiFieldError> = emptyList(),
        /** The proposal once submitted (its state: queued, delivered, rejected). */
        val submitted: OutboxItem? = null,
        /** The proposal's case, once delivered. */
        val case: CaseInfo? = null,
        /** Why the server refused the proposal (an outbox rejection), in the UI locale. */
        val refusal: String? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    ) {
        /** The decision is in: approved (the profile shows it) or rejected. */
        val decided: Boolean get() = case?.status == CaseStatus.APPROVED || case?.status == CaseStatus.REJECTED
    }

    private fun fail(s: State, t: Throwable, e: UiError): State =
        s.copy(error = e, fieldErrors = if (t is CitizenException.InvalidInput) e.fields else s.fieldErrors)

    /** The current record (from the register when online, else the stored copy). */
    suspend fun load(): Boolean {
        val profile = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            try {
                services.refreshCatalogue()
                services.refreshProfile()
            } catch (e: CitizenException.Network) {
                services.getProfile()
            }
        } ?: return false
        update { it.copy(profile = profile, error = null) }
        return true
    }

    /** Start a proposal for [field]: a new draft of the correction procedure. */
    suspend fun start(field: Field): Boolean {
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            val d = services.createDraft(PROCEDURE)
            services.updateDraft(d.draftId, mapOf("field" to field.wire))
        } ?: return false
        update { it.copy(field = field, draft = draft, fieldErrors = emptyList(), submitted = null, case = null, refusal = null) }
        return true
    }

    /** The proposed value and the citizen's reason, saved in one write. */
    suspend fun describe(value: String, reason: String): Boolean {
        val draftId = current.draft?.draftId ?: return false
        val field = current.field ?: return false
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            services.updateDraft(draftId, mapOf(field.valueKey to value, "reason" to reason))
        } ?: return false
        update { it.copy(draft = draft, fieldErrors = emptyList(), error = null) }
        return true
    }

    /** Attach the evidence (a scan or photo the citizen picked). */
    suspend fun attachEvidence(fileName: String, mimeType: String, data: ByteArray): Boolean {
        val draftId = current.draft?.draftId ?: return false
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            services.attachBytes(draftId, "evidence", fileName, mimeType, data)
        } ?: return false
        update { s -> s.copy(draft = draft, fieldErrors = s.fieldErrors.filterNot { it.field == "evidence" }, error = null) }
        return true
    }

    /** Check offline (value, reason, evidence where needed), then sign, queue and try to send. */
    suspend fun submit(passcode: String): Boolean {
        val draftId = current.draft?.draftId ?: return false
        val problems = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.validateDraft(draftId) } ?: return false
        if (problems.isNotEmpty()) {
            update { it.copy(fieldErrors = problems.map { p -> p.toUi(locale) }) }
            return false
        }
        val item = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.submitDraft(draftId, passcode) } ?: return false
        update { it.copy(submitted = item, error = null) }
        refresh()
        return true
    }

    /**
     * Deliver what waits, fetch case updates (the core refreshes the profile after an approved
     * correction) and reload the proposal's state, its case and the profile.
     */
    suspend fun refresh(): Boolean {
        val ok = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            services.syncOutbox()
            try {
                services.syncCases()
            } catch (e: CitizenException.Network) {
                // Offline: the outbox state below says what waits.
            }
        } != null
        val submitted = current.submitted?.let { sub -> services.listOutbox().firstOrNull { it.submissionId == sub.submissionId } }
        val case = submitted?.caseNumber?.let { n -> services.listCases().firstOrNull { it.caseNumber == n } }
        val profile = runCatching { services.getProfile() }.getOrNull()
        update { s ->
            s.copy(
                submitted = submitted ?: s.submitted,
                case = case ?: s.case,
                profile = profile ?: s.profile,
                refusal = submitted?.takeIf { it.state == OutboxState.REJECTED }?.lastError?.message(locale),
            )
        }
        return ok
    }

    /** Answer an official's supplement request with more evidence, then send it. */
    suspend fun answerSupplement(fileName: String, mimeType: String, data: ByteArray, passcode: String): Boolean {
        val caseNumber = current.case?.caseNumber ?: return false
        val draft = attempt({ s, b -> s.copy(busy = b) }, ::fail) {
            val d = services.createSupplementDraft(caseNumber)
            services.attachBytes(d.draftId, "evidence", fileName, mimeType, data)
        } ?: return false
        update { it.copy(draft = draft) }
        val item = attempt({ s, b -> s.copy(busy = b) }, ::fail) { services.submitDraft(draft.draftId, passcode) } ?: return false
        update { it.copy(error = null) }
        refresh()
        return item.state != OutboxState.REJECTED
    }

    companion object {
        /** The correction procedure's id in the catalogue. */
        const val PROCEDURE = "register-correction"
    }
}
