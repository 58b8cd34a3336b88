package vn.citizen.android.viewmodel

import vn.citizen.core.CitizenException
import vn.citizen.core.ErrorDetail
import vn.citizen.core.FieldError
import vn.citizen.core.Language

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
fun ErrorDetail.message(locale: Language): String = if (locale == Language.VI) messageVi else messageEn

fun FieldError.toUi(locale: Language): UiFieldError =
    UiFieldError(field, code, if (locale == Language.VI) messageVi else messageEn)

/**
 * The core throws one error type, [CitizenException], whose variant says what to do next and
 * whose `detail()` has the stable code and both messages, so no mapping table lives here: a
 * condition added to the core is shown with its own code and message.
 */
object CoreErrors {
    const val INTERNAL = "internal"

    /** The core's [ErrorDetail] of [error], or null for a throwable that is not a core error. */
    fun detail(error: Throwable): ErrorDetail? = (error as? CitizenException)?.detail()

    /** Field problems carried by an error (enrollment input, passcode format, forms). */
    fun fields(error: Throwable): List<FieldError> = (error as? CitizenException.InvalidInput)?.fields ?: emptyList()

    /** [error] as a [UiError] in [locale]; a non-core throwable becomes code [INTERNAL]. */
    fun toUi(error: Throwable, locale: Language): UiError {
        val detail = detail(error)
            ?: ErrorDetail(
                code = INTERNAL,
                messageVi = "Đã xảy ra lỗi không mong muốn. Vui lòng thử lại.",
                messageEn = "Something went wrong. Please try again.",
            )
        return UiError(detail.code, detail.message(locale), fields(error).map { it.toUi(locale) })
    }
}
