package vn.citizen.android.viewmodel

import vn.citizen.core.ActivityAnchor
import vn.citizen.core.ActivityEntry
import vn.citizen.core.ActivityLogReport
import vn.citizen.core.ActivityClientInterface
import vn.citizen.core.ConsentClientInterface
import vn.citizen.core.LoginApproval
import vn.citizen.core.LoginRequestInfo
import vn.citizen.core.Language
import vn.citizen.core.ReceiptInfo
import vn.citizen.core.ShareOutcome
import vn.citizen.core.ShareRequestInfo

/**
 * QR login to a web portal: scan (the core checks the frame, the relying party's signature and
 * origin before anything is shown) → the verified portal, the claims it asks for and three
 * verification codes → the citizen picks the code the portal shows and approves with the
 * passcode (a signed consent receipt), or denies.
 */
class QrLoginViewModel(
    private val consent: ConsentClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<QrLoginViewModel.State>(State(), locale) {

    enum class Stage { SCANNING, REVIEW, APPROVED, DENIED }

    data class State(
        val stage: Stage = Stage.SCANNING,
        val request: LoginRequestInfo? = null,
        /** The code the citizen picked among [LoginRequestInfo.codeChoices]. */
        val chosenCode: String? = null,
        val approval: LoginApproval? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    ) {
        /** The portal's name in the UI locale (verified against the signed registry). */
        fun relyingPartyName(locale: Language): String? =
            request?.let { if (locale == Language.VI) it.relyingPartyNameVi else it.relyingPartyNameEn }

        /**
         * After a same-device approval: the relying party's redirect (carrying the ID token) to
         * open in the browser, if it may be opened ([DeepLink.browserRedirect]: https, or
         * loopback http when [allowLoopbackHttp], i.e. in debug builds). Null for a QR code
         * approved for another screen, which has no redirect.
         */
        fun redirectToOpen(allowLoopbackHttp: Boolean): String? =
            if (stage == Stage.APPROVED) DeepLink.browserRedirect(approval?.redirectUrl, allowLoopbackHttp) else null
    }

    /**
     * A frame from the scanner (the text of the QR code). While a request is under review,
     * further frames of the animated code are ignored.
     */
    suspend fun scan(frame: String): Boolean {
        if (current.stage == Stage.REVIEW || current.busy) return false
        val request = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { consent.scanLoginCode(frame) }
            ?: return false
        update { it.copy(stage = Stage.REVIEW, request = request, chosenCode = null, approval = null, error = null) }
        return true
    }

    /**
     * A same-device login link `citizenid://login?p=<frame>` (the app was opened with it; see
     * [DeepLink]) instead of a scanned code: the core's `openLoginLink` makes the same checks as
     * for a scan. Replaces whatever was on this flow; then [chooseCode] and [approve] as for a
     * scan, and [State.redirectToOpen] sends the citizen back to the relying party.
     */
    suspend fun openLink(url: String): Boolean {
        if (current.busy) return false
        reset()
        val request = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { consent.openLoginLink(url) }
            ?: return false
        update { it.copy(stage = Stage.REVIEW, request = request, chosenCode = null, approval = null, error = null) }
        return true
    }

    fun chooseCode(code: String) = update { it.copy(chosenCode = code) }

    /** Approve with the chosen code and the passcode. A wrong code is refused by the server. */
    suspend fun approve(passcode: String): Boolean {
        val request = current.request ?: return false
        val code = current.chosenCode ?: return false
        val approval = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) {
            consent.approveLogin(request.sessionId, code, passcode)
        } ?: return false
        update { it.copy(stage = Stage.APPROVED, approval = approval, error = null) }
        return true
    }

    suspend fun deny(): Boolean {
        val request = current.request ?: return false
        attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { consent.denyLogin(request.sessionId) }
            ?: return false
        update { it.copy(stage = Stage.DENIED, error = null) }
        return true
    }

    /** Back to the scanner. */
    fun reset() = update { State() }
}

/**
 * Consent-based data sharing (eKYC): open a relying party's signed request → required claims
 * (always shared) and optional ones the citizen picks → share with the passcode (a selective
 * SD-JWT presentation bound to the device key, and a countersigned receipt).
 */
class ShareViewModel(
    private val consent: ConsentClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<ShareViewModel.State>(State(), locale) {

    data class State(
        val request: ShareRequestInfo? = null,
        /** Optional claims the citizen picked (none by default). */
        val selectedOptional: Set<String> = emptySet(),
        val outcome: ShareOutcome? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    )

    /** A relying party's request: the JWS itself or a `citizenid://share?request=<jws>` link. */
    suspend fun open(request: String): Boolean {
        if (current.busy) return false
        reset()
        val info = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { consent.openShareRequest(request) }
            ?: return false
        update { State(request = info) }
        return true
    }

    fun toggleOptional(claim: String) = update { s ->
        if (s.request?.optional?.none { it.name == claim } != false) return@update s
        s.copy(selectedOptional = if (claim in s.selectedOptional) s.selectedOptional - claim else s.selectedOptional + claim)
    }

    suspend fun share(passcode: String): Boolean {
        val request = current.request ?: return false
        // In the request's order, and only claims it offers (as the iOS twin).
        val picked = request.optional.map { it.name }.filter { it in current.selectedOptional }
        val outcome = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) {
            consent.shareData(request.requestId, picked, passcode)
        } ?: return false
        update { it.copy(outcome = outcome, error = null) }
        return true
    }

    fun reset() = update { State() }
}

/**
 * The citizen's activity log (every use of the identity, hash-chained, signed by the device key
 * and anchored at the server) and consent receipts (QR logins, data shares).
 */
class ActivityViewModel(
    private val activity: ActivityClientInterface,
    private val consent: ConsentClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<ActivityViewModel.State>(State(), locale) {

    data class State(
        /** Newest first. */
        val entries: List<ActivityEntry> = emptyList(),
        val receipts: List<ReceiptInfo> = emptyList(),
        val report: ActivityLogReport? = null,
        val lastAnchor: ActivityAnchor? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    )

    suspend fun refresh(): Boolean {
        val loaded = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) {
            activity.listEntries().sortedByDescending { it.seq } to consent.listReceipts()
        } ?: return false
        update { it.copy(entries = loaded.first, receipts = loaded.second, error = null) }
        return true
    }

    /** Check the chain, signatures and anchors locally. */
    suspend fun verify(): Boolean {
        val report = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) {
            activity.verify()
        } ?: return false
        update { it.copy(report = report) }
        return report.intact
    }

    /** Anchor the log's head at the server now (also done on every case sync). */
    suspend fun anchor(): Boolean {
        val anchored = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) {
            listOf(activity.anchor())
        } ?: return false
        update { s -> s.copy(lastAnchor = anchored.single() ?: s.lastAnchor, error = null) }
        return true
    }

    /** The receipts as a JSON document the citizen can keep or hand over (verifiable offline). */
    suspend fun exportReceipts(): String? =
        attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { consent.exportReceipts() }

    /** The activity log as a JSON document (verifiable with `citizen log verify --file`). */
    suspend fun exportLog(): String? =
        attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { activity.export() }
}
