package vn.citizen.android.viewmodel

import kotlinx.coroutines.CancellationException
import vn.citizen.core.CitizenCore
import vn.citizen.core.CitizenException
import vn.citizen.core.EnrollmentState
import vn.citizen.core.Language

/**
 * Opening the core at launch, and what the app offers when it cannot (issue 11, item 8).
 *
 * A data key that is only **locked** (`DataKeyLocked`: the phone is locked, the key store is
 * busy) offers a retry and never an erase: the citizen's data is intact and opens once the key is
 * usable. Only a **lost** data key (`DataKeyLost`: restored onto another phone, key store reset)
 * offers to enroll again, which erases the local data through [erase] — the app passes
 * `eraseLocalData(dataDir, keyWrapper)`, so the core deletes its own wrapping key and the shell
 * names no alias. Other failures offer a retry.
 *
 * Pure JVM (no Android types): the app's `AppModel` holds it, the JVM tests drive it.
 */
class StartupViewModel(
    private val openCore: suspend () -> CitizenCore,
    private val erase: suspend () -> Unit,
    locale: Language,
) : FlowViewModel<StartupViewModel.State>(State.Opening, locale) {
    sealed interface State {
        /** Opening (migration and data-key unwrap run on the core's runtime). */
        data object Opening : State

        /** Open; [enrolled] says whether to show enrollment or login first. */
        data class Ready(val core: CitizenCore, val enrolled: Boolean) : State

        /** The data key is locked for now: offer [retry], never an erase. */
        data class Locked(val error: UiError) : State

        /** The data key is gone for good: offer [reEnroll] (erases the local data). */
        data class Lost(val error: UiError) : State

        /** Anything else (storage, configuration): offer [retry]. */
        data class Failed(val error: UiError) : State
    }

    /** Whether the screen offers "try again" (locked data key or another failure). */
    val offersRetry: Boolean get() = current is State.Locked || current is State.Failed

    /** Whether the screen offers "enroll again" (erases the local data): a lost data key only. */
    val offersReEnroll: Boolean get() = current is State.Lost

    /** Open the core and publish the outcome. */
    suspend fun open() {
        update { State.Opening }
        val next = try {
            val core = openCore()
            State.Ready(core, core.status().enrollment is EnrollmentState.Enrolled)
        } catch (e: CancellationException) {
            throw e
        } catch (e: CitizenException.DataKeyLocked) {
            State.Locked(CoreErrors.toUi(e, locale))
        } catch (e: CitizenException.DataKeyLost) {
            State.Lost(CoreErrors.toUi(e, locale))
        } catch (e: Exception) {
            State.Failed(CoreErrors.toUi(e, locale))
        }
        update { next }
    }

    /** Open again (after a locked data key or another failure). Erases nothing. */
    suspend fun retry() {
        check(offersRetry) { "retry is offered only after a failed open" }
        open()
    }

    /**
     * After a lost data key only: erase the local data (and the wrapping key) and open a fresh
     * core, which starts at enrollment. Refused in any other state — in particular for a locked
     * data key, whose data must never be erased.
     */
    suspend fun reEnroll() {
        check(offersReEnroll) { "erasing is offered only for a lost data key" }
        erase()
        open()
    }
}
