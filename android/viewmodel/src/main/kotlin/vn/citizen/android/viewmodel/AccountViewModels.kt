package vn.citizen.android.viewmodel

import vn.citizen.core.CitizenException
import vn.citizen.core.AccountClientInterface
import vn.citizen.core.CitizenCoreInterface
import vn.citizen.core.CoreStatus
import vn.citizen.core.DeviceInfo
import vn.citizen.core.EnrollmentInput
import vn.citizen.core.EnrollmentOutcome
import vn.citizen.core.EnrollmentTicket
import vn.citizen.core.KeyOptions
import vn.citizen.core.Language
import vn.citizen.core.PasscodeStatus
import vn.citizen.core.SessionInfo
import java.time.Duration
import java.time.Instant

/**
 * Enrollment: citizen details (CCCD, date of birth, phone) → OTP sent to the registered phone →
 * a new 6-digit passcode → the device key is created (in the phone's secure hardware, with
 * [keyOptions] bound to this enrollment by [keyOptionsFor]) and registered.
 */
class EnrollmentViewModel(
    private val account: AccountClientInterface,
    private val keyOptions: KeyOptions,
    locale: Language = Language.VI,
) : FlowViewModel<EnrollmentViewModel.State>(State(), locale) {

    enum class Step { DETAILS, OTP, PASSCODE, DONE }

    data class State(
        val step: Step = Step.DETAILS,
        val input: EnrollmentInput? = null,
        /** After [start]: where the OTP went (masked) and whether another phone is active. */
        val ticket: EnrollmentTicket? = null,
        val otp: String = "",
        val outcome: EnrollmentOutcome? = null,
        val busy: Boolean = false,
        val error: UiError? = null,
    )

    private fun State.busy(b: Boolean) = copy(busy = b)

    /** Check the details offline, then ask the server to send the OTP. */
    suspend fun start(input: EnrollmentInput): Boolean {
        val local = account.validateEnrollment(input)
        if (local.isNotEmpty()) {
            update { it.copy(input = input, error = invalidInput(local.map { f -> f.toUi(locale) })) }
            return false
        }
        val ticket = attempt({ s, b -> s.busy(b) }, { s, _, e -> s.copy(error = e) }) {
            account.startEnrollment(input)
        } ?: return false
        update { it.copy(step = Step.OTP, input = input, ticket = ticket, otp = "", error = null) }
        return true
    }

    /** Send a new OTP for the same details. */
    suspend fun resendOtp(): Boolean = current.input?.let { start(it) } ?: false

    /** The OTP the citizen typed; checked by the server together with the passcode in [complete]. */
    fun enterOtp(otp: String): Boolean {
        val trimmed = otp.trim()
        if (trimmed.length != 6 || !trimmed.all { it in '0'..'9' }) {
            update { it.copy(error = localError("otp.format", "Mã OTP phải gồm 6 chữ số.", "The OTP must be 6 digits.")) }
            return false
        }
        update { it.copy(step = Step.PASSCODE, otp = trimmed, error = null) }
        return true
    }

    /** Set the passcode (typed twice) and finish: creates and registers the device key. */
    suspend fun complete(passcode: String, confirmation: String): Boolean {
        if (passcode != confirmation) {
            update {
                it.copy(error = localError("passcode.mismatch", "Hai mã khóa không khớp.", "The two passcodes do not match."))
            }
            return false
        }
        val ticket = current.ticket ?: run {
            // No OTP was asked for in this flow (e.g. the app was restarted): start again.
            update {
                it.copy(
                    step = Step.DETAILS,
                    error = localError("enrollment.not_started", "Hãy nhập lại thông tin để nhận mã OTP.", "Enter your details again to get an OTP."),
                )
            }
            return false
        }
        val otp = current.otp
        val options = keyOptionsFor(ticket)
        val outcome = attempt({ s, b -> s.busy(b) }, { s, t, e ->
            // A wrong or expired OTP sends the citizen back to the OTP step.
            val back = t is CitizenException.OtpRejected || t is CitizenException.NotFound
            s.copy(error = e, step = if (back) Step.OTP else s.step)
        }) {
            account.completeEnrollment(otp, passcode, options)
        } ?: return false
        update { it.copy(step = Step.DONE, outcome = outcome, otp = "", error = null) }
        return true
    }

    /**
     * The options for the device key of [ticket]'s enrollment: [keyOptions] with the UTF-8 bytes
     * of the enrollment id as the key-attestation challenge. On Android the challenge is set on
     * the new key (`setAttestationChallenge`), so the attestation certificate chain the core sends
     * with `/v1/enrollment/complete` names this enrollment and cannot be replayed from another
     * one. The server stores the chain unverified for now; the challenge is what makes it
     * verifiable against this enrollment later. (iOS: Secure Enclave keys have no attestation;
     * the option is passed all the same.)
     */
    fun keyOptionsFor(ticket: EnrollmentTicket): KeyOptions =
        keyOptions.copy(attestationChallenge = ticket.enrollmentId.toByteArray(Charsets.UTF_8))

    private fun invalidInput(fields: List<UiFieldError>) = UiError(
        code = "input.invalid",
        message = if (locale == Language.VI) "Thông tin chưa hợp lệ." else "Some details are not valid.",
        fields = fields,
    )

    private fun localError(code: String, vi: String, en: String) = UiError(code, if (locale == Language.VI) vi else en)
}

/**
 * Passcode login and logout, with the lockout state (attempts left, locked until / retry after)
 * read back from the core after every attempt, so it is right after an app restart too.
 */
class LoginViewModel(
    private val core: CitizenCoreInterface,
    locale: Language = Language.VI,
) : FlowViewModel<LoginViewModel.State>(State(), locale) {

    data class State(
        val loggedIn: Boolean = false,
        val session: SessionInfo? = null,
        val attemptsBeforeLockout: Int? = null,
        val attemptsBeforeWipe: Int? = null,
        /** Until when the passcode is refused, while locked out. */
        val lockedUntil: Instant? = null,
        /** From the last refusal: how long to wait before the next attempt. */
        val retryAfter: Duration? = null,
        /**
         * The account is gone from this device (wiped after too many failures, or the device was
         * deactivated): the citizen must enroll again.
         */
        val wiped: Boolean = false,
        val busy: Boolean = false,
        val error: UiError? = null,
    ) {
        val lockedOut: Boolean get() = lockedUntil != null
    }

    /**
     * Reload the lockout and session state from the core (app start, screen resume). A failure
     * (e.g. storage) goes into the state, never out of the coroutine (screens call this from a
     * `LaunchedEffect`, where an exception would crash the app).
     */
    suspend fun refresh(): Boolean {
        val loaded = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) {
            core.status() to core.account().passcodeStatus()
        } ?: return false
        apply(loaded.first, loaded.second)
        return true
    }

    private fun apply(status: CoreStatus, passcode: PasscodeStatus) {
        update {
            it.copy(
                loggedIn = status.loggedIn,
                attemptsBeforeLockout = passcode.attemptsBeforeLockout,
                attemptsBeforeWipe = passcode.attemptsBeforeWipe,
                lockedUntil = passcode.lockedUntil,
                retryAfter = if (passcode.lockedUntil == null) null else it.retryAfter,
            )
        }
    }

    suspend fun login(passcode: String): Boolean {
        val session = attempt({ s, b -> s.copy(busy = b) }, { s, t, e ->
            when (t) {
                is CitizenException.PasscodeRejected -> s.copy(
                    error = e, attemptsBeforeLockout = t.attemptsBeforeLockout, attemptsBeforeWipe = t.attemptsBeforeWipe,
                )
                is CitizenException.LockedOut -> s.copy(error = e, retryAfter = t.retryAfter)
                is CitizenException.NeedsEnrollment -> s.copy(error = e, wiped = true, loggedIn = false, session = null)
                else -> s.copy(error = e)
            }
        }) {
            core.account().login(passcode)
        }
        if (session != null) update { it.copy(loggedIn = true, session = session, error = null, retryAfter = null) }
        refreshQuietly()
        return session != null
    }

    suspend fun logout(): Boolean {
        val ok = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { core.account().logout() } != null
        if (ok) update { it.copy(loggedIn = false, session = null, error = null) }
        return ok
    }

    /** After a login attempt: reload without replacing the attempt's error. */
    private suspend fun refreshQuietly() {
        try {
            val (status, passcode) = core.status() to core.account().passcodeStatus()
            apply(status, passcode)
        } catch (e: kotlinx.coroutines.CancellationException) {
            throw e
        } catch (e: Exception) {
            // The state keeps what the refusal said; the next refresh tries again.
        }
    }
}

/** The citizen's devices (this phone marked), and revoking another one with the passcode. */
class DevicesViewModel(
    private val account: AccountClientInterface,
    locale: Language = Language.VI,
) : FlowViewModel<DevicesViewModel.State>(State(), locale) {

    data class State(
        val devices: List<DeviceInfo> = emptyList(),
        val busy: Boolean = false,
        val error: UiError? = null,
    )

    suspend fun refresh(): Boolean {
        val devices = attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { account.listDevices() }
            ?: return false
        update { it.copy(devices = devices, error = null) }
        return true
    }

    suspend fun revoke(deviceId: String, passcode: String): Boolean {
        attempt({ s, b -> s.copy(busy = b) }, { s, _, e -> s.copy(error = e) }) { account.revokeDevice(deviceId, passcode) }
            ?: return false
        return refresh()
    }
}
