package vn.citizen.android.viewmodel

import vn.citizen.core.AuthException
import vn.citizen.core.ConsentException
import vn.citizen.core.EnrollmentException
import vn.citizen.core.ErrorDetail
import vn.citizen.core.FieldError
import vn.citizen.core.Locale
import vn.citizen.core.PasscodeException
import vn.citizen.core.ServiceException
import vn.citizen.core.SetupException

/** An error as a screen shows it: the core's stable code and its message in the UI locale. */
data class UiError(
    val code: String,
    val message: String,
    /** Per-field problems (form validation), already in the UI locale. */
    val fields: List<UiFieldError> = emptyList(),
)

/** One field's problem, keyed by the form path the core uses (e.g. `guests.0.cccd`). */
data class UiFieldError(val field: String, val code: String, val message: String)

/** The core's message in [locale]. */
fun ErrorDetail.message(locale: Locale): String = if (locale == Locale.VI) messageVi else messageEn

fun FieldError.toUi(locale: Locale): UiFieldError =
    UiFieldError(field, code, if (locale == Locale.VI) messageVi else messageEn)

/**
 * The core's public errors carry an [ErrorDetail] on every variant but share no supertype, so
 * this maps each one explicitly. The `when`s are exhaustive: a variant added to the core fails
 * this file's compilation (after bindings/generate.sh) instead of being shown as "internal".
 */
object CoreErrors {
    const val INTERNAL = "internal"

    /** The core's [ErrorDetail] of [error], or null for a throwable that is not a core error. */
    fun detail(error: Throwable): ErrorDetail? = when (error) {
        is SetupException -> detailOf(error)
        is EnrollmentException -> detailOf(error)
        is PasscodeException -> detailOf(error)
        is AuthException -> detailOf(error)
        is ServiceException -> detailOf(error)
        is ConsentException -> detailOf(error)
        else -> null
    }

    /** Field problems carried by an error (enrollment input, passcode format, forms). */
    fun fields(error: Throwable): List<FieldError> = when (error) {
        is EnrollmentException.InvalidInput -> error.fields
        is PasscodeException.InvalidFormat -> error.fields
        is ServiceException.InvalidForm -> error.fields
        else -> emptyList()
    }

    /** [error] as a [UiError] in [locale]; a non-core throwable becomes code [INTERNAL]. */
    fun toUi(error: Throwable, locale: Locale): UiError {
        val detail = detail(error)
            ?: ErrorDetail(
                code = INTERNAL,
                messageVi = "Đã xảy ra lỗi không mong muốn. Vui lòng thử lại.",
                messageEn = "Something went wrong. Please try again.",
            )
        return UiError(detail.code, detail.message(locale), fields(error).map { it.toUi(locale) })
    }

    private fun detailOf(e: SetupException): ErrorDetail = when (e) {
        is SetupException.InvalidConfig -> e.detail
        is SetupException.Storage -> e.detail
        is SetupException.DataKeyUnavailable -> e.detail
        is SetupException.AlreadyOpen -> e.detail
    }

    private fun detailOf(e: EnrollmentException): ErrorDetail = when (e) {
        is EnrollmentException.InvalidInput -> e.detail
        is EnrollmentException.NoMatch -> e.detail
        is EnrollmentException.NoPendingEnrollment -> e.detail
        is EnrollmentException.OtpInvalid -> e.detail
        is EnrollmentException.OtpExpired -> e.detail
        is EnrollmentException.OtpAttemptsExceeded -> e.detail
        is EnrollmentException.AlreadyEnrolled -> e.detail
        is EnrollmentException.AccountLocked -> e.detail
        is EnrollmentException.KeyStore -> e.detail
        is EnrollmentException.Network -> e.detail
        is EnrollmentException.Rejected -> e.detail
        is EnrollmentException.Storage -> e.detail
    }

    private fun detailOf(e: PasscodeException): ErrorDetail = when (e) {
        is PasscodeException.InvalidFormat -> e.detail
        is PasscodeException.Incorrect -> e.detail
        is PasscodeException.LockedOut -> e.detail
        is PasscodeException.Wiped -> e.detail
        is PasscodeException.NotEnrolled -> e.detail
        is PasscodeException.NoPendingReset -> e.detail
        is PasscodeException.OtpInvalid -> e.detail
        is PasscodeException.OtpRejected -> e.detail
        is PasscodeException.DeviceInactive -> e.detail
        is PasscodeException.KeyStore -> e.detail
        is PasscodeException.Network -> e.detail
        is PasscodeException.Rejected -> e.detail
        is PasscodeException.Storage -> e.detail
    }

    private fun detailOf(e: AuthException): ErrorDetail = when (e) {
        is AuthException.NotEnrolled -> e.detail
        is AuthException.PasscodeIncorrect -> e.detail
        is AuthException.LockedOut -> e.detail
        is AuthException.Wiped -> e.detail
        is AuthException.NotLoggedIn -> e.detail
        is AuthException.SessionExpired -> e.detail
        is AuthException.SessionRevoked -> e.detail
        is AuthException.DeviceInactive -> e.detail
        is AuthException.AccountLocked -> e.detail
        is AuthException.Rejected -> e.detail
        is AuthException.KeyStore -> e.detail
        is AuthException.Network -> e.detail
        is AuthException.Storage -> e.detail
    }

    private fun detailOf(e: ServiceException): ErrorDetail = when (e) {
        is ServiceException.InvalidForm -> e.detail
        is ServiceException.NotEnrolled -> e.detail
        is ServiceException.NotLoggedIn -> e.detail
        is ServiceException.NotSynced -> e.detail
        is ServiceException.NotFound -> e.detail
        is ServiceException.WrongState -> e.detail
        is ServiceException.PasscodeIncorrect -> e.detail
        is ServiceException.LockedOut -> e.detail
        is ServiceException.Wiped -> e.detail
        is ServiceException.DeviceInactive -> e.detail
        is ServiceException.KeyStore -> e.detail
        is ServiceException.Network -> e.detail
        is ServiceException.BadServerResponse -> e.detail
        is ServiceException.Rejected -> e.detail
        is ServiceException.Storage -> e.detail
    }

    private fun detailOf(e: ConsentException): ErrorDetail = when (e) {
        is ConsentException.InvalidCode -> e.detail
        is ConsentException.RelyingPartyRejected -> e.detail
        is ConsentException.Expired -> e.detail
        is ConsentException.NotFound -> e.detail
        is ConsentException.Refused -> e.detail
        is ConsentException.ReceiptInvalid -> e.detail
        is ConsentException.NotEnrolled -> e.detail
        is ConsentException.NotLoggedIn -> e.detail
        is ConsentException.PasscodeIncorrect -> e.detail
        is ConsentException.LockedOut -> e.detail
        is ConsentException.Wiped -> e.detail
        is ConsentException.DeviceInactive -> e.detail
        is ConsentException.KeyStore -> e.detail
        is ConsentException.Network -> e.detail
        is ConsentException.BadServerResponse -> e.detail
        is ConsentException.Internal -> e.detail
    }

}
