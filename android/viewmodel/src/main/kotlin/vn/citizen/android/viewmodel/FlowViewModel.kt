package vn.citizen.android.viewmodel

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import vn.citizen.core.Language

/**
 * Base of the flow view models: an immutable UI state in a [StateFlow], suspend actions, core
 * errors turned into [UiError] in the UI [locale]. No Android or UI types, so the same classes
 * run in the app (held by an androidx `ViewModel`, actions launched in `viewModelScope`) and in
 * the JVM tests. Mirrored by the iOS shell's `ObservableObject`s of the same names.
 *
 * Every core call is a `suspend` function that runs its work on the core's own runtime
 * (main-safe by construction), so actions call the core directly from the main thread: no
 * `Dispatchers.IO` hop is needed.
 */
abstract class FlowViewModel<S>(initial: S, protected val locale: Language) {
    private val mutableState = MutableStateFlow(initial)

    /** The screen's state; collect it (`collectAsState()` in Compose). */
    val state: StateFlow<S> = mutableState.asStateFlow()

    protected val current: S get() = mutableState.value

    protected fun update(transform: (S) -> S) = mutableState.update(transform)

    /**
     * Run [block] with [busy] set while it runs; a failure is handed to [onError] (to put into
     * the state) and null is returned. Cancellation is not an error and propagates.
     */
    protected suspend fun <T> attempt(
        busy: (S, Boolean) -> S,
        onError: (S, Throwable, UiError) -> S,
        block: suspend () -> T,
    ): T? {
        update { busy(it, true) }
        return try {
            block().also { update { s -> busy(s, false) } }
        } catch (e: CancellationException) {
            update { busy(it, false) }
            throw e
        } catch (e: Exception) {
            val error = CoreErrors.toUi(e, locale)
            update { onError(busy(it, false), e, error) }
            null
        }
    }
}
