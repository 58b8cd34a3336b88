package vn.citizen.android.viewmodel

import vn.citizen.core.CheckOutcome
import vn.citizen.core.DocumentsClientInterface
import vn.citizen.core.ElementSelection
import vn.citizen.core.Language
import vn.citizen.core.MdocTransport
import vn.citizen.core.PresentationOutcome
import vn.citizen.core.PresentationRequestInfo
import vn.citizen.core.PresentationSessionInterface
import vn.citizen.core.TrustStatus
import vn.citizen.core.VerdictOverall
import vn.citizen.core.VerificationVerdict
import vn.citizen.core.VerifierInterface
import vn.citizen.core.VerifierRequest

/**
 * Showing a document in person (issue 13): the QR code to show, who asks and for which elements
 * (labelled in the UI language), the citizen's choice, approve with the passcode (the device
 * signature is made in the key store) or decline. One session per QR code: [start] again for a
 * new one. The BLE link is the [MdocTransport] the app's adapter provides.
 */
class PresentDocumentViewModel(
    private val documents: DocumentsClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<PresentDocumentViewModel.State>(State(), locale) {

    /** One requested element, labelled in the UI language. */
    data class UiElement(
        val selection: ElementSelection,
        val label: String,
        val intentToRetain: Boolean,
        val held: Boolean,
    )

    data class State(
        /** The QR code text to show (null: no session). */
        val qr: String? = null,
        /** Who asks: the certificate's organisation or common name, or null when anonymous. */
        val requester: String? = null,
        val request: PresentationRequestInfo? = null,
        val elements: List<UiElement> = emptyList(),
        /** The elements the citizen chose (all held ones by default). */
        val chosen: Set<ElementSelection> = emptySet(),
        val outcome: PresentationOutcome? = null,
        val declined: Boolean = false,
        val busy: Boolean = false,
        val error: UiError? = null,
    )

    private var session: PresentationSessionInterface? = null
    private val busy: (State, Boolean) -> State = { s, b -> s.copy(busy = b) }
    private val fail: (State, Throwable, UiError) -> State = { s, _, e -> s.copy(error = e) }

    /** A new session over [transport]: the QR code to show. */
    suspend fun start(transport: MdocTransport): Boolean {
        val s = attempt(busy, fail) { documents.startPresentation(transport) } ?: return false
        session = s
        update { State(qr = s.engagementQr()) }
        return true
    }

    /** Wait for the verifier's request (after it scanned the QR code). */
    suspend fun awaitRequest(): Boolean {
        val s = session ?: return false
        val r = attempt(busy, fail) { s.awaitRequest() } ?: return false
        val who = r.requester.let { if (it.authenticated) it.organisation ?: it.commonName ?: it.subject else null }
        val elements = r.elements.map {
            UiElement(
                ElementSelection(it.docType, it.namespace, it.identifier),
                if (locale == Language.VI) it.labelVi else it.labelEn,
                it.intentToRetain,
                it.held,
            )
        }
        update {
            it.copy(
                request = r,
                requester = who,
                elements = elements,
                chosen = elements.filter { e -> e.held }.map { e -> e.selection }.toSet(),
                error = null,
            )
        }
        return true
    }

    /** Include or leave out one element. */
    fun toggle(selection: ElementSelection) = update {
        it.copy(chosen = if (selection in it.chosen) it.chosen - selection else it.chosen + selection)
    }

    /** Disclose the chosen elements (passcode; the key store may prompt). */
    suspend fun approve(passcode: String): Boolean {
        val s = session ?: return false
        val chosen = current.elements.map { it.selection }.filter { it in current.chosen }
        val outcome = attempt(busy, fail) { s.approve(chosen, passcode) } ?: return false
        update { it.copy(outcome = outcome, error = null) }
        return true
    }

    /** Decline: the verifier is told, nothing is disclosed. */
    suspend fun decline(): Boolean {
        val s = session ?: return false
        attempt(busy, fail) { s.decline() } ?: return false
        update { it.copy(declined = true, error = null) }
        return true
    }
}

/**
 * The verifier mode (police, hospital, bank; no account): refresh the cached trust and status
 * lists when online, then check a presentation offline. The verdict is shown with each check;
 * "partly unchecked" is never shown as valid.
 */
class VerifierViewModel(
    private val verifier: VerifierInterface,
    locale: Language = Language.VI,
) : FlowViewModel<VerifierViewModel.State>(State(), locale) {

    /** One check, in the UI language: its outcome and, when not passed, why. */
    data class UiCheck(val name: String, val passed: Boolean, val reason: String?)

    data class State(
        val trust: TrustStatus? = null,
        val verdict: VerificationVerdict? = null,
        /** "Valid", "Invalid: …" or "Partly unchecked" in the UI language. */
        val headline: String? = null,
        val checks: List<UiCheck> = emptyList(),
        val busy: Boolean = false,
        val error: UiError? = null,
    )

    private val busy: (State, Boolean) -> State = { s, b -> s.copy(busy = b) }
    private val fail: (State, Throwable, UiError) -> State = { s, _, e -> s.copy(error = e) }
    private val vi get() = locale == Language.VI

    /** How old the cached lists are (offline). */
    suspend fun load(): Boolean {
        val t = attempt(busy, fail) { verifier.trustStatus() } ?: return false
        update { it.copy(trust = t, error = null) }
        return true
    }

    /** Fetch and cache the trust list and the status list (online). */
    suspend fun refresh(): Boolean {
        val t = attempt(busy, fail) { verifier.refreshTrust() } ?: return false
        update { it.copy(trust = t, error = null) }
        return true
    }

    /** Scan [qr], ask for [request] over [transport], and verify the answer (offline). */
    suspend fun verify(qr: String, request: VerifierRequest, transport: MdocTransport): Boolean {
        val v = attempt(busy, fail) { verifier.startSession(qr, request, transport).awaitResponse() } ?: return false
        val headline = when (val o = v.overall) {
            is VerdictOverall.Valid -> if (vi) "Hợp lệ" else "Valid"
            is VerdictOverall.Invalid ->
                (if (vi) "Không hợp lệ: " else "Invalid: ") + (if (vi) o.failing.messageVi else o.failing.messageEn)
            is VerdictOverall.PartlyUnchecked -> if (vi) "Chưa kiểm tra đủ" else "Partly unchecked"
        }
        val checks = v.checks.map { c ->
            val reason = when (val o = c.outcome) {
                is CheckOutcome.Passed -> null
                is CheckOutcome.Failed -> if (vi) o.detail.messageVi else o.detail.messageEn
                is CheckOutcome.NotChecked -> if (vi) o.detail.messageVi else o.detail.messageEn
                is CheckOutcome.NotReached -> if (vi) "Chưa kiểm tra" else "Not reached"
            }
            UiCheck(c.check.name, c.outcome is CheckOutcome.Passed, reason)
        }
        update { it.copy(verdict = v, headline = headline, checks = checks, trust = v.trust, error = null) }
        return true
    }
}
