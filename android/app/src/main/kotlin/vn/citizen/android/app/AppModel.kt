package vn.citizen.android.app

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.getAndUpdate
import kotlinx.coroutines.launch
import vn.citizen.android.viewmodel.ActivityViewModel
import vn.citizen.android.viewmodel.DeepLink
import vn.citizen.android.viewmodel.DevicesViewModel
import vn.citizen.android.viewmodel.DocumentsViewModel
import vn.citizen.android.viewmodel.EnrollmentViewModel
import vn.citizen.android.viewmodel.LoginViewModel
import vn.citizen.android.viewmodel.QrLoginViewModel
import vn.citizen.android.viewmodel.ServicesViewModel
import vn.citizen.android.viewmodel.ShareViewModel
import vn.citizen.android.viewmodel.StartupViewModel
import vn.citizen.android.viewmodel.UiError
import vn.citizen.core.CitizenCore
import vn.citizen.core.EnrollmentState
import vn.citizen.core.KeyOptions
import vn.citizen.core.Language

/** The flow view models of one opened core (see android/viewmodel). */
class Flows(val core: CitizenCore, locale: Language) {
    /**
     * Device keys: StrongBox when present, user-authentication-bound (biometric or credential).
     * The attestation challenge is filled in per enrollment (`EnrollmentViewModel.keyOptionsFor`:
     * the enrollment id).
     */
    private val keyOptions = KeyOptions(requireUserAuthentication = true, preferStrongbox = true, attestationChallenge = byteArrayOf())
    val enrollment = EnrollmentViewModel(core.account(), keyOptions, locale)
    val login = LoginViewModel(core, locale)
    val devices = DevicesViewModel(core.account(), locale)
    val services = ServicesViewModel(core.services(), locale)
    val documents = DocumentsViewModel(core.documents(), locale)
    val qr = QrLoginViewModel(core.consent(), locale)
    val share = ShareViewModel(core.consent(), locale)
    val activity = ActivityViewModel(core.activity(), core.consent(), locale)
}

/**
 * The androidx ViewModel that outlives configuration changes: opens the core (its async
 * constructor runs the migration and the data-key unwrap on the core's runtime, so no
 * `Dispatchers.IO` hop), holds the pure flow view models, and runs their actions in
 * [viewModelScope].
 */
class AppModel(application: Application) : AndroidViewModel(application) {
    private val app = application as CitizenApplication

    sealed interface CoreState {
        data object Opening : CoreState
        data class Ready(val flows: Flows, val enrolled: Boolean) : CoreState
        /**
         * [dataKeyLost]: restored or keystore reset; the only way on is to reset and re-enroll.
         * [retryable]: the data key is only locked for now; opening again may work (never erase).
         */
        data class Failed(val error: UiError, val dataKeyLost: Boolean, val retryable: Boolean = false) : CoreState
    }

    private val mutableCore = MutableStateFlow<CoreState>(CoreState.Opening)
    val coreState: StateFlow<CoreState> = mutableCore.asStateFlow()

    /** Opening the core and what a failure offers (retry vs re-enroll): see [StartupViewModel]. */
    private val startup = StartupViewModel(
        openCore = { app.openCore() },
        erase = { app.resetLocalData() },
        locale = app.locale,
    )

    init {
        viewModelScope.launch {
            // Only a lost data key offers the reset; a locked one (DataKeyLocked: the phone is
            // locked) offers a retry and never erases anything (StartupViewModel enforces it).
            startup.state.collect { s ->
                mutableCore.value = when (s) {
                    StartupViewModel.State.Opening -> CoreState.Opening
                    is StartupViewModel.State.Ready -> CoreState.Ready(Flows(s.core, app.locale), s.enrolled)
                    is StartupViewModel.State.Locked -> CoreState.Failed(s.error, dataKeyLost = false, retryable = true)
                    is StartupViewModel.State.Lost -> CoreState.Failed(s.error, dataKeyLost = true)
                    is StartupViewModel.State.Failed -> CoreState.Failed(s.error, dataKeyLost = false, retryable = true)
                }
            }
        }
        viewModelScope.launch { startup.open() }
    }

    /** Open the core again (after a temporarily locked data key). */
    fun retryOpen() = viewModelScope.launch { startup.retry() }

    private val links = MutableStateFlow<DeepLink?>(null)

    /** A same-device link waiting to be opened (after login when needed); the newest wins. */
    val pendingLink: StateFlow<DeepLink?> = links.asStateFlow()

    /** From MainActivity's intent: kept if it is a `citizenid` login or share link, else ignored. */
    fun receiveLink(url: String?) {
        url?.let(DeepLink::parse)?.let { links.value = it }
    }

    /** The pending link, at most once. */
    fun takeLink(): DeepLink? = links.getAndUpdate { null }

    /** Run a view-model action (they are suspend functions) in this model's scope. */
    fun launch(action: suspend () -> Unit) {
        viewModelScope.launch { action() }
    }

    /**
     * After DataKeyLost (only): the core erases the local data and its wrapping key
     * (`eraseLocalData(dataDir, keyWrapper)`), then a fresh core starts at enrollment.
     */
    fun resetAndReopen() = viewModelScope.launch { startup.reEnroll() }

    override fun onCleared() {
        (mutableCore.value as? CoreState.Ready)?.flows?.core?.close()
    }
}
